package ai.sentryagent.idp;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fields an agent is registered with. {@code requestId} makes the registration idempotent:
 * repeating it returns the agent the first call created; left null, the SDK generates one per
 * call, so that its own retries never register twice.
 */
public record AgentInput(
    String name,
    String description,
    String agentType,
    String version,
    String owner,
    List<String> capabilities,
    List<String> scopes,
    String deploymentEnv,
    Map<String, String> metadata,
    String requestId) {

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The JSON body: the fields that are set. */
  Map<String, Object> body() {
    Map<String, Object> b = new LinkedHashMap<>();
    put(b, "name", name);
    put(b, "description", description);
    put(b, "agentType", agentType);
    put(b, "version", version);
    put(b, "owner", owner);
    put(b, "capabilities", capabilities);
    put(b, "scopes", scopes);
    put(b, "deploymentEnv", deploymentEnv);
    put(b, "metadata", metadata);
    return b;
  }

  private static void put(Map<String, Object> b, String k, Object v) {
    if (v != null) {
      b.put(k, v);
    }
  }

  /** Builds an AgentInput; only {@code name} is required. */
  public static final class Builder {
    private final String name;
    private String description;
    private String agentType;
    private String version;
    private String owner;
    private List<String> capabilities;
    private List<String> scopes;
    private String deploymentEnv;
    private Map<String, String> metadata;
    private String requestId;

    private Builder(String name) {
      this.name = name;
    }

    public Builder description(String v) {
      description = v;
      return this;
    }

    public Builder agentType(String v) {
      agentType = v;
      return this;
    }

    public Builder version(String v) {
      version = v;
      return this;
    }

    public Builder owner(String v) {
      owner = v;
      return this;
    }

    public Builder capabilities(List<String> v) {
      capabilities = List.copyOf(v);
      return this;
    }

    public Builder scopes(List<String> v) {
      scopes = List.copyOf(v);
      return this;
    }

    public Builder deploymentEnv(String v) {
      deploymentEnv = v;
      return this;
    }

    public Builder metadata(Map<String, String> v) {
      metadata = Map.copyOf(v);
      return this;
    }

    public Builder requestId(String v) {
      requestId = v;
      return this;
    }

    public AgentInput build() {
      return new AgentInput(
          name, description, agentType, version, owner, capabilities, scopes, deploymentEnv,
          metadata, requestId);
    }
  }
}
