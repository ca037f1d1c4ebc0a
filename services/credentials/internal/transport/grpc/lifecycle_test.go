package grpc_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
	grpctransport "github.com/sentryagent/agentidp/services/credentials/internal/transport/grpc"
)

// modes runs f against the Vault mode and the embedded (hash) mode.
func modes(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("vault", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, options{vault: testkit.NewVault(t)}))
	})
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, options{}))
	})
}

var secretFormat = regexp.MustCompile(`^agentidp_sk_[0-9A-Za-z]{22}_[0-9A-Za-z]{49}$`)

func TestCreateAndVerify(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		agentID := e.newAgent("agents:read", "tokens:introspect")
		var header metadata.MD
		ic, err := e.creds.CreateCredential(context.Background(),
			&credentialsv1.CreateCredentialRequest{AgentId: agentID}, grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		if got := header.Get(grpctransport.HTTPStatusHeader); len(got) != 1 || got[0] != "201" {
			t.Fatalf("%s = %v, want 201", grpctransport.HTTPStatusHeader, got)
		}
		c := ic.GetCredential()
		if !secretFormat.MatchString(ic.GetClientSecret()) {
			t.Fatalf("secret does not have the documented format: %d characters", len(ic.GetClientSecret()))
		}
		if ic.GetClientId() != agentID || c.GetClientId() != agentID || c.GetAgentId() != agentID ||
			c.GetStatus() != "active" || c.GetSecretVersion() != 1 || c.GetRotatedFrom() != 0 ||
			c.GetCreatedAt() == nil || c.GetExpiresAt() != nil || len(c.GetCredentialId()) != 36 {
			t.Fatalf("unexpected credential %v", c)
		}
		wantStorage := map[bool]string{true: "vault", false: "hash"}[e.kv != nil]
		if c.GetStorage() != wantStorage {
			t.Fatalf("storage %q, want %q", c.GetStorage(), wantStorage)
		}

		v := e.wantValid(agentID, ic.GetClientSecret())
		if v.GetCredentialId() != c.GetCredentialId() || v.GetAgentStatus() != "active" ||
			!slices.Equal(v.GetScopes(), []string{"agents:read", "tokens:introspect"}) || v.GetValidUntil() != nil {
			t.Fatalf("unexpected verification %v", v)
		}
		// Twice: the second one is served from the digest cache in Vault mode.
		e.wantValid(agentID, ic.GetClientSecret())

		// Wrong secrets, wrong client: the same answer.
		other := e.newAgent()
		e.wantInvalid(other, ic.GetClientSecret())
		lastFlipped := []byte(ic.GetClientSecret())
		lastFlipped[len(lastFlipped)-1] = map[bool]byte{true: 'y', false: 'x'}[lastFlipped[len(lastFlipped)-1] == 'x']
		e.wantInvalid(agentID, string(lastFlipped))
		e.wantInvalid(agentID, "")
		e.wantInvalid("not-a-uuid", ic.GetClientSecret())
		e.wantInvalid(agentID, "agentidp_sk_short")
		second := e.create(agentID, 0)
		spliced := ic.GetClientSecret()[:35] + second.GetClientSecret()[35:] // checksum mismatch
		e.wantInvalid(agentID, spliced)
		// Well-formed, right credential id, valid checksum, wrong random part.
		wrong, err := secret.New(parseUUID(t, c.GetCredentialId()))
		if err != nil {
			t.Fatal(err)
		}
		e.wantInvalid(agentID, wrong.Reveal())

		// List shows metadata only.
		page, err := e.creds.ListCredentials(context.Background(), &credentialsv1.ListCredentialsRequest{AgentId: agentID})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.GetCredentials()) != 2 || page.GetCredentials()[0].GetCredentialId() != c.GetCredentialId() {
			t.Fatalf("list: %v", page)
		}
		if strings.Contains(page.String(), ic.GetClientSecret()) || strings.Contains(page.String(), "sha256$") {
			t.Fatal("list carries secret material")
		}
	})
}

func TestCreateWithTTLExpires(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		agentID := e.newAgent()
		ic := e.create(agentID, 1)
		exp := ic.GetCredential().GetExpiresAt().AsTime()
		if d := exp.Sub(ic.GetCredential().GetCreatedAt().AsTime()); d != time.Second {
			t.Fatalf("expiresAt - createdAt = %s, want 1s", d)
		}
		v := e.wantValid(agentID, ic.GetClientSecret())
		if !v.GetValidUntil().AsTime().Equal(exp) {
			t.Fatalf("validUntil %v, want %v", v.GetValidUntil().AsTime(), exp)
		}
		time.Sleep(time.Until(exp) + 50*time.Millisecond)
		e.wantInvalid(agentID, ic.GetClientSecret())
		page, err := e.creds.ListCredentials(context.Background(), &credentialsv1.ListCredentialsRequest{AgentId: agentID})
		if err != nil {
			t.Fatal(err)
		}
		if got := page.GetCredentials()[0].GetStatus(); got != "expired" {
			t.Fatalf("status %q, want expired", got)
		}
		_, err = e.creds.RotateCredential(context.Background(), &credentialsv1.RotateCredentialRequest{
			AgentId: agentID, CredentialId: ic.GetCredential().GetCredentialId()})
		wantError(t, err, codes.FailedPrecondition, "CREDENTIAL_NOT_ACTIVE", "")
	})
}

func TestRotateWithGrace(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		agentID := e.newAgent()
		old := e.create(agentID, 0)
		id := old.GetCredential().GetCredentialId()
		e.wantValid(agentID, old.GetClientSecret()) // warm the cache with the old version

		start := time.Now()
		rotated := e.rotate(agentID, id, 5)
		c := rotated.GetCredential()
		if c.GetCredentialId() != id || c.GetSecretVersion() != 2 || c.GetRotatedFrom() != 1 ||
			c.GetRotatedAt() == nil || rotated.GetClientSecret() == old.GetClientSecret() {
			t.Fatalf("unexpected rotation %v", c)
		}
		graceEnd := c.GetPreviousSecretExpiresAt().AsTime()
		if d := graceEnd.Sub(c.GetRotatedAt().AsTime()); d != 5*time.Second {
			t.Fatalf("grace = %s, want 5s", d)
		}
		// Both work during the grace period; the old one says until when.
		vOld := e.wantValid(agentID, old.GetClientSecret())
		if !vOld.GetValidUntil().AsTime().Equal(graceEnd) {
			t.Fatalf("old secret validUntil %v, want %v", vOld.GetValidUntil().AsTime(), graceEnd)
		}
		if v := e.wantValid(agentID, rotated.GetClientSecret()); v.GetValidUntil() != nil {
			t.Fatalf("new secret validUntil %v, want none", v.GetValidUntil())
		}
		if time.Since(start) > 4*time.Second {
			t.Fatal("too slow to test the grace period")
		}
		time.Sleep(time.Until(graceEnd) + 50*time.Millisecond)
		e.wantInvalid(agentID, old.GetClientSecret())
		e.wantValid(agentID, rotated.GetClientSecret())

		// Without grace the previous secret stops at once.
		again := e.rotate(agentID, id, 0)
		e.wantInvalid(agentID, rotated.GetClientSecret())
		e.wantValid(agentID, again.GetClientSecret())
		if got := again.GetCredential().GetSecretVersion(); got != 3 {
			t.Fatalf("secret version %d, want 3", got)
		}
		if e.kv != nil {
			// The history stays in Vault: one KV version per secret version.
			current, live, err := e.kv.Versions(context.Background(), parseUUID(t, agentID), parseUUID(t, id))
			if err != nil {
				t.Fatal(err)
			}
			if current != 3 || len(live) != 3 {
				t.Fatalf("vault versions: current %d, live %v; want 3 and [1 2 3]", current, live)
			}
		}
	})
}

func TestRevokeIsImmediateAndIdempotent(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		agentID := e.newAgent()
		ic := e.create(agentID, 0)
		keep := e.create(agentID, 0)
		id := ic.GetCredential().GetCredentialId()
		e.wantValid(agentID, ic.GetClientSecret()) // cached
		first, err := e.creds.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id})
		if err != nil {
			t.Fatal(err)
		}
		if first.GetStatus() != "revoked" || first.GetRevokedAt() == nil {
			t.Fatalf("unexpected revoke result %v", first)
		}
		e.wantInvalid(agentID, ic.GetClientSecret())
		e.wantValid(agentID, keep.GetClientSecret())
		second, err := e.creds.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id})
		if err != nil {
			t.Fatal(err)
		}
		if !second.GetRevokedAt().AsTime().Equal(first.GetRevokedAt().AsTime()) {
			t.Fatalf("second revoke changed revokedAt: %v then %v", first.GetRevokedAt(), second.GetRevokedAt())
		}
		_, err = e.creds.RotateCredential(context.Background(), &credentialsv1.RotateCredentialRequest{AgentId: agentID, CredentialId: id})
		wantError(t, err, codes.FailedPrecondition, "CREDENTIAL_NOT_ACTIVE", "")
	})
}

// A second replica sharing the database sees a revocation at once, though
// its digest cache still holds the secret.
func TestRevokeReachesOtherReplicasAtOnce(t *testing.T) {
	t.Parallel()
	v := testkit.NewVault(t)
	a := newEnv(t, options{vault: v})
	b := newEnv(t, options{vault: v, dbURL: a.dbURL, noFeed: true})
	agentID := a.newAgent()
	ic := a.create(agentID, 0)
	b.wantValid(agentID, ic.GetClientSecret()) // b caches the digest
	if _, err := a.creds.RevokeCredential(context.Background(), &credentialsv1.RevokeCredentialRequest{
		AgentId: agentID, CredentialId: ic.GetCredential().GetCredentialId()}); err != nil {
		t.Fatal(err)
	}
	b.wantInvalid(agentID, ic.GetClientSecret())
}

func TestDecommissionRevokesAllCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{vault: testkit.NewVault(t)})
	agentID := e.newAgent("agents:read")
	var secrets []string
	for range 3 {
		secrets = append(secrets, e.create(agentID, 0).GetClientSecret())
	}
	bystander := e.newAgent()
	kept := e.create(bystander, 0)
	for _, s := range secrets {
		e.wantValid(agentID, s)
	}
	start := time.Now()
	e.setAgentStatus(agentID, "decommissioned")
	eventually(t, 3*time.Second, func() error {
		page, err := e.creds.ListCredentials(context.Background(), &credentialsv1.ListCredentialsRequest{AgentId: agentID})
		if err != nil {
			return err
		}
		for _, c := range page.GetCredentials() {
			if c.GetStatus() != "revoked" {
				return errorf("credential %s is %s", c.GetCredentialId(), c.GetStatus())
			}
		}
		return nil
	})
	t.Logf("all credentials revoked %s after the decommission", time.Since(start).Round(time.Millisecond))
	for _, s := range secrets {
		e.wantInvalid(agentID, s)
	}
	e.wantValid(bystander, kept.GetClientSecret())
	_, err := e.creds.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	wantError(t, err, codes.FailedPrecondition, "AGENT_NOT_ACTIVE", "")
}

func TestSuspendedAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	agentID := e.newAgent("agents:read")
	ic := e.create(agentID, 0)
	e.setAgentStatus(agentID, "suspended")
	// The secret still verifies, with the status, so the token service can
	// refuse it with the right error.
	eventually(t, 3*time.Second, func() error {
		v, err := e.verify(agentID, ic.GetClientSecret())
		if err != nil {
			return err
		}
		if v.GetAgentStatus() != "suspended" {
			return errorf("agent status %q", v.GetAgentStatus())
		}
		return nil
	})
	_, err := e.creds.CreateCredential(context.Background(), &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	wantError(t, err, codes.FailedPrecondition, "AGENT_NOT_ACTIVE", "")
	// Rotation stays possible (a response to a suspected leak).
	rotated := e.rotate(agentID, ic.GetCredential().GetCredentialId(), 0)
	e.setAgentStatus(agentID, "active")
	eventually(t, 3*time.Second, func() error {
		v, err := e.verify(agentID, rotated.GetClientSecret())
		if err != nil {
			return err
		}
		if v.GetAgentStatus() != "active" {
			return errorf("agent status %q", v.GetAgentStatus())
		}
		return nil
	})
}

// Before the feed brings an agent, verification asks the registry.
func TestVerifyFallsBackToRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{noFeed: true})
	agentID := e.newAgent("agents:write")
	ic := e.create(agentID, 0)
	v := e.wantValid(agentID, ic.GetClientSecret())
	if !slices.Equal(v.GetScopes(), []string{"agents:write"}) {
		t.Fatalf("scopes %v", v.GetScopes())
	}
	if a, err := e.store.ProjectedAgent(context.Background(), parseUUID(t, agentID)); err != nil || a != nil {
		t.Fatalf("projection %v %v, want nothing (no feed)", a, err)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	agentID := e.newAgent()
	var ids []string
	for range 5 {
		ids = append(ids, e.create(agentID, 0).GetCredential().GetCredentialId())
	}
	e.create(e.newAgent(), 0) // another agent's: never listed
	var got []string
	token := ""
	size := int32(2)
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		page, err := e.creds.ListCredentials(context.Background(), &credentialsv1.ListCredentialsRequest{
			AgentId: agentID, PageSize: &size, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.GetCredentials() {
			got = append(got, c.GetCredentialId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want %v", got, ids)
	}
}

func TestLastUsedIsRecordedInBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	agentID := e.newAgent()
	ic := e.create(agentID, 0)
	before := time.Now()
	for range 20 {
		e.wantValid(agentID, ic.GetClientSecret())
	}
	eventually(t, 3*time.Second, func() error {
		page, err := e.creds.ListCredentials(context.Background(), &credentialsv1.ListCredentialsRequest{AgentId: agentID})
		if err != nil {
			return err
		}
		lu := page.GetCredentials()[0].GetLastUsedAt()
		if lu == nil || lu.AsTime().Before(before.Add(-time.Second)) {
			return errorf("lastUsedAt %v", lu)
		}
		return nil
	})
}
