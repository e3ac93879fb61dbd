/** backup → restore → apply across two temp roots: same data, empty plan, ledger copied online, no secret in the archive. */
import Database from "better-sqlite3";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { parseConfig } from "../config/load.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import type { Host } from "../host/host.ts";
import { gunzipTar, gzipTar } from "../lifecycle/tar.ts";
import { OWNED_MARKER } from "../ownership/marker.ts";
import { exampleText, recordingExec, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { converge } from "../pipeline/converge.ts";
import { backupCommand, restoreCommand } from "./backup.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { storeBootstrapToken } from "../secrets/bootstrap-token.ts";
import { startLiveBox, type LiveBox } from "../../test/support/live-box.ts";

let a: string;
let b: string;
let work: string;
let box: LiveBox | null = null;
beforeEach(() => {
  a = tempDir("wirebot-a-");
  b = tempDir("wirebot-b-");
  work = tempDir("wirebot-bk-");
});
afterEach(async () => {
  [a, b, work].forEach(removeDir);
  await box?.close();
  box = null;
});

const SECRETS = {
  gatewayToken: "gw-token-7Hq2Lx9Vb4Nm1Zp8",
  agentKey: "sk-litellm-alice-Q4w8E2r6T0y3",
  apiToken: "api-token-Jk3Lm9Nb2Vc7Xz5A",
  bws: "0.bws-access-token-Rt5Yu8Io1Pa4",
  whatsapp: "whatsapp-noise-key-Df6Gh2Jk9Lq3",
  stateEnv: "state-env-provider-key-Mn4Bv7Cx1",
};

function put(root: string, p: string, content: string | Buffer) {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), content);
}

async function applyRoot(root: string) {
  const ctx = testContext(root);
  const buf = readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
  await converge(ctx, parseConfig(buf, "t"), buf, {});
  return ctx;
}

/** Root A: an applied appliance with agent state, a workspace, secrets on tmpfs and a live ledger. */
async function seedA(text = exampleText("mixed")) {
  const ctx = testContext(a);
  await converge(ctx, parseConfig(text, "mixed"), text, {});
  put(a, "data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite", Buffer.from([0, 1, 2, 3, 255]));
  put(a, "data/wirebot/users/alice/workspace/MEMORY.md", "# Alice\nlikes tea\n");
  put(a, "data/wirebot/users/erin/agents/erin/agent/openclaw-agent.sqlite", "erin sessions");
  put(a, "data/wirebot/gateway/credentials/whatsapp/default/creds.json", JSON.stringify({ noiseKey: SECRETS.whatsapp }));
  put(a, "data/wirebot/gateway/.env", `OPENAI_API_KEY=${SECRETS.stateEnv}\n`);
  put(a, "data/wirebot/users/alice/workspace/notes.txt", `pasted by mistake: ${SECRETS.agentKey}\n`);
  put(a, "run/wirebot/gateway.env", `OPENCLAW_GATEWAY_TOKEN="${SECRETS.gatewayToken}"\nLITELLM_KEY_ALICE="${SECRETS.agentKey}"\n`);
  put(a, "run/wirebot/reconcile.env", `WIREBOT_API_TOKEN="${SECRETS.apiToken}"\n`);
  put(a, "etc/wirebot/credstore/bws-access-token", SECRETS.bws);
  mkdirSync(path.join(a, "var/lib/wirebot"), { recursive: true });
  // The daemon's connection stays open with WAL content while the backup runs.
  const db = new Database(path.join(a, "var/lib/wirebot/ledger.sqlite"));
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE spend (request_id TEXT PRIMARY KEY, agent TEXT, nusd INTEGER)");
  const ins = db.prepare("INSERT INTO spend VALUES (?, ?, ?)");
  for (let i = 0; i < 50; i++) ins.run(`req-${i}`, i % 2 ? "alice" : "erin", i * 1000);
  return { ctx, db };
}

/** Host A seeded and backed up while its ledger connection was open (closed afterwards). */
async function backedUpA(text?: string) {
  const { ctx, db } = await seedA(text);
  const file = path.join(work, "wirebot.tar.gz");
  expect(await backupCommand(ctx, { file })).toBe(0);
  db.close();
  return { ctx, file };
}

const withoutSecrets = (snap: Record<string, string>) =>
  Object.fromEntries(Object.entries(snap).filter(([p]) => !p.includes("credentials") && !p.endsWith(".env") && !p.endsWith("notes.txt")));

describe("wirebot backup and restore", () => {
  it("restore into an empty root followed by apply gives the same data, an empty plan and the same ledger", async () => {
    const { file } = await backedUpA();

    const ctxB = testContext(b);
    expect(await restoreCommand(ctxB, { file })).toBe(0);
    expect(ctxB.io.stdout.join("\n")).toContain("Next: `wirebot apply --root");
    await applyRoot(b);

    expect(snapshotTree(path.join(b, "data"))).toEqual(withoutSecrets(snapshotTree(path.join(a, "data"))));
    expect(readFileSync(path.join(b, "etc/wirebot/wirebot.yaml"), "utf8")).toBe(exampleText("mixed"));
    const text = exampleText("mixed");
    expect(isEmptyPlan(await plan(ctxB.host, await buildDesired(ctxB, parseConfig(text, "t"), text)))).toBe(true);
    const copy = new Database(path.join(b, "var/lib/wirebot/ledger.sqlite"), { readonly: true });
    expect(copy.prepare("SELECT count(*) AS n, sum(nusd) AS s FROM spend").get()).toEqual({ n: 50, s: 1225000 });
    copy.close();
    expect(snapshotTree(b)["var/lib/wirebot/ledger.sqlite"]?.startsWith("600 file")).toBe(true);
    expect(existsSync(path.join(b, "run"))).toBe(false);
    expect(existsSync(path.join(b, "etc/wirebot/credstore/bws-access-token"))).toBe(false);
  });

  it("restore on a live host installs the archived runtime pin first, stores the access token, then applies: files, then start, verified", async () => {
    // host B: a fresh box whose vault is Bitwarden (the stand-in, through the real SDK), no token stored yet
    box = await startLiveBox({ vault: "bitwarden", storeToken: false });
    const { file } = await backedUpA(box.boxText(exampleText("mixed")));
    const token = box.bitwarden!.token;
    const ctxB = box.context({ BWS_ACCESS_TOKEN: token });
    const order: string[] = [];
    const provisioned: string[] = [];
    const code = await restoreCommand(ctxB, { file }, {
      // what npm would leave: the pinned runtime, whole
      provisionRuntime: async (_host, config) => {
        order.push(`provision (systemctl calls so far: ${box!.rec.systemctl().length})`);
        provisioned.push(`${config.runtime.package}@${config.runtime.version} node ${config.runtime.node}`);
        box!.seedRuntime(config.runtime.version, config.runtime.node);
      },
      storeBootstrapToken: async (host, t) => {
        order.push(`${t === token ? "store token" : "store a wrong token"} (systemctl calls so far: ${box!.rec.systemctl().length})`);
        return storeBootstrapToken(host, t);
      },
    });
    expect(code).toBe(0);
    const pinned = parseConfig(exampleText("mixed"), "t").runtime;
    expect(provisioned).toEqual([`${pinned.package}@${pinned.version} node ${pinned.node}`]);
    expect(order).toEqual(["provision (systemctl calls so far: 0)", "store token (systemctl calls so far: 0)"]);
    // the real converge: files with nothing started, then the units started and found healthy
    const sc = box.rec.systemctl();
    expect(sc.indexOf("daemon-reload")).toBeLessThan(sc.findIndex((c) => c.startsWith("start ")));
    expect(sc.at(-1)).toMatch(/^is-active .*clawdbot-gateway\.service/);
    expect(ctxB.io.text()).toContain("clawdbot-gateway@erin.service: healthy");
    // the secrets came from the vault with the stored token, which never reached the output
    expect(readFileSync(path.join(box.root, "run/wirebot/gateway.env"), "utf8")).toContain("TELEGRAM_BOT_TOKEN=");
    expect(box.bitwarden!.standin.requests.some((r) => r.path === "/identity/connect/token")).toBe(true);
    expect(ctxB.io.text()).not.toContain(token.split(":")[1]!);
  });

  it("restore on a live host with no stored access token and no $BWS_ACCESS_TOKEN stops before writing anything (69)", async () => {
    box = await startLiveBox({ vault: "bitwarden", storeToken: false });
    const { file } = await backedUpA(box.boxText(exampleText("mixed")));
    const before = snapshotTree(box.root);
    const err = (await restoreCommand(box.context(), { file }, { provisionRuntime: async () => undefined }).catch((e: unknown) => e)) as { code?: string; exitCode?: number; hint?: string };
    expect(err.code).toBe("restore.no-token");
    expect(err.exitCode).toBe(69);
    expect(err.hint).toContain("read -rs BWS_ACCESS_TOKEN");
    expect(box.rec.calls).toEqual([]);
    expect(snapshotTree(box.root)).toEqual(before);
  });

  it("the archive holds no secret value: not /run/wirebot, not the credstore, not channel credentials, not a file that embeds one", async () => {
    const { ctx, file } = await backedUpA();
    const raw = gunzipSync(readFileSync(file));
    for (const [name, value] of Object.entries(SECRETS)) expect(raw.includes(Buffer.from(value)), name).toBe(false);
    const paths = (await gunzipTar(readFileSync(file))).map((e) => e.path);
    expect(paths.some((p) => p.startsWith("run/") || p.includes("credstore") || p.includes("credentials"))).toBe(false);
    expect(snapshotTree(work)["wirebot.tar.gz"]?.startsWith("600 file")).toBe(true);
    for (const v of Object.values(SECRETS)) expect(ctx.io.text()).not.toContain(v);
  });

  it("restore refuses an occupied root unless --force, and an archive with paths outside wirebot's, writing nothing", async () => {
    const { file } = await backedUpA();
    const before = snapshotTree(a);
    await expect(restoreCommand(testContext(a), { file })).rejects.toMatchObject({ code: "restore.occupied", kind: "usage" });
    expect(snapshotTree(a)).toEqual(before);

    const evil = path.join(work, "evil.tar.gz");
    const entries = await gunzipTar(readFileSync(file));
    writeFileSync(evil, await gzipTar([...entries, { path: "data/wirebot/../../etc/shadow", type: "file", mode: 0o600, content: Buffer.from("x") }], new Date()));
    await expect(restoreCommand(testContext(b), { file: evil })).rejects.toMatchObject({ code: "restore.paths", kind: "config" });
    expect(snapshotTree(b)).toEqual({});
  });

  it("the tar writer round-trips long names, binary content and modes", async () => {
    const long = `data/wirebot/users/${"x".repeat(30)}/${"y".repeat(60)}/${"z".repeat(40)}.md`;
    const out = await gunzipTar(await gzipTar([{ path: "d", type: "dir", mode: 0o700 }, { path: long, type: "file", mode: 0o640, content: Buffer.from([0, 255, 10]) }], new Date()));
    expect(out).toEqual([{ path: "d", type: "dir", mode: 0o700 }, { path: long, type: "file", mode: 0o640, content: Buffer.from([0, 255, 10]) }]);
  });
});

const MiB = 1024 * 1024;
const WORKSPACE = "data/wirebot/users/dana/workspace";
const LONG = `${WORKSPACE}/${"long-directory-name-".repeat(4)}/${"n".repeat(70)}.md`;

/** A one-user root without apply: wirebot.yaml, a little agent state, a long path, optionally a ledger. */
function seedPlain(root: string, opts: { ledger?: boolean } = {}) {
  put(root, "etc/wirebot/wirebot.yaml", exampleText("one-user"));
  put(root, "data/wirebot/gateway/clawdbot.json", '{"v":1}\n');
  put(root, `${WORKSPACE}/MEMORY.md`, "# Dana\n");
  put(root, LONG, "a path longer than 100 bytes\n");
  if (opts.ledger) {
    mkdirSync(path.join(root, "var/lib/wirebot"), { recursive: true });
    const db = new Database(path.join(root, "var/lib/wirebot/ledger.sqlite"));
    db.exec("CREATE TABLE spend (request_id TEXT PRIMARY KEY, nusd INTEGER)");
    db.close();
  }
}

/** path → "mode kind sha256" below dir: snapshotTree without holding big files as base64. */
function digestTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const st = lstatSync(path.join(dir, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `${mode} dir`;
        walk(r);
      } else out[r] = `${mode} file ${createHash("sha256").update(readFileSync(path.join(dir, r))).digest("hex")}`;
    }
  };
  walk("");
  return out;
}

// Live memory, not garbage the collector has yet to reach: a forced GC before each sample.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** ArrayBuffers die in a sweep that may trail a GC; the next full GC finishes it first, so two leave only live ones. */
const settle = () => {
  gc();
  gc();
};

/** Peak growth of live memory, sampled after every 8 MiB that cross the Host (points in the data flow, not a clock). */
function memoryProbe() {
  let base = process.memoryUsage();
  let seen = 0;
  let next = 0;
  const peak = { arrayBuffers: 0, rss: 0 };
  const sample = () => {
    settle();
    const m = process.memoryUsage();
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers - base.arrayBuffers);
    peak.rss = Math.max(peak.rss, m.rss - base.rss);
  };
  return {
    peak,
    reset() {
      settle();
      base = process.memoryUsage();
      peak.arrayBuffers = peak.rss = 0;
    },
    passed(n: number) {
      seen += n;
      if (seen < next) return;
      next = seen + 8 * MiB;
      sample();
    },
  };
}

/** The same host, with the largest buffer that crosses it recorded and the probe fed from its streams. */
function instrument(host: Host, probe: ReturnType<typeof memoryProbe>, largest: { bytes: number }): Host {
  const note = (b: Buffer | string | null) => void (b && (largest.bytes = Math.max(largest.bytes, b.length)));
  async function* watched(chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      note(c);
      probe.passed(c.length);
      yield c;
    }
  }
  return {
    ...host,
    readFile: async (p) => {
      const b = await host.readFile(p);
      note(b);
      return b;
    },
    writeFileAtomic: (p, c, w) => (note(c), host.writeFileAtomic(p, c, w)),
    readFileStream: async (p) => {
      const s = await host.readFileStream(p);
      return s && watched(s);
    },
    writeFileStreamAtomic: (p, chunks, w) => host.writeFileStreamAtomic(p, watched(chunks), w),
  };
}

/** A host whose readFileStream of paths matching `match` goes through `wrap` from the nth open on. */
function interceptReads<C extends CommandContext>(ctx: C, match: (p: string) => boolean, wrap: (p: string, chunks: AsyncIterable<Buffer>) => AsyncIterable<Buffer>, fromOpen = 1) {
  const real = ctx.host;
  let opened = 0;
  ctx.host = {
    ...real,
    readFileStream: async (p) => {
      const s = await real.readFileStream(p);
      return s && match(p) && ++opened >= fromOpen ? wrap(p, s) : s;
    },
  };
  return ctx;
}

const fileModes = (dir: string) => readdirSync(dir).map((n) => `${n} ${(statSync(path.join(dir, n)).mode & 0o777).toString(8)}`);
const TEMP_600 = /^\.wirebot\.tar\.gz\.wirebot-\d+-\d+\.tmp 600$/;

describe("streamed backup and restore", () => {
  it("a data dir far bigger than the memory used round-trips byte for byte, one bounded chunk at a time", { timeout: 240_000 }, async () => {
    seedPlain(a);
    const bigPath = path.join(a, WORKSPACE, "big.bin");
    const fd = openSync(bigPath, "w");
    for (let i = 0; i < 64; i++) writeSync(fd, randomBytes(MiB));
    closeSync(fd);
    // Sizes around tar blocks, read chunks and the one-read limit.
    const sizes = [0, 1, 511, 512, 513, 4096, 65535, 65536, 65537];
    for (let i = 0; i < 300; i++) put(a, `${WORKSPACE}/notes/${i % 20}/n${i}.md`, randomBytes(sizes[i % sizes.length]!));
    put(a, "data/wirebot/gateway/agents/dana/agent/at-limit.bin", randomBytes(MiB));
    put(a, "data/wirebot/gateway/agents/dana/agent/over-limit.bin", randomBytes(MiB + 1));

    const probe = memoryProbe();
    const largest = { bytes: 0 };
    /** One command with both of its hosts instrumented, and the peak memory growth while it ran. */
    const measured = async (root: string, run: (ctx: CommandContext) => Promise<number>) => {
      const ctx = testContext(root);
      ctx.host = instrument(ctx.host, probe, largest);
      ctx.local = instrument(ctx.local, probe, largest);
      probe.reset();
      expect(await run(ctx)).toBe(0);
      return { ctx, peak: { ...probe.peak } };
    };
    const file = path.join(work, "wirebot.tar.gz");
    const { ctx: ctxA, peak: backupPeak } = await measured(a, (ctx) => backupCommand(ctx, { file }));
    const { peak: restorePeak } = await measured(b, (ctx) => restoreCommand(ctx, { file }));

    // Restore marks the data dir it made (ownership/marker.ts); the source here was seeded by hand, unmarked.
    expect(digestTree(path.join(b, "data"))).toEqual({ ...digestTree(path.join(a, "data")), [`wirebot/${OWNED_MARKER}`]: expect.stringMatching(/^644 file /) });
    expect(ctxA.io.stdout.join("\n")).toMatch(/\(\d+ KiB, 307 file\(s\), mode 0600\)/);
    // Structural: no whole file and no whole archive ever crossed the host, only chunks.
    expect(largest.bytes).toBeLessThanOrEqual(MiB);
    // Measured: live memory grows by a few MiB for a 70 MiB data dir (the old code held it twice over).
    const fmt = (p: { arrayBuffers: number; rss: number }) => `arrayBuffers +${(p.arrayBuffers / MiB).toFixed(1)} MiB, rss +${(p.rss / MiB).toFixed(1)} MiB`;
    console.log(`archive ${(statSync(file).size / MiB).toFixed(1)} MiB; largest buffer ${largest.bytes} B; backup peak ${fmt(backupPeak)}; restore peak ${fmt(restorePeak)}`);
    expect(backupPeak.arrayBuffers).toBeLessThan(4 * MiB);
    expect(restorePeak.arrayBuffers).toBeLessThan(4 * MiB);
  });

  it("a truncated or corrupt archive fails with restore.archive before anything is written", async () => {
    seedPlain(a, { ledger: true });
    put(a, `${WORKSPACE}/random.bin`, randomBytes(300_000));
    const file = path.join(work, "wirebot.tar.gz");
    await backupCommand(testContext(a), { file });
    const gz = readFileSync(file);
    const tar = gunzipSync(gz);
    const flip = (buf: Buffer, at: number) => {
      const c = Buffer.from(buf);
      c[at] = c[at]! ^ 0xff;
      return c;
    };
    const broken: Record<string, Buffer> = {
      "gzip cut in half": gz.subarray(0, gz.length >> 1),
      "gzip without its trailer": gz.subarray(0, gz.length - 8),
      "a flipped byte mid-stream": flip(gz, gz.length >> 1),
      "a wrong CRC, seen only after the last entry": flip(gz, gz.length - 8),
      "tar cut mid-way in a whole gzip": gzipSync(tar.subarray(0, tar.length >> 1)),
      "tar without its end-of-archive blocks": gzipSync(tar.subarray(0, tar.length - 1024)),
      "a damaged tar header": gzipSync(flip(tar, 512 * 3 + 5)),
    };
    const beforeA = snapshotTree(a);
    const bad = path.join(work, "bad.tar.gz");
    for (const [name, buf] of Object.entries(broken)) {
      writeFileSync(bad, buf);
      for (const [ctx, force] of [[testContext(a), true], [testContext(b), false]] as const)
        await expect(restoreCommand(ctx, { file: bad, force }), name).rejects.toMatchObject({ code: "restore.archive", kind: "config", exitCode: 78, message: expect.stringContaining("is not a wirebot backup (") });
    }
    expect(snapshotTree(a)).toEqual(beforeA);
    expect(snapshotTree(b)).toEqual({});
    // The intact archive restores: the failures above are the damage, not the setup.
    expect(await restoreCommand(testContext(b), { file })).toBe(0);
  });

  it("a failure part-way through a backup leaves no archive and no temp file; with --force the old archive stays whole", async () => {
    seedPlain(a, { ledger: true });
    put(a, `${WORKSPACE}/big.bin`, randomBytes(3 * MiB));
    const file = path.join(work, "wirebot.tar.gz");
    const midway: string[][] = [];
    const eio = (p: string, chunks: AsyncIterable<Buffer>) =>
      (async function* () {
        let n = 0;
        for await (const c of chunks) {
          yield c;
          if ((n += c.length) >= (p.endsWith("big.bin") ? MiB : 1)) {
            midway.push(fileModes(work));
            throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
          }
        }
      })();
    // The big file's second read (the copy into the archive), then the ledger snapshot's read.
    const cases = [interceptReads(testContext(a), (p) => p.endsWith("/big.bin"), eio, 2), interceptReads(testContext(a), (p) => p.includes("/.backup-"), eio)];
    for (const ctx of cases) {
      await expect(backupCommand(ctx, { file })).rejects.toThrow("EIO: i/o error, read");
      expect(readdirSync(work)).toEqual([]);
      writeFileSync(file, "previous archive");
      await expect(backupCommand(ctx, { file, force: true })).rejects.toThrow("EIO");
      expect(readdirSync(work)).toEqual(["wirebot.tar.gz"]);
      expect(readFileSync(file, "utf8")).toBe("previous archive");
      removeDir(file);
    }
    // Each failure hit while the archive was being written: into a 0600 temp next to FILE.
    expect(midway.map((m) => m.filter((x) => !x.startsWith("wirebot.tar.gz ")))).toEqual(Array(4).fill([expect.stringMatching(TEMP_600)]));
    expect(readdirSync(path.join(a, "var/lib/wirebot"))).toEqual(["ledger.sqlite"]);

    // A write error on the archive side: the host removes its temp just the same.
    const ctx = testContext(a);
    const local = ctx.local;
    ctx.local = {
      ...local,
      writeFileStreamAtomic: (p, chunks, w) =>
        local.writeFileStreamAtomic(
          p,
          (async function* () {
            for await (const c of chunks) yield c;
            throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
          })(),
          w,
        ),
    };
    await expect(backupCommand(ctx, { file })).rejects.toThrow("ENOSPC");
    expect(readdirSync(work)).toEqual([]);
  });

  it("an archive written before backups streamed still restores, and a new backup lays out the same entries", async () => {
    const fixture = path.join(PACKAGE_ROOT, "installer/lifecycle/fixtures/backup-format1.tar.gz");
    expect(await restoreCommand(testContext(b), { file: fixture })).toBe(0);
    const b64 = (x: string | Buffer) => Buffer.from(x).toString("base64");
    expect(snapshotTree(b)).toMatchObject({
      "etc/wirebot": "700 dir",
      "etc/wirebot/wirebot.yaml": `600 file ${b64(exampleText("one-user"))}`,
      "data/wirebot/users/dana": "750 dir",
      "data/wirebot/gateway/clawdbot.json": `600 file ${b64('{"v":1}\n')}`,
      "data/wirebot/gateway/agents/dana/agent/openclaw-agent.sqlite": `640 file ${b64(Buffer.from([0, 1, 2, 3, 255, 254, 10, 13]))}`,
      [`${WORKSPACE}/MEMORY.md`]: `644 file ${b64("# Dana\nlikes coffee\n")}`,
      [`${WORKSPACE}/empty.txt`]: "644 file ",
      [`${WORKSPACE}/block.bin`]: `644 file ${b64(Buffer.alloc(1024, 7))}`,
      [LONG]: `644 file ${b64("a path longer than 100 bytes\n")}`,
    });
    expect(existsSync(path.join(b, "data/wirebot/gateway/.env"))).toBe(false);
    expect(existsSync(path.join(b, "wirebot-backup.json"))).toBe(false);
    const db = new Database(path.join(b, "var/lib/wirebot/ledger.sqlite"), { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM spend").get()).toEqual({ n: 5 });
    db.close();

    const again = path.join(work, "again.tar.gz");
    expect(await backupCommand(testContext(b), { file: again })).toBe(0);
    // The meta entry's and the ledger snapshot's bytes may differ; every other header matches.
    const layout = async (f: string) => (await gunzipTar(readFileSync(f))).map((e) => [e.path, e.type, e.mode.toString(8), e.path.endsWith(".sqlite") || e.path.endsWith(".json") ? null : b64(e.content ?? "")]);
    // The archive predates markers: restore marked the tree it made, and the new backup carries that marker.
    expect((await layout(again)).filter(([p]) => p !== `data/wirebot/${OWNED_MARKER}`)).toEqual(await layout(fixture));
    expect(snapshotTree(b)[`data/wirebot/${OWNED_MARKER}`]).toMatch(/^644 file /);
  });

  it.skipIf(spawnSync("tar", ["--version"]).status !== 0)("GNU tar lists and extracts an archive wirebot backup wrote, the long name included", async () => {
    seedPlain(a, { ledger: true });
    put(a, `${WORKSPACE}/big.bin`, randomBytes(2 * MiB + 3));
    const file = path.join(work, "wirebot.tar.gz");
    await backupCommand(testContext(a), { file });
    const listing = execFileSync("tar", ["-tzvf", file], { encoding: "utf8" });
    expect(listing.split("\n")[0]).toMatch(/^-rw------- root\/root\s+\d+ \S+ \S+ wirebot-backup\.json$/);
    expect(listing).toMatch(new RegExp(`^-rw-r--r-- root/root\\s+${2 * MiB + 3} .* data/wirebot/users/dana/workspace/big\\.bin$`, "m"));
    const names = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).trim().split("\n");
    expect(names).toEqual((await gunzipTar(readFileSync(file))).map((e) => (e.type === "dir" ? `${e.path}/` : e.path)));
    const out = tempDir("wirebot-gnutar-");
    try {
      execFileSync("tar", ["-xzf", file, "-C", out]);
      expect(readFileSync(path.join(out, LONG), "utf8")).toBe("a path longer than 100 bytes\n");
      expect(readFileSync(path.join(out, WORKSPACE, "big.bin")).equals(readFileSync(path.join(a, WORKSPACE, "big.bin")))).toBe(true);
    } finally {
      removeDir(out);
    }
  });

  it("big files are scanned across chunk boundaries; one that shrinks or grows between scan and copy is padded or cut, and reported", async () => {
    seedPlain(a);
    const secret = "tok-Zx8Cv2Bn6Mq4Lp0Kj7";
    put(a, "run/wirebot/gateway.env", `OPENCLAW_GATEWAY_TOKEN="${secret}"\n`);
    // The value straddles the first 64 KiB read chunk.
    put(a, `${WORKSPACE}/leaky.bin`, Buffer.concat([randomBytes(65536 - 5), Buffer.from(secret), randomBytes(2 * MiB)]));
    const shrinking = randomBytes(2 * MiB);
    const growing = randomBytes(2 * MiB);
    put(a, `${WORKSPACE}/shrinking.bin`, shrinking);
    put(a, `${WORKSPACE}/growing.bin`, growing);
    const ctx = testContext(a);
    // Change each file right before its second read.
    const real = ctx.host;
    const opens = new Map<string, number>();
    ctx.host = {
      ...real,
      readFileStream: async (p) => {
        const n = (opens.get(p) ?? 0) + 1;
        opens.set(p, n);
        if (n === 2 && p.endsWith("shrinking.bin")) truncateSync(real.resolve(p), MiB);
        if (n === 2 && p.endsWith("growing.bin")) appendFileSync(real.resolve(p), "more");
        return real.readFileStream(p);
      },
    };
    const file = path.join(work, "wirebot.tar.gz");
    expect(await backupCommand(ctx, { file })).toBe(0);
    expect(ctx.io.stderr).toContain(`  left out: /${WORKSPACE}/leaky.bin (holds a secret value)`);
    expect(ctx.io.stderr).toContain(`  changed while it was archived (copy may be inconsistent): /${WORKSPACE}/shrinking.bin`);
    expect(ctx.io.stderr).toContain(`  changed while it was archived (copy may be inconsistent): /${WORKSPACE}/growing.bin`);
    expect(gunzipSync(readFileSync(file)).includes(Buffer.from(secret))).toBe(false);
    const entries = new Map((await gunzipTar(readFileSync(file))).map((e) => [e.path, e.content]));
    expect(entries.has(`${WORKSPACE}/leaky.bin`)).toBe(false);
    expect(entries.get(`${WORKSPACE}/shrinking.bin`)!.equals(Buffer.concat([shrinking.subarray(0, MiB), Buffer.alloc(MiB)]))).toBe(true);
    expect(entries.get(`${WORKSPACE}/growing.bin`)!.equals(growing)).toBe(true);
    expect(await restoreCommand(testContext(b), { file })).toBe(0);
  });

  it("a big file that takes in a secret between scan and copy aborts the backup, leaving nothing", async () => {
    seedPlain(a);
    const secret = "tok-Zx8Cv2Bn6Mq4Lp0Kj7";
    put(a, "run/wirebot/gateway.env", `OPENCLAW_GATEWAY_TOKEN="${secret}"\n`);
    put(a, `${WORKSPACE}/notes.bin`, randomBytes(2 * MiB));
    const ctx = interceptReads(
      testContext(a),
      (p) => p.endsWith("notes.bin"),
      (_p, chunks) =>
        (async function* () {
          let first = true;
          for await (const c of chunks) {
            yield first ? Buffer.concat([c.subarray(0, 100), Buffer.from(secret), c.subarray(100 + secret.length)]) : c;
            first = false;
          }
        })(),
      2,
    );
    const file = path.join(work, "wirebot.tar.gz");
    await expect(backupCommand(ctx, { file })).rejects.toMatchObject({ code: "backup.changed", kind: "tempFail" });
    expect(readdirSync(work)).toEqual([]);
  });
});
