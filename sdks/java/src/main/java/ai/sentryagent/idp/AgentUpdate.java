package ai.sentryagent.idp;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fields to change on an agent: each one set on the builder is sent (an empty value clears
 * it) and named in the update mask; the others are left alone. With an etag the update fails with
 * ETAG_MISMATCH (409) if the agent changed since it was read.
 */
public final class AgentUpdate {
  private final Map<String, Object> fields;
  private final String etag;

  private AgentUpdate(Map<String, Object> fields, String etag) {
    this.fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    this.etag = etag;
  }

  public static Builder builder() {
    return new Builder();
  }

  static AgentUpdate status(String status) {
    return new AgentUpdate(Map.of("status", status), null);
  }

  /** The fields to set, by their JSON name, in order. */
  public Map<String, Object> fields() {
    return fields;
  }

  public String etag() {
    return etag;
  }

  @Override
  public String toString() {
    return "AgentUpdate" + fields + (etag != null ? " if etag " + etag : "");
  }

  /** Builds an AgentUpdate. */
  public static final class Builder {
    private final Map<String, Object> fields = new LinkedHashMap<>();
    private String etag;

    public Builder name(String v) {
      fields.put("name", v);
      return this;
    }

    public Builder description(String v) {
      fields.put("description", v);
      return this;
    }

    public Builder agentType(String v) {
      fields.put("agentType", v);
      return this;
    }

    public Builder version(String v) {
      fields.put("version", v);
      return this;
    }

    public Builder owner(String v) {
      fields.put("owner", v);
      return this;
    }

    public Builder capabilities(List<String> v) {
      fields.put("capabilities", List.copyOf(v));
      return this;
    }

    public Builder scopes(List<String> v) {
      fields.put("scopes", List.copyOf(v));
      return this;
    }

    public Builder deploymentEnv(String v) {
      fields.put("deploymentEnv", v);
      return this;
    }

    public Builder metadata(Map<String, String> v) {
      fields.put("metadata", Map.copyOf(v));
      return this;
    }

    public Builder etag(String v) {
      etag = v;
      return this;
    }

    public AgentUpdate build() {
      return new AgentUpdate(fields, etag);
    }
  }
}
