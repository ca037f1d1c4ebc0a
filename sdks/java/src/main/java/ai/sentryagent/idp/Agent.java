package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A registered AI agent. Its {@code agentId} is also its OAuth client_id. {@code owner} is its
 * tenant: a caller without platform:admin sees and manages only its own owner's agents (another
 * owner's agent is AGENT_NOT_FOUND, like one that does not exist). {@code status} is active,
 * suspended or decommissioned; {@code suspendedAt} is the last suspension, kept after a
 * reactivation; {@code etag} changes with every update (pass it to an update to make it
 * conditional). Timestamps are null when unset.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Agent(
    String agentId,
    String name,
    String description,
    String agentType,
    String version,
    String owner,
    List<String> capabilities,
    List<String> scopes,
    String deploymentEnv,
    Map<String, String> metadata,
    String status,
    Instant createdAt,
    Instant updatedAt,
    Instant decommissionedAt,
    String etag,
    Instant suspendedAt) {
  public Agent {
    capabilities = capabilities == null ? List.of() : List.copyOf(capabilities);
    scopes = scopes == null ? List.of() : List.copyOf(scopes);
    metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
  }
}
