package ai.sentryagent.idp;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every error of the API (the SDK's AgentIdPError), from either of its shapes: google.rpc.Status
 * on {@code /v1} ({@link #code()} is the ErrorInfo reason, e.g. {@code AGENT_NOT_FOUND}) and RFC
 * 6749 §5.2 on {@code /oauth2} ({@link #code()} is the OAuth error, e.g. {@code invalid_client}).
 * A request that got no answer has {@link #httpStatus()} 0 and code {@code UNAVAILABLE}, {@code
 * DEADLINE_EXCEEDED} or {@code CANCELLED}, with the failure as its cause.
 */
public final class AgentIdPException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String code;
  private final int httpStatus;
  private final transient List<Map<String, Object>> details;
  private final Duration retryAfter;
  private final String requestId;

  AgentIdPException(
      String code,
      String message,
      int httpStatus,
      List<Map<String, Object>> details,
      Duration retryAfter,
      String requestId,
      Throwable cause) {
    super(message, cause);
    this.code = code;
    this.httpStatus = httpStatus;
    this.details = details == null ? List.of() : List.copyOf(details);
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }

  static AgentIdPException of(String code, String message) {
    return new AgentIdPException(code, message, 0, null, null, null, null);
  }

  /** Stable: match on it, never on the message. */
  public String code() {
    return code;
  }

  /** The response's status; 0 if there was none. */
  public int httpStatus() {
    return httpStatus;
  }

  /** The google.rpc.Status details as sent; empty for {@code /oauth2} errors. */
  public List<Map<String, Object>> details() {
    return details == null ? List.of() : details;
  }

  /** The server's Retry-After (429, 503). */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }

  /** The gateway's x-request-id: quote it when reporting. */
  public Optional<String> requestId() {
    return Optional.ofNullable(requestId);
  }

  @Override
  public String toString() {
    return "AgentIdPException: "
        + code
        + (httpStatus != 0 ? " (HTTP " + httpStatus + ")" : "")
        + ": "
        + getMessage();
  }
}
