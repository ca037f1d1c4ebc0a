package ai.sentryagent.idp;

import ai.sentryagent.idp.Transport.Auth;
import ai.sentryagent.idp.Transport.Call;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** OAuth 2.0: tokens for the client's own identity, introspection, revocation ({@code /oauth2}). */
public final class Tokens {
  private final Transport t;
  private final List<String> scopes;

  Tokens(Transport t, List<String> scopes) {
    this.t = t;
    this.scopes = scopes;
  }

  /** A new token (client_credentials) for the client's scopes; bypasses the token cache. */
  public TokenResponse issue() {
    return Transport.join(issueAsync(null));
  }

  /** A new token for {@code scopes} (null: the client's scopes); bypasses the token cache. */
  public TokenResponse issue(List<String> scopes) {
    return Transport.join(issueAsync(scopes));
  }

  public CompletableFuture<TokenResponse> issueAsync(List<String> scopes) {
    List<String> s = scopes != null ? scopes : this.scopes;
    Map<String, String> form = new LinkedHashMap<>();
    form.put("grant_type", "client_credentials");
    if (s != null && !s.isEmpty()) {
      form.put("scope", String.join(" ", s));
    }
    // Issuing a token changes nothing a repeat would duplicate.
    return t.send(new Call<>("POST", "/oauth2/token", null, null, form, Auth.BASIC, true,
        Transport.as(TokenResponse.class)));
  }

  /** RFC 7662; the client's token needs the scope tokens:introspect. */
  public Introspection introspect(Secret token) {
    return Transport.join(introspectAsync(token));
  }

  public CompletableFuture<Introspection> introspectAsync(Secret token) {
    return Pages.guard(() -> t.send(new Call<>("POST", "/oauth2/introspect", null, null,
        Map.of("token", value(token)), Auth.BEARER, true, Transport.as(Introspection.class))));
  }

  /** RFC 7009: revokes one of the client's own tokens. */
  public void revoke(Secret token) {
    Transport.join(revokeAsync(token));
  }

  public CompletableFuture<Void> revokeAsync(Secret token) {
    return Pages.guard(() -> t.send(new Call<Void>("POST", "/oauth2/revoke", null, null,
            Map.of("token", value(token), "token_type_hint", "access_token"), Auth.BASIC, true, body -> null))
        .thenRun(() -> t.tokens.invalidate(token)));
  }

  private static String value(Secret token) {
    if (token == null || token.isEmpty()) {
      throw AgentIdPException.of("INVALID_ARGUMENT", "token must not be empty");
    }
    return token.reveal();
  }
}
