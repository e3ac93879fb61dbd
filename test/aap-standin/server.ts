/** A trace-collector stand-in (the Smoltbot/AAP API's POST side) over node:http: bearer token, faults, every batch kept. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface AapStandin {
  url: string;
  /** every accepted batch, in arrival order */
  batches: Array<Array<Record<string, unknown>>>;
  /** every request: status answered and the time */
  requests: Array<{ status: number; at: number }>;
  /** the next `n` requests answer `status` (503 by default) */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

export async function startAapStandin(opts: { token: string }): Promise<AapStandin> {
  const batches: AapStandin["batches"] = [];
  const requests: AapStandin["requests"] = [];
  let failing = { n: 0, status: 503 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = (status: number, body: unknown) => {
        requests.push({ status, at: Date.now() });
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.method !== "POST") return answer(405, { error: "method_not_allowed", message: "POST traces" });
      if (req.headers.authorization !== `Bearer ${opts.token}`) return answer(401, { error: "unauthorized", message: "bad token" });
      if (failing.n > 0) {
        failing.n--;
        return answer(failing.status, { error: "unavailable", message: "try again" });
      }
      let body: { traces?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { traces?: unknown };
      } catch {
        return answer(400, { error: "bad_request", message: "not JSON" });
      }
      if (!Array.isArray(body.traces)) return answer(400, { error: "bad_request", message: "traces must be an array" });
      batches.push(body.traces as Array<Record<string, unknown>>);
      answer(202, { accepted: body.traces.length });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    batches,
    requests,
    failNext: (n, status = 503) => (failing = { n, status }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
