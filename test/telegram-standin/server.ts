/** A Telegram Bot API stand-in over node:http, reached through `channels.telegram.apiRoot`: long polling, sends, error envelope. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface TelegramStandinOptions {
  /** The one bot token this stand-in accepts (`<id>:<secret>`, like BotFather's). */
  token: string;
  username?: string;
  firstName?: string;
}

/** One Bot API call as the gateway made it: method name and the decoded parameters. */
export interface BotCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
}

/** A message the bot sent (sendMessage), with the HTML formatting the gateway adds stripped in `plain`. */
export interface SentMessage {
  messageId: number;
  chatId: string;
  text: string;
  plain: string;
  parseMode: string | null;
  at: number;
  /** an editMessageText of an earlier message rather than a new one */
  edit?: boolean;
}

/** A file the bot uploaded (sendDocument, sendPhoto, …): the raw multipart body, so a test can look for a file's bytes. */
export interface Upload {
  method: string;
  chatId: string;
  raw: Buffer;
  at: number;
}

export interface Update {
  update_id: number;
  message: Record<string, unknown>;
}

export interface TelegramStandin {
  /** the value for `channels.telegram.apiRoot` */
  apiRoot: string;
  botId: number;
  calls: BotCall[];
  /** Methods this stand-in does not implement; answered `{ok:true,result:true}` so startup goes on. */
  unknownMethods: Set<string>;
  sent: SentMessage[];
  uploads: Upload[];
  /** Queues a private text message from `fromId` as the next update. */
  injectPrivateMessage(fromId: string | number, text: string, opts?: { firstName?: string; username?: string }): Update;
  /** Resolves with the first message sent to chatId after `since` (ms), or rejects after timeoutMs; with `uploads`, a file sent there counts too. */
  waitForSent(chatId: string | number, opts?: { since?: number; timeoutMs?: number; uploads?: boolean }): Promise<SentMessage>;
  /** Resolves once some getUpdates call is waiting (the poller is up). */
  waitForPoller(timeoutMs?: number): Promise<void>;
  methodsCalled(): string[];
  close(): Promise<void>;
}

// The methods whose answers the gateway reads; everything else it calls on start is logged as unknown.
const UPLOADS = new Set(["sendDocument", "sendPhoto", "sendAudio", "sendVideo", "sendVoice", "sendAnimation", "sendMediaGroup"]);
const KNOWN = new Set([...UPLOADS, "getMe", "getUpdates", "sendMessage", "sendChatAction", "deleteWebhook", "setWebhook", "getWebhookInfo", "setMyCommands", "deleteMyCommands", "getMyCommands", "getChat", "editMessageText", "deleteMessage", "setMessageReaction", "close", "logOut"]);

class BotApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {
    super(description);
  }
}

const stripHtml = (s: string) =>
  s
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");

export async function startTelegramStandin(opts: TelegramStandinOptions): Promise<TelegramStandin> {
  const botId = Number(opts.token.split(":")[0]);
  if (!Number.isSafeInteger(botId)) throw new Error("token must look like <numeric bot id>:<secret>");
  const bot = { id: botId, is_bot: true, first_name: opts.firstName ?? "Wirebot", username: opts.username ?? "wirebot_standin_bot", can_join_groups: false, can_read_all_group_messages: false, supports_inline_queries: false };
  const calls: BotCall[] = [];
  const unknownMethods = new Set<string>();
  const sent: SentMessage[] = [];
  const uploads: Upload[] = [];
  const queue: Update[] = [];
  let nextUpdateId = 100_000;
  let nextMessageId = 1;
  /** the one getUpdates call that may be waiting: Telegram ends an older one with 409 when a newer one arrives */
  let waiting: { wake: () => void; conflict: () => void } | null = null;
  const sentWaiters = new Set<() => void>();
  const pollerWaiters = new Set<() => void>();

  const nowSec = () => Math.floor(Date.now() / 1000);
  const messageFromBot = (chatId: string, text: string) => ({
    message_id: nextMessageId++,
    from: bot,
    chat: { id: Number(chatId), type: "private" },
    date: nowSec(),
    text,
  });

  async function getUpdates(p: Record<string, unknown>, req: IncomingMessage): Promise<Update[]> {
    const offset = Number(p["offset"] ?? 0);
    const limit = Math.min(Math.max(Number(p["limit"] ?? 100), 1), 100);
    const timeoutSec = Math.min(Math.max(Number(p["timeout"] ?? 0), 0), 50);
    // An offset confirms every earlier update: they are never returned again (Bot API getUpdates).
    if (offset > 0) while (queue.length > 0 && queue[0]!.update_id < offset) queue.shift();
    const ready = () => queue.filter((u) => offset === 0 || u.update_id >= offset).slice(0, limit);
    if (ready().length > 0 || timeoutSec === 0) return ready();
    if (waiting) waiting.conflict();
    return new Promise<Update[]>((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        if (waiting === me) waiting = null;
        req.off("close", onClose);
        fn();
      };
      const me = {
        wake: () => done(() => resolve(ready())),
        conflict: () => done(() => reject(new BotApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"))),
      };
      const onClose = () => done(() => resolve([]));
      const timer = setTimeout(() => me.wake(), timeoutSec * 1000);
      req.once("close", onClose);
      waiting = me;
      for (const w of pollerWaiters) w();
    });
  }

  async function call(method: string, p: Record<string, unknown>, req: IncomingMessage): Promise<unknown> {
    switch (method) {
      case "getMe":
        return bot;
      case "getUpdates":
        return getUpdates(p, req);
      case "sendMessage": {
        const chatId = String(p["chat_id"] ?? "");
        const text = String(p["text"] ?? "");
        if (chatId === "") throw new BotApiError(400, "Bad Request: chat_id is empty");
        if (text.trim() === "") throw new BotApiError(400, "Bad Request: message text is empty");
        const msg = messageFromBot(chatId, text);
        sent.push({ messageId: msg.message_id, chatId, text, plain: stripHtml(text), parseMode: typeof p["parse_mode"] === "string" ? p["parse_mode"] : null, at: Date.now() });
        for (const w of sentWaiters) w();
        return msg;
      }
      case "editMessageText": {
        // A streamed reply is a placeholder ("Working") edited into the answer: the edit is what the user reads.
        const chatId = String(p["chat_id"] ?? "0");
        const text = String(p["text"] ?? "");
        sent.push({ messageId: Number(p["message_id"] ?? 0), chatId, text, plain: stripHtml(text), parseMode: typeof p["parse_mode"] === "string" ? p["parse_mode"] : null, at: Date.now(), edit: true });
        for (const w of sentWaiters) w();
        return messageFromBot(chatId, text);
      }
      case "sendChatAction":
      case "deleteWebhook":
      case "setWebhook":
      case "setMyCommands":
      case "deleteMyCommands":
      case "deleteMessage":
      case "setMessageReaction":
      case "close":
      case "logOut":
        return true;
      case "getMyCommands":
        return [];
      case "getWebhookInfo":
        return { url: "", has_custom_certificate: false, pending_update_count: queue.length };
      case "getChat":
        return { id: Number(p["chat_id"] ?? 0), type: "private" };
      default:
        unknownMethods.add(method);
        return true;
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://telegram");
      // /bot<token>/<method>; method names are case-insensitive in the real API.
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      if (!m) return reply(res, new BotApiError(404, "Not Found"));
      if (m[1] !== opts.token) return reply(res, new BotApiError(401, "Unauthorized"));
      const method = KNOWN_CASE.get(m[2]!.toLowerCase()) ?? m[2]!;
      let params: Record<string, unknown>;
      let raw: Buffer;
      try {
        raw = await readBody(req);
        params = { ...Object.fromEntries(url.searchParams), ...readParams(raw, String(req.headers["content-type"] ?? "")) };
      } catch {
        return reply(res, new BotApiError(400, "Bad Request: can't parse JSON object"));
      }
      calls.push({ method, params, at: Date.now() });
      if (UPLOADS.has(method)) {
        const chatId = String(params["chat_id"] ?? "");
        uploads.push({ method, chatId, raw, at: Date.now() });
        for (const w of sentWaiters) w();
        return reply(res, null, messageFromBot(chatId, ""));
      }
      try {
        reply(res, null, await call(method, params, req));
      } catch (e) {
        reply(res, e instanceof BotApiError ? e : new BotApiError(500, `Internal Server Error: ${String(e)}`));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    botId,
    calls,
    unknownMethods,
    sent,
    uploads,
    injectPrivateMessage(fromId, text, o = {}) {
      const id = Number(fromId);
      const from = { id, is_bot: false, first_name: o.firstName ?? `Peer ${id}`, ...(o.username ? { username: o.username } : {}), language_code: "en" };
      const u: Update = {
        update_id: nextUpdateId++,
        message: { message_id: nextMessageId++, from, chat: { id, type: "private", first_name: from.first_name }, date: nowSec(), text },
      };
      queue.push(u);
      waiting?.wake();
      return u;
    },
    waitForSent(chatId, o = {}) {
      const since = o.since ?? 0;
      const want = String(chatId);
      const upload = (): SentMessage | undefined => {
        const u = o.uploads ? uploads.find((x) => x.chatId === want && x.at >= since) : undefined;
        return u && { messageId: 0, chatId: want, text: `(${u.method})`, plain: `(${u.method})`, parseMode: null, at: u.at };
      };
      const find = () => sent.find((s) => s.chatId === want && s.at >= since && !s.edit) ?? upload();
      return new Promise<SentMessage>((resolve, reject) => {
        const check = () => {
          const s = find();
          if (!s) return;
          clearTimeout(timer);
          sentWaiters.delete(check);
          resolve(s);
        };
        const timer = setTimeout(() => {
          sentWaiters.delete(check);
          reject(new Error(`no sendMessage to chat ${want} within ${o.timeoutMs ?? 60_000} ms (sent so far: ${sent.length})`));
        }, o.timeoutMs ?? 60_000);
        sentWaiters.add(check);
        check();
      });
    },
    waitForPoller(timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!waiting) return;
          clearTimeout(timer);
          pollerWaiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          pollerWaiters.delete(check);
          reject(new Error(`no long-polling getUpdates within ${timeoutMs} ms (methods so far: ${calls.map((c) => c.method).join(", ")})`));
        }, timeoutMs);
        pollerWaiters.add(check);
        check();
      });
    },
    methodsCalled: () => [...new Set(calls.map((c) => c.method))],
    close: () =>
      new Promise<void>((resolve) => {
        waiting?.wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const KNOWN_CASE = new Map([...KNOWN].map((k) => [k.toLowerCase(), k]));

function reply(res: ServerResponse, err: BotApiError | null, result?: unknown): void {
  if (res.destroyed || res.headersSent) return;
  // Telegram's envelope: {ok:true,result} or {ok:false,error_code,description[,parameters]}.
  const body = err
    ? { ok: false, error_code: err.status, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) }
    : { ok: true, result };
  const text = JSON.stringify(body);
  res.writeHead(err ? err.status : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** JSON or urlencoded bodies; of a multipart body (a file upload) only its short text fields. */
function readParams(body: Buffer, type: string): Record<string, unknown> {
  const raw = body.toString("utf8");
  if (raw.trim() === "") return {};
  if (type.includes("application/json")) return JSON.parse(raw) as Record<string, unknown>;
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(raw));
  if (type.includes("multipart/form-data")) {
    const out: Record<string, unknown> = {};
    // A text part: its headers (no filename), a blank line, a short value.
    for (const m of raw.matchAll(/content-disposition: *form-data; *name="([^"]+)"\r?\n(?:[^\r\n]+\r?\n)*?\r?\n([^\r\n]{0,200})\r?\n/gi)) if (!(m[1]! in out)) out[m[1]!] = m[2]!;
    return out;
  }
  return {};
}
