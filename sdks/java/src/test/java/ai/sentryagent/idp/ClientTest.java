package ai.sentryagent.idp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the live mesh cannot show deterministically, against a local fake server: single flight,
 * retry spacing, error shapes, redaction. Everything else runs against the real mesh
 * (ContractTest).
 */
class ClientTest {
  record Reply(int status, Map<String, String> headers, String body) {}

  record Seen(String method, String uri, Map<String, List<String>> headers, String body) {}

  HttpServer server;
  java.util.concurrent.ExecutorService serverPool;
  String url;
  final AtomicInteger tokenRequests = new AtomicInteger();
  volatile long tokenDelayMs = 0;
  volatile long expiresIn = 900;
  final Map<String, Function<Seen, Reply>> routes = new ConcurrentHashMap<>();
  final List<Seen> requests = Collections.synchronizedList(new ArrayList<>());

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
    serverPool = Executors.newFixedThreadPool(32);
    server.setExecutor(serverPool);
    server.createContext("/", this::serve);
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    server.stop(0);
    serverPool.shutdownNow();
  }

  private void serve(HttpExchange x) throws IOException {
    String body;
    try (InputStream in = x.getRequestBody()) {
      body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Seen seen = new Seen(x.getRequestMethod(), x.getRequestURI().getRawPath()
        + (x.getRequestURI().getRawQuery() != null ? "?" + x.getRequestURI().getRawQuery() : ""),
        Map.copyOf(x.getRequestHeaders()), body);
    requests.add(seen);
    Reply r;
    if (x.getRequestURI().getPath().equals("/oauth2/token")) {
      int n = tokenRequests.incrementAndGet();
      try {
        Thread.sleep(tokenDelayMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      r = new Reply(200, Map.of(), "{\"access_token\":\"tok-" + n + "\",\"token_type\":\"Bearer\",\"expires_in\":" + expiresIn + "}");
    } else {
      Function<Seen, Reply> h = routes.get(x.getRequestMethod() + " " + x.getRequestURI().getRawPath());
      r = h != null ? h.apply(seen) : new Reply(404, Map.of(), "{\"code\":5,\"message\":\"no route\"}");
    }
    byte[] out = r.body().getBytes(StandardCharsets.UTF_8);
    x.getResponseHeaders().set("Content-Type", "application/json");
    r.headers().forEach((k, v) -> x.getResponseHeaders().set(k, v));
    x.sendResponseHeaders(r.status(), out.length == 0 ? -1 : out.length);
    if (out.length > 0) {
      x.getResponseBody().write(out);
    }
    x.close();
  }

  static String agentJson(String id) {
    return "{\"agentId\":\"" + id + "\",\"name\":\"a\",\"status\":\"active\",\"createdAt\":\"2026-01-02T03:04:05.123456789Z\"}";
  }

  AgentIdPClient.Builder client() {
    return AgentIdPClient.builder(url, "agent-1", "agentidp_sk_test");
  }

  /** 100 concurrent calls that find the cached token expired cause exactly one token request. */
  @Test
  void singleFlight() {
    tokenDelayMs = 50;
    Set<String> seen = ConcurrentHashMap.newKeySet();
    routes.put("GET /v1/agents/a1", s -> {
      seen.add(s.headers().get("Authorization").get(0));
      return new Reply(200, Map.of(), agentJson("a1"));
    });
    AtomicLong clock = new AtomicLong(0);
    try (AgentIdPClient c = client().nanoClock(clock::get).build()) {
      c.tokenManager().token(); // tok-1, valid for 900 s
      clock.addAndGet(Duration.ofSeconds(845).toNanos()); // within 60 s of expiry
      List<CompletableFuture<Agent>> calls = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        calls.add(c.agents().getAsync("a1"));
      }
      CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
      assertEquals(2, tokenRequests.get());
      assertEquals(Set.of("Bearer tok-2"), seen);
    }
  }

  /** The same from 100 threads of the synchronous API. */
  @Test
  void singleFlightSync() throws Exception {
    tokenDelayMs = 50;
    routes.put("GET /v1/agents/a1", s -> new Reply(200, Map.of(), agentJson("a1")));
    AtomicLong clock = new AtomicLong(0);
    var pool = Executors.newFixedThreadPool(100);
    try (AgentIdPClient c = client().nanoClock(clock::get).build()) {
      c.tokenManager().token();
      clock.addAndGet(Duration.ofSeconds(845).toNanos());
      List<java.util.concurrent.Future<Agent>> calls = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        calls.add(pool.submit(() -> c.agents().get("a1")));
      }
      for (var f : calls) {
        f.get();
      }
      assertEquals(2, tokenRequests.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void cacheAndClear() {
    routes.put("GET /v1/agents/a1", s -> new Reply(200, Map.of(), agentJson("a1")));
    try (AgentIdPClient c = client().build()) {
      for (int i = 0; i < 3; i++) {
        c.agents().get("a1");
      }
      assertEquals(1, tokenRequests.get());
      c.clearTokenCache();
      c.agents().get("a1");
      assertEquals(2, tokenRequests.get());
    }
  }

  @Test
  void shortLivedTokenRefreshesAtHalfLife() {
    expiresIn = 30;
    AtomicLong clock = new AtomicLong(0);
    try (AgentIdPClient c = client().nanoClock(clock::get).build()) {
      Secret t1 = c.tokenManager().token();
      clock.addAndGet(Duration.ofSeconds(14).toNanos());
      assertEquals(t1, c.tokenManager().token());
      clock.addAndGet(Duration.ofSeconds(2).toNanos());
      assertFalse(t1.equals(c.tokenManager().token()));
    }
  }

  @Test
  void invalidTokenGetsOneRetry() {
    routes.put("GET /v1/agents/a1", s -> s.headers().get("Authorization").get(0).equals("Bearer tok-1")
        ? new Reply(401, Map.of("WWW-Authenticate", "Bearer error=\"invalid_token\""),
            "{\"code\":16,\"message\":\"revoked\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"INVALID_TOKEN\"}]}")
        : new Reply(200, Map.of(), agentJson("a1")));
    try (AgentIdPClient c = client().build()) {
      assertEquals("a1", c.agents().get("a1").agentId());
    }
    assertEquals(2, tokenRequests.get());
  }

  @Test
  void errorShapes() {
    record Case(int status, String body, String retryAfter, String code, String message, Duration ra) {}
    for (Case k : List.of(
        new Case(404, "{\"code\":5,\"message\":\"agent x not found\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"AGENT_NOT_FOUND\"}]}", null, "AGENT_NOT_FOUND", "agent x not found", null),
        new Case(503, "{\"code\":14,\"message\":\"down\"}", null, "UNAVAILABLE", "down", null),
        new Case(401, "{\"error\":\"invalid_client\",\"error_description\":\"client authentication failed\"}", null, "invalid_client", "client authentication failed", null),
        new Case(429, "{\"error\":\"temporarily_unavailable\"}", "2", "temporarily_unavailable", "Too Many Requests", Duration.ofSeconds(2)),
        new Case(502, "<html>bad gateway</html>", null, "INTERNAL", "Bad Gateway", null))) {
      AgentIdPException e = Transport.parseError(k.status(), k.retryAfter(), "r1", k.body());
      assertEquals(k.code(), e.code(), k.body());
      assertEquals(k.message(), e.getMessage());
      assertEquals(k.status(), e.httpStatus());
      assertEquals(k.ra(), e.retryAfter().orElse(null));
      assertEquals("r1", e.requestId().orElseThrow());
    }
  }

  @Test
  void retryAfterIsHonouredAndRegisterKeepsItsRequestId() {
    List<String> uris = Collections.synchronizedList(new ArrayList<>());
    routes.put("POST /v1/agents", s -> {
      uris.add(s.uri());
      return uris.size() == 1
          ? new Reply(429, Map.of("Retry-After", "1"), "{\"code\":8,\"message\":\"slow down\"}")
          : new Reply(201, Map.of(), agentJson("a1"));
    });
    try (AgentIdPClient c = client().build()) {
      long start = System.nanoTime();
      c.agents().register(AgentInput.builder("a").build());
      assertTrue(System.nanoTime() - start >= Duration.ofSeconds(1).toNanos());
    }
    assertEquals(2, uris.size());
    assertEquals(uris.get(0), uris.get(1));
    assertTrue(uris.get(0).contains("requestId="));
  }

  @Test
  void noRetryForCredentialCreate() {
    AtomicInteger calls = new AtomicInteger();
    routes.put("POST /v1/agents/a1/credentials", s -> {
      calls.incrementAndGet();
      return new Reply(503, Map.of(), "{\"code\":14,\"message\":\"unavailable\"}");
    });
    try (AgentIdPClient c = client().build()) {
      AgentIdPException e = assertThrows(AgentIdPException.class, () -> c.credentials().generate("a1"));
      assertEquals(503, e.httpStatus());
    }
    assertEquals(1, calls.get());
  }

  @Test
  void retriesGiveUp() {
    AtomicInteger calls = new AtomicInteger();
    routes.put("GET /v1/agents/a1", s -> {
      calls.incrementAndGet();
      return new Reply(503, Map.of("Retry-After", "0"), "");
    });
    try (AgentIdPClient c = client().maxRetries(2).build()) {
      AgentIdPException e = assertThrows(AgentIdPException.class, () -> c.agents().get("a1"));
      assertEquals("UNAVAILABLE", e.code());
    }
    assertEquals(3, calls.get());
  }

  @Test
  void transportErrorsAndTimeouts() {
    try (AgentIdPClient c = AgentIdPClient.builder("http://127.0.0.1:1", "a", "s").build()) {
      AgentIdPException e = assertThrows(AgentIdPException.class, () -> c.agents().get("a1"));
      assertEquals("UNAVAILABLE", e.code());
      assertEquals(0, e.httpStatus());
      assertTrue(e.getCause() != null);
    }
    tokenDelayMs = 500;
    try (AgentIdPClient c = client().timeout(Duration.ofMillis(100)).build()) {
      AgentIdPException e = assertThrows(AgentIdPException.class, () -> c.agents().get("a1"));
      assertEquals("DEADLINE_EXCEEDED", e.code());
    }
  }

  @Test
  void requestShape() throws IOException {
    routes.put("PATCH /v1/agents/a%201", s -> new Reply(200, Map.of(), agentJson("a 1")));
    try (AgentIdPClient c = client().userAgent("my-app/2").build()) {
      c.agents().update("a 1", AgentUpdate.builder().description("").scopes(List.of()).etag("7").build());
      AgentIdPException e = assertThrows(AgentIdPException.class, () -> c.agents().get(""));
      assertEquals("INVALID_ARGUMENT", e.code());
    }
    Seen patch = requests.stream().filter(s -> s.method().equals("PATCH")).findFirst().orElseThrow();
    assertEquals("/v1/agents/a%201?updateMask=description%2Cscopes", patch.uri());
    assertEquals("{\"description\":\"\",\"scopes\":[],\"etag\":\"7\"}", patch.body());
    Properties p = new Properties();
    try (InputStream in = getClass().getResourceAsStream("version.properties")) {
      p.load(in);
    }
    assertEquals("my-app/2 agentidp-sdk-java/" + p.getProperty("version") + " (java " + System.getProperty("java.version") + ")",
        patch.headers().get("User-agent").get(0));
    assertFalse(p.getProperty("version").contains("$"), "version.properties is filtered by Maven");
    Seen token = requests.stream().filter(s -> s.uri().equals("/oauth2/token")).findFirst().orElseThrow();
    assertTrue(token.headers().get("Authorization").get(0).startsWith("Basic "));
  }

  /** verify and checkpoints: the query each sends, string int64s read, pages followed to the end. */
  @Test
  void auditVerifyAndCheckpoints() {
    routes.put("GET /v1/audit/verify", s -> new Reply(200, Map.of(),
        "{\"ok\":false,\"fromSequence\":\"1\",\"toSequence\":\"9\",\"eventsChecked\":\"9\","
            + "\"checkpointsChecked\":\"2\",\"checkpointedThrough\":\"8\","
            + "\"firstBreak\":{\"sequence\":\"9\",\"eventId\":\"e9\",\"kind\":\"hash_mismatch\"}}"));
    String cp = "{\"sequence\":\"%s\",\"hash\":\"h\",\"keyId\":\"k\",\"algorithm\":\"ed25519\","
        + "\"signature\":\"c2ln\",\"signedAt\":\"2026-01-02T03:04:05Z\"}";
    routes.put("GET /v1/audit/checkpoints", s -> new Reply(200, Map.of(), s.uri().contains("pageToken=p2")
        ? "{\"checkpoints\":[" + cp.formatted("8") + "]}"
        : "{\"checkpoints\":[" + cp.formatted("4") + "],\"nextPageToken\":\"p2\"}"));
    try (AgentIdPClient c = client().build()) {
      ChainVerification v = c.audit().verify(1, 9);
      assertEquals("/v1/audit/verify?fromSequence=1&toSequence=9", requests.get(requests.size() - 1).uri());
      assertFalse(v.ok());
      assertEquals(9, v.eventsChecked());
      assertEquals(2, v.checkpointsChecked());
      assertEquals(8, v.checkpointedThrough());
      assertEquals(9, v.firstBreak().sequence());
      assertEquals("hash_mismatch", v.firstBreak().kind());
      c.audit().verify();
      assertEquals("/v1/audit/verify", requests.get(requests.size() - 1).uri());
      Page<AuditCheckpoint> page = c.audit().checkpointsPage(3, 1, null);
      assertEquals("/v1/audit/checkpoints?fromSequence=3&pageSize=1", requests.get(requests.size() - 1).uri());
      assertEquals("p2", page.nextPageToken());
      assertEquals(4, page.items().get(0).sequence());
      assertEquals(java.time.Instant.parse("2026-01-02T03:04:05Z"), page.items().get(0).signedAt());
      assertEquals(List.of(4L, 8L), c.audit().checkpoints(3).map(AuditCheckpoint::sequence).toList());
      int before = requests.size();
      assertEquals("INVALID_ARGUMENT",
          assertThrows(AgentIdPException.class, () -> c.audit().verify(-1, 0)).code());
      assertEquals("INVALID_ARGUMENT",
          assertThrows(AgentIdPException.class, () -> c.audit().verify(5, 2)).code());
      assertEquals("INVALID_ARGUMENT",
          assertThrows(AgentIdPException.class, () -> c.audit().checkpointsPage(-1, null, null)).code());
      assertEquals(before, requests.size());
    }
  }

  @Test
  void secretsAreNeverPrinted() throws Exception {
    Secret s = Secret.of("agentidp_sk_abc");
    IssuedCredential issued = new IssuedCredential(null, "a", s);
    TokenResponse tok = new TokenResponse(Secret.of("eyJabc"), "Bearer", 900, "x");
    for (String text : List.of(s.toString(), String.valueOf(issued), String.valueOf(tok),
        Transport.JSON.writeValueAsString(issued), Transport.JSON.writeValueAsString(tok),
        client().build().toString())) {
      assertFalse(text.contains("abc"), text);
    }
    assertEquals("agentidp_sk_abc", s.reveal());
    IssuedCredential back = Transport.JSON.readValue("{\"clientSecret\":\"agentidp_sk_x\",\"credential\":{\"secretVersion\":\"2\"}}", IssuedCredential.class);
    assertEquals("agentidp_sk_x", back.clientSecret().reveal());
    assertEquals(2, back.credential().secretVersion());
    assertNotSame(s, Secret.of("agentidp_sk_abc"));
    assertSame(s, s);
    assertEquals(new HashSet<>(List.of(s)), Set.of(Secret.of("agentidp_sk_abc")));
  }
}
