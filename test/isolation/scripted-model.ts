/** Isolation-test support: a scripted OpenAI-compatible upstream that makes the agent call its file-read tool on chosen paths, then echoes what the tool returned. */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  at: number;
  path: string;
  /** the X-Wirebot-Agent provider header: which agent's provider made the call */
  agent: string | undefined;
  /** the Authorization header: which key paid for the call */
  auth: string | undefined;
  raw: string;
  body: ChatBody | undefined;
}

interface ToolDef {
  type?: string;
  function?: { name?: string; parameters?: { properties?: Record<string, unknown>; required?: string[] } };
}
interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: unknown[];
}
export interface ChatBody {
  model?: string;
  stream?: boolean;
  messages?: ChatMessage[];
  tools?: ToolDef[];
}

/** How openclaw opens the user-role block of conversation context it appends to a channel turn. */
const RUNTIME_CONTEXT = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>";

/** The probe line the test puts in its user message; everything after it is a JSON array of steps. */
export const PROBE = "WB-PROBE ";

/** A path for the read tool, any tool call the model should make verbatim, or (last) the reply text to give instead of the tool results. */
export type ProbeStep = string | { tool: string; args: Record<string, unknown> } | { say: string };

export interface ScriptedModel {
  baseUrl: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export const toolNames = (b: ChatBody | undefined) => (b?.tools ?? []).map((t) => t.function?.name ?? "?");

/** Text of a message whose content is a string or an array of parts. */
export function messageText(m: ChatMessage): string {
  if (typeof m.content === "string") return m.content;
  if (Array.isArray(m.content)) return m.content.map((p: { text?: unknown }) => (typeof p?.text === "string" ? p.text : JSON.stringify(p))).join("");
  return m.content == null ? "" : JSON.stringify(m.content);
}

/** The tool a model would use to read a file: `read` if offered, else the first name containing "read". */
function pickReadTool(tools: ToolDef[]): { name: string; arg: string } | null {
  const t = tools.find((x) => x.function?.name === "read") ?? tools.find((x) => /read/i.test(x.function?.name ?? ""));
  if (!t?.function?.name) return null;
  const props = Object.keys(t.function.parameters?.properties ?? {});
  const arg = ["path", "file_path", "filePath", "file"].find((k) => props.includes(k)) ?? t.function.parameters?.required?.[0] ?? "path";
  return { name: t.function.name, arg };
}

/**
 * The steps of the probe line this turn is about. A channel turn's user message also quotes earlier
 * turns (the runtime's conversation context), where probe lines sit inside JSON strings and do not
 * parse; a step may itself carry a probe line meant for another agent. So: the first probe line that
 * parses on its own, or null.
 */
export function probeSteps(text: string): ProbeStep[] | null {
  for (let at = text.indexOf(PROBE); at >= 0; at = text.indexOf(PROBE, at + 1)) {
    try {
      const steps: unknown = JSON.parse(text.slice(at + PROBE.length).split("\n")[0]!);
      if (Array.isArray(steps)) return steps as ProbeStep[];
    } catch {
      /* a quoted copy: try the next one */
    }
  }
  return null;
}

/**
 * One decision per upstream call, from the conversation alone (the gateway resends it every turn):
 * with n tool results so far, make step n's tool call; when every step has a result, answer with
 * all the tool results verbatim, so the gateway's reply shows exactly what the tools gave the model.
 */
export function decide(body: ChatBody): { kind: "text"; text: string } | { kind: "tool"; name: string; args: Record<string, unknown> } {
  const msgs = body.messages ?? [];
  // The turn's own message is the last user message that is not the runtime's context block (which a
  // channel turn adds after it, quoting earlier turns); earlier probes in the conversation are done.
  const lastUser = msgs.map((m, i) => [m, i] as const).filter(([m]) => m.role === "user" && !messageText(m).startsWith(RUNTIME_CONTEXT)).at(-1);
  const steps = lastUser ? probeSteps(messageText(lastUser[0])) : null;
  if (!lastUser || !steps) return { kind: "text", text: "ok" };
  const results = msgs.slice(lastUser[1] + 1).filter((m) => m.role === "tool").map(messageText);
  if (results.length < steps.length) {
    const step = steps[results.length]!;
    if (typeof step !== "string" && "say" in step) return { kind: "text", text: step.say };
    if (typeof step !== "string") return { kind: "tool", name: step.tool, args: step.args };
    const tool = pickReadTool(body.tools ?? []);
    if (!tool) return { kind: "text", text: "NO-READ-TOOL-OFFERED" };
    return { kind: "tool", name: tool.name, args: { [tool.arg]: step } };
  }
  return { kind: "text", text: results.map((r, i) => `RESULT ${i}: ${r}`).join("\n") };
}

export async function startScriptedModel(): Promise<ScriptedModel> {
  const requests: SeenRequest[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: ChatBody | undefined;
      try {
        body = raw ? (JSON.parse(raw) as ChatBody) : undefined;
      } catch {
        body = undefined;
      }
      const agent = req.headers["x-wirebot-agent"];
      requests.push({ at: Date.now(), path: req.url ?? "", agent: Array.isArray(agent) ? agent[0] : agent, auth: req.headers.authorization, raw, body });
      const url = (req.url ?? "").split("?")[0]!;
      if (req.method === "GET" && url.endsWith("/models")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [{ id: "gpt-4o-mini", object: "model" }] }));
        return;
      }
      if (req.method !== "POST" || !url.endsWith("/chat/completions") || !body) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      const d = decide(body);
      const id = `chatcmpl-wb-${++n}`;
      const created = Math.floor(Date.now() / 1000);
      const model = body.model ?? "gpt-4o-mini";
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      const toolCall = d.kind === "tool" ? { id: `call_wb_${n}`, type: "function", function: { name: d.name, arguments: JSON.stringify(d.args) } } : null;
      const finish = d.kind === "tool" ? "tool_calls" : "stop";
      if (!body.stream) {
        const message = toolCall ? { role: "assistant", content: null, tool_calls: [toolCall] } : { role: "assistant", content: d.kind === "text" ? d.text : "" };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id, object: "chat.completion", created, model, choices: [{ index: 0, message, finish_reason: finish }], usage }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      const chunk = (delta: unknown, finish_reason: string | null) => send({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason }] });
      chunk({ role: "assistant", content: "" }, null);
      if (toolCall) chunk({ tool_calls: [{ index: 0, ...toolCall }] }, null);
      else chunk({ content: d.kind === "text" ? d.text : "" }, null);
      chunk({}, finish);
      send({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
      res.end("data: [DONE]\n\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
