/**
 * The signed-in identity. The access token lives in sessionStorage (this tab
 * only, gone when the tab closes) through the SDK's TokenManager; the client
 * secret never touches storage: it stays in this page's memory so the
 * TokenManager can renew the token. After a reload the stored token keeps
 * working until it is due for renewal; then the user signs in again (a
 * restored session cannot renew: that needs the secret).
 */
import { AgentIdPClient, Secret, sessionStorageTokenStore, type TokenStore } from "@sentryagent/idp-sdk";

import { SESSION_EXPIRED } from "./errors";
import { tokenExpiry, tokenOwner, tokenScopes } from "./scopes";

export const TOKEN_KEY = "agentidp.dashboard.token";
export const CLIENT_ID_KEY = "agentidp.dashboard.clientId";

export interface Session {
  client: AgentIdPClient;
  clientId: string;
  /** The scopes of the current access token. */
  scopes: ReadonlySet<string>;
  /**
   * The signed-in agent's owner (tenant), from the token's `owner` claim;
   * undefined for a token without one (useCallerOwner then reads the
   * agent's own record).
   */
  owner: string | undefined;
  /** When the current access token expires. */
  expiresAt: Date | undefined;
  /** False for a session restored after a reload: it cannot renew its token. */
  canRenew: boolean;
}

export interface SessionOptions {
  baseUrl: string;
  storage?: Storage;
  fetch?: typeof fetch;
}

type Listener = () => void;

/** Holds the current session and tells subscribers (React) when it changes. */
export class SessionManager {
  readonly #baseUrl: string;
  readonly #storage: Storage;
  readonly #fetch: typeof fetch;
  readonly #listeners = new Set<Listener>();
  #session: Session | undefined;
  #notice: string | undefined;

  constructor(o: SessionOptions) {
    this.#baseUrl = o.baseUrl;
    this.#storage = o.storage ?? sessionStorage;
    this.#fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  get current(): Session | undefined {
    return this.#session;
  }

  /** A message for the sign-in page (why the last session ended), read once. */
  takeNotice(): string | undefined {
    const n = this.#notice;
    this.#notice = undefined;
    return n;
  }

  subscribe = (l: Listener): (() => void) => {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  };

  getSnapshot = (): Session | undefined => this.#session;

  /** Exchanges the credential for a token (client_credentials); throws AgentIdPError if refused. */
  async signIn(clientId: string, clientSecret: string): Promise<Session> {
    const store = this.#observedStore();
    store.clear();
    const client = new AgentIdPClient({
      baseUrl: this.#baseUrl, clientId, clientSecret, tokenStore: store, fetch: this.#fetch, maxRetries: 1,
    });
    try {
      await client.tokenManager.token();
    } catch (e) {
      store.clear();
      throw e;
    }
    this.#storage.setItem(CLIENT_ID_KEY, clientId);
    this.#set(this.#make(client, clientId, true));
    return this.#session!;
  }

  /** The session of this tab after a reload, if its token is still usable. */
  restore(): Session | undefined {
    const clientId = this.#storage.getItem(CLIENT_ID_KEY);
    const store = this.#observedStore();
    const token = store.load();
    if (!clientId || !token || Date.now() >= token.renewAt) {
      this.#clearStorage();
      return undefined;
    }
    // No secret after a reload: the token endpoint is answered locally with
    // a session_expired error instead of sending a made-up secret.
    const noRenewal: typeof fetch = (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (new URL(url, "http://x").pathname.startsWith("/oauth2/")) {
        return Promise.resolve(new Response(
          JSON.stringify({ error: SESSION_EXPIRED, error_description: "the session's access token is due for renewal; sign in again" }),
          { status: 401, headers: { "Content-Type": "application/json" } },
        ));
      }
      return this.#fetch(input, init);
    };
    const client = new AgentIdPClient({
      baseUrl: this.#baseUrl, clientId, clientSecret: new Secret("not-held-after-reload"), tokenStore: store, fetch: noRenewal,
      maxRetries: 1,
    });
    this.#set(this.#make(client, clientId, false));
    return this.#session;
  }

  /**
   * Ends the session: revokes the token when the secret is at hand (RFC
   * 7009 needs client authentication), then forgets everything.
   */
  async signOut(notice?: string): Promise<void> {
    const s = this.#session;
    const token = this.#observedStore().load();
    if (s && s.canRenew && token) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 2000);
      try {
        await s.client.tokens.revoke(token.accessToken, { signal: ctl.signal });
      } catch {
        // Best effort: the token expires on its own within minutes.
      } finally {
        clearTimeout(timer);
      }
    }
    s?.client.clearTokenCache();
    this.#clearStorage();
    this.#notice = notice;
    this.#set(undefined);
  }

  #clearStorage(): void {
    this.#storage.removeItem(TOKEN_KEY);
    this.#storage.removeItem(CLIENT_ID_KEY);
  }

  #make(client: AgentIdPClient, clientId: string, canRenew: boolean): Session {
    const token = sessionStorageTokenStore(TOKEN_KEY, this.#storage).load()?.accessToken ?? "";
    return { client, clientId, scopes: tokenScopes(token), owner: tokenOwner(token), expiresAt: tokenExpiry(token), canRenew };
  }

  /** The token store, telling subscribers when a renewed token changes the scopes. */
  #observedStore(): TokenStore {
    const inner = sessionStorageTokenStore(TOKEN_KEY, this.#storage);
    return {
      load: () => inner.load(),
      clear: () => inner.clear(),
      save: (t) => {
        inner.save(t);
        const s = this.#session;
        if (s) this.#set(this.#make(s.client, s.clientId, s.canRenew));
      },
    };
  }

  #set(s: Session | undefined): void {
    this.#session = s;
    for (const l of this.#listeners) l();
  }
}
