package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"maps"
	"slices"
)

// ZeroHash is the PrevHash of the first event.
var ZeroHash = make([]byte, sha256.Size)

// Versions of the canonical encoding (its first byte): 2 adds the owner,
// and is used exactly when the event has one, so events recorded before
// owners existed keep their hashes.
const (
	encodingV1 = 1
	encodingV2 = 2
)

// ChainHash returns SHA-256(prev || canonical(e)). The canonical encoding
// (docs/audit.md; the SQL function audit_event_hash computes the same) is:
//
//	0x01 or 0x02                          version (0x02 when owner is set)
//	int64  sequence                       big-endian
//	[16]   event id
//	int64  occurredAt, recordedAt         Unix microseconds
//	str    actor, action, target, agentId, outcome, requestId, sourceAddress
//	str    owner                          (version 2 only)
//	uint32 number of details, then str key, str value in byte order of keys
//
// where str is a big-endian uint32 byte length followed by the UTF-8 bytes.
func ChainHash(prev []byte, e Event) []byte {
	h := sha256.New()
	h.Write(prev)
	var b [8]byte
	version := byte(encodingV1)
	if e.Owner != "" {
		version = encodingV2
	}
	h.Write([]byte{version})
	putInt64(h, b[:], e.Sequence)
	h.Write(e.ID[:])
	putInt64(h, b[:], e.OccurredAt.UnixMicro())
	putInt64(h, b[:], e.RecordedAt.UnixMicro())
	for _, s := range []string{e.Actor, e.Action, e.Target, e.AgentID, e.Outcome, e.RequestID, e.SourceAddress} {
		putString(h, b[:], s)
	}
	if version == encodingV2 {
		putString(h, b[:], e.Owner)
	}
	binary.BigEndian.PutUint32(b[:4], uint32(len(e.Details)))
	h.Write(b[:4])
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		putString(h, b[:], k)
		putString(h, b[:], e.Details[k])
	}
	return h.Sum(nil)
}

func putInt64(h hash.Hash, b []byte, v int64) {
	binary.BigEndian.PutUint64(b[:8], uint64(v))
	h.Write(b[:8])
}

func putString(h hash.Hash, b []byte, s string) {
	binary.BigEndian.PutUint32(b[:4], uint32(len(s)))
	h.Write(b[:4])
	h.Write([]byte(s))
}
