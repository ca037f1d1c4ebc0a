import type { MeshEnv } from "./contract.js";

/** The live mesh from the environment (make dev writes it to .dev/env), if any. */
export function liveMesh(): MeshEnv | undefined {
  const url = process.env["AGENTIDP_URL"];
  const clientId = process.env["AGENTIDP_CLIENT_ID"];
  const secret = process.env["AGENTIDP_CLIENT_SECRET"];
  return url && clientId && secret ? { url, clientId, secret } : undefined;
}

export const NO_MESH = "no live mesh: set AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET";

/** /v1 without a token: 200 means the gateway has no authz yet. */
export async function authzEnforced(url: string): Promise<boolean> {
  const r = await fetch(`${url.replace(/\/+$/, "")}/v1/agents?pageSize=1`);
  await r.body?.cancel();
  return r.status !== 200;
}
