/** Test harness: temp roots, a recording exec at the host boundary, example configs, tree snapshots. */
import { mkdtempSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PACKAGE_ROOT, readAssets } from "../assets.ts";
import type { CommandContext } from "../pipeline/context.ts";
import type { ExecOptions, ExecResult } from "../host/host.ts";
import { createNodeHost, type NodeHostOptions } from "../host/node-host.ts";
import { createServices } from "../pipeline/services.ts";
import { captureIo } from "../io.ts";

export const WIREBOT_CMD = { node: "/usr/bin/node", entry: "/usr/lib/node_modules/wirebot/bin/wirebot.js", version: "0.1.0" };

export function tempDir(prefix = "wirebot-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function examplePath(name: string): string {
  return path.join(PACKAGE_ROOT, "examples", `${name}.yaml`);
}

export function exampleText(name: string): string {
  return readFileSync(examplePath(name), "utf8");
}

export interface ExecCall {
  cmd: string;
  args: string[];
}

/** Records every process the code under test would start; answers like a healthy systemd. */
/** What a healthy box says: every unit active, and a gateway that took its new config live (its journal's verdict). */
function defaultAnswer(cmd: string, args: string[]): string {
  if (cmd === "systemctl" && args[0] === "is-active") return args.slice(1).map(() => "active\n").join("");
  if (cmd === "journalctl") return "[reload] config change detected; evaluating reload (agents.entries)\n[reload] config hot reload applied (agents.entries)\n";
  return "";
}

export function recordingExec(answer: (call: ExecCall) => Partial<ExecResult> = () => ({})) {
  const calls: ExecCall[] = [];
  const exec = async (cmd: string, args: string[], _opts?: ExecOptions): Promise<ExecResult> => {
    const call = { cmd, args };
    calls.push(call);
    return { code: 0, stdout: defaultAnswer(cmd, args), stderr: "", ...answer(call) };
  };
  return { exec, calls, systemctl: () => calls.filter((c) => c.cmd === "systemctl").map((c) => c.args.join(" ")) };
}

export function testContext(root: string, opts: { exec?: ReturnType<typeof recordingExec>["exec"]; env?: Record<string, string>; live?: boolean; fetch?: NodeHostOptions["fetch"]; portOpen?: NodeHostOptions["portOpen"] } = {}): CommandContext & { io: ReturnType<typeof captureIo> } {
  const io = captureIo();
  const env = opts.env ?? {};
  const host = createNodeHost({ root, env, ...(opts.exec ? { exec: opts.exec } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}), ...(opts.portOpen ? { portOpen: opts.portOpen } : {}) });
  return {
    io,
    host,
    services: createServices(host, env),
    local: createNodeHost({ env }),
    env,
    assets: readAssets(),
    wirebot: WIREBOT_CMD,
    live: opts.live ?? false,
  };
}

/** path → "mode kind content-or-target" for every entry below dir: a byte-for-byte picture of a tree. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name);
      const full = path.join(dir, r);
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `${mode} link ${readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[r] = `${mode} dir`;
        walk(r);
      } else out[r] = `${mode} file ${readFileSync(full, "base64")}`;
    }
  };
  walk("");
  return out;
}

/** Every regular file's text below dir. */
export function readAllFiles(dir: string): { path: string; text: string }[] {
  return Object.entries(snapshotTree(dir))
    .filter(([, v]) => v.includes(" file "))
    .map(([p]) => ({ path: p, text: readFileSync(path.join(dir, p), "utf8") }));
}

export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
