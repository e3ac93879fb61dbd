// Wirebot tool-call traces: every tool call goes to the local reconcile daemon as an event (docs/transparency.md).
// Tracing fails open: no hook here ever blocks, throws or waits on the network, so a turn is never slowed or refused.
import fs from "node:fs";
import path from "node:path";

const BATCH = 200;
const QUEUE_MAX = 5000;
// A before hook whose after never comes (POST /tools/invoke runs no after hook) is reported after this long.
const ORPHAN_MS = 60_000;
const SPOOL_MAX_BYTES = 64 * 1024 * 1024;

/** Env vars whose values are secrets the gateway holds: masked by name before an event leaves the process. */
const SECRET_NAME = /(TOKEN|KEY|SECRET|PASSWORD|PASS)$/;

function secretValues(env, files) {
  const out = [];
  for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name) && typeof value === "string" && value.length >= 8) out.push([value, name]);
  for (const f of files) {
    try {
      const doc = JSON.parse(fs.readFileSync(f, "utf8"));
      for (const [name, value] of Object.entries(doc)) if (typeof value === "string" && value.length >= 8) out.push([value, name]);
    } catch {
      // not there yet, or not readable: the daemon masks shapes anyway
    }
  }
  return out.sort((a, b) => b[0].length - a[0].length);
}

/** Replace every secret value by its name, deep, in a JSON-safe copy; a cycle or a function becomes a string. */
export function maskSecrets(value, secrets) {
  if (value === undefined) return undefined;
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = JSON.stringify(String(value));
  }
  if (text === undefined) return undefined;
  for (const [secret, name] of secrets) {
    text = text.split(secret).join(`[secret:${name}]`);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) text = text.split(escaped).join(`[secret:${name}]`);
  }
  return JSON.parse(text);
}

/** The sender: a bounded queue, batches to the daemon, a spool file while it is away. One per process. */
export function createSender(cfg, deps = {}) {
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const token = () => (deps.env ?? process.env)[cfg.tokenEnv ?? "WIREBOT_TRACE_TOKEN"] ?? "";
  const spool = path.join(cfg.spoolDir, "spool.jsonl");
  const queue = [];
  let sending = false;

  const toSpool = (events) => {
    if (events.length === 0) return;
    try {
      fs.mkdirSync(cfg.spoolDir, { recursive: true, mode: 0o700 });
      const size = fs.existsSync(spool) ? fs.statSync(spool).size : 0;
      if (size > SPOOL_MAX_BYTES) return; // a daemon gone for days: drop rather than fill the disk
      fs.appendFileSync(spool, events.map((e) => JSON.stringify(e)).join("\n") + "\n", { mode: 0o600 });
    } catch {
      // nowhere to keep them: tracing fails open
    }
  };

  const post = async (events) => {
    const res = await fetchFn(cfg.endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token()}` },
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(5000),
    });
    // 4xx other than 408/429 will not improve by retrying: drop the batch (the daemon logs why).
    if (!res.ok && (res.status >= 500 || res.status === 408 || res.status === 429)) throw new Error(`daemon answered ${res.status}`);
    await res.arrayBuffer().catch(() => undefined);
  };

  const replaySpool = async () => {
    let text;
    try {
      text = fs.readFileSync(spool, "utf8");
    } catch {
      return;
    }
    const events = text.split("\n").filter(Boolean).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    // Take the file first: events spooled while this replay runs go to a new one.
    const taken = `${spool}.${process.pid}.sending`;
    fs.renameSync(spool, taken);
    try {
      for (let i = 0; i < events.length; i += BATCH) await post(events.slice(i, i + BATCH));
      fs.rmSync(taken, { force: true });
    } catch (e) {
      fs.renameSync(taken, spool);
      if (fs.existsSync(`${spool}.${process.pid}.sending`)) fs.rmSync(`${spool}.${process.pid}.sending`, { force: true });
      throw e;
    }
  };

  const flush = async () => {
    if (sending) return;
    sending = true;
    try {
      if (fs.existsSync(spool)) await replaySpool();
      while (queue.length > 0) {
        const batch = queue.slice(0, BATCH);
        await post(batch);
        queue.splice(0, batch.length);
      }
    } catch {
      // the daemon is down or slow: keep what is queued on disk and try again on the next tick
      toSpool(queue.splice(0, queue.length));
    } finally {
      sending = false;
    }
  };

  return {
    queue,
    flush,
    push(event) {
      queue.push(event);
      if (queue.length > QUEUE_MAX) toSpool(queue.splice(0, queue.length - QUEUE_MAX));
    },
    /** Synchronous, for process exit: whatever is queued goes to the spool. */
    spoolNow: () => toSpool(queue.splice(0, queue.length)),
  };
}

const STATE = Symbol.for("wirebot-trace");

/** One event per tool call, from the after hook's event and context; the params and start time from the before hook when it ran. */
export function eventOf(ev, ctx, started, secrets, now = Date.now()) {
  const key = `${ctx?.runId ?? ev?.runId ?? ""}:${ev?.toolCallId ?? ctx?.toolCallId ?? ""}`;
  const before = started.get(key);
  started.delete(key);
  const durationMs = typeof ev?.durationMs === "number" ? ev.durationMs : null;
  return {
    toolCallId: String(ev?.toolCallId ?? ctx?.toolCallId ?? `unknown-${now}`),
    toolName: String(ev?.toolName ?? ctx?.toolName ?? "unknown"),
    startedAt: before?.at ?? (durationMs !== null ? now - durationMs : now),
    runId: ctx?.runId ?? ev?.runId ?? null,
    agentId: ctx?.agentId ?? null,
    sessionKey: ctx?.sessionKey ?? null,
    channelId: ctx?.channelId ?? null,
    requester: maskSecrets(ctx?.requester ?? null, secrets),
    params: maskSecrets(ev?.params ?? before?.params, secrets),
    result: maskSecrets(ev?.result, secrets),
    error: ev?.error === undefined || ev?.error === null ? null : maskSecrets(String(ev.error?.message ?? ev.error), secrets),
    durationMs,
  };
}

export default {
  id: "wirebot-trace",
  name: "Wirebot tool-call traces",
  register(api) {
    const cfg = api.pluginConfig ?? {};
    if (!cfg.endpoint || !cfg.spoolDir) return;
    // register() may run several times in one process: one sender, one timer, one exit handler.
    const state = (globalThis[STATE] ??= (() => {
      const s = { sender: createSender(cfg), started: new Map(), seen: new Set(), secrets: secretValues(process.env, cfg.secretsFiles ?? []) };
      const tick = setInterval(() => {
        const now = Date.now();
        for (const [key, b] of s.started) if (now - b.at > ORPHAN_MS) {
          s.started.delete(key);
          s.sender.push({ ...b.event, beforeOnly: true });
        }
        void s.sender.flush();
      }, cfg.flushMs ?? 1000);
      tick.unref?.();
      process.once("exit", () => s.sender.spoolNow());
      return s;
    })());

    api.on("before_tool_call", (ev, ctx) => {
      try {
        const now = Date.now();
        const key = `${ctx?.runId ?? ev?.runId ?? ""}:${ev?.toolCallId ?? ctx?.toolCallId ?? ""}`;
        if (state.started.has(key)) return undefined;
        state.started.set(key, { at: now, params: ev?.params, event: { ...eventOf(ev, ctx, new Map(), state.secrets, now), startedAt: now } });
      } catch {
        // never block a call for tracing
      }
      return undefined;
    }, { priority: -1000 });

    api.on("after_tool_call", (ev, ctx) => {
      try {
        // register() may have added this hook more than once: one event per call
        const key = `${ctx?.runId ?? ev?.runId ?? ""}:${ev?.toolCallId ?? ctx?.toolCallId ?? ""}`;
        if (state.seen.has(key)) return;
        state.seen.add(key);
        if (state.seen.size > 5000) state.seen.delete(state.seen.values().next().value);
        state.sender.push(eventOf(ev, ctx, state.started, state.secrets));
      } catch {
        // tracing fails open
      }
    });
  },
};
