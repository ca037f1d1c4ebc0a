package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// Limits of the API.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxGracePeriod bounds how long a rotated-out secret keeps working.
	MaxGracePeriod = 24 * time.Hour
	// MaxTTL bounds a credential's lifetime (ten years).
	MaxTTL = 10 * 365 * 24 * time.Hour
)

// AllStores is everything Postgres provides to the service.
type AllStores interface {
	Store
	VerifyStore
	PendingStore
	ProjectionReader
	VaultMigrationStore
}

// Config holds the service's dependencies.
type Config struct {
	Store     AllStores
	Directory Directory
	// Vault keeps the secrets; nil selects the embedded mode (hashes in Postgres).
	Vault Vault
	// Cache holds digests of Vault secrets; nil disables caching.
	Cache *DigestCache
	// Usage batches lastUsedAt; nil disables recording.
	Usage   *UsageRecorder
	Metrics *Metrics
	Logger  *slog.Logger
	// VaultTimeout bounds every Vault call of a request; default 5s.
	VaultTimeout time.Duration
	// PendingTimeout is how old a pending row must be before the
	// reconciler may undo it: longer than any request can still be writing
	// to Vault. Default 30s; at least 3×VaultTimeout.
	PendingTimeout time.Duration
	// BcryptConcurrency bounds the bcrypt comparisons (legacy secrets; slow
	// by design, tens of milliseconds of CPU each) running at once; default
	// half the CPUs, at least 1.
	BcryptConcurrency int
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service implements the credentials use cases.
type Service struct {
	store          AllStores
	dir            Directory
	vault          Vault
	cache          *DigestCache
	usage          *UsageRecorder
	metrics        *Metrics
	logger         *slog.Logger
	vaultTimeout   time.Duration
	pendingTimeout time.Duration
	now            func() time.Time
	reads          singleflight.Group
	bcrypt         *semaphore.Weighted
}

// New returns the service.
func New(cfg Config) *Service {
	s := &Service{
		store: cfg.Store, dir: cfg.Directory, vault: cfg.Vault, cache: cfg.Cache, usage: cfg.Usage,
		metrics: cfg.Metrics, logger: cfg.Logger, vaultTimeout: cfg.VaultTimeout,
		pendingTimeout: cfg.PendingTimeout, now: cfg.Now,
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(prometheus.NewRegistry())
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.vaultTimeout <= 0 {
		s.vaultTimeout = 5 * time.Second
	}
	if s.pendingTimeout <= 0 {
		s.pendingTimeout = 30 * time.Second
	}
	s.pendingTimeout = max(s.pendingTimeout, 3*s.vaultTimeout)
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.BcryptConcurrency <= 0 {
		cfg.BcryptConcurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	s.bcrypt = semaphore.NewWeighted(int64(cfg.BcryptConcurrency))
	return s
}

func (s *Service) timestamp() time.Time {
	// PostgreSQL keeps microseconds: truncate so responses equal reads.
	return s.now().UTC().Truncate(time.Microsecond)
}

func (s *Service) storage() Storage {
	if s.vault != nil {
		return StorageVault
	}
	return StorageHash
}

// Create generates a credential for an active agent.
func (s *Service) Create(ctx context.Context, agentID string, ttlSeconds int64) (Issued, error) {
	aid, err := parseID("agentId", agentID)
	if err != nil {
		return Issued{}, err
	}
	if ttlSeconds < 0 || ttlSeconds > int64(MaxTTL/time.Second) {
		return Issued{}, fieldError(errInvalid, "ttlSeconds", "ttlSeconds must be between 0 (no expiry) and %d", int64(MaxTTL/time.Second))
	}
	agent, err := s.dir.GetAgent(ctx, aid)
	if err != nil {
		return Issued{}, err
	}
	if ctx, err = reach(ctx, agent, true); err != nil {
		return Issued{}, err
	}
	if agent.Status != AgentActive {
		return Issued{}, ErrAgentNotActive.WithMessage("agent %s is %s; credentials are issued to active agents only", aid, agent.Status)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Issued{}, fmt.Errorf("new credential id: %w", err)
	}
	plain, err := secret.New(id)
	if err != nil {
		return Issued{}, err
	}
	now := s.timestamp()
	c := Credential{ID: id, AgentID: aid, CreatedAt: now, SecretVersion: 1, Storage: s.storage()}
	if ttlSeconds > 0 {
		exp := now.Add(time.Duration(ttlSeconds) * time.Second)
		c.ExpiresAt = &exp
	}

	if s.vault == nil {
		c.State = StateActive
		stored, err := s.store.CreateActive(ctx, c, Verifier{Version: 1, Hash: secret.Hash(plain)})
		if err != nil {
			return Issued{}, err
		}
		s.metrics.Issued.WithLabelValues(string(StorageHash)).Inc()
		return Issued{Credential: stored, Secret: plain}, nil
	}

	// Vault mode, in three steps so that a crash or an outage at any point
	// leaves either nothing visible or a pending row for the reconciler:
	// 1. commit the row as pending (invisible to List and Verify);
	c.State, c.VaultPath = StatePending, s.vault.Path(aid, id)
	if err := s.store.CreatePending(ctx, c); err != nil {
		return Issued{}, err
	}
	// 2. write the secret (KV version 1, check-and-set 0: the path is new);
	wctx, cancel := context.WithTimeout(ctx, s.vaultTimeout)
	vv, err := s.vault.Write(wctx, aid, id, secret.DigestOf(plain.Reveal()), 0)
	cancel()
	if err != nil {
		if notApplied(err) {
			// Nothing reached Vault: drop the row now.
			s.undoCreate(ctx, id, true, false)
		}
		return Issued{}, s.vaultFailed(ctx, "write a new secret", err)
	}
	// 3. make the row active. Only now may the client see the secret.
	stored, err := s.store.Activate(ctx, id, vv)
	switch {
	case errors.Is(err, ErrAgentNotActive):
		// Decommissioned meanwhile. The write is complete, so undoing now
		// races with nothing.
		s.undoCreate(ctx, id, true, true)
		return Issued{}, err
	case errors.Is(err, ErrPendingGone):
		// The reconciler undid the row while this request was stalled: drop
		// what this request wrote, in case it landed after the undo.
		s.discardWrite(ctx, id, func(ctx context.Context) error { return s.vault.DeleteAll(ctx, aid, id) })
		return Issued{}, errTooSlow
	case err != nil:
		return Issued{}, err // e.g. Postgres is down: the reconciler undoes it later
	}
	s.metrics.Issued.WithLabelValues(string(StorageVault)).Inc()
	return Issued{Credential: stored, Secret: plain}, nil
}

var errTooSlow = apierror.New(apierror.Unavailable, "SERVICE_UNAVAILABLE",
	"the request took too long and was rolled back; retry")

// List returns a page of an agent's credentials (metadata only).
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	aid, err := parseID("agentId", q.AgentID)
	if err != nil {
		return Page{}, err
	}
	if q.PageSize < 1 || q.PageSize > MaxPageSize {
		return Page{}, fieldError(errPageSize, "pageSize", "pageSize must be between 1 and %d (omit it for %d)", MaxPageSize, DefaultPageSize)
	}
	var after uuid.UUID
	if q.PageToken != "" {
		if after, err = decodePageToken(q.PageToken, aid); err != nil {
			return Page{}, err
		}
	}
	agent, err := s.agentFor(ctx, aid)
	if err != nil {
		return Page{}, err
	}
	if _, err := reach(ctx, agent, false); err != nil {
		return Page{}, err
	}
	creds, err := s.store.List(ctx, aid, after, q.PageSize+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Credentials: creds}
	if len(creds) > q.PageSize {
		page.Credentials = creds[:q.PageSize]
		page.NextPageToken = encodePageToken(page.Credentials[q.PageSize-1].ID, aid)
	}
	return page, nil
}

// agentFor answers from the projection, else from the registry.
func (s *Service) agentFor(ctx context.Context, id uuid.UUID) (Agent, error) {
	a, err := s.store.ProjectedAgent(ctx, id)
	if err != nil {
		return Agent{}, err
	}
	if a != nil && a.Owner != "" {
		return *a, nil
	}
	return s.dir.GetAgent(ctx, id)
}

// reach confines a call to the caller's reach, beside the policy (a policy
// slip must not leak another owner's credentials or mint a secret for a
// more powerful agent): an agent of another owner does not exist for the
// caller, and a write (create, rotate, revoke) needs every scope of the
// agent among the caller's own, its own credentials included (a token
// narrowed to fewer scopes than its agent holds cannot mint a secret that
// yields them all). platform:admin reaches everything. The returned
// context tells the store whose audit log the change's events belong to.
func reach(ctx context.Context, a Agent, write bool) (context.Context, error) {
	caller := requestinfo.From(ctx)
	if !caller.Sees(a.Owner) {
		return ctx, ErrAgentNotFound.WithMessage("agent %s not found", a.ID)
	}
	if write {
		if lacks := caller.Lacks(a.Scopes); len(lacks) > 0 {
			return ctx, ErrEscalation.WithMessage("agent %s holds scopes the caller does not hold: %s", a.ID, strings.Join(lacks, " "))
		}
	}
	return WithOwner(ctx, a.Owner), nil
}

// Rotate gives a credential a new secret; the previous one keeps working
// for graceSeconds.
func (s *Service) Rotate(ctx context.Context, agentID, credentialID string, graceSeconds int64) (Issued, error) {
	aid, err := parseID("agentId", agentID)
	if err != nil {
		return Issued{}, err
	}
	cid, err := parseID("credentialId", credentialID)
	if err != nil {
		return Issued{}, err
	}
	if graceSeconds < 0 {
		return Issued{}, fieldError(errInvalid, "gracePeriodSeconds", "gracePeriodSeconds must not be negative")
	}
	if graceSeconds > int64(MaxGracePeriod/time.Second) {
		return Issued{}, fieldError(errGraceTooLong, "gracePeriodSeconds", "gracePeriodSeconds must be at most %d", int64(MaxGracePeriod/time.Second))
	}
	grace := time.Duration(graceSeconds) * time.Second
	agent, err := s.dir.GetAgent(ctx, aid)
	if err != nil {
		return Issued{}, err
	}
	if ctx, err = reach(ctx, agent, true); err != nil {
		return Issued{}, err
	}
	// A suspended agent's credential may be rotated (a typical response to
	// a suspected leak); a decommissioned agent has none left to rotate.
	if agent.Status == AgentDecommissioned {
		return Issued{}, ErrAgentNotActive.WithMessage("agent %s is decommissioned", aid)
	}
	plain, err := secret.New(cid)
	if err != nil {
		return Issued{}, err
	}
	check := func(c Credential) error {
		if st := c.Status(s.now()); st != StatusActive {
			return ErrNotActive.WithMessage("credential %s is %s and cannot be rotated", cid, st)
		}
		return nil
	}

	if s.vault == nil {
		c, err := s.store.RotateHashed(ctx, aid, cid, check, Verifier{Hash: secret.Hash(plain)}, grace, s.timestamp())
		if err != nil {
			return Issued{}, err
		}
		s.cache.Invalidate(cid)
		s.metrics.Rotated.WithLabelValues(string(StorageHash)).Inc()
		return Issued{Credential: c, Secret: plain}, nil
	}

	// Vault mode: pending version → Vault write → current version, as in
	// Create. A hashed (or legacy) credential moves to Vault here.
	_, next, err := s.beginRotation(ctx, aid, cid, check)
	if err != nil {
		return Issued{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.vaultTimeout)
	defer cancel()
	current, _, err := s.vault.Versions(wctx, aid, cid)
	if err != nil {
		s.undoRotation(ctx, cid, true, false) // nothing was written
		return Issued{}, s.vaultFailed(ctx, "read secret metadata", err)
	}
	vv, err := s.vault.Write(wctx, aid, cid, secret.DigestOf(plain.Reveal()), current)
	if err != nil {
		if notApplied(err) {
			s.undoRotation(ctx, cid, true, false)
		}
		return Issued{}, s.vaultFailed(ctx, "write a rotated secret", err)
	}
	done, err := s.store.CompleteRotation(ctx, cid, next, vv, grace, s.timestamp())
	switch {
	case errors.Is(err, ErrNotActive):
		s.undoRotation(ctx, cid, true, true) // revoked meanwhile
		return Issued{}, err
	case errors.Is(err, ErrPendingGone):
		// KV version vv is this request's alone (check-and-set).
		s.discardWrite(ctx, cid, func(ctx context.Context) error { return s.vault.Destroy(ctx, aid, cid, []int64{vv}) })
		return Issued{}, errTooSlow
	case err != nil:
		return Issued{}, err
	}
	s.cache.Invalidate(cid)
	s.metrics.Rotated.WithLabelValues(string(StorageVault)).Inc()
	return Issued{Credential: done, Secret: plain}, nil
}

// discardWrite removes a Vault write whose pending row is already gone.
func (s *Service) discardWrite(ctx context.Context, id uuid.UUID, remove func(context.Context) error) {
	ctx, cancel := s.cleanupContext(ctx)
	defer cancel()
	if err := remove(ctx); err != nil {
		s.logger.Error("could not remove a secret written for an abandoned request; it is orphaned in Vault",
			"credential_id", id, "error", err)
	}
}

// beginRotation records the pending version, first undoing a pending one
// that is old enough to be abandoned.
func (s *Service) beginRotation(ctx context.Context, aid, cid uuid.UUID, check func(Credential) error) (Credential, int64, error) {
	for attempt := 0; ; attempt++ {
		c, next, err := s.store.BeginRotation(ctx, aid, cid, check, s.vault.Path(aid, cid), s.timestamp())
		var pe *PendingError
		if !errors.As(err, &pe) {
			return c, next, err
		}
		if attempt > 0 || s.now().Sub(pe.Since) < s.pendingTimeout {
			return Credential{}, 0, ErrRotationActive
		}
		if err := s.undoRotation(ctx, cid, false, true); err != nil {
			return Credential{}, 0, err
		}
	}
}

// Revoke stops a credential at once. Revoking it again returns it.
func (s *Service) Revoke(ctx context.Context, agentID, credentialID string) (Credential, error) {
	aid, err := parseID("agentId", agentID)
	if err != nil {
		return Credential{}, err
	}
	cid, err := parseID("credentialId", credentialID)
	if err != nil {
		return Credential{}, err
	}
	if !requestinfo.From(ctx).Platform() {
		agent, err := s.agentFor(ctx, aid)
		if err != nil {
			return Credential{}, err
		}
		if ctx, err = reach(ctx, agent, true); err != nil {
			return Credential{}, err
		}
	}
	// Postgres alone decides: revocation works while Vault is down.
	c, changed, err := s.store.Revoke(ctx, aid, cid, s.timestamp())
	if err != nil {
		return Credential{}, err
	}
	s.cache.Invalidate(cid)
	if changed {
		s.metrics.Revoked.WithLabelValues("api").Inc()
	}
	return c, nil
}

// Revoked is called by the feed consumer after a decommission revoked
// credentials: it drops their cached digests and counts them.
func (s *Service) Revoked(ids []uuid.UUID) {
	s.cache.Invalidate(ids...)
	if len(ids) > 0 {
		s.metrics.Revoked.WithLabelValues("decommission").Add(float64(len(ids)))
	}
}

// vaultFailed logs a Vault failure with its cause (no secret can be in it:
// Vault errors carry the method, URL and Vault's message, never a request
// body) and returns what the client sees.
func (s *Service) vaultFailed(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the caller gave up; CANCELLED or DEADLINE_EXCEEDED
	}
	s.logger.Warn("vault request failed", "op", op, "error", err)
	return fmt.Errorf("%w (%s)", ErrVaultUnavailable, op)
}

// parseID accepts the canonical UUID form only.
func parseID(field, id string) (uuid.UUID, error) {
	uid, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		if id == "" {
			return uuid.Nil, fieldError(errRequired, field, "%s is required", field)
		}
		return uuid.Nil, fieldError(errInvalid, field, "%s must be a UUID", field)
	}
	return uid, nil
}
