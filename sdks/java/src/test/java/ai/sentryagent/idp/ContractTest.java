package ai.sentryagent.idp;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The interpreter of the language-neutral contract suite (sdks/contract/README.md): every
 * scenario against the live mesh named by AGENTIDP_URL, AGENTIDP_CLIENT_ID and
 * AGENTIDP_CLIENT_SECRET; skipped without them.
 */
class ContractTest {
  static final Path SCENARIOS = Path.of("..", "contract", "scenarios");
  static final ObjectMapper JSON = new ObjectMapper();
  /** The plain view: the SDK's records as JSON, with secrets revealed. */
  static final ObjectMapper PLAIN =
      Transport.JSON.copy()
          .registerModule(
              new SimpleModule()
                  .addSerializer(
                      new StdSerializer<>(Secret.class) {
                        private static final long serialVersionUID = 1L;

                        @Override
                        public void serialize(Secret s, JsonGenerator g, SerializerProvider p) throws IOException {
                          g.writeString(s.reveal());
                        }
                      }));
  static final Set<String> STEP_KEYS =
      Set.of("op", "as", "args", "save", "expect", "expectError", "eventually", "repeat", "comment");
  static final Set<String> SCENARIO_KEYS = Set.of("name", "description", "requires", "steps");
  static final List<String> AGENT_FIELDS =
      List.of("name", "description", "agentType", "version", "owner", "capabilities", "scopes",
          "deploymentEnv", "metadata");
  static final Pattern REF = Pattern.compile("\\$\\{([^}]+)\\}");

  record Mesh(String url, String clientId, String secret) {
    static Mesh fromEnv() {
      String u = System.getenv("AGENTIDP_URL");
      String id = System.getenv("AGENTIDP_CLIENT_ID");
      String s = System.getenv("AGENTIDP_CLIENT_SECRET");
      if (u == null || u.isEmpty() || id == null || id.isEmpty() || s == null || s.isEmpty()) {
        return null;
      }
      return new Mesh(u, id, s);
    }
  }

  static final String NO_MESH =
      "no live mesh: set AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET";

  /** /v1 without a token: 200 means the gateway has no authz yet. */
  static boolean authzEnforced(String url) throws IOException, InterruptedException {
    HttpResponse<Void> r =
        HttpClient.newHttpClient()
            .send(HttpRequest.newBuilder(URI.create(url.replaceAll("/+$", "") + "/v1/agents?pageSize=1")).build(),
                HttpResponse.BodyHandlers.discarding());
    return r.statusCode() != 200;
  }

  @TestFactory
  Stream<DynamicTest> scenarios() throws IOException, InterruptedException {
    Mesh mesh = Mesh.fromEnv();
    assumeTrue(mesh != null, NO_MESH);
    boolean authz = authzEnforced(mesh.url());
    List<DynamicTest> tests = new ArrayList<>();
    try (Stream<Path> files = Files.list(SCENARIOS)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
        JsonNode sc = JSON.readTree(f.toFile());
        sc.fieldNames().forEachRemaining(k -> check(SCENARIO_KEYS.contains(k), f + ": unknown key " + k));
        for (JsonNode step : sc.get("steps")) {
          step.fieldNames().forEachRemaining(k -> check(STEP_KEYS.contains(k), f + ": unknown step key " + k));
        }
        boolean needsAuthz = false;
        for (JsonNode r : sc.path("requires")) {
          needsAuthz |= r.asText().equals("authz");
        }
        boolean skip = needsAuthz && !authz;
        String name = f.getFileName().toString().replace(".json", "");
        tests.add(DynamicTest.dynamicTest(name, () -> {
          assumeTrue(!skip, "needs authz: the gateway answers /v1 without a token");
          try (Runner r = new Runner(mesh)) {
            r.run(sc);
          }
        }));
      }
    }
    return tests.stream();
  }

  static void check(boolean ok, String message) {
    if (!ok) {
      throw new AssertionError(message);
    }
  }

  static final class Failure extends AssertionError {
    private static final long serialVersionUID = 1L;

    Failure(String m) {
      super(m);
    }
  }

  static final class Runner implements AutoCloseable {
    final Mesh mesh;
    final Map<String, JsonNode> vars = new HashMap<>();
    final List<String> secrets = new ArrayList<>();
    final Map<String, AgentIdPClient> clients = new HashMap<>();

    Runner(Mesh mesh) {
      this.mesh = mesh;
      byte[] b = new byte[4];
      new SecureRandom().nextBytes(b);
      vars.put("run", JsonNodeFactory.instance.textNode(HexFormat.of().formatHex(b)));
      secrets.add(mesh.secret());
      clients.put("admin", AgentIdPClient.builder(mesh.url(), mesh.clientId(), mesh.secret()).build());
    }

    @Override
    public void close() {
      clients.values().forEach(AgentIdPClient::close);
    }

    void run(JsonNode sc) throws Exception {
      int i = 0;
      for (JsonNode step : sc.get("steps")) {
        i++;
        try {
          step(step);
        } catch (Failure f) {
          throw new Failure("step " + i + " (" + step.get("op").asText() + ") " + step.path("comment").asText("")
              + ": " + f.getMessage());
        }
      }
    }

    void step(JsonNode step) throws Exception {
      ObjectNode args = (ObjectNode) interpolate(step.has("args") ? step.get("args") : JSON.createObjectNode());
      JsonNode expect = step.has("expect") ? interpolate(step.get("expect")) : null;
      JsonNode expectError = step.has("expectError") ? interpolate(step.get("expectError")) : null;
      long deadline = System.nanoTime() + Duration.ofMillis(step.path("eventually").path("timeoutMs").asLong(0)).toNanos();
      while (true) {
        try {
          JsonNode view = attempt(step, args, expect, expectError);
          if (step.has("save")) {
            vars.put(step.get("save").asText(), view);
          }
          return;
        } catch (Failure f) {
          if (System.nanoTime() - deadline > 0) {
            throw f;
          }
          Thread.sleep(200);
        }
      }
    }

    JsonNode attempt(JsonNode step, ObjectNode args, JsonNode expect, JsonNode expectError) throws Exception {
      if (step.has("repeat")) {
        int max = step.get("repeat").get("max").asInt();
        for (int i = 0; i < max; i++) {
          try {
            execute(step, args);
          } catch (AgentIdPException e) {
            checkError(e, expectError);
            return NullNode.instance;
          }
        }
        throw new Failure("no error after " + max + " calls");
      }
      Object result;
      try {
        result = execute(step, args);
      } catch (AgentIdPException e) {
        if (!step.has("expectError")) {
          throw new Failure("unexpected error: " + e);
        }
        checkError(e, expectError);
        return NullNode.instance;
      }
      if (step.has("expectError")) {
        throw new Failure("expected an error, got " + result);
      }
      if (!step.get("op").asText().equals("check")) {
        checkNoSecret(String.valueOf(result));
      }
      JsonNode view = plain(result);
      if (expect != null) {
        match(expect, view, "result");
      }
      return view;
    }

    void checkNoSecret(String text) {
      for (String s : secrets) {
        if (!s.isEmpty() && text.contains(s)) {
          throw new AssertionError("a secret appears in the string form of a result or error: " + text);
        }
      }
    }

    void checkError(AgentIdPException e, JsonNode expect) {
      java.io.StringWriter trace = new java.io.StringWriter();
      e.printStackTrace(new java.io.PrintWriter(trace));
      checkNoSecret(e + " " + e.getMessage() + " " + trace);
      ObjectNode view = JSON.createObjectNode();
      view.put("code", e.code());
      view.put("message", e.getMessage());
      view.put("httpStatus", e.httpStatus());
      view.set("details", JSON.valueToTree(e.details()));
      if (e.retryAfter().isPresent()) {
        view.put("retryAfter", e.retryAfter().get().toMillis() / 1000.0);
      } else {
        view.putNull("retryAfter");
      }
      if (expect != null) {
        try {
          match(expect, view, "error");
        } catch (Failure f) {
          throw new Failure(f.getMessage() + " (the error: " + e + ")");
        }
      }
    }

    static JsonNode plain(Object v) {
      if (v == null) {
        return NullNode.instance;
      }
      if (v instanceof JsonNode n) {
        return n;
      }
      if (v instanceof TokenResponse t) {
        ObjectNode o = JSON.createObjectNode();
        o.put("accessToken", t.accessToken().reveal());
        o.put("tokenType", t.tokenType());
        o.put("expiresIn", t.expiresIn());
        o.put("scope", t.scope());
        return o;
      }
      if (v instanceof Introspection t) {
        ObjectNode o = JSON.createObjectNode();
        o.put("active", t.active());
        o.put("scope", t.scope());
        o.put("owner", t.owner());
        o.put("clientId", t.clientId());
        o.put("sub", t.sub());
        o.put("exp", t.exp());
        o.put("iat", t.iat());
        o.put("jti", t.jti());
        o.put("iss", t.iss());
        o.set("aud", JSON.valueToTree(t.aud()));
        o.put("tokenType", t.tokenType());
        return o;
      }
      return PLAIN.valueToTree(v);
    }

    Object execute(JsonNode step, ObjectNode a) {
      String op = step.get("op").asText();
      switch (op) {
        case "client.new" -> {
          allow(a, "name", "clientId", "clientSecret", "scopes", "maxRetries");
          AgentIdPClient.Builder b = AgentIdPClient.builder(mesh.url(), s(a, "clientId"), s(a, "clientSecret"));
          if (a.has("scopes")) {
            b.scopes(strs(a.get("scopes")));
          }
          if (a.has("maxRetries")) {
            b.maxRetries(a.get("maxRetries").asInt());
          }
          AgentIdPClient old = clients.put(s(a, "name"), b.build());
          if (old != null) {
            old.close();
          }
          secrets.add(s(a, "clientSecret"));
          return null;
        }
        case "check" -> {
          allow(a, "value");
          return a.get("value");
        }
        default -> {}
      }
      AgentIdPClient c = clients.get(step.path("as").asText("admin"));
      check(c != null, "no client " + step.path("as").asText());
      switch (op) {
        case "client.clearTokenCache" -> {
          allow(a);
          c.clearTokenCache();
          return null;
        }
        case "agents.register" -> {
          List<String> keys = new ArrayList<>(AGENT_FIELDS);
          keys.add("requestId");
          allow(a, keys.toArray(String[]::new));
          AgentInput.Builder b = AgentInput.builder(a.path("name").asText(""));
          if (a.has("description")) b.description(s(a, "description"));
          if (a.has("agentType")) b.agentType(s(a, "agentType"));
          if (a.has("version")) b.version(s(a, "version"));
          if (a.has("owner")) b.owner(s(a, "owner"));
          if (a.has("capabilities")) b.capabilities(strs(a.get("capabilities")));
          if (a.has("scopes")) b.scopes(strs(a.get("scopes")));
          if (a.has("deploymentEnv")) b.deploymentEnv(s(a, "deploymentEnv"));
          if (a.has("metadata")) b.metadata(map(a.get("metadata")));
          if (a.has("requestId")) b.requestId(s(a, "requestId"));
          return c.agents().register(b.build());
        }
        case "agents.get" -> {
          allow(a, "agentId");
          return c.agents().get(s(a, "agentId"));
        }
        case "agents.list" -> {
          allow(a, "status", "owner", "agentType", "search", "pageSize", "limit");
          AgentFilter f = new AgentFilter(opt(a, "status"), opt(a, "owner"), opt(a, "agentType"), opt(a, "search"),
              a.has("pageSize") ? a.get("pageSize").asInt() : null);
          return limit(c.agents().list(f), a);
        }
        case "agents.update" -> {
          allow(a, "agentId", "changes", "etag");
          AgentUpdate.Builder u = AgentUpdate.builder();
          Iterator<Map.Entry<String, JsonNode>> it = a.get("changes").properties().iterator();
          while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
              case "name" -> u.name(v.asText());
              case "description" -> u.description(v.asText());
              case "agentType" -> u.agentType(v.asText());
              case "version" -> u.version(v.asText());
              case "owner" -> u.owner(v.asText());
              case "deploymentEnv" -> u.deploymentEnv(v.asText());
              case "capabilities" -> u.capabilities(strs(v));
              case "scopes" -> u.scopes(strs(v));
              case "metadata" -> u.metadata(map(v));
              default -> throw new AssertionError("agents.update: unknown field " + e.getKey());
            }
          }
          if (a.has("etag")) u.etag(s(a, "etag"));
          return c.agents().update(s(a, "agentId"), u.build());
        }
        case "agents.suspend" -> {
          allow(a, "agentId");
          return c.agents().suspend(s(a, "agentId"));
        }
        case "agents.reactivate" -> {
          allow(a, "agentId");
          return c.agents().reactivate(s(a, "agentId"));
        }
        case "agents.decommission" -> {
          allow(a, "agentId");
          return c.agents().decommission(s(a, "agentId"));
        }
        case "credentials.generate" -> {
          allow(a, "agentId", "ttlSeconds");
          IssuedCredential r = c.credentials().generate(s(a, "agentId"),
              a.has("ttlSeconds") ? Duration.ofSeconds(a.get("ttlSeconds").asLong()) : null);
          secrets.add(r.clientSecret().reveal());
          return r;
        }
        case "credentials.list" -> {
          allow(a, "agentId", "pageSize", "limit");
          return limit(c.credentials().list(s(a, "agentId")), a);
        }
        case "credentials.rotate" -> {
          allow(a, "agentId", "credentialId", "gracePeriodSeconds");
          IssuedCredential r = c.credentials().rotate(s(a, "agentId"), s(a, "credentialId"),
              a.has("gracePeriodSeconds") ? Duration.ofSeconds(a.get("gracePeriodSeconds").asLong()) : null);
          secrets.add(r.clientSecret().reveal());
          return r;
        }
        case "credentials.revoke" -> {
          allow(a, "agentId", "credentialId");
          return c.credentials().revoke(s(a, "agentId"), s(a, "credentialId"));
        }
        case "tokens.issue" -> {
          allow(a, "scopes");
          TokenResponse r = c.tokens().issue(a.has("scopes") ? strs(a.get("scopes")) : null);
          secrets.add(r.accessToken().reveal());
          return r;
        }
        case "tokens.introspect" -> {
          allow(a, "token");
          return c.tokens().introspect(Secret.of(s(a, "token")));
        }
        case "tokens.revoke" -> {
          allow(a, "token");
          c.tokens().revoke(Secret.of(s(a, "token")));
          return null;
        }
        case "audit.query" -> {
          allow(a, "agentId", "action", "outcome", "actor", "owner", "pageSize", "limit");
          AuditFilter f = new AuditFilter(opt(a, "agentId"), opt(a, "action"), opt(a, "outcome"), opt(a, "actor"),
              null, null, a.has("pageSize") ? a.get("pageSize").asInt() : null, opt(a, "owner"));
          return limit(c.audit().query(f), a);
        }
        case "audit.get" -> {
          allow(a, "eventId");
          return c.audit().get(s(a, "eventId"));
        }
        case "audit.verify" -> {
          allow(a, "fromSequence", "toSequence");
          return c.audit().verify(a.path("fromSequence").asLong(0), a.path("toSequence").asLong(0));
        }
        case "audit.checkpoints" -> {
          allow(a, "fromSequence", "limit");
          return limit(c.audit().checkpoints(a.path("fromSequence").asLong(0)), a);
        }
        default -> throw new AssertionError("unknown op " + op);
      }
    }

    static <T> List<T> limit(Stream<T> items, JsonNode a) {
      int n = a.path("limit").asInt(0);
      return (n > 0 ? items.limit(n) : items).toList();
    }

    static void allow(JsonNode a, String... keys) {
      Set<String> ok = Set.of(keys);
      a.fieldNames().forEachRemaining(k -> check(ok.contains(k), "unknown argument " + k));
    }

    static String s(JsonNode a, String k) {
      return a.get(k).asText();
    }

    static String opt(JsonNode a, String k) {
      return a.has(k) ? a.get(k).asText() : null;
    }

    static List<String> strs(JsonNode v) {
      List<String> out = new ArrayList<>();
      v.forEach(x -> out.add(x.asText()));
      return out;
    }

    static Map<String, String> map(JsonNode v) {
      Map<String, String> out = new HashMap<>();
      v.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
      return out;
    }

    JsonNode interpolate(JsonNode v) {
      if (v.isTextual()) {
        String s = v.asText();
        Matcher whole = REF.matcher(s);
        if (whole.matches()) {
          return lookup(whole.group(1));
        }
        Matcher m = REF.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
          JsonNode r = lookup(m.group(1));
          m.appendReplacement(out, Matcher.quoteReplacement(r.isTextual() ? r.asText() : r.toString()));
        }
        m.appendTail(out);
        return JsonNodeFactory.instance.textNode(out.toString());
      }
      if (v.isArray()) {
        var arr = JSON.createArrayNode();
        v.forEach(x -> arr.add(interpolate(x)));
        return arr;
      }
      if (v.isObject()) {
        ObjectNode o = JSON.createObjectNode();
        v.properties().forEach(e -> o.set(e.getKey(), interpolate(e.getValue())));
        return o;
      }
      return v;
    }

    JsonNode lookup(String path) {
      String[] parts = path.split("\\.");
      JsonNode v = vars.get(parts[0]);
      check(v != null, "unknown reference ${" + path + "}");
      for (int i = 1; i < parts.length; i++) {
        v = v.isArray() ? v.get(Integer.parseInt(parts[i])) : v.get(parts[i]);
        check(v != null, "reference ${" + path + "}: no " + parts[i]);
      }
      return v;
    }
  }

  static boolean equal(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      return a.asDouble() == b.asDouble();
    }
    return a.equals(b);
  }

  static void match(JsonNode exp, JsonNode act, String where) {
    JsonNode a = act == null || act.isMissingNode() ? NullNode.instance : act;
    if (exp.isObject()) {
      List<String> keys = new ArrayList<>();
      exp.fieldNames().forEachRemaining(keys::add);
      if (keys.stream().anyMatch(k -> k.startsWith("$"))) {
        for (String k : keys) {
          matchOp(k, exp.get(k), a, where);
        }
        return;
      }
      if (!a.isObject()) {
        throw new Failure(where + ": want an object, got " + a);
      }
      for (String k : keys) {
        match(exp.get(k), a.get(k), where + "." + k);
      }
      return;
    }
    if (exp.isArray()) {
      if (!a.isArray() || a.size() != exp.size()) {
        throw new Failure(where + ": want " + exp.size() + " items, got " + a);
      }
      for (int i = 0; i < exp.size(); i++) {
        match(exp.get(i), a.get(i), where + "[" + i + "]");
      }
      return;
    }
    if (!equal(exp, a)) {
      throw new Failure(where + ": want " + exp + ", got " + a);
    }
  }

  static boolean matches(JsonNode exp, JsonNode act) {
    try {
      match(exp, act, "");
      return true;
    } catch (Failure f) {
      return false;
    }
  }

  static void matchOp(String op, JsonNode arg, JsonNode act, String where) {
    boolean ok;
    switch (op) {
      case "$exists" -> ok = !act.isNull() == arg.asBoolean();
      case "$ne" -> ok = !equal(arg, act);
      case "$prefix" -> ok = act.isTextual() && act.asText().startsWith(arg.asText());
      case "$contains" -> {
        if (arg.isTextual()) {
          ok = act.isTextual() && act.asText().contains(arg.asText());
        } else {
          ok = act.isArray();
          if (ok) {
            for (JsonNode want : arg) {
              boolean found = false;
              for (JsonNode item : act) {
                found |= matches(want, item);
              }
              if (!found) {
                throw new Failure(where + ": no item matches " + want + " in " + act);
              }
            }
          }
        }
      }
      case "$every" -> {
        ok = act.isArray();
        if (ok) {
          for (int i = 0; i < act.size(); i++) {
            match(arg, act.get(i), where + "[" + i + "]");
          }
        }
      }
      case "$notContains" -> ok = act.isTextual() && !act.asText().contains(arg.asText());
      case "$len" -> ok = (act.isArray() ? act.size() : act.isTextual() ? act.asText().length() : -1) == arg.asInt();
      case "$gte" -> ok = act.isNumber() && act.asDouble() >= arg.asDouble();
      default -> throw new AssertionError(where + ": unknown matcher " + op);
    }
    if (!ok) {
      throw new Failure(where + ": want " + op + " " + arg + ", got " + act);
    }
  }
}
