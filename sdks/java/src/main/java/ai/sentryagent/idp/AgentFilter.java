package ai.sentryagent.idp;

/**
 * Which agents to list; null fields do not filter. {@code search} is a case-insensitive
 * substring of the name; {@code pageSize} 1 to 100 (null: the server's default, 20).
 */
public record AgentFilter(
    String status, String owner, String agentType, String search, Integer pageSize) {

  /** Every agent. */
  public static AgentFilter all() {
    return new AgentFilter(null, null, null, null, null);
  }

  public AgentFilter withStatus(String v) {
    return new AgentFilter(v, owner, agentType, search, pageSize);
  }

  public AgentFilter withOwner(String v) {
    return new AgentFilter(status, v, agentType, search, pageSize);
  }

  public AgentFilter withAgentType(String v) {
    return new AgentFilter(status, owner, v, search, pageSize);
  }

  public AgentFilter withSearch(String v) {
    return new AgentFilter(status, owner, agentType, v, pageSize);
  }

  public AgentFilter withPageSize(Integer v) {
    return new AgentFilter(status, owner, agentType, search, v);
  }
}
