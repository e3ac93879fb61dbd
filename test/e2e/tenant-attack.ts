/** Issue 13's attack on real systemd: what alice's agent is scripted to try, how its answer is read, and the weakened config that proves the test can see a leak. Pure. */
import { relative } from "node:path";
import { PROBE, type ProbeStep } from "../isolation/scripted-model.ts";

/**
 * What a vector goes after: alice's own file (the control), the unit's env file, the gateway's own
 * environment, the agents' key file (readable by the gateway's user, like its environment), bob's workspace.
 */
export type Target = "own" | "env-file" | "environ" | "keys-file" | "bob" | "bob-write";

export interface Vector {
  name: string;
  target: Target;
  step: ProbeStep;
}

export interface AttackPaths {
  aliceWorkspace: string;
  /** a file in alice's workspace holding the control marker */
  aliceFile: string;
  gatewayEnv: string;
  /** the shared gateway's agent keys (/run/wirebot-gateway/agent-keys.json) */
  keysFile: string;
  /** a file in bob's workspace holding bob's marker */
  bobFile: string;
  /** a path in bob's workspace that must not come to exist */
  bobWrite: string;
}

/** One vector per upstream call; `tool_call` is the Tool Search indirection the gateway also offers. */
export function attackVectors(p: AttackPaths): Vector[] {
  const viaToolCall = (path: string) => ({ tool: "tool_call", args: { id: "read", args: { path } } });
  const exec = (command: string) => ({ tool: "exec", args: { command } });
  return [
    { name: "read alice's own file (control)", target: "own", step: p.aliceFile },
    { name: `read ${p.gatewayEnv}`, target: "env-file", step: p.gatewayEnv },
    { name: `tool_call read ${p.gatewayEnv}`, target: "env-file", step: viaToolCall(p.gatewayEnv) },
    { name: `exec cat ${p.gatewayEnv}`, target: "env-file", step: exec(`cat ${p.gatewayEnv}`) },
    { name: "read /proc/self/environ (the gateway's own environment)", target: "environ", step: "/proc/self/environ" },
    // Reversed: the runtime masks known secret values in tool output, which an attacker routes around.
    { name: "exec env | rev (the environment exec inherits)", target: "environ", step: exec("env | rev") },
    { name: `read ${p.keysFile}`, target: "keys-file", step: p.keysFile },
    { name: `tool_call read ${p.keysFile}`, target: "keys-file", step: viaToolCall(p.keysFile) },
    { name: `exec cat ${p.keysFile} | rev`, target: "keys-file", step: exec(`cat ${p.keysFile} | rev`) },
    { name: "read bob's file", target: "bob", step: p.bobFile },
    { name: "read bob's file through ..", target: "bob", step: relative(p.aliceWorkspace, p.bobFile) },
    { name: "tool_call read bob's file", target: "bob", step: viaToolCall(p.bobFile) },
    { name: "exec cat bob's file", target: "bob", step: exec(`cat ${p.bobFile}`) },
    { name: "write into bob's workspace", target: "bob-write", step: { tool: "write", args: { path: p.bobWrite, content: "alice was here" } } },
  ];
}

/** The Telegram text that makes the LiteLLM stand-in script the turn (test/litellm-standin/chat.ts). */
export const probeMessage = (steps: readonly ProbeStep[]) => `Please check these files.\n${PROBE}${JSON.stringify(steps)}\n`;

/**
 * The scripted model's last answer as the chat shows it ("RESULT i: …" per step): one string per
 * step, null for a step that never reported. The first copy wins when previews repeat the text.
 */
export function resultsFromReply(reply: string, count: number): (string | null)[] {
  const marks = [...reply.matchAll(/RESULT (\d+): /g)];
  const out: (string | null)[] = Array.from({ length: count }, () => null);
  marks.forEach((m, k) => {
    const i = Number(m[1]);
    const end = k + 1 < marks.length ? marks[k + 1]!.index : reply.length;
    if (i < count && out[i] === null) out[i] = reply.slice(m.index + m[0].length, end).trim();
  });
  return out;
}

export interface Needle {
  /** what to print: never the value */
  label: string;
  value: string;
}

// Chat formatting eats `_` and `*` and adds HTML tags: compare letters and digits outside tags only.
const alnum = (s: string) => s.replace(/<\/?[a-z]+[^>]*>/g, "").replace(/[^A-Za-z0-9]/g, "");

/** Labels of the needles whose value appears in text, formatting aside. Values under 12 characters are not distinctive enough to look for. */
export function found(text: string, needles: readonly Needle[]): string[] {
  const hay = alnum(text);
  return needles.filter((n) => alnum(n.value).length >= 12 && hay.includes(alnum(n.value))).map((n) => n.label);
}

/** Each needle, and each needle reversed (what `… | rev` shows). */
export const withReversed = (needles: readonly Needle[]): Needle[] => needles.flatMap((n) => [n, { label: `${n.label}, reversed`, value: [...n.value].reverse().join("") }]);

/** Env file lines (`NAME=`) in text, allowing for underscores the chat's Markdown ate. */
export function envAssignments(text: string, names: readonly string[]): string[] {
  return names.filter((n) => new RegExp(`${n.replace(/_/g, "_?")}\\s*=`).test(text));
}

/**
 * The rendered clawdbot.json with one agent's tool policy dropped (no profile, no deny list,
 * `tools.fs.workspaceOnly: false`; elevated stays off): a shared gateway run as if that tenant were
 * trusted. The header comment is kept; everything else of the file is as rendered.
 */
export function weakenGatewayConfig(text: string, agentId: string): string {
  const lines = text.split("\n");
  const body = lines.findIndex((l) => !l.trimStart().startsWith("//"));
  const doc = JSON.parse(lines.slice(body).join("\n")) as { agents?: { entries?: Record<string, Record<string, unknown>> } };
  const entry = doc.agents?.entries?.[agentId];
  if (!entry) throw new Error(`the rendered gateway config has no agents.entries.${agentId}`);
  entry["tools"] = { elevated: { enabled: false }, fs: { workspaceOnly: false } };
  return [...lines.slice(0, body), JSON.stringify(doc, null, 2), ""].join("\n");
}
