package ai.sentryagent.idp;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;

/**
 * The AgentIdP API as one identity. Thread-safe; create one per identity and reuse it (it caches
 * its access token), and close it when done.
 *
 * <pre>{@code
 * try (var client = AgentIdPClient.builder(baseUrl, clientId, clientSecret).build()) {
 *   Agent a = client.agents().get(agentId);
 * }
 * }</pre>
 */
public final class AgentIdPClient implements AutoCloseable {
  private final Transport transport;
  private final TokenManager tokenManager;
  private final String clientId;
  private final Agents agents;
  private final Credentials credentials;
  private final Tokens tokens;
  private final Audit audit;

  private AgentIdPClient(Builder b) {
    this.clientId = b.clientId;
    this.transport =
        new Transport(b.baseUrl, b.clientId, b.clientSecret, b.timeout, b.maxRetries, b.maxRetryAfter,
            b.userAgent, b.executor);
    this.tokens = new Tokens(transport, b.scopes);
    this.tokenManager = new TokenManager(() -> tokens.issueAsync(null), b.nanoClock);
    transport.tokens = tokenManager;
    this.agents = new Agents(transport);
    this.credentials = new Credentials(transport);
    this.audit = new Audit(transport);
  }

  /** A client for {@code clientId}; the gateway is {@code baseUrl}, e.g. http://127.0.0.1:8080. */
  public static Builder builder(String baseUrl, String clientId, String clientSecret) {
    return builder(baseUrl, clientId, Secret.of(Objects.requireNonNull(clientSecret, "clientSecret")));
  }

  public static Builder builder(String baseUrl, String clientId, Secret clientSecret) {
    return new Builder(baseUrl, clientId, clientSecret);
  }

  public Agents agents() {
    return agents;
  }

  public Credentials credentials() {
    return credentials;
  }

  public Tokens tokens() {
    return tokens;
  }

  public Audit audit() {
    return audit;
  }

  public TokenManager tokenManager() {
    return tokenManager;
  }

  /** Drops the cached access token: the next call gets a new one. */
  public void clearTokenCache() {
    tokenManager.clear();
  }

  String userAgent() {
    return transport.userAgent();
  }

  @Override
  public void close() {
    transport.close();
  }

  @Override
  public String toString() {
    return "AgentIdPClient[" + clientId + "]";
  }

  /** Configures a client. */
  public static final class Builder {
    private final String baseUrl;
    private final String clientId;
    private final Secret clientSecret;
    private List<String> scopes;
    private Duration timeout = Duration.ofSeconds(30);
    private int maxRetries = 3;
    private Duration maxRetryAfter = Duration.ofSeconds(30);
    private String userAgent;
    private Executor executor = ForkJoinPool.commonPool();
    private java.util.function.LongSupplier nanoClock = System::nanoTime;

    private Builder(String baseUrl, String clientId, Secret clientSecret) {
      if (baseUrl == null || !baseUrl.matches("https?://.+")) {
        throw new IllegalArgumentException("baseUrl must be an http or https URL");
      }
      if (clientId == null || clientId.isEmpty() || clientSecret == null || clientSecret.isEmpty()) {
        throw new IllegalArgumentException("clientId and clientSecret are required");
      }
      this.baseUrl = baseUrl;
      this.clientId = clientId;
      this.clientSecret = clientSecret;
    }

    /** The scopes the client's token asks for; default: every scope the agent holds. */
    public Builder scopes(List<String> v) {
      scopes = v == null || v.isEmpty() ? null : List.copyOf(v);
      return this;
    }

    /** Bounds each attempt (default 30 s). */
    public Builder timeout(Duration v) {
      timeout = Objects.requireNonNull(v);
      return this;
    }

    /** 429/503 retries for calls that are safe to repeat (default 3; 0 turns them off). */
    public Builder maxRetries(int v) {
      maxRetries = Math.max(0, v);
      return this;
    }

    /** The longest Retry-After waited for before giving up (default 30 s). */
    public Builder maxRetryAfter(Duration v) {
      maxRetryAfter = Objects.requireNonNull(v);
      return this;
    }

    /** Prepended to the SDK's User-Agent. */
    public Builder userAgent(String v) {
      userAgent = v;
      return this;
    }

    /** Where async results are completed (default: the common pool), never HttpClient's I/O threads. */
    public Builder executor(Executor v) {
      executor = Objects.requireNonNull(v);
      return this;
    }

    Builder nanoClock(java.util.function.LongSupplier v) {
      nanoClock = v;
      return this;
    }

    public AgentIdPClient build() {
      return new AgentIdPClient(this);
    }
  }
}
