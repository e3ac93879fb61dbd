/** The Telegram stand-in keeps the Bot API contract the gateway relies on: envelope, offsets, long polls, 409. */
import { afterEach, beforeEach, expect, test } from "vitest";
import { startTelegramStandin, type TelegramStandin } from "./server.ts";

const TOKEN = "424242:standin-secret";
let tg: TelegramStandin;
const api = (method: string, body: unknown = {}, token = TOKEN) =>
  fetch(`${tg.apiRoot}/bot${token}/${method}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

beforeEach(async () => {
  tg = await startTelegramStandin({ token: TOKEN });
});
afterEach(() => tg.close());

test("getMe answers the bot user; a wrong token gets Telegram's 401 envelope", async () => {
  expect((await api("getMe")).body).toMatchObject({ ok: true, result: { id: 424242, is_bot: true, username: "wirebot_standin_bot" } });
  expect(await api("getMe", {}, "1:wrong")).toEqual({ status: 401, body: { ok: false, error_code: 401, description: "Unauthorized" } });
});

test("getUpdates: offset confirms earlier updates, a long poll wakes on a new message", async () => {
  const a = tg.injectPrivateMessage(123, "one");
  const first = await api("getUpdates", { timeout: 0 });
  expect(first.body.result.map((u: any) => u.message.text)).toEqual(["one"]);
  expect(first.body.result[0].message).toMatchObject({ from: { id: 123, is_bot: false }, chat: { id: 123, type: "private" } });
  // Same offset again: still there until confirmed.
  expect((await api("getUpdates", { timeout: 0 })).body.result).toHaveLength(1);
  const poll = api("getUpdates", { offset: a.update_id + 1, timeout: 5 });
  await tg.waitForPoller(2_000);
  const started = Date.now();
  tg.injectPrivateMessage(456, "two");
  const r = await poll;
  // woken by the message, not by its 5 s timeout (a wide margin: this is behaviour, not a speed target)
  expect(Date.now() - started).toBeLessThan(4_000);
  expect(r.body.result.map((u: any) => u.message.text)).toEqual(["two"]);
});

test("a long poll with nothing to say returns [] after its timeout", async () => {
  const started = Date.now();
  expect((await api("getUpdates", { timeout: 1 })).body).toEqual({ ok: true, result: [] });
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
});

test("a second poller ends the first with 409 Conflict", async () => {
  const first = api("getUpdates", { timeout: 5 });
  await tg.waitForPoller(2_000);
  const second = api("getUpdates", { timeout: 1 });
  expect(await first).toMatchObject({ status: 409, body: { ok: false, error_code: 409 } });
  expect((await second).body.ok).toBe(true);
});

test("sendMessage is recorded with HTML stripped; unknown methods are logged and answered true", async () => {
  const since = Date.now();
  const r = await api("sendMessage", { chat_id: "123", text: "<b>hi</b> &amp; bye", parse_mode: "HTML" });
  expect(r.body.result).toMatchObject({ chat: { id: 123 }, text: "<b>hi</b> &amp; bye" });
  expect(await tg.waitForSent(123, { since, timeoutMs: 100 })).toMatchObject({ plain: "hi & bye", parseMode: "HTML" });
  expect((await api("sendMessage", { chat_id: "123", text: " " })).body).toEqual({ ok: false, error_code: 400, description: "Bad Request: message text is empty" });
  expect((await api("setChatMenuButton", {})).body).toEqual({ ok: true, result: true });
  expect([...tg.unknownMethods]).toEqual(["setChatMenuButton"]);
});

test("a file upload (multipart) is kept whole with its chat id; an edit counts as sent text but not as a new message", async () => {
  const since = Date.now();
  const form = new FormData();
  form.set("chat_id", "123");
  form.set("caption", "statement");
  form.set("document", new Blob([Buffer.from("secret bytes\n")]), "bank.txt");
  const r = await fetch(`${tg.apiRoot}/bot${TOKEN}/sendDocument`, { method: "POST", body: form }).then((x) => x.json() as Promise<any>);
  expect(r).toMatchObject({ ok: true, result: { chat: { id: 123 } } });
  expect(tg.uploads.map((u) => [u.method, u.chatId, u.raw.includes("secret bytes")])).toEqual([["sendDocument", "123", true]]);
  expect(await tg.waitForSent(123, { since, timeoutMs: 100, uploads: true })).toMatchObject({ plain: "(sendDocument)" });
  await expect(tg.waitForSent(123, { since, timeoutMs: 100 })).rejects.toThrow(/no sendMessage/);

  await api("editMessageText", { chat_id: "123", message_id: 7, text: "final answer" });
  expect(tg.sent.map((s) => [s.plain, s.edit])).toEqual([["final answer", true]]);
  await expect(tg.waitForSent(123, { since, timeoutMs: 100 })).rejects.toThrow(/no sendMessage/);
});
