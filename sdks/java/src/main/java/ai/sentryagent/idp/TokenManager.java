package ai.sentryagent.idp;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Gets the client's access token with client_credentials, caches it, and replaces it 60 s before
 * it expires (half the lifetime of shorter tokens). Concurrent callers that find no usable token
 * share one token request (single flight). Thread-safe.
 */
public final class TokenManager {
  /** A cached token is replaced this long before it expires. */
  public static final Duration REFRESH_BEFORE = Duration.ofSeconds(60);

  private final Supplier<CompletableFuture<TokenResponse>> fetch;
  private final LongSupplier nanoClock;
  private Secret token;
  private long renewAt;
  private CompletableFuture<Secret> inflight;

  TokenManager(Supplier<CompletableFuture<TokenResponse>> fetch, LongSupplier nanoClock) {
    this.fetch = fetch;
    this.nanoClock = nanoClock;
  }

  /** A usable access token, requested if needed. */
  public Secret token() {
    return Transport.join(tokenAsync());
  }

  /** A usable access token, requested if needed. */
  public CompletableFuture<Secret> tokenAsync() {
    CompletableFuture<Secret> mine;
    long start;
    synchronized (this) {
      start = nanoClock.getAsLong();
      if (token != null && start - renewAt < 0) {
        return CompletableFuture.completedFuture(token);
      }
      if (inflight != null) {
        return inflight.copy(); // a caller's cancel must not cancel the others
      }
      mine = new CompletableFuture<>();
      inflight = mine;
    }
    // Outside the lock: the request may complete on this thread.
    CompletableFuture<TokenResponse> f;
    try {
      f = fetch.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete(
        (resp, err) -> {
          synchronized (this) {
            if (err == null) {
              long life = Duration.ofSeconds(resp.expiresIn()).toNanos();
              token = resp.accessToken();
              renewAt = start + life - Math.min(REFRESH_BEFORE.toNanos(), life / 2);
            }
            if (inflight == mine) {
              inflight = null;
            }
          }
          if (err != null) {
            mine.completeExceptionally(Transport.unwrap(err));
          } else {
            mine.complete(resp.accessToken());
          }
        });
    return mine.copy();
  }

  /** Drops the cached token. */
  public synchronized void clear() {
    token = null;
  }

  /** Drops the cached token if it is still {@code t} (one the server refused). */
  synchronized void invalidate(Secret t) {
    if (t.equals(token)) {
      token = null;
    }
  }

  @Override
  public synchronized String toString() {
    return "TokenManager[cached=" + (token != null) + "]";
  }
}
