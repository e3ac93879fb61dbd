/** Real runtime: a request arriving through the tunnel (loopback peer plus cloudflared's forwarded headers) is treated as remote by the shared gateway. */
import { testWorkDir } from "../support/work-dir.ts";
import http from "node:http";
import { rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { resolveTunnelRequest } from "../../installer/testing/tunnel-forwarded.ts";
import { helmHostname } from "../../installer/tunnel/ingress.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../support/runtime.ts";
import { prepareSharedGateway } from "./shared-gateway.ts";

const work = testWorkDir("wb-tunnel-locality-");
let rt: TestRuntime;
let gw: GatewayHandle | undefined;

beforeAll(async () => {
  rt = await getTestRuntime();
}, 600_000);

afterAll(async () => {
  await gw?.stop();
  rmSync(work, { recursive: true, force: true });
}, 30_000);

interface Answer {
  status: number;
  body: Record<string, unknown> | string;
}

/** node:http, not fetch: the forwarded request must carry the public Host header, which fetch may rewrite. */
function get(origin: string, pathAndQuery: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(pathAndQuery, origin), { headers, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: Answer["body"] = text;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          /* HTML or text: keep it for the assertion message */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${pathAndQuery} timed out`)));
    req.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tunnel-fronted requests are not local (examples/three-users.yaml, trustedProxies loopback)", () => {
  test("/startupz and /readyz through the tunnel hide version and internals; direct loopback sees them", async () => {
    const port = await freeLoopbackPort();
    const prep = prepareSharedGateway(path.join(work, "data"), port);
    const gateway = prep.doc["gateway"] as { trustedProxies: string[] };
    expect(gateway.trustedProxies).toEqual(["127.0.0.1", "::1"]);

    const publicStartup = `https://${helmHostname(prep.config)}/startupz`;
    const tunnel = resolveTunnelRequest(prep.config, prep.layout, publicStartup);
    expect(tunnel.origin).toBe(`http://127.0.0.1:${port}`);
    const tunnelReady = resolveTunnelRequest(prep.config, prep.layout, `https://${helmHostname(prep.config)}/readyz`);
    console.log(`[tunnel] ${publicStartup} -> rule ${tunnel.ruleNumber} ${tunnel.service} ${tunnel.path}, headers ${JSON.stringify(tunnel.headers)}`);

    gw = await startGateway({ runtime: rt, stateDir: prep.shared.stateDir, configPath: prep.shared.configPath, port, env: prep.env, readyTimeoutMs: 120_000 });
    console.log(`[tunnel] gateway /health ok after ${gw.readyAfterMs} ms on 127.0.0.1:${port}`);

    // /health can answer before startup completes; /startupz says 503 "starting" until then.
    const pollStarted = Date.now();
    let local: Answer = { status: 0, body: "" };
    while (Date.now() - pollStarted < 60_000) {
      local = await get(tunnel.origin!, tunnel.path);
      if (local.status === 200) break;
      await sleep(250);
    }
    console.log(`[tunnel] local /startupz after ${Date.now() - pollStarted} ms more: ${local.status} ${JSON.stringify(local.body)}`);
    expect(local.status).toBe(200);
    expect(local.body).toMatchObject({ ok: true, status: "started", version: rt.version });
    expect(typeof (local.body as Record<string, unknown>)["uptimeMs"]).toBe("number");

    const remote = await get(tunnel.origin!, tunnel.path, tunnel.headers);
    console.log(`[tunnel] forwarded /startupz: ${remote.status} ${JSON.stringify(remote.body)}`);
    expect(remote.status).toBe(200);
    // Exact equality: any extra key (version, uptimeMs) would be information a remote caller should not get.
    expect(remote.body).toEqual({ ok: true, status: "started" });

    const localReady = await get(tunnelReady.origin!, tunnelReady.path);
    const remoteReady = await get(tunnelReady.origin!, tunnelReady.path, tunnelReady.headers);
    console.log(`[tunnel] /readyz local: ${localReady.status} ${JSON.stringify(localReady.body).slice(0, 300)}; forwarded: ${remoteReady.status} ${JSON.stringify(remoteReady.body)}`);
    expect(Object.keys(localReady.body as object)).toEqual(expect.arrayContaining(["ready", "uptimeMs"]));
    expect(Object.keys(remoteReady.body as object)).toEqual(["ready"]);
    expect((remoteReady.body as Record<string, unknown>)["ready"]).toBe((localReady.body as Record<string, unknown>)["ready"]);

    const stopStarted = Date.now();
    await gw.stop();
    console.log(`[tunnel] gateway stopped in ${Date.now() - stopStarted} ms`);
    gw = undefined;
  }, 180_000);
});
