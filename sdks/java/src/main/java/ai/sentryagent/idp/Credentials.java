package ai.sentryagent.idp;

import ai.sentryagent.idp.Transport.Auth;
import ai.sentryagent.idp.Transport.Call;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/** Agents' client credentials ({@code /v1/agents/{agentId}/credentials}). */
public final class Credentials {
  private final Transport t;

  Credentials(Transport t) {
    this.t = t;
  }

  private static String path(String agentId) {
    return "/v1/agents/" + Transport.seg(agentId, "agentId") + "/credentials";
  }

  /** A new credential that does not expire; its secret is shown this once. Never retried. */
  public IssuedCredential generate(String agentId) {
    return Transport.join(generateAsync(agentId, null));
  }

  /** A new credential valid for {@code ttl} (null: no expiry). Never retried. */
  public IssuedCredential generate(String agentId, Duration ttl) {
    return Transport.join(generateAsync(agentId, ttl));
  }

  public CompletableFuture<IssuedCredential> generateAsync(String agentId, Duration ttl) {
    Map<String, Object> body = new LinkedHashMap<>();
    if (ttl != null && !ttl.isZero()) {
      body.put("ttlSeconds", ttl.toSeconds());
    }
    // Never retried: a repeat could create a second credential.
    return Pages.guard(() -> t.send(new Call<>("POST", path(agentId), null, body, null, Auth.BEARER,
        false, Transport.as(IssuedCredential.class))));
  }

  /** Every credential of the agent (metadata only), fetched as the stream is consumed. */
  public Stream<Credential> list(String agentId) {
    return Pages.stream(token -> listPageAsync(agentId, null, token));
  }

  public Page<Credential> listPage(String agentId, Integer pageSize, String pageToken) {
    return Transport.join(listPageAsync(agentId, pageSize, pageToken));
  }

  public CompletableFuture<Page<Credential>> listPageAsync(String agentId, Integer pageSize, String pageToken) {
    return Pages.guard(() -> t.send(new Call<>("GET", path(agentId),
        Transport.params("pageSize", pageSize, "pageToken", pageToken), null, null, Auth.BEARER, true,
        Transport.page("credentials", Credential.class))));
  }

  /**
   * A new secret; the previous one keeps working for {@code gracePeriod} (null or zero: none, at
   * most 24 h). Never retried.
   */
  public IssuedCredential rotate(String agentId, String credentialId, Duration gracePeriod) {
    return Transport.join(rotateAsync(agentId, credentialId, gracePeriod));
  }

  public CompletableFuture<IssuedCredential> rotateAsync(String agentId, String credentialId, Duration gracePeriod) {
    Map<String, Object> body = new LinkedHashMap<>();
    if (gracePeriod != null && !gracePeriod.isZero()) {
      body.put("gracePeriodSeconds", gracePeriod.toSeconds());
    }
    // Never retried: a repeat would rotate twice.
    return Pages.guard(() -> t.send(new Call<>("POST",
        path(agentId) + "/" + Transport.seg(credentialId, "credentialId") + ":rotate", null, body, null,
        Auth.BEARER, false, Transport.as(IssuedCredential.class))));
  }

  /** Stops the credential at once; idempotent. */
  public Credential revoke(String agentId, String credentialId) {
    return Transport.join(revokeAsync(agentId, credentialId));
  }

  public CompletableFuture<Credential> revokeAsync(String agentId, String credentialId) {
    return Pages.guard(() -> t.send(new Call<>("DELETE",
        path(agentId) + "/" + Transport.seg(credentialId, "credentialId"), null, null, null, Auth.BEARER, true,
        Transport.as(Credential.class))));
  }
}
