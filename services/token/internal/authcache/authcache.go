// Package authcache defines what the token service caches in Redis about
// client authentication and agents, and how it is encoded: the records
// written by the hot path (Entry) and by the change-feed followers
// (Agent, credential generations), read together in one round trip.
package authcache

import (
	"strconv"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/libs/ratelimit"
)

// Entry is a cached successful client authentication. It is stored under
// a keyed hash (HMAC-SHA256) of client_id and secret, never the secret.
type Entry struct {
	CredentialID string
	// CredGen is the client's credential generation read before the
	// credentials service was asked; the entry is void once it changes.
	CredGen    int64
	VerifiedAt time.Time
	// ValidUntil is when the secret stops working (zero: never).
	ValidUntil time.Time
	// The agent as the credentials service saw it, used only when the
	// token service's own projection (Agent) has no record.
	AgentStatus string
	Scopes      []string
	Owner       string
}

// Agent is the token service's projection of one agent, written from the
// registry's change feed.
type Agent struct {
	Sequence int64 // of the feed event that wrote it
	Status   string
	Scopes   []string
	Owner    string
	// RevokedThrough: tokens issued at or before this Unix second are dead
	// (the agent's last suspension or decommissioning).
	RevokedThrough int64
}

// Lookup asks for everything the hot path needs about one request.
type Lookup struct {
	ClientID string
	MAC      string // base64url HMAC of client_id and secret
	// Rate, when set, counts the request against the client's limit and
	// reserves up to Reserve tokens (≥ 1) for this replica's later use —
	// only if an entry for MAC exists: a cached MAC proves the secret, and
	// only proven requests spend the client's budget.
	Rate    *Rate
	Reserve int
	// Failures, when set, refuses the request if Source's failure buckets
	// (per client and source, and per source) are empty. Nothing is
	// charged to them here.
	Failures *Failures
	Source   string
}

// Rate is a limit: PerSecond sustained, Burst at once.
type Rate = ratelimit.Limit

// Failures are the limits on failed client authentications from one
// source address: per (client_id, source) pair and per source. Either may
// be nil (no limit).
type Failures struct {
	Pair   *Rate
	Source *Rate
}

// Bucket names a rate limit (a metric label: bounded).
type Bucket string

// The token service's buckets.
const (
	// BucketClient counts a client's authenticated requests.
	BucketClient Bucket = "client"
	// BucketClientSource counts failed authentications naming a client
	// from one source address.
	BucketClientSource Bucket = "client_source"
	// BucketSource counts failed authentications from one source address,
	// whatever client they name.
	BucketSource Bucket = "source"
)

// Buckets lists every bucket (metrics pre-create their series).
var Buckets = []Bucket{BucketClient, BucketClientSource, BucketSource}

// Found is what one lookup returns.
type Found struct {
	// Allowed is false when a bucket refused the request: Limited says
	// which, RetryAfter when it admits the next one.
	Allowed    bool
	Limited    Bucket
	RetryAfter time.Duration
	// Granted is how many of the client's rate-limit tokens were reserved
	// (with Rate, and only when Entry is set).
	Granted int
	Entry   *Entry // nil: not cached
	Agent   *Agent // nil: not in the projection
	CredGen int64
}

// FailureCharge is the outcome of charging a failed authentication.
type FailureCharge struct {
	// Allowed is false when a bucket was already empty (Limited,
	// RetryAfter); then nothing was charged to it.
	Allowed    bool
	Limited    Bucket
	RetryAfter time.Duration
	// PairWait and SourceWait are how long each bucket refuses requests
	// after this charge (0: it admits the next one).
	PairWait, SourceWait time.Duration
}

// EncodeEntry renders e compactly
// ("e2|cred|gen|verifiedMs|validMs|status|scopes|owner": the owner, free
// text, comes last so that it may hold any character).
func EncodeEntry(e Entry) string {
	var b strings.Builder
	b.Grow(96 + 16*len(e.Scopes) + len(e.Owner))
	b.WriteString("e2|")
	b.WriteString(e.CredentialID)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(e.CredGen, 10))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(e.VerifiedAt.UnixMilli(), 10))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(millis(e.ValidUntil), 10))
	b.WriteByte('|')
	b.WriteString(e.AgentStatus)
	b.WriteByte('|')
	b.WriteString(strings.Join(e.Scopes, " "))
	b.WriteByte('|')
	b.WriteString(e.Owner)
	return b.String()
}

// DecodeEntry parses an entry; ok is false for anything malformed or of
// an older format (which then counts as not cached).
func DecodeEntry(s string) (Entry, bool) {
	f := strings.SplitN(s, "|", 8)
	if len(f) != 8 || f[0] != "e2" {
		return Entry{}, false
	}
	gen, err1 := strconv.ParseInt(f[2], 10, 64)
	verified, err2 := strconv.ParseInt(f[3], 10, 64)
	valid, err3 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Entry{}, false
	}
	return Entry{
		CredentialID: f[1], CredGen: gen, VerifiedAt: time.UnixMilli(verified),
		ValidUntil: fromMillis(valid), AgentStatus: f[5], Scopes: strings.Fields(f[6]), Owner: f[7],
	}, true
}

// EncodeAgent renders a as "seq|status|revokedThrough|scopes|owner"
// (sequence first: the Redis script that writes it compares sequences so
// that a replayed event never overwrites a newer one; the owner last).
func EncodeAgent(a Agent) string {
	return strconv.FormatInt(a.Sequence, 10) + "|" + a.Status + "|" + strconv.FormatInt(a.RevokedThrough, 10) +
		"|" + strings.Join(a.Scopes, " ") + "|" + a.Owner
}

// DecodeAgent parses an agent record; a record of an older format is not
// one (the agent is then read from the registry).
func DecodeAgent(s string) (Agent, bool) {
	f := strings.SplitN(s, "|", 5)
	if len(f) != 5 {
		return Agent{}, false
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	through, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Agent{}, false
	}
	return Agent{Sequence: seq, Status: f[1], RevokedThrough: through, Scopes: strings.Fields(f[3]), Owner: f[4]}, true
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
