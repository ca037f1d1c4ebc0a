package redisacl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/redisacl"
	"github.com/sentryagent/agentidp/libs/revocation"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestEachServiceDoesOnlyItsJob: against a real Redis loading the rendered
// users.acl, each service's user can do what its service does and is
// refused (NOPERM) what belongs to another — above all, no service but the
// token service can delete or rewrite a revocation.
func TestEachServiceDoesOnlyItsJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis")
	}
	ctx := context.Background()
	dir := t.TempDir()
	passwords := redisacl.Passwords()
	acl, err := redisacl.File(passwords)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(acl, passwords["token"]) {
		t.Fatal("the ACL file holds a password")
	}
	aclPath := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(aclPath, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := testkit.StartRedis(ctx, testkit.RedisConfig{Dir: dir, ACLFile: aclPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	addr := testkit.Addr(srv.Port)
	as := func(user string) *redis.Client {
		opts, err := redis.ParseURL(redisacl.URL(addr, 0, user, passwords[user]))
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("%s cannot connect: %v", user, err)
		}
		return c
	}
	token, authz, audit, operator := as("token"), as("authz"), as("audit"), as(redisacl.Operator)

	allowed := func(who string, err error) {
		t.Helper()
		if err != nil && err != redis.Nil {
			t.Fatalf("%s: %v", who, err)
		}
	}
	refused := func(who string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("%s was not refused: %v", who, err)
		}
	}
	script := redis.NewScript(`return redis.call('SET', KEYS[1], ARGV[1])`)

	// The token service: its keys, the revocation record, the channel, the stream.
	allowed("token sets its cache", token.Set(ctx, "tok:{a}:auth:x", "e2|…", 0).Err())
	allowed("token runs a script on its keys", script.Run(ctx, token, []string{"tok:{a}:rl"}, "1").Err())
	allowed("token revokes a jti and announces it", revocation.RevokeToken(ctx, token, "j1", time.Now().Add(time.Hour)))
	allowed("token emits an audit event", token.XAdd(ctx, &redis.XAddArgs{Stream: "agentidp:audit", Values: []any{"e", "1"}}).Err())
	refused("token reading the audit stream", token.XRange(ctx, "agentidp:audit", "-", "+").Err())
	refused("token writing authz's rate limits", token.Set(ctx, "authz:{a}:rl:default", "1", 0).Err())
	refused("token flushing everything", token.FlushAll(ctx).Err())
	refused("token listing keys", token.Keys(ctx, "*").Err())
	refused("token changing the configuration", token.ConfigSet(ctx, "appendonly", "no").Err())

	// authz: reads the record, never changes it.
	allowed("authz reads a revocation", authz.Exists(ctx, revocation.JTIKey("j1")).Err())
	allowed("authz charges its rate limit", script.Run(ctx, authz, []string{"authz:{a}:rl:default"}, "1").Err())
	allowed("authz audits a denial", authz.XAdd(ctx, &redis.XAddArgs{Stream: "agentidp:audit", Values: []any{"e", "2"}}).Err())
	refused("authz un-revoking a token", authz.Del(ctx, revocation.JTIKey("j1")).Err())
	refused("authz overwriting a revocation", authz.Set(ctx, revocation.JTIKey("j1"), "0", 0).Err())
	refused("authz announcing a revocation", authz.Publish(ctx, "agentidp:revocations", "x").Err())
	refused("authz writing the token cache", authz.Set(ctx, "tok:{a}:agent", "1|active|0||x", 0).Err())
	refused("authz un-revoking through a script", script.Run(ctx, authz, []string{revocation.JTIKey("j1")}, "0").Err())
	sub := authz.Subscribe(ctx, "agentidp:revocations")
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("authz subscribes: %v", err)
	}
	sub.Close()

	// audit: the stream and its dead letters, nothing else.
	allowed("audit creates its group", audit.XGroupCreateMkStream(ctx, "agentidp:audit", "audit", "0").Err())
	allowed("audit reads its group", audit.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "audit", Consumer: "a1",
		Streams: []string{"agentidp:audit", ">"}, Count: 10, Block: -1}).Err())
	allowed("audit moves a dead letter", audit.XAdd(ctx, &redis.XAddArgs{Stream: "agentidp:audit:dead", Values: []any{"e", "3"}}).Err())
	refused("audit reading a revocation", audit.Get(ctx, revocation.JTIKey("j1")).Err())
	refused("audit deleting a revocation", audit.Del(ctx, revocation.JTIKey("j1")).Err())
	refused("audit writing the token cache", audit.Set(ctx, "tok:{a}:rl", "1", 0).Err())

	// Without a user: nothing at all.
	anon := redis.NewClient(&redis.Options{Addr: addr})
	defer anon.Close()
	if err := anon.Get(ctx, revocation.JTIKey("j1")).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") && !strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("an unauthenticated client: %v", err)
	}
	wrong := redis.NewClient(&redis.Options{Addr: addr, Username: "authz", Password: "guess"})
	defer wrong.Close()
	if err := wrong.Ping(ctx).Err(); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	// The revocation is still there; the operator sees everything.
	if n, err := operator.Exists(ctx, revocation.JTIKey("j1")).Result(); err != nil || n != 1 {
		t.Fatalf("the revocation after the attempts: %d %v", n, err)
	}
}
