// Package revocation is the shared record of what was revoked before it
// expired: access tokens (by jti, RFC 7009) and credentials. The token
// service writes it; introspection and the authz service read it.
package revocation

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keys and the pub/sub channel. Part of the contract between the
// token and authz services: change them in both or neither.
const (
	jtiPrefix        = "agentidp:revoked:jti:"
	credentialPrefix = "agentidp:revoked:credential:"
	// Channel carries the jti of every token revocation, for processes that
	// cache verified tokens in memory and must drop them at once.
	Channel = "agentidp:revocations"
)

// JTIKey is the key that marks a token revoked.
func JTIKey(jti string) string { return jtiPrefix + jti }

// CredentialKey is the key that marks a credential revoked.
func CredentialKey(credentialID string) string { return credentialPrefix + credentialID }

// RevokeToken records jti as revoked until exp, the token's own expiry
// (after which it is dead anyway), and announces it on Channel. It is
// idempotent; a token already expired needs no record.
func RevokeToken(ctx context.Context, rdb redis.Cmdable, jti string, exp time.Time) error {
	if jti == "" {
		return errors.New("revocation: empty jti")
	}
	if !exp.After(time.Now()) {
		return nil
	}
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetArgs(ctx, JTIKey(jti), "1", redis.SetArgs{ExpireAt: exp})
		p.Publish(ctx, Channel, jti)
		return nil
	})
	return err
}

// TokenRevoked reports whether jti was revoked.
func TokenRevoked(ctx context.Context, rdb redis.Cmdable, jti string) (bool, error) {
	n, err := rdb.Exists(ctx, JTIKey(jti)).Result()
	return n > 0, err
}

// RevokeCredential records that a credential was revoked at the given
// time, for keep: longer than any token it authenticated can live.
// Tokens carry their credential in the credential_id claim.
func RevokeCredential(ctx context.Context, rdb redis.Cmdable, credentialID string, at time.Time, keep time.Duration) error {
	if credentialID == "" {
		return errors.New("revocation: empty credential id")
	}
	return rdb.Set(ctx, CredentialKey(credentialID), at.UTC().Format(time.RFC3339Nano), keep).Err()
}

// CredentialRevoked reports whether a credential was revoked (within the
// window RevokeCredential keeps).
func CredentialRevoked(ctx context.Context, rdb redis.Cmdable, credentialID string) (bool, error) {
	n, err := rdb.Exists(ctx, CredentialKey(credentialID)).Result()
	return n > 0, err
}
