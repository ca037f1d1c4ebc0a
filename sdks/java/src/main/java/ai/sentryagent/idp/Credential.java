package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;

/**
 * A credential's metadata: never the secret. {@code status} is active, revoked or expired;
 * {@code storage} vault or hash. Timestamps are null when unset.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Credential(
    String credentialId,
    String agentId,
    String clientId,
    String status,
    long secretVersion,
    long rotatedFrom,
    String storage,
    Instant createdAt,
    Instant expiresAt,
    Instant lastUsedAt,
    Instant revokedAt,
    Instant rotatedAt,
    Instant previousSecretExpiresAt) {}
