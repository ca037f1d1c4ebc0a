package ai.sentryagent.idp;

import ai.sentryagent.idp.Transport.Auth;
import ai.sentryagent.idp.Transport.Call;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * Agents and their lifecycle ({@code /v1/agents}). Each call has a synchronous and an async form.
 * A caller without platform:admin reaches only its own owner's agents: another owner's agent is an
 * {@link AgentIdPException} AGENT_NOT_FOUND (404), as one that does not exist.
 */
public final class Agents {
  private final Transport t;

  Agents(Transport t) {
    this.t = t;
  }

  /** Registers an agent (status active); safe to retry thanks to its requestId. */
  public Agent register(AgentInput input) {
    return Transport.join(registerAsync(input));
  }

  public CompletableFuture<Agent> registerAsync(AgentInput input) {
    String rid = input.requestId() != null ? input.requestId() : UUID.randomUUID().toString();
    return t.send(
        new Call<>("POST", "/v1/agents", Transport.params("requestId", rid), input.body(), null,
            Auth.BEARER, true, Transport.as(Agent.class)));
  }

  public Agent get(String agentId) {
    return Transport.join(getAsync(agentId));
  }

  public CompletableFuture<Agent> getAsync(String agentId) {
    return Pages.guard(() -> t.send(
        new Call<>("GET", "/v1/agents/" + Transport.seg(agentId, "agentId"), null, null, null,
            Auth.BEARER, true, Transport.as(Agent.class))));
  }

  /** Every matching agent, oldest first; pages are fetched as the stream is consumed. */
  public Stream<Agent> list(AgentFilter filter) {
    return Pages.stream(token -> listPageAsync(filter, token));
  }

  /** One page; pass {@code nextPageToken} (and the same filter) for the next. */
  public Page<Agent> listPage(AgentFilter filter, String pageToken) {
    return Transport.join(listPageAsync(filter, pageToken));
  }

  public CompletableFuture<Page<Agent>> listPageAsync(AgentFilter filter, String pageToken) {
    AgentFilter f = filter == null ? AgentFilter.all() : filter;
    Map<String, String> q =
        Transport.params("status", f.status(), "owner", f.owner(), "agentType", f.agentType(),
            "search", f.search(), "pageSize", f.pageSize(), "pageToken", pageToken);
    return t.send(new Call<>("GET", "/v1/agents", q, null, null, Auth.BEARER, true,
        Transport.page("agents", Agent.class)));
  }

  /** Sets the fields set in {@code update}, and only those. */
  public Agent update(String agentId, AgentUpdate update) {
    return Transport.join(updateAsync(agentId, update));
  }

  public CompletableFuture<Agent> updateAsync(String agentId, AgentUpdate update) {
    return Pages.guard(() -> {
      if (update.fields().isEmpty()) {
        throw AgentIdPException.of("INVALID_ARGUMENT", "the update sets no field");
      }
      Map<String, Object> body = new LinkedHashMap<>(update.fields());
      String mask = String.join(",", update.fields().keySet());
      if (update.etag() != null) {
        body.put("etag", update.etag());
      }
      // Setting fields to given values is idempotent: safe to retry.
      return t.send(new Call<>("PATCH", "/v1/agents/" + Transport.seg(agentId, "agentId"),
          Transport.params("updateMask", mask), body, null, Auth.BEARER, true,
          Transport.as(Agent.class)));
    });
  }

  /** Suspends the agent: its tokens stop working. */
  public Agent suspend(String agentId) {
    return Transport.join(suspendAsync(agentId));
  }

  public CompletableFuture<Agent> suspendAsync(String agentId) {
    return updateAsync(agentId, AgentUpdate.status("suspended"));
  }

  public Agent reactivate(String agentId) {
    return Transport.join(reactivateAsync(agentId));
  }

  public CompletableFuture<Agent> reactivateAsync(String agentId) {
    return updateAsync(agentId, AgentUpdate.status("active"));
  }

  /** Ends the agent for good (credentials and tokens stop working); idempotent. */
  public Agent decommission(String agentId) {
    return Transport.join(decommissionAsync(agentId));
  }

  public CompletableFuture<Agent> decommissionAsync(String agentId) {
    return Pages.guard(() -> t.send(
        new Call<>("DELETE", "/v1/agents/" + Transport.seg(agentId, "agentId"), null, null, null,
            Auth.BEARER, true, Transport.as(Agent.class))));
  }
}
