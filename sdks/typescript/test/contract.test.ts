// Every scenario of sdks/contract against the live mesh.
import { describe, it } from "vitest";

import { Runner, load, scenarioFiles } from "./contract.js";
import { NO_MESH, authzEnforced, liveMesh } from "./mesh.js";

const mesh = liveMesh();
const authz = mesh ? await authzEnforced(mesh.url) : false;

describe.skipIf(!mesh)(`contract (${mesh ? mesh.url : NO_MESH})`, () => {
  for (const file of scenarioFiles()) {
    const sc = load(file);
    const needsAuthz = (sc.requires ?? []).includes("authz") && !authz;
    const name = file.replace(/\.json$/, "") + (needsAuthz ? " (needs authz: the gateway answers /v1 without a token)" : "");
    it.skipIf(needsAuthz)(name, async () => {
      await new Runner(mesh!).run(sc);
    });
  }
});
