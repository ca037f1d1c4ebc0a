package ai.sentryagent.idp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.hc.client5.http.async.methods.SimpleHttpRequest;
import org.apache.hc.client5.http.async.methods.SimpleHttpResponse;
import org.apache.hc.client5.http.async.methods.SimpleRequestBuilder;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.async.CloseableHttpAsyncClient;
import org.apache.hc.client5.http.impl.async.HttpAsyncClients;
import org.apache.hc.client5.http.impl.nio.PoolingAsyncClientConnectionManagerBuilder;
import org.apache.hc.core5.concurrent.FutureCallback;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Timeout;

/**
 * Sends API calls over Apache HttpClient 5 (async): authentication, retries, error parsing. The
 * synchronous API waits on the same futures.
 */
final class Transport implements AutoCloseable {
  static final ObjectMapper JSON =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  static final String VERSION = readVersion();

  private static final String ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
  private static final List<String> GRPC_CODES =
      List.of(
          "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
          "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
          "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
          "UNAUTHENTICATED");
  private static final Map<Integer, String> STATUS_CODES =
      Map.of(
          400, "INVALID_ARGUMENT", 401, "UNAUTHENTICATED", 403, "PERMISSION_DENIED",
          404, "NOT_FOUND", 409, "ABORTED", 429, "RESOURCE_EXHAUSTED", 501, "UNIMPLEMENTED",
          503, "UNAVAILABLE", 504, "DEADLINE_EXCEEDED");
  private static final Map<Integer, String> REASONS =
      Map.of(
          400, "Bad Request", 401, "Unauthorized", 403, "Forbidden", 404, "Not Found",
          409, "Conflict", 429, "Too Many Requests", 500, "Internal Server Error",
          502, "Bad Gateway", 503, "Service Unavailable", 504, "Gateway Timeout");

  enum Auth {
    BEARER, // the client's access token (every /v1 call)
    BASIC // client_secret_basic (token endpoint, revocation)
  }

  /**
   * One API operation. {@code retry}: may be repeated after 429/503 (reads, idempotent writes,
   * creates carrying a requestId).
   */
  record Call<T>(
      String method,
      String path,
      Map<String, String> query,
      Object json,
      Map<String, String> form,
      Auth auth,
      boolean retry,
      Parser<T> parse) {}

  @FunctionalInterface
  interface Parser<T> {
    T parse(JsonNode body) throws IOException;
  }

  static <T> Parser<T> as(Class<T> type) {
    return body -> JSON.treeToValue(body, type);
  }

  static <T> Parser<Page<T>> page(String key, Class<T> type) {
    return body -> {
      List<T> items = new ArrayList<>();
      JsonNode list = body == null ? null : body.get(key);
      if (list != null && list.isArray()) {
        for (JsonNode n : list) {
          items.add(JSON.treeToValue(n, type));
        }
      }
      String next = body == null || body.get("nextPageToken") == null ? "" : body.get("nextPageToken").asText();
      return new Page<>(items, next);
    };
  }

  private final String base;
  private final String clientId;
  private final Secret secret;
  private final Duration timeout;
  private final int maxRetries;
  private final Duration maxRetryAfter;
  private final String userAgent;
  private final Executor executor;
  private final CloseableHttpAsyncClient http;
  private static final long BACKOFF_MS = 200;
  private static final long MAX_BACKOFF_MS = 5_000;
  TokenManager tokens;

  Transport(
      String baseUrl,
      String clientId,
      Secret secret,
      Duration timeout,
      int maxRetries,
      Duration maxRetryAfter,
      String userAgentPrefix,
      Executor executor) {
    this.base = baseUrl.replaceAll("/+$", "");
    this.clientId = clientId;
    this.secret = secret;
    this.timeout = timeout;
    this.maxRetries = maxRetries;
    this.maxRetryAfter = maxRetryAfter;
    String ua =
        "agentidp-sdk-java/" + VERSION + " (java " + System.getProperty("java.version") + ")";
    this.userAgent = userAgentPrefix == null ? ua : userAgentPrefix + " " + ua;
    this.executor = executor;
    Timeout t = Timeout.of(timeout);
    this.http =
        HttpAsyncClients.custom()
            .setConnectionManager(
                PoolingAsyncClientConnectionManagerBuilder.create()
                    .setMaxConnTotal(128)
                    .setMaxConnPerRoute(128)
                    .setDefaultConnectionConfig(
                        ConnectionConfig.custom().setConnectTimeout(t).setSocketTimeout(t).build())
                    .build())
            .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(t).build())
            .disableAutomaticRetries() // ours honour Retry-After and idempotency
            .disableCookieManagement()
            .disableRedirectHandling()
            .build();
    this.http.start();
  }

  private static String readVersion() {
    try (InputStream in = Transport.class.getResourceAsStream("version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  String userAgent() {
    return userAgent;
  }

  @Override
  public void close() {
    http.close(CloseMode.GRACEFUL);
  }

  <T> CompletableFuture<T> send(Call<T> call) {
    CompletableFuture<T> result = new CompletableFuture<>();
    attempt(call, 0, false)
        // Completed on the executor, not on HttpClient's I/O threads, so that
        // callers' continuations cannot stall the client.
        .whenCompleteAsync(
            (v, e) -> {
              if (e != null) {
                result.completeExceptionally(unwrap(e));
              } else {
                result.complete(v);
              }
            },
            executor);
    return result;
  }

  private <T> CompletableFuture<T> attempt(Call<T> call, int n, boolean refreshed) {
    CompletableFuture<Secret> bearer =
        call.auth() == Auth.BEARER ? tokens.tokenAsync() : CompletableFuture.completedFuture(null);
    return bearer.thenCompose(
        token ->
            exchange(call, token)
                .thenCompose(
                    resp -> {
                      int status = resp.getCode();
                      if (status >= 200 && status < 300) {
                        return CompletableFuture.completedFuture(parse(call, resp));
                      }
                      AgentIdPException err = errorFrom(resp);
                      if (token != null && !refreshed && tokenRejected(resp, err)) {
                        // The gateway refused the token (revoked, expired early) before any
                        // service saw the request: one retry with a new token is safe.
                        tokens.invalidate(token);
                        return attempt(call, n, true);
                      }
                      long delay = delayMillis(call, n, err);
                      if (delay < 0) {
                        return CompletableFuture.failedFuture(err);
                      }
                      Executor later = CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS);
                      return CompletableFuture.supplyAsync(() -> null, later)
                          .thenCompose(x -> attempt(call, n + 1, refreshed));
                    }));
  }

  private static boolean tokenRejected(SimpleHttpResponse resp, AgentIdPException err) {
    if (resp.getCode() != 401) {
      return false;
    }
    Header h = resp.getFirstHeader("WWW-Authenticate");
    return "INVALID_TOKEN".equals(err.code()) || (h != null && h.getValue().contains("invalid_token"));
  }

  /** Milliseconds before the next attempt, or -1 to give up. */
  private long delayMillis(Call<?> call, int n, AgentIdPException err) {
    if (!call.retry() || n >= maxRetries || (err.httpStatus() != 429 && err.httpStatus() != 503)) {
      return -1;
    }
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    if (err.retryAfter().isPresent()) {
      Duration ra = err.retryAfter().get();
      if (ra.compareTo(maxRetryAfter) > 0) {
        return -1;
      }
      return ra.toMillis() + rnd.nextLong(BACKOFF_MS + 1);
    }
    long ceiling = Math.min(MAX_BACKOFF_MS, BACKOFF_MS << Math.min(n, 20));
    return rnd.nextLong(ceiling + 1);
  }

  private <T> T parse(Call<T> call, SimpleHttpResponse resp) {
    String text = resp.getBodyText();
    try {
      JsonNode node = text == null || text.isBlank() ? null : JSON.readTree(text);
      return call.parse().parse(node);
    } catch (IOException e) {
      throw new AgentIdPException(
          "INTERNAL", "the response is not the JSON this SDK expects: " + e.getMessage(),
          resp.getCode(), null, null, header(resp, "x-request-id"), e);
    }
  }

  private CompletableFuture<SimpleHttpResponse> exchange(Call<?> call, Secret bearer) {
    SimpleRequestBuilder b = SimpleRequestBuilder.create(call.method()).setUri(base + call.path() + query(call.query()));
    b.setHeader("Accept", "application/json");
    b.setHeader("User-Agent", userAgent);
    if (bearer != null) {
      b.setHeader("Authorization", "Bearer " + bearer.reveal());
    } else {
      // RFC 6749 §2.3.1: both parts form-encoded first.
      String raw = enc(clientId) + ":" + enc(secret.reveal());
      b.setHeader(
          "Authorization",
          "Basic " + Base64.getEncoder().encodeToString(raw.getBytes(StandardCharsets.UTF_8)));
    }
    try {
      if (call.json() != null) {
        b.setBody(JSON.writeValueAsString(call.json()), ContentType.APPLICATION_JSON);
      } else if (call.form() != null) {
        b.setBody(form(call.form()), ContentType.APPLICATION_FORM_URLENCODED);
      }
    } catch (JsonProcessingException e) {
      return CompletableFuture.failedFuture(
          new AgentIdPException("INVALID_ARGUMENT", "the request cannot be encoded", 0, null, null, null, e));
    }
    SimpleHttpRequest req = b.build();
    CompletableFuture<SimpleHttpResponse> cf = new CompletableFuture<>();
    Future<SimpleHttpResponse> f =
        http.execute(
            req,
            new FutureCallback<>() {
              @Override
              public void completed(SimpleHttpResponse r) {
                cf.complete(r);
              }

              @Override
              public void failed(Exception e) {
                cf.completeExceptionally(transportError(e));
              }

              @Override
              public void cancelled() {
                cf.completeExceptionally(AgentIdPException.of("CANCELLED", "the request was cancelled"));
              }
            });
    // The whole attempt, not just each read, is bounded by the timeout.
    cf.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
    cf.whenComplete(
        (r, e) -> {
          if (e != null) {
            f.cancel(true);
          }
        });
    return cf.exceptionallyCompose(
        e -> {
          Throwable c = unwrap(e);
          if (c instanceof TimeoutException) {
            return CompletableFuture.failedFuture(
                new AgentIdPException("DEADLINE_EXCEEDED", "no answer within " + timeout, 0, null, null, null, c));
          }
          return CompletableFuture.failedFuture(c);
        });
  }

  private static AgentIdPException transportError(Exception e) {
    String code = e instanceof java.net.SocketTimeoutException || e instanceof TimeoutException
        ? "DEADLINE_EXCEEDED" : "UNAVAILABLE";
    return new AgentIdPException(code, "the request failed: " + e, 0, null, null, null, e);
  }

  static Throwable unwrap(Throwable e) {
    while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }

  /** Waits for a future: the synchronous API. */
  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      f.cancel(true);
      throw new AgentIdPException("CANCELLED", "interrupted", 0, null, null, null, e);
    } catch (CancellationException e) {
      throw new AgentIdPException("CANCELLED", "the call was cancelled", 0, null, null, null, e);
    } catch (ExecutionException e) {
      Throwable c = unwrap(e);
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new AgentIdPException("INTERNAL", String.valueOf(c), 0, null, null, null, c);
    }
  }

  static AgentIdPException errorFrom(SimpleHttpResponse resp) {
    return parseError(resp.getCode(), header(resp, "Retry-After"), header(resp, "x-request-id"), resp.getBodyText());
  }

  static AgentIdPException parseError(int status, String retryAfter, String requestId, String body) {
    String code = "";
    String message = "";
    List<Map<String, Object>> details = List.of();
    JsonNode data = null;
    try {
      data = body == null || body.isBlank() ? null : JSON.readTree(body);
    } catch (IOException e) {
      data = null;
    }
    if (data != null && data.isObject()) {
      if (data.path("error").isTextual()) { // RFC 6749 §5.2
        code = data.get("error").asText();
        message = data.path("error_description").asText("");
      } else if (data.has("code") || data.has("message")) { // google.rpc.Status
        message = data.path("message").asText("");
        if (data.path("details").isArray()) {
          details = JSON.convertValue(data.get("details"), new TypeReference<List<Map<String, Object>>>() {});
        }
        for (Map<String, Object> d : details) {
          if (ERROR_INFO.equals(d.get("@type")) && d.get("reason") instanceof String r) {
            code = r;
          }
        }
        int n = data.path("code").asInt(-1);
        if (code.isEmpty() && n >= 0 && n < GRPC_CODES.size()) {
          code = GRPC_CODES.get(n);
        }
      }
    }
    if (code.isEmpty()) {
      code = STATUS_CODES.getOrDefault(status, status >= 500 ? "INTERNAL" : "UNKNOWN");
    }
    if (message.isEmpty()) {
      message = REASONS.getOrDefault(status, "HTTP " + status);
    }
    return new AgentIdPException(code, message, status, details, parseRetryAfter(retryAfter), requestId, null);
  }

  /** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3). */
  static Duration parseRetryAfter(String v) {
    if (v == null || v.isBlank()) {
      return null;
    }
    String s = v.trim();
    if (s.chars().allMatch(Character::isDigit)) {
      return Duration.ofSeconds(Long.parseLong(s));
    }
    try {
      Duration d = Duration.between(java.time.Instant.now(), ZonedDateTime.parse(s, DateTimeFormatter.RFC_1123_DATE_TIME));
      return d.isNegative() ? Duration.ZERO : d;
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static String header(SimpleHttpResponse r, String name) {
    Header h = r.getFirstHeader(name);
    return h == null ? null : h.getValue();
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** One escaped path segment; empty ids are refused before sending. */
  static String seg(String value, String name) {
    if (value == null || value.isEmpty()) {
      throw AgentIdPException.of("INVALID_ARGUMENT", name + " must be a non-empty string");
    }
    return enc(value).replace("+", "%20");
  }

  private static String query(Map<String, String> q) {
    if (q == null || q.isEmpty()) {
      return "";
    }
    String s =
        q.entrySet().stream()
            .filter(e -> e.getValue() != null && !e.getValue().isEmpty())
            .map(e -> enc(e.getKey()) + "=" + enc(e.getValue()))
            .collect(Collectors.joining("&"));
    return s.isEmpty() ? "" : "?" + s;
  }

  private static String form(Map<String, String> f) {
    return f.entrySet().stream().map(e -> enc(e.getKey()) + "=" + enc(e.getValue())).collect(Collectors.joining("&"));
  }

  /** A query map that keeps insertion order and skips nulls. */
  static Map<String, String> params(Object... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) {
      if (kv[i + 1] != null) {
        m.put((String) kv[i], String.valueOf(kv[i + 1]));
      }
    }
    return m;
  }
}
