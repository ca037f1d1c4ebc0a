package ai.sentryagent.idp;

import java.time.Instant;

/**
 * Which audit events to query; null fields do not filter. {@code startTime} is inclusive, {@code
 * endTime} exclusive; {@code pageSize} 1 to 1000 (null: the server's default, 50). A caller
 * without platform:admin only ever reads its own owner's events, whatever {@code owner} says.
 */
public record AuditFilter(
    String agentId,
    String action,
    String outcome,
    String actor,
    Instant startTime,
    Instant endTime,
    Integer pageSize,
    String owner) {

  /** The filter without an owner (the form before owners were tenants). */
  public AuditFilter(
      String agentId,
      String action,
      String outcome,
      String actor,
      Instant startTime,
      Instant endTime,
      Integer pageSize) {
    this(agentId, action, outcome, actor, startTime, endTime, pageSize, null);
  }

  /** Every event. */
  public static AuditFilter all() {
    return new AuditFilter(null, null, null, null, null, null, null, null);
  }

  public AuditFilter withAgentId(String v) {
    return new AuditFilter(v, action, outcome, actor, startTime, endTime, pageSize, owner);
  }

  public AuditFilter withAction(String v) {
    return new AuditFilter(agentId, v, outcome, actor, startTime, endTime, pageSize, owner);
  }

  public AuditFilter withOutcome(String v) {
    return new AuditFilter(agentId, action, v, actor, startTime, endTime, pageSize, owner);
  }

  public AuditFilter withActor(String v) {
    return new AuditFilter(agentId, action, outcome, v, startTime, endTime, pageSize, owner);
  }

  public AuditFilter withOwner(String v) {
    return new AuditFilter(agentId, action, outcome, actor, startTime, endTime, pageSize, v);
  }

  public AuditFilter withTimeRange(Instant start, Instant end) {
    return new AuditFilter(agentId, action, outcome, actor, start, end, pageSize, owner);
  }

  public AuditFilter withPageSize(Integer v) {
    return new AuditFilter(agentId, action, outcome, actor, startTime, endTime, v, owner);
  }
}
