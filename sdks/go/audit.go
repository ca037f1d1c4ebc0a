package idp

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// AuditService reads the audit log (/v1/audit; scope audit:read).
type AuditService struct{ c *Client }

// QueryPage returns one page of the events matching f, newest first.
func (s *AuditService) QueryPage(ctx context.Context, f AuditFilter, pageToken string) (*AuditPage, error) {
	q := url.Values{}
	set(q, "agentId", f.AgentID)
	set(q, "action", f.Action)
	set(q, "outcome", f.Outcome)
	set(q, "actor", f.Actor)
	set(q, "owner", f.Owner)
	set(q, "pageToken", pageToken)
	if !f.StartTime.IsZero() {
		q.Set("startTime", f.StartTime.UTC().Format(time.RFC3339Nano))
	}
	if !f.EndTime.IsZero() {
		q.Set("endTime", f.EndTime.UTC().Format(time.RFC3339Nano))
	}
	if f.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	var out AuditPage
	return result(&out, s.c.do(ctx, call{method: "GET", path: "/v1/audit/events", query: q, retry: true, out: &out}))
}

// Query iterates over every event matching f, newest first, fetching pages
// as it goes.
func (s *AuditService) Query(ctx context.Context, f AuditFilter) iter.Seq2[*AuditEvent, error] {
	return paginate(func(token string) ([]AuditEvent, string, error) {
		p, err := s.QueryPage(ctx, f, token)
		if err != nil {
			return nil, "", err
		}
		return p.Events, p.NextPageToken, nil
	})
}

// Get returns one event.
func (s *AuditService) Get(ctx context.Context, eventID string) (*AuditEvent, error) {
	path, err := pathOf("/v1/audit/events/", eventID)
	if err != nil {
		return nil, err
	}
	var out AuditEvent
	return result(&out, s.c.do(ctx, call{method: "GET", path: path, retry: true, out: &out}))
}

// Verify recomputes the audit log's hash chain over the sequences from to
// to (0: the oldest kept; 0: the newest, and then the chain's recorded head
// is checked too) and reports the first break, if any. It needs audit:read
// and platform:admin. A broken chain is a result (OK false, FirstBreak
// set), not an error.
func (s *AuditService) Verify(ctx context.Context, from, to int64) (*ChainVerification, error) {
	if from < 0 || to < 0 || (to > 0 && from > to) {
		return nil, invalidArgument("the range needs 0 <= from <= to")
	}
	q := url.Values{}
	if from > 0 {
		q.Set("fromSequence", strconv.FormatInt(from, 10))
	}
	if to > 0 {
		q.Set("toSequence", strconv.FormatInt(to, 10))
	}
	var out ChainVerification
	return result(&out, s.c.do(ctx, call{method: "GET", path: "/v1/audit/verify", query: q, retry: true, out: &out}))
}

// CheckpointsPage returns one page of the chain's signed checkpoints at or
// after sequence from (0: all), oldest first. It needs audit:read and
// platform:admin.
func (s *AuditService) CheckpointsPage(ctx context.Context, from int64, pageSize int, pageToken string) (*AuditCheckpointPage, error) {
	if from < 0 {
		return nil, invalidArgument("from must not be negative")
	}
	q := url.Values{}
	if from > 0 {
		q.Set("fromSequence", strconv.FormatInt(from, 10))
	}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	set(q, "pageToken", pageToken)
	var out AuditCheckpointPage
	return result(&out, s.c.do(ctx, call{method: "GET", path: "/v1/audit/checkpoints", query: q, retry: true, out: &out}))
}

// Checkpoints iterates over the signed checkpoints at or after sequence
// from, oldest first, fetching pages as it goes.
func (s *AuditService) Checkpoints(ctx context.Context, from int64) iter.Seq2[*AuditCheckpoint, error] {
	return paginate(func(token string) ([]AuditCheckpoint, string, error) {
		p, err := s.CheckpointsPage(ctx, from, 0, token)
		if err != nil {
			return nil, "", err
		}
		return p.Checkpoints, p.NextPageToken, nil
	})
}
