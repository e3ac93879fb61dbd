/** One Bot API root for several bot stand-ins: routes `/bot<token>/<method>` to the stand-in of that token, streaming both ways. */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TelegramStandin } from "./server.ts";

export interface TelegramRouter {
  /** the value for `channels.telegram.apiRoot`, shared by every gateway */
  apiRoot: string;
  close(): Promise<void>;
}

/** `bots` maps each bot token to its stand-in; an unknown token gets Telegram's 401 envelope. */
export async function startTelegramRouter(bots: ReadonlyMap<string, TelegramStandin>): Promise<TelegramRouter> {
  const server: Server = createServer((req, res) => {
    const token = /^\/bot([^/]+)\//.exec(req.url ?? "")?.[1];
    const target = token ? bots.get(token) : undefined;
    if (!target) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error_code: 401, description: "Unauthorized" }));
      return;
    }
    const to = new URL(target.apiRoot);
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.headersSent || res.writeHead(502).end());
    // A long poll the gateway abandons (shutdown) must end upstream too, or the stand-in keeps waiting.
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
