package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
)

// cleanupTimeout bounds a revocation that undoes a failed hand-over: it
// runs even when the run's own context has ended (a deadline, Ctrl-C), and
// one call to the credentials service is all it needs.
const cleanupTimeout = 10 * time.Second

// activeCredentials lists the ids of the agent's active credentials, oldest
// first (credential ids are UUIDv7 and listed in id order).
func (r *run) activeCredentials(ctx context.Context, agentID string) ([]string, error) {
	var out []string
	page := int32(100)
	req := &credentialsv1.ListCredentialsRequest{AgentId: agentID, PageSize: &page}
	for {
		resp, err := r.cfg.Credentials.ListCredentials(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list the platform admin's credentials: %w", err)
		}
		for _, c := range resp.GetCredentials() {
			if c.GetStatus() == statusActive {
				out = append(out, c.GetCredentialId())
			}
		}
		if resp.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// held returns the id of the admin's credential whose secret the Output
// holds and that still verifies ("" if none), and the Output's Version.
func (r *run) held(ctx context.Context, agentID string) (string, Version, error) {
	c, version, err := r.cfg.Output.Load(ctx)
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", r.cfg.Output, err)
	}
	id, err := r.verify(ctx, agentID, c)
	return id, version, err
}

// verify returns the id of the admin's credential c is, if its secret
// works, or "".
func (r *run) verify(ctx context.Context, agentID string, c Credential) (string, error) {
	if !c.Complete() {
		return "", nil
	}
	if c.ClientID != agentID {
		r.logf("%s holds a credential of another agent (%s), not of the platform admin", r.cfg.Output, c.ClientID)
		return "", nil
	}
	v, err := r.cfg.Verifier.VerifyClientSecret(ctx, &credentialsv1.VerifyClientSecretRequest{
		ClientId: c.ClientID, ClientSecret: c.ClientSecret.Reveal(),
	})
	if status.Code(err) == codes.Unauthenticated {
		r.logf("%s holds a secret of the platform admin that no longer works (revoked or expired)", r.cfg.Output)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("verify the secret %s holds: %w", r.cfg.Output, err)
	}
	if v.GetAgentId() != agentID {
		return "", nil
	}
	return v.GetCredentialId(), nil
}

// ensureCredential is step 2 of Run: decide whether to issue a secret.
func (r *run) ensureCredential(ctx context.Context, agentID string) error {
	active, err := r.activeCredentials(ctx, agentID)
	if err != nil {
		return err
	}
	heldID, version, err := r.held(ctx, agentID)
	if err != nil {
		return err
	}
	switch {
	case r.cfg.Rotate:
		r.logf("issuing a new secret for the platform admin (--rotate); its %d other credential(s) are revoked once it is handed over", len(active))
		return r.issue(ctx, agentID, version, active, active)
	case heldID != "":
		r.res.Held, r.res.CredentialID = true, heldID
		r.logf("%s holds a working secret of the platform admin %s (credential %s): nothing to do", r.cfg.Output, agentID, heldID)
		return nil
	case len(active) == 0:
		r.logf("the platform admin %s has no active credential: issuing one", agentID)
		return r.issue(ctx, agentID, version, active, nil)
	case r.cfg.RotateIfMissing:
		r.logf("%s does not hold the platform admin's secret: issuing a new one (--rotate-if-missing); the %d lost credential(s) are revoked once it is handed over", r.cfg.Output, len(active))
		return r.issue(ctx, agentID, version, active, active)
	default:
		r.res.CredentialID = active[len(active)-1]
		r.logf("the platform admin %s has an active credential (%s): its secret was handed over when it was issued and is never shown again. "+
			"Nothing to do. To issue a new secret and revoke the old one: agentidp bootstrap --rotate", agentID, r.res.CredentialID)
		return nil
	}
}

// issue is step 3 of Run: create a credential, hand it over, then revoke
// the credentials it replaces. since is the Output's Version and before
// the admin's active credentials that the decision to issue was made on.
func (r *run) issue(ctx context.Context, agentID string, since Version, before, replaces []string) error {
	if err := r.cfg.Output.Prepare(ctx); err != nil {
		return fmt.Errorf("%s cannot take a secret (nothing was created): %w", r.cfg.Output, err)
	}
	issued, err := r.cfg.Credentials.CreateCredential(ctx, &credentialsv1.CreateCredentialRequest{AgentId: agentID})
	if err != nil {
		if ambiguous(err) {
			// The credential may exist without anyone holding its secret:
			// revoke what appeared, so that the next attempt issues anew
			// instead of finding a credential nobody can use.
			r.undoUnknown(ctx, agentID, before)
		}
		return fmt.Errorf("create the platform admin's credential: %w", err)
	}
	mine := issued.GetCredential().GetCredentialId()

	// Two runs at once (the first Cloud Run instances, a retried Job pod
	// beside its predecessor) may both decide to issue. Into one Output,
	// Save's compare-and-set below lets exactly one hand its secret over.
	// Across Outputs this check catches most overlaps: a credential that
	// appeared since this run decided is another run's, and the older one
	// wins. (Not all: credentials being created are invisible until
	// active, so the younger run may not see the older one yet.)
	now, err := r.activeCredentials(ctx, agentID)
	if err != nil {
		r.revokeOne(ctx, agentID, mine)
		return err
	}
	for _, id := range now {
		if id < mine && !slices.Contains(before, id) {
			r.revokeOne(ctx, agentID, mine)
			r.res.CredentialID = id
			r.logf("another bootstrap issued credential %s at the same time, and hands that one over; revoked this run's %s", id, mine)
			return nil
		}
	}

	cred := Credential{URL: r.cfg.URL, ClientID: issued.GetClientId(), ClientSecret: Secret(issued.GetClientSecret()), CredentialID: mine}
	if err := r.cfg.Output.Save(ctx, cred, since); err != nil {
		r.revokeOne(ctx, agentID, mine)
		if errors.Is(err, ErrChanged) {
			return r.lostRace(ctx, agentID, mine)
		}
		return fmt.Errorf("hand the secret to %s: %w (credential %s was revoked again; run the bootstrap again)", r.cfg.Output, err, mine)
	}
	r.res.Issued, r.res.CredentialID = true, mine
	r.logf("issued credential %s for the platform admin %s; its secret went to %s", mine, agentID, r.cfg.Output)

	var errs []error
	for _, id := range replaces {
		if id == mine {
			continue
		}
		if _, err := r.cfg.Credentials.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id}); err != nil {
			errs = append(errs, fmt.Errorf("revoke the replaced credential %s: %w", id, err))
			continue
		}
		r.res.Revoked = append(r.res.Revoked, id)
		r.logf("revoked the replaced credential %s", id)
	}
	return errors.Join(errs...)
}

// lostRace reports on a hand-over that another bootstrap won: the Output
// should now hold that run's working secret.
func (r *run) lostRace(ctx context.Context, agentID, mine string) error {
	c, _, err := r.cfg.Output.Load(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", r.cfg.Output, err)
	}
	id, err := r.verify(ctx, agentID, c)
	if err != nil {
		return err
	}
	if id == "" {
		// Written meanwhile, but not with a working secret of the admin.
		return fmt.Errorf("%s changed while this run issued credential %s (revoked again); run the bootstrap again", r.cfg.Output, mine)
	}
	r.res.Held, r.res.CredentialID = true, id
	r.logf("another bootstrap handed credential %s to %s at the same time; revoked this run's %s", id, r.cfg.Output, mine)
	return nil
}

// revokeOne revokes a credential this run created and must not leave
// behind, even after ctx ended; a failure is reported, not returned (the
// caller is already returning the error that matters).
func (r *run) revokeOne(ctx context.Context, agentID, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := r.cfg.Credentials.RevokeCredential(ctx, &credentialsv1.RevokeCredentialRequest{AgentId: agentID, CredentialId: id}); err != nil {
		r.logf("could not revoke credential %s, whose secret nobody holds (%v): revoke it, or run the bootstrap with --rotate", id, err)
		return
	}
	r.res.Revoked = append(r.res.Revoked, id)
}

// undoUnknown revokes the admin's active credentials that were not there
// before a create whose outcome is unknown.
func (r *run) undoUnknown(ctx context.Context, agentID string, before []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	now, err := r.activeCredentials(ctx, agentID)
	if err != nil {
		r.logf("could not check whether the failed create left a credential behind (%v)", err)
		return
	}
	for _, id := range now {
		if !slices.Contains(before, id) {
			r.revokeOne(ctx, agentID, id)
		}
	}
}

// ambiguous reports whether a call may have taken effect although it
// failed: its answer was lost, not refused.
func ambiguous(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown, codes.Internal:
		return true
	}
	return false
}

// Transient reports whether a failed run is worth running again as is: a
// service was unreachable or overloaded. The bootstrap is idempotent, so a
// retry repeats nothing that succeeded.
func Transient(err error) bool {
	if errors.Is(err, ErrRefused) {
		return false
	}
	// status.Code finds a gRPC status anywhere in err's chain.
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}
