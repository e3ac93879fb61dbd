/** The token router: each bot's calls reach its own stand-in, an unknown token gets 401, and a long poll passes through. */
import { afterEach, expect, test } from "vitest";
import { startTelegramRouter, type TelegramRouter } from "./router.ts";
import { startTelegramStandin, type TelegramStandin } from "./server.ts";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const call = (root: string, token: string, method: string, body: Record<string, unknown> = {}) =>
  fetch(`${root}/bot${token}/${method}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

test("routes by token, refuses unknown tokens, and carries a long poll to the right bot", async () => {
  const a: TelegramStandin = await startTelegramStandin({ token: "111:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" });
  const b: TelegramStandin = await startTelegramStandin({ token: "222:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", username: "erin_bot" });
  open.push(a, b);
  const router: TelegramRouter = await startTelegramRouter(new Map([["111:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", a], ["222:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", b]]));
  open.push(router);

  expect((await call(router.apiRoot, "111:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "getMe")).body.result.id).toBe(111);
  expect((await call(router.apiRoot, "222:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "getMe")).body.result.username).toBe("erin_bot");
  expect(await call(router.apiRoot, "333:ccc", "getMe")).toEqual({ status: 401, body: { ok: false, error_code: 401, description: "Unauthorized" } });

  const poll = call(router.apiRoot, "222:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "getUpdates", { timeout: 10 });
  await b.waitForPoller(5_000);
  b.injectPrivateMessage(345678901, "hello erin's bot");
  const got = await poll;
  expect(got.body.result.map((u: any) => u.message.text)).toEqual(["hello erin's bot"]);
  expect(a.calls.map((c) => c.method)).toEqual(["getMe"]);
});
