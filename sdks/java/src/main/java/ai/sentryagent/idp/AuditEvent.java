package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Map;

/** One entry of the audit log; {@code outcome} is success, failure or denied. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AuditEvent(
    String eventId,
    Instant occurredAt,
    String actor,
    String action,
    String target,
    String agentId,
    String outcome,
    String requestId,
    String sourceAddress,
    Map<String, String> details,
    long sequence,
    String prevHash,
    String hash,
    Instant recordedAt) {
  public AuditEvent {
    details = details == null ? Map.of() : Map.copyOf(details);
  }
}
