package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;

/**
 * A signed statement that the audit chain's event at {@code sequence} had {@code hash}, and so
 * every event before it was what the chain says (docs/audit.md, "Signed checkpoints"). {@code
 * keyId} is the hex of the first 16 bytes of SHA-256 over the signing public key's PKIX DER
 * encoding; {@code algorithm} is ed25519 or ecdsa-p256-sha256; {@code signature} is standard
 * base64.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AuditCheckpoint(
    long sequence, String hash, Instant signedAt, String keyId, String algorithm, String signature) {}
