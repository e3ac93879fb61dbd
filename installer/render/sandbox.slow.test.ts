/** Real runtime, real podman: a `trust: sandboxed` agent's exec runs in its container and sees neither another user's workspace nor /run/wirebot. */
import { testWorkDir } from "../../test/support/work-dir.ts";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GATEWAY_TOKEN_VAR, resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText } from "../testing/harness.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../../test/support/runtime.ts";
import { messageText, PROBE, startScriptedModel, toolNames, type ProbeStep, type ScriptedModel, type SeenRequest } from "../../test/isolation/scripted-model.ts";
import { gatewayConfigObject } from "./gateway-config.ts";
import { renderSandboxContainersConf, SANDBOX_CONTAINER_PREFIX } from "./sandbox.ts";

const work = testWorkDir("wb-sandbox-");
const dataDir = path.join(work, "data");
// The test's own /run/wirebot: what a tenant must never reach, with a value only this run knows.
const runWirebot = path.join(work, "run", "wirebot");
const runMarker = `WB-RUN-${randomBytes(12).toString("hex")}`;
const bobMarker = `WB-BOB-${randomBytes(12).toString("hex")}`;
const hostOnlyMarker = `WB-HOST-${randomBytes(12).toString("hex")}`;
const socket = path.join(work, "podman.sock");
const podmanUrl = `unix://${socket}`;

let rt: TestRuntime;
let image: string;
let service: ChildProcess | undefined;
let serviceLog = "";
let model: ScriptedModel | undefined;
let gw: GatewayHandle | undefined;
let token = "";

/** podman against the test's own service (its private store), never the machine's default one. */
const podman = (args: string[], input?: Buffer) => spawnSync("podman", ["--url", podmanUrl, ...args], { encoding: "utf8", input, timeout: 120_000 });

/**
 * The components must be there: a missing podman or image fails here with what to do, never a skip
 * (.ci/run installs them: apt-get install podman runc catatonit uidmap; scripts/sandbox-image.sh).
 */
function requireComponents(img: string): void {
  const v = spawnSync("podman", ["--version"], { encoding: "utf8" });
  if (v.status !== 0) throw new Error(`podman is not installed: apt-get install podman runc catatonit uidmap (${v.error?.message ?? v.stderr})`);
  if (!["/usr/libexec/podman/catatonit", "/usr/bin/catatonit"].some((p) => existsSync(p))) throw new Error("catatonit (podman's --init helper, openclaw creates sandboxes with --init) is missing: apt-get install catatonit");
  const env = { ...process.env, CONTAINER_HOST: undefined };
  if (spawnSync("podman", ["image", "exists", img], { env }).status !== 0) throw new Error(`the sandbox image ${img} is not in root's podman store: run scripts/sandbox-image.sh (docs/trust.md, "Sandbox image")`);
}

/**
 * A rootful `podman system service` on a socket in the temp dir, its own store (the machine's store is
 * read-only beneath it, for the image), and this machine's needs in its containers.conf: runc and cgroupfs
 * (crun refuses hybrid cgroups), ulimits within the hard limits. The gateway reaches it only through
 * CONTAINER_HOST, as the product's gateway reaches the rootless wirebot-sandbox service.
 */
async function startPodmanService(): Promise<void> {
  const conf = path.join(work, "containers.conf");
  writeFileSync(conf, renderSandboxContainersConf({ machine: { runtime: "runc", ulimits: ["nofile=1024:1024", "nproc=1024:1024"] } }));
  const storage = path.join(work, "storage.conf");
  writeFileSync(
    storage,
    `[storage]\ndriver = "overlay"\ngraphroot = "${path.join(work, "graph")}"\nrunroot = "${path.join(work, "runroot")}"\n[storage.options]\nadditionalimagestores = ["/var/lib/containers/storage"]\n`,
  );
  service = spawn("podman", ["system", "service", "--time=0", podmanUrl], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: work, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, TMPDIR: work },
    stdio: ["ignore", "pipe", "pipe"],
  });
  service.stdout?.on("data", (d: Buffer) => (serviceLog += d.toString()));
  service.stderr?.on("data", (d: Buffer) => (serviceLog += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!(existsSync(socket) && podman(["info", "--format", "{{.Host.ServiceIsRemote}}"]).stdout.trim() === "true")) {
    if (Date.now() > deadline || service.exitCode !== null) throw new Error(`podman system service did not answer on ${socket}:\n${serviceLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const imgCheck = podman(["image", "exists", image]);
  if (imgCheck.status !== 0) throw new Error(`the service does not see ${image} through its additional image store: ${imgCheck.stderr}`);
}

/** three-users.yaml with alice sandboxed, into the temp dir; the renderer's own gateway config plus the test-only edits. */
function prepare(port: number, upstream: string) {
  const config = parseConfig(exampleText("three-users"), "three-users", { WIREBOT_PATHS__DATA: dataDir, WIREBOT_GATEWAY__PORT: String(port), WIREBOT_USERS__0__TRUST: "sandboxed" });
  const layout = resolveLayout(config);
  const shared = layout.shared!;
  const doc = gatewayConfigObject(config, layout, shared);
  // Channels would reach Telegram and npm; the OpenAI endpoint is how the test speaks as one agent.
  doc["channels"] = {};
  doc["bindings"] = [];
  (doc["gateway"] as Record<string, unknown>)["http"] = { endpoints: { chatCompletions: { enabled: true } } };
  token = `wb-test-${randomBytes(24).toString("hex")}`;
  const env: Record<string, string> = { [GATEWAY_TOKEN_VAR]: token, OPENCLAW_SKIP_CHANNELS: "1", CONTAINER_HOST: podmanUrl };
  for (const p of Object.values((doc["models"] as { providers: Record<string, { baseUrl: string; apiKey: { id: string } }> }).providers)) {
    p.baseUrl = upstream;
    env[p.apiKey.id.replace(/^\//, "")] = `sk-test-${randomBytes(12).toString("hex")}`;
  }
  mkdirSync(shared.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(shared.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  return { config, shared, doc, env, ws: (id: string) => path.join(dataDir, "users", id, "workspace") };
}

async function ask(agent: string, steps: ProbeStep[]): Promise<{ status: number; reply: string; upstream: SeenRequest[] }> {
  const before = model!.requests.length;
  const res = await fetch(`${gw!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: `openclaw/${agent}`, messages: [{ role: "user", content: `Run these.\n${PROBE}${JSON.stringify(steps)}` }] }),
    signal: AbortSignal.timeout(240_000),
  });
  const text = await res.text();
  let reply = text;
  try {
    reply = String((JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content ?? text);
  } catch {
    /* not JSON: keep the raw body for the assertion message */
  }
  return { status: res.status, reply, upstream: model!.requests.slice(before).filter((r) => r.agent === agent) };
}

const toolResults = (upstream: SeenRequest[]) => (upstream.filter((r) => r.body?.tools?.length).at(-1)?.body?.messages ?? []).filter((m) => m.role === "tool").map(messageText);

beforeAll(async () => {
  image = parseConfig(exampleText("three-users"), "three-users").sandbox.image;
  requireComponents(image);
  rt = await getTestRuntime();
  await startPodmanService();
}, 600_000);

afterAll(async () => {
  await gw?.stop();
  await model?.close();
  if (service && service.exitCode === null) {
    // Containers first, so no overlay mount outlives the temp dir.
    const rm = podman(["rm", "--force", "--all", "--time", "0"]);
    if (rm.status !== 0) process.stderr.write(`[sandbox] podman rm failed: ${rm.stderr}\n`);
    service.kill("SIGTERM");
    await new Promise((r) => (service!.exitCode !== null ? r(null) : service!.once("exit", r)));
  }
  // The overlay driver bind-mounts its own graph dir onto itself; it outlives the service.
  const mine = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work + "/"));
  for (const m of mine.sort((a, b) => b.length - a.length)) spawnSync("umount", [m]);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("trust: sandboxed on podman (examples/three-users.yaml, alice sandboxed)", () => {
  test("alice's exec runs inside her container, which holds her workspace and nothing of bob's or of /run/wirebot", async () => {
    model = await startScriptedModel();
    const port = await freeLoopbackPort();
    const p = prepare(port, model.baseUrl);
    const alice = p.config.users.find((u) => u.id === "alice")!;
    expect(alice.trust).toBe("sandboxed");
    const entries = (p.doc["agents"] as { entries: Record<string, { sandbox?: Record<string, unknown>; tools: unknown }> }).entries;
    console.log(`[sandbox] rendered alice.sandbox=${JSON.stringify(entries["alice"]!.sandbox)} alice.tools=${JSON.stringify(entries["alice"]!.tools)}`);
    expect(entries["alice"]!.sandbox).toMatchObject({ mode: "all", backend: "podman", workspaceAccess: "rw", docker: { image, network: "none", readOnlyRoot: true, capDrop: ["ALL"], binds: [] } });
    expect(entries["bob"]!.sandbox).toBeUndefined();

    // Planted: bob's notes, the gateway's secrets file, a file only the host has.
    for (const u of ["alice", "bob", "carol"]) mkdirSync(p.ws(u), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(p.ws("alice"), "NOTES.md"), "alice's own notes\n");
    const bobSecret = path.join(p.ws("bob"), "SECRET.md");
    writeFileSync(bobSecret, `${bobMarker}\n`, { mode: 0o600 });
    mkdirSync(path.join(runWirebot, "users"), { recursive: true, mode: 0o700 });
    const gatewayEnv = path.join(runWirebot, "gateway.env");
    writeFileSync(gatewayEnv, `OPENCLAW_GATEWAY_TOKEN=${runMarker}\n`, { mode: 0o600 });
    writeFileSync(path.join(runWirebot, "users", "bob.env"), `LITELLM_KEY_BOB=${runMarker}\n`, { mode: 0o600 });
    const hostOnly = path.join(work, "host-only.txt");
    writeFileSync(hostOnly, `${hostOnlyMarker}\n`);
    expect(existsSync("/etc/wirebot-sandbox-release")).toBe(false);

    gw = await startGateway({ runtime: rt, stateDir: p.shared.stateDir, configPath: p.shared.configPath, port, env: p.env, readyTimeoutMs: 120_000 });
    console.log(`[sandbox] gateway /health ok after ${gw.readyAfterMs} ms; podman service ${podmanUrl}`);

    const exec = (command: string): ProbeStep => ({ tool: "exec", args: { command } });
    const steps: ProbeStep[] = [
      // 0-2: where am I? Facts only the image has, and its own PID 1 and hostname.
      exec("cat /etc/wirebot-sandbox-release; echo PID1=$(tr '\\0' ' ' </proc/1/cmdline); echo HOST=$(cat /proc/sys/kernel/hostname); echo PWD=$(pwd); id"),
      exec("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; touch /etc/x 2>&1; echo ROOT-WRITE=$?"),
      // 2: the own workspace is mounted, read-write, and nothing else of the host's data.
      exec("cat /workspace/NOTES.md && echo from-the-sandbox > /workspace/from-sandbox.txt && echo WROTE; grep ' /workspace' /proc/self/mountinfo | wc -l"),
      // 3-5: another user's workspace, /run/wirebot, a host-only file, by their host paths.
      exec(`cat ${bobSecret} 2>&1; ls ${path.dirname(bobSecret)} 2>&1`),
      exec(`cat ${gatewayEnv} 2>&1; ls -la ${runWirebot} /run/wirebot 2>&1`),
      exec(`cat ${hostOnly} 2>&1`),
      // 6: the whole container filesystem has none of the markers.
      exec(`grep -rIl -e ${bobMarker} -e ${runMarker} -e ${hostOnlyMarker} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo GREP-DONE`),
      // 7: no network: the gateway on the host's loopback is out of reach.
      exec(`python3 -c "import socket; s=socket.socket(); s.settimeout(3); print('CONNECT', s.connect_ex(('127.0.0.1', ${port})))" 2>&1`),
      // 8: the file tool is sandbox-rooted too.
      { tool: "read", args: { path: bobSecret } },
      // 9: the container's environment, reversed past the runtime's secret masking: none of the gateway's
      // secrets (every agent's key, the gateway token) is handed into the sandbox.
      exec("env | rev; echo; tr '\\0' '\\n' </proc/1/environ | rev; echo ENV-DONE"),
    ];
    const turn = await ask("alice", steps);
    const offered = toolNames(turn.upstream[0]?.body);
    const results = toolResults(turn.upstream);
    console.log(`[sandbox] alice: HTTP ${turn.status}, ${turn.upstream.length} upstream call(s), tools offered: ${JSON.stringify(offered)}`);
    for (const [i, r] of results.entries()) console.log(`[sandbox] step ${i} ${JSON.stringify(steps[i]).slice(0, 120)}\n  -> ${r.replace(/\s+/g, " ").slice(0, 500)}`);
    const containers = podman(["ps", "--all", "--format", '{{.Names}} {{index .Labels "openclaw.sessionKey"}} {{.Image}} {{.Status}}']).stdout.trim();
    console.log(`[sandbox] containers on the service: ${containers}`);
    const names = containers.split("\n").filter(Boolean).map((l) => l.split(" "));
    const mounts = names.length === 1 ? (JSON.parse(podman(["inspect", "--format", "{{json .Mounts}}", names[0]![0]!]).stdout) as { Type: string; Source: string; Destination: string; RW: boolean }[]) : [];
    console.log(`[sandbox] its mounts: ${JSON.stringify(mounts.map((m) => [m.Type, m.Source, m.Destination, m.RW ? "rw" : "ro"]))}`);
    if (results.length < steps.length) console.log(`[sandbox] gateway log tail:\n${gw.logs().split("\n").slice(-40).join("\n")}\n[sandbox] podman service log tail:\n${serviceLog.slice(-2000)}`);

    expect(turn.status, turn.reply).toBe(200);
    expect(offered).toContain("exec");
    expect(results.length, turn.reply).toBe(steps.length);
    // Inside: the image's own release file, catatonit as PID 1, not the host's hostname.
    expect(results[0]).toContain("wirebot-sandbox bookworm");
    expect(results[0]).toMatch(/PID1=\S*(catatonit|podman-init)/);
    expect(results[0]).not.toContain(`HOST=${hostname()}\n`);
    expect(results[0]).toContain("PWD=/workspace");
    expect(results[1]).toContain("CapEff:\t0000000000000000");
    expect(results[1]).toContain("NoNewPrivs:\t1");
    expect(results[1]).toMatch(/Read-only file system/);
    expect(results[2]).toContain("alice's own notes");
    expect(results[2]).toContain("WROTE");
    expect(readFileSync(path.join(p.ws("alice"), "from-sandbox.txt"), "utf8")).toBe("from-the-sandbox\n");
    // Nothing of bob's, of /run/wirebot or of the host.
    for (const i of [3, 4, 5]) expect(results[i]).toMatch(/No such file or directory/);
    for (const r of results) {
      expect(r).not.toContain(bobMarker);
      expect(r).not.toContain(runMarker);
      expect(r).not.toContain(hostOnlyMarker);
    }
    expect(results[6]).toMatch(/GREP-DONE\s*$/);
    expect(results[6]!.replace(/GREP-DONE\s*$/, "").trim()).toBe("");
    expect(results[7]).toMatch(/CONNECT [1-9]\d*/);
    expect(turn.reply).not.toContain(bobMarker);
    expect(results[9]).toContain("ENV-DONE");
    expect(results[9]).toContain("=HTAP"); // the environment really was listed, reversed
    for (const [name, value] of Object.entries(p.env).filter(([k]) => k !== "CONTAINER_HOST" && k !== "OPENCLAW_SKIP_CHANNELS")) {
      const reversed = [...value].reverse().join("");
      expect(results[9]!.includes(value) || results[9]!.includes(reversed), `${name} reached the sandbox`).toBe(false);
    }
    // One container, alice's, on the sandbox service (bob's and carol's agents have none). Its host paths:
    // her workspace read-write, and read-only the skills the runtime materializes for her under its state dir.
    expect(names.map((n) => [n[0]!.startsWith(SANDBOX_CONTAINER_PREFIX), n[1]])).toEqual([[true, expect.stringMatching(/^agent:alice(:|$)/)]]);
    const skillsRoot = path.join(p.shared.stateDir, "sandbox", "skills-workspaces") + "/";
    const binds = mounts.filter((m) => m.Type === "bind").map((m) => ({ source: m.Source, rw: m.RW, dest: m.Destination }));
    expect(binds).toContainEqual({ source: p.ws("alice"), rw: true, dest: "/workspace" });
    for (const b of binds.filter((x) => x.source !== p.ws("alice"))) expect(b.source.startsWith(skillsRoot) && !b.rw && b.dest.startsWith("/workspace/.openclaw/"), JSON.stringify(b)).toBe(true);
  }, 300_000);
});
