package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Filter selects events; zero fields match everything. The time range is
// on OccurredAt: Start inclusive, End exclusive.
type Filter struct {
	AgentID uuid.UUID `json:"g,omitzero"`
	Action  string    `json:"a,omitempty"`
	Outcome string    `json:"o,omitempty"`
	Actor   string    `json:"c,omitempty"`
	Start   time.Time `json:"s,omitzero"`
	End     time.Time `json:"e,omitzero"`
	// Owner selects one owner's events; a caller without platform:admin is
	// always confined to its own.
	Owner string `json:"w,omitempty"`
}

// Position is a place in the newest-first order of events: (OccurredAt,
// Sequence) descending. Sequence is unique, so the order is total.
type Position struct {
	OccurredAt time.Time
	Sequence   int64
}

// Query asks for one page of events.
type Query struct {
	PageSize  int
	PageToken string
	Filter    Filter
}

// Page is one page of events, newest first.
type Page struct {
	Events        []Event
	NextPageToken string
}

// Page tokens are opaque to clients: base64url JSON of the position of the
// last event of the previous page (keyset pagination: every event that
// existed when paging started is returned exactly once) and a fingerprint
// of the filter, so a token cannot be replayed against other filters.
type pageToken struct {
	OccurredAt int64  `json:"t"` // Unix microseconds
	Sequence   int64  `json:"s"`
	Filter     string `json:"f"`
}

func (f Filter) fingerprint() string {
	b, _ := json.Marshal(f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// The range of a page token's time: that of a google.protobuf.Timestamp.
var (
	minPageMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxPageMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

func encodePageToken(p Position, f Filter) string {
	b, _ := json.Marshal(pageToken{OccurredAt: p.OccurredAt.UnixMicro(), Sequence: p.Sequence, Filter: f.fingerprint()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string, f Filter) (Position, error) {
	bad := fieldError(errPageToken, "pageToken", "pageToken is not a token this API returned")
	if len(s) > 256 {
		return Position{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Position{}, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.Sequence < 1 || t.Filter == "" {
		return Position{}, bad
	}
	if t.OccurredAt < minPageMicros || t.OccurredAt > maxPageMicros {
		// No event can be there (timestamps are years 1-9999), and a time
		// outside PostgreSQL's range would be mangled on the way to it.
		return Position{}, bad
	}
	if t.Filter != f.fingerprint() {
		return Position{}, fieldError(errPageToken, "pageToken", "pageToken was issued for other filters; keep the filters fixed while paging")
	}
	return Position{OccurredAt: time.UnixMicro(t.OccurredAt).UTC(), Sequence: t.Sequence}, nil
}
