// A local stand-in for the gateway, for what the live mesh cannot show
// deterministically: how many token requests a burst causes, how retries are
// spaced. It serves /oauth2/token itself and routes the rest to handlers.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type Handler = (req: IncomingMessage, body: string) => { status?: number; headers?: Record<string, string>; body?: string };

export class FakeServer {
  tokenRequests = 0;
  tokenDelayMs = 0;
  expiresIn = 900;
  routes = new Map<string, Handler>();
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }> = [];
  url = "";
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => void this.#serve(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += String(chunk);
    this.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
    const path = (req.url ?? "").split("?")[0];
    if (path === "/oauth2/token") {
      const n = ++this.tokenRequests;
      await new Promise((r) => setTimeout(r, this.tokenDelayMs));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ access_token: `tok-${n}`, token_type: "Bearer", expires_in: this.expiresIn }));
      return;
    }
    const h = this.routes.get(`${req.method} ${path}`);
    const out = h ? h(req, body) : { status: 404, body: '{"code":5,"message":"no route"}' };
    res.writeHead(out.status ?? 200, { "Content-Type": "application/json", ...out.headers });
    res.end(out.body ?? "");
  }
}

export const agentJson = (id: string): string =>
  JSON.stringify({ agentId: id, name: "a", status: "active", createdAt: "2026-01-02T03:04:05.123456789Z" });
