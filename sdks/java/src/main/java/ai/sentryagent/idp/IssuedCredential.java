package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * A credential with its secret, from generate and rotate: the only time the secret is shown.
 * {@code clientSecret().reveal()} is the value to store in a secret manager.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record IssuedCredential(Credential credential, String clientId, Secret clientSecret) {}
