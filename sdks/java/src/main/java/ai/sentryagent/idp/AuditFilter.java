package ai.sentryagent.idp;

import java.time.Instant;

/**
 * Which audit events to query; null fields do not filter. {@code startTime} is inclusive, {@code
 * endTime} exclusive; {@code pageSize} 1 to 1000 (null: the server's default, 50).
 */
public record AuditFilter(
    String agentId,
    String action,
    String outcome,
    String actor,
    Instant startTime,
    Instant endTime,
    Integer pageSize) {

  /** Every event. */
  public static AuditFilter all() {
    return new AuditFilter(null, null, null, null, null, null, null);
  }

  public AuditFilter withAgentId(String v) {
    return new AuditFilter(v, action, outcome, actor, startTime, endTime, pageSize);
  }

  public AuditFilter withAction(String v) {
    return new AuditFilter(agentId, v, outcome, actor, startTime, endTime, pageSize);
  }

  public AuditFilter withOutcome(String v) {
    return new AuditFilter(agentId, action, v, actor, startTime, endTime, pageSize);
  }

  public AuditFilter withActor(String v) {
    return new AuditFilter(agentId, action, outcome, v, startTime, endTime, pageSize);
  }

  public AuditFilter withTimeRange(Instant start, Instant end) {
    return new AuditFilter(agentId, action, outcome, actor, start, end, pageSize);
  }

  public AuditFilter withPageSize(Integer v) {
    return new AuditFilter(agentId, action, outcome, actor, startTime, endTime, v);
  }
}
