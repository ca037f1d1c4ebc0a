package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What the server knows of a token (RFC 7662); only {@code active} for a token that is not. {@code
 * owner} is the owner (tenant) of the token's agent.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Introspection(
    @JsonProperty("active") boolean active,
    @JsonProperty("scope") String scope,
    @JsonProperty("client_id") String clientId,
    @JsonProperty("token_type") String tokenType,
    @JsonProperty("exp") long exp,
    @JsonProperty("iat") long iat,
    @JsonProperty("sub") String sub,
    @JsonProperty("aud") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> aud,
    @JsonProperty("iss") String iss,
    @JsonProperty("jti") String jti,
    @JsonProperty("owner") String owner) {
  public Introspection {
    aud = aud == null ? List.of() : List.copyOf(aud);
  }
}
