package revocation_test

import (
	"context"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/revocation"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestRevocation runs against a real Redis: the record lasts until the
// token's expiry and every revocation is announced on the channel.
func TestRevocation(t *testing.T) {
	ctx := context.Background()
	rdb, err := redisclient.Open(ctx, testkit.NewRedisURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	sub := rdb.Subscribe(ctx, revocation.Channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}

	exp := time.Now().Add(time.Minute)
	if err := revocation.RevokeToken(ctx, rdb, "jti-1", exp); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-sub.Channel():
		if msg.Payload != "jti-1" {
			t.Fatalf("announced %q", msg.Payload)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("revocation not announced")
	}
	if ok, err := revocation.TokenRevoked(ctx, rdb, "jti-1"); err != nil || !ok {
		t.Fatalf("revoked = %v, %v", ok, err)
	}
	ttl := rdb.PTTL(ctx, revocation.JTIKey("jti-1")).Val()
	if ttl <= 55*time.Second || ttl > time.Minute {
		t.Fatalf("record lives %s, want until the token's expiry", ttl)
	}
	if err := revocation.RevokeToken(ctx, rdb, "jti-2", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := revocation.TokenRevoked(ctx, rdb, "jti-2"); ok {
		t.Fatal("an expired token needs no record")
	}
	if err := revocation.RevokeToken(ctx, rdb, "", exp); err == nil {
		t.Fatal("empty jti accepted")
	}
	if err := revocation.RevokeCredential(ctx, rdb, "cred-1", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, _ := revocation.CredentialRevoked(ctx, rdb, "cred-1"); !ok {
		t.Fatal("credential revocation not recorded")
	}
}
