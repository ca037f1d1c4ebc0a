package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Map;

/**
 * One entry of the audit log; {@code outcome} is success, failure or denied. {@code owner} is the
 * owner (tenant) whose log it belongs to, the owner of the agent concerned; empty for platform
 * events.
 */
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
    Instant recordedAt,
    String owner) {
  public AuditEvent {
    details = details == null ? Map.of() : Map.copyOf(details);
  }
}
