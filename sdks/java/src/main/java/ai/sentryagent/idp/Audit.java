package ai.sentryagent.idp;

import ai.sentryagent.idp.Transport.Auth;
import ai.sentryagent.idp.Transport.Call;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/** The audit log ({@code /v1/audit}; scope audit:read). */
public final class Audit {
  private final Transport t;

  Audit(Transport t) {
    this.t = t;
  }

  /** Every matching event, newest first, fetched as the stream is consumed. */
  public Stream<AuditEvent> query(AuditFilter filter) {
    return Pages.stream(token -> queryPageAsync(filter, token));
  }

  public Page<AuditEvent> queryPage(AuditFilter filter, String pageToken) {
    return Transport.join(queryPageAsync(filter, pageToken));
  }

  public CompletableFuture<Page<AuditEvent>> queryPageAsync(AuditFilter filter, String pageToken) {
    AuditFilter f = filter == null ? AuditFilter.all() : filter;
    return t.send(new Call<>("GET", "/v1/audit/events",
        Transport.params("agentId", f.agentId(), "action", f.action(), "outcome", f.outcome(),
            "actor", f.actor(), "owner", f.owner(), "startTime", f.startTime(), "endTime", f.endTime(),
            "pageSize", f.pageSize(), "pageToken", pageToken),
        null, null, Auth.BEARER, true, Transport.page("events", AuditEvent.class)));
  }

  public AuditEvent get(String eventId) {
    return Transport.join(getAsync(eventId));
  }

  public CompletableFuture<AuditEvent> getAsync(String eventId) {
    return Pages.guard(() -> t.send(new Call<>("GET", "/v1/audit/events/" + Transport.seg(eventId, "eventId"),
        null, null, null, Auth.BEARER, true, Transport.as(AuditEvent.class))));
  }

  /**
   * Recomputes the audit log's hash chain over the sequences {@code from} to {@code to} (0: the
   * oldest kept; 0: the newest, and then the chain's recorded head is checked too) and reports the
   * first break, if any. Needs audit:read and platform:admin. A broken chain is a result ({@code
   * ok} false, {@code firstBreak} set), not an exception.
   */
  public ChainVerification verify(long from, long to) {
    return Transport.join(verifyAsync(from, to));
  }

  /** The whole chain, up to and including its recorded head. */
  public ChainVerification verify() {
    return verify(0, 0);
  }

  public CompletableFuture<ChainVerification> verifyAsync(long from, long to) {
    return Pages.guard(() -> {
      if (from < 0 || to < 0 || (to > 0 && from > to)) {
        throw AgentIdPException.of("INVALID_ARGUMENT", "the range needs 0 <= from <= to");
      }
      return t.send(new Call<>("GET", "/v1/audit/verify",
          Transport.params("fromSequence", from > 0 ? from : null, "toSequence", to > 0 ? to : null),
          null, null, Auth.BEARER, true, Transport.as(ChainVerification.class)));
    });
  }

  /**
   * Every signed checkpoint at or after sequence {@code from} (0: all), oldest first, fetched as
   * the stream is consumed. Needs audit:read and platform:admin.
   */
  public Stream<AuditCheckpoint> checkpoints(long from) {
    return Pages.stream(token -> checkpointsPageAsync(from, null, token));
  }

  /** One page of checkpoints; {@code pageSize} null for the server's default. */
  public Page<AuditCheckpoint> checkpointsPage(long from, Integer pageSize, String pageToken) {
    return Transport.join(checkpointsPageAsync(from, pageSize, pageToken));
  }

  public CompletableFuture<Page<AuditCheckpoint>> checkpointsPageAsync(
      long from, Integer pageSize, String pageToken) {
    return Pages.guard(() -> {
      if (from < 0) {
        throw AgentIdPException.of("INVALID_ARGUMENT", "from must not be negative");
      }
      return t.send(new Call<>("GET", "/v1/audit/checkpoints",
          Transport.params("fromSequence", from > 0 ? from : null, "pageSize", pageSize,
              "pageToken", pageToken),
          null, null, Auth.BEARER, true, Transport.page("checkpoints", AuditCheckpoint.class)));
    });
  }
}
