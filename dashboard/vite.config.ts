import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const sdk = fileURLToPath(new URL("../sdks/typescript/src/index.ts", import.meta.url));
// `npm run dev` proxies the API to a running mesh (make dev by default), so
// the dev server is same-origin with the API as the gateway is in production.
const api = process.env["AGENTIDP_URL"] ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: {
      "@": fileURLToPath(new URL("./src", import.meta.url)),
      // The SDK from its sources: always the SDK of this checkout, no build
      // step of its own, nothing to download.
      "@sentryagent/idp-sdk": sdk,
    },
  },
  server: {
    proxy: Object.fromEntries(["/v1", "/oauth2", "/.well-known", "/healthz", "/readyz"].map((p) => [p, api])),
  },
  build: {
    // The gateway serves assets/ with immutable caching: names carry hashes.
    assetsDir: "assets",
    sourcemap: false,
    // The entry chunk is React, React Router, Radix, TanStack Query, the SDK
    // and, for the sign-in form, react-hook-form and zod/mini: ~530 KiB raw,
    // ~170 KiB gzip. Pages are split off (App.tsx); the budget that matters
    // is scripts/bundle-size.mjs's, on gzip.
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    css: false,
  },
});
