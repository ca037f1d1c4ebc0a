package agent

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/google/uuid"
)

// Page tokens are opaque to clients: base64url JSON holding the last agent
// id of the previous page (keyset pagination over the time-ordered UUIDv7
// primary key, so every agent appears exactly once however rows are added)
// and a fingerprint of the filter, so a token cannot be replayed against
// other filters.
type pageToken struct {
	After  uuid.UUID `json:"a"`
	Filter string    `json:"f"`
}

func (f Filter) fingerprint() string {
	b, _ := json.Marshal(f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func encodePageToken(after uuid.UUID, f Filter) string {
	b, _ := json.Marshal(pageToken{After: after, Filter: f.fingerprint()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string, f Filter) (uuid.UUID, error) {
	bad := fieldError(errPageToken, "pageToken", "pageToken is not a token this API returned")
	if len(s) > 256 {
		return uuid.Nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.After == uuid.Nil {
		return uuid.Nil, bad
	}
	if t.Filter != f.fingerprint() {
		return uuid.Nil, fieldError(errPageToken, "pageToken", "pageToken was issued for other filters; keep the filters fixed while paging")
	}
	return t.After, nil
}
