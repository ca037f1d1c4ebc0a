import { Secret } from "./secret.js";
import type { TokenResponse } from "./models.js";

/** A cached token is replaced this long before it expires (half its lifetime for shorter tokens). */
export const REFRESH_BEFORE_MS = 60_000;

/** A token as a TokenStore keeps it. */
export interface StoredToken {
  accessToken: string;
  /** Epoch milliseconds after which the token should be replaced. */
  renewAt: number;
}

/**
 * Where the TokenManager keeps its token: memory by default; a browser app
 * can keep it in `sessionStorage` so that a reload does not sign in again
 * (see `sessionStorageTokenStore`).
 */
export interface TokenStore {
  load(): StoredToken | undefined;
  save(token: StoredToken): void;
  clear(): void;
}

export function memoryTokenStore(): TokenStore {
  let t: StoredToken | undefined;
  return { load: () => t, save: (v) => { t = v; }, clear: () => { t = undefined; } };
}

/** A TokenStore over `sessionStorage` (or any Web Storage) under `key`. */
export function sessionStorageTokenStore(key: string, storage: Storage = sessionStorage): TokenStore {
  return {
    load() {
      try {
        const v: unknown = JSON.parse(storage.getItem(key) ?? "null");
        if (typeof v === "object" && v !== null && "accessToken" in v && "renewAt" in v) {
          const { accessToken, renewAt } = v as StoredToken;
          if (typeof accessToken === "string" && typeof renewAt === "number") return { accessToken, renewAt };
        }
      } catch {
        // a corrupt entry is no token
      }
      return undefined;
    },
    save: (t) => storage.setItem(key, JSON.stringify(t)),
    clear: () => storage.removeItem(key),
  };
}

/**
 * Gets the client's access token with client_credentials, caches it, and
 * replaces it 60 s before it expires. Concurrent callers that find no usable
 * token share one token request (single flight).
 */
export class TokenManager {
  readonly #fetch: () => Promise<TokenResponse>;
  readonly #store: TokenStore;
  readonly #now: () => number;
  #inflight: Promise<Secret> | undefined;

  /** `now` (epoch ms) is for tests. */
  constructor(fetchToken: () => Promise<TokenResponse>, opts: { store?: TokenStore; now?: () => number } = {}) {
    this.#fetch = fetchToken;
    this.#store = opts.store ?? memoryTokenStore();
    this.#now = opts.now ?? Date.now;
  }

  /** A usable access token, requested if needed. */
  token(): Promise<Secret> {
    const cached = this.#store.load();
    if (cached && this.#now() < cached.renewAt) return Promise.resolve(new Secret(cached.accessToken));
    // Set synchronously, before any await: every caller from now on shares it.
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #refresh(): Promise<Secret> {
    const start = this.#now();
    const resp = await this.#fetch();
    const lifeMs = resp.expiresIn * 1000;
    this.#store.save({ accessToken: resp.accessToken.reveal(), renewAt: start + lifeMs - Math.min(REFRESH_BEFORE_MS, lifeMs / 2) });
    return resp.accessToken;
  }

  /** Drops the cached token. */
  clear(): void {
    this.#store.clear();
  }

  /** Drops the cached token if it is still `token` (one the server refused). */
  invalidate(token: Secret): void {
    const cached = this.#store.load();
    if (cached && cached.accessToken === token.reveal()) this.#store.clear();
  }
}
