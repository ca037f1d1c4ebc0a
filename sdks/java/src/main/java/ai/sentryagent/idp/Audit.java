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
}
