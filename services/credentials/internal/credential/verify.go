package credential

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// maxLegacyCandidates bounds the bcrypt comparisons one legacy
// verification may cost (each is ~60 ms by design).
const maxLegacyCandidates = 5

// maxBcryptWait is how long a legacy verification waits for a bcrypt slot
// before answering ErrVerifierBusy: well under the token service's
// deadline (CREDENTIALS_TIMEOUT, 2 s), so that a flood of legacy guesses
// is refused quickly instead of timing out callers, whose circuit breaker
// would then cut off every client.
const maxBcryptWait = 500 * time.Millisecond

// errVersionMoved: a candidate's KV version had no data and none matched;
// a migration may have moved it since the row was read.
var errVersionMoved = errors.New("a secret version's KV version is gone")

// candidate is one secret version a presented secret may match.
type candidate struct {
	v          Verifier
	validUntil *time.Time
	// legacyKV: its KV version holds the secret itself (written before
	// verifiers); migrated once the secret verifies.
	legacyKV bool
}

// Verify authenticates a client (the token service's client_credentials
// grant). Every failure that is the client's — unknown client, malformed,
// wrong, revoked or expired secret, decommissioned agent — is the same
// ErrInvalidClient; only an unavailable dependency answers differently, so
// that the token service can answer 503 instead of 401.
//
// Timing: the presented secret is hashed once whatever happens, and every
// comparison of secret material is constant-time. Whether a credential id
// exists is not a secret (ids appear in URLs); whether a secret matches is.
func (s *Service) Verify(ctx context.Context, clientID, clientSecret string) (Verified, error) {
	v, err := s.verify(ctx, clientID, clientSecret)
	switch {
	case err == nil:
		s.metrics.Verified.WithLabelValues("valid").Inc()
	case errors.Is(err, ErrInvalidClient):
		s.metrics.Verified.WithLabelValues("invalid").Inc()
	case errors.Is(err, ErrVerifierBusy):
		s.metrics.Verified.WithLabelValues("busy").Inc()
	case apierror.KindOf(err) == apierror.Unavailable:
		s.metrics.Verified.WithLabelValues("unavailable").Inc()
	default:
		s.metrics.Verified.WithLabelValues("error").Inc()
	}
	return v, err
}

func (s *Service) verify(ctx context.Context, clientID, clientSecret string) (Verified, error) {
	digest := secret.DigestOf(clientSecret)
	aid, err := uuid.Parse(clientID)
	if err != nil || len(clientID) != 36 {
		return Verified{}, ErrInvalidClient
	}
	if cid, ok := secret.Parse(clientSecret); ok {
		for attempt := 0; ; attempt++ {
			rec, err := s.store.ForVerify(ctx, cid)
			if errors.Is(err, ErrNotFound) {
				return Verified{}, ErrInvalidClient
			}
			if err != nil {
				return Verified{}, err
			}
			v, err := s.check(ctx, aid, rec, digest, "")
			if errors.Is(err, errVersionMoved) {
				if attempt == 0 {
					// Another replica migrated the version between our
					// read of the row and of Vault: read the row again.
					continue
				}
				err = ErrInvalidClient
			}
			return v, err
		}
	}
	if secret.HasShape(clientSecret) || clientSecret == "" || len(clientSecret) > 72 {
		// Our format with a bad checksum or alphabet, or nothing a phase-1
		// secret can be: rejected without a lookup.
		return Verified{}, ErrInvalidClient
	}
	// Phase-1 secrets embed no id: try the client's legacy verifiers
	// (bcrypt, or the sha256 one a bcrypt verifier became).
	recs, err := s.store.LegacyForVerify(ctx, aid, secret.VerifierOf(digest))
	if err != nil {
		return Verified{}, err
	}
	for i, rec := range recs {
		if i == maxLegacyCandidates {
			break
		}
		v, err := s.check(ctx, aid, rec, digest, clientSecret)
		if errors.Is(err, errVersionMoved) {
			continue
		}
		if !errors.Is(err, ErrInvalidClient) {
			return v, err
		}
	}
	return Verified{}, ErrInvalidClient
}

// check decides one credential. legacy is the presented secret when it is
// a phase-1 secret (compared with bcrypt only), "" otherwise.
func (s *Service) check(ctx context.Context, clientID uuid.UUID, rec VerifyRecord, digest secret.Digest, legacy string) (Verified, error) {
	c := rec.Credential
	now := s.now()
	if c.AgentID != clientID || c.Status(now) != StatusActive {
		return Verified{}, ErrInvalidClient
	}
	cands := []candidate{{v: rec.Current, validUntil: c.ExpiresAt}}
	if rec.Previous != nil && c.PreviousSecretExpiresAt != nil && now.Before(*c.PreviousSecretExpiresAt) {
		until := *c.PreviousSecretExpiresAt
		if c.ExpiresAt != nil && c.ExpiresAt.Before(until) {
			until = *c.ExpiresAt
		}
		cands = append(cands, candidate{v: *rec.Previous, validUntil: &until})
	}
	var matched *candidate
	gone := false
	for i := range cands {
		// Every candidate is compared, matched or not.
		ok, legacyKV, err := s.matches(ctx, c, cands[i].v, digest, legacy)
		if errors.Is(err, ErrSecretGone) {
			gone, err = true, nil
		}
		if err != nil {
			return Verified{}, err
		}
		cands[i].legacyKV = legacyKV
		if ok && matched == nil {
			matched = &cands[i]
		}
	}
	if matched == nil && gone {
		return Verified{}, errVersionMoved
	}
	if matched == nil {
		return Verified{}, ErrInvalidClient
	}
	agent := rec.Agent
	if agent == nil || agent.Owner == "" {
		// The feed has not brought this agent (or its owner) yet: ask the
		// registry.
		a, err := s.dir.GetAgent(ctx, c.AgentID)
		if errors.Is(err, ErrAgentNotFound) {
			return Verified{}, ErrInvalidClient
		}
		if err != nil {
			return Verified{}, err
		}
		agent = &a
	}
	if agent.Status == AgentDecommissioned {
		return Verified{}, ErrInvalidClient
	}
	if legacy != "" && secret.IsLegacy(matched.v.Hash) {
		s.upgradeLegacy(ctx, c, matched.v, digest)
	}
	for _, cand := range cands {
		if cand.legacyKV && cand.v == matched.v {
			s.migrateOnVerify(ctx, c, cand.v, digest)
		}
	}
	s.usage.Record(c.ID, now)
	return Verified{
		AgentID: c.AgentID, CredentialID: c.ID, Scopes: agent.Scopes, AgentStatus: agent.Status,
		Owner: agent.Owner, ValidUntil: matched.validUntil,
	}, nil
}

func (s *Service) matches(ctx context.Context, c Credential, v Verifier, digest secret.Digest, legacy string) (ok, legacyKV bool, err error) {
	switch {
	case legacy != "" && secret.IsLegacy(v.Hash):
		ok, err := s.matchBcrypt(ctx, v.Hash, legacy)
		return ok, false, err
	case legacy != "":
		// A phase-1 secret whose bcrypt verifier was upgraded.
		return secret.MatchDigest(v.Hash, digest), false, nil
	case v.Hash != "":
		return secret.MatchDigest(v.Hash, digest), false, nil
	case v.VaultVersion > 0 && s.vault != nil:
		want, legacyKV, err := s.vaultDigest(ctx, c, v.VaultVersion)
		if errors.Is(err, ErrSecretGone) {
			// Either a migration just moved the version (the caller reads
			// the row again), or Vault lost it.
			s.logger.Warn("a committed secret version has no data in Vault", "credential_id", c.ID, "vault_version", v.VaultVersion)
			return false, false, err
		}
		if err != nil {
			return false, false, err
		}
		return digest.Equal(want), legacyKV, nil
	case v.VaultVersion > 0:
		// Vault-held secret while Vault is not configured: cannot verify.
		s.logger.Error("credential's secret is in Vault but VAULT_ADDR is not set", "credential_id", c.ID)
		return false, false, ErrVaultUnavailable
	}
	return false, false, nil
}

// vaultRead is one KV version's digest and whether it is a legacy one.
type vaultRead struct {
	d      secret.Digest
	legacy bool
}

// vaultDigest returns the digest of a KV version from the cache, else from
// Vault (one read per version however many verifications wait for it).
// Digests of legacy versions (ones holding the secret) are not cached, so
// that a migration that failed is retried at the next verification.
func (s *Service) vaultDigest(ctx context.Context, c Credential, version int64) (secret.Digest, bool, error) {
	if d, ok := s.cache.Get(c.ID, version); ok {
		s.metrics.CacheLookups.WithLabelValues("hit").Inc()
		return d, false, nil
	}
	if s.cache != nil {
		s.metrics.CacheLookups.WithLabelValues("miss").Inc()
	}
	key := c.ID.String() + "/" + strconv.FormatInt(version, 10)
	res, err, _ := s.reads.Do(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.vaultTimeout)
		defer cancel()
		d, legacy, err := s.vault.ReadDigest(rctx, c.AgentID, c.ID, version)
		if err != nil {
			return nil, err
		}
		if !legacy {
			s.cache.Put(c.ID, version, d)
		}
		return vaultRead{d: d, legacy: legacy}, nil
	})
	if errors.Is(err, ErrSecretGone) {
		return secret.Digest{}, false, err
	}
	if err != nil {
		return secret.Digest{}, false, s.vaultFailed(ctx, "read a secret", err)
	}
	r := res.(vaultRead)
	return r.d, r.legacy, nil
}

// matchBcrypt compares a phase-1 secret with a bcrypt verifier in one of
// the service's few bcrypt slots, so that bad legacy secrets cannot take
// more than that share of the CPU, however many arrive.
func (s *Service) matchBcrypt(ctx context.Context, stored, presented string) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, maxBcryptWait)
	defer cancel()
	if err := s.bcrypt.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, ErrVerifierBusy
	}
	defer s.bcrypt.Release(1)
	return secret.MatchLegacy(stored, presented), nil
}

// upgradeLegacy replaces the bcrypt verifier a phase-1 secret just
// matched with its "sha256$" verifier (the secret is known right now):
// the next verification costs a SHA-256, not a bcrypt, and the row no
// longer offers a way to burn CPU. What the secret is worth does not
// change, so no event is published. A failure only delays the upgrade.
func (s *Service) upgradeLegacy(ctx context.Context, c Credential, v Verifier, digest secret.Digest) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.store.UpgradeVerifier(uctx, c.ID, v.Version, v.Hash, secret.VerifierOf(digest)); err != nil {
		s.logger.Warn("upgrading a legacy bcrypt verifier failed", "credential_id", c.ID, "version", v.Version, "error", err)
		return
	}
	s.metrics.LegacyUpgraded.Inc()
	s.logger.Info("legacy bcrypt verifier upgraded to sha256", "credential_id", c.ID, "version", v.Version)
}
