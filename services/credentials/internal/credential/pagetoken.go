package credential

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/google/uuid"
)

// Page tokens are opaque: base64url JSON of the last credential id of the
// previous page (keyset pagination over the UUIDv7 primary key) and a
// fingerprint of the agent, so a token cannot be replayed for another agent.
type pageToken struct {
	After uuid.UUID `json:"a"`
	Agent string    `json:"f"`
}

func agentFingerprint(agentID uuid.UUID) string {
	sum := sha256.Sum256(agentID[:])
	return hex.EncodeToString(sum[:8])
}

func encodePageToken(after, agentID uuid.UUID) string {
	b, _ := json.Marshal(pageToken{After: after, Agent: agentFingerprint(agentID)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string, agentID uuid.UUID) (uuid.UUID, error) {
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
	if t.Agent != agentFingerprint(agentID) {
		return uuid.Nil, fieldError(errPageToken, "pageToken", "pageToken was issued for another agent")
	}
	return t.After, nil
}
