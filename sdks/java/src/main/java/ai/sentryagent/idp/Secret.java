package ai.sentryagent.idp;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * A client secret or an access token. {@link #toString()} and Jackson show {@code [REDACTED]};
 * {@link #reveal()} returns the value, to hand to whatever needs it.
 */
public final class Secret {
  private static final String REDACTED = "[REDACTED]";
  private final String value;

  private Secret(String value) {
    this.value = Objects.requireNonNull(value, "value");
  }

  /** Wraps a secret value. */
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  public static Secret of(String value) {
    return new Secret(value);
  }

  /** The value itself. */
  public String reveal() {
    return value;
  }

  boolean isEmpty() {
    return value.isEmpty();
  }

  @JsonValue
  @Override
  public String toString() {
    return REDACTED;
  }

  /** Constant-time comparison of the values. */
  @Override
  public boolean equals(Object o) {
    return o instanceof Secret s
        && MessageDigest.isEqual(
            value.getBytes(StandardCharsets.UTF_8), s.value.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }
}
