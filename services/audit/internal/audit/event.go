// Package audit is the audit service's domain: the stored Event with its
// place in the hash chain, the queries over the log, chain verification, and
// the Service that records, finds, lists and verifies events.
package audit

import (
	"time"

	"github.com/sentryagent/agentidp/libs/auditlog"
)

// Event is an event as the log stores it: what the producer said plus its
// position in the chain.
type Event struct {
	auditlog.Event
	// Sequence is the event's position in the chain: 1, 2, 3... without gaps.
	Sequence int64
	// PrevHash is the Hash of the event before (ZeroHash before the first).
	PrevHash []byte
	// Hash is ChainHash(PrevHash, e).
	Hash []byte
	// RecordedAt is when the audit service stored it; it never decreases
	// along the chain, so time partitions hold contiguous ranges of it.
	RecordedAt time.Time
}

// Sources of events, for metrics and logs.
const (
	SourceAPI         = "api"         // AuditIngestService.Record
	SourceRegistry    = "registry"    // the registry's change feed
	SourceCredentials = "credentials" // the credentials service's change feed
	SourceStream      = "stream"      // the Redis stream (token, authz)
)

// Head is the end of the chain: the last sequence and hash appended.
type Head struct {
	Sequence   int64
	Hash       []byte
	RecordedAt time.Time
}
