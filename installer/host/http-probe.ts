/** One HTTP health probe on loopback, through the host port: GET a URL and compare JSON fields; never throws. */
import type { Host } from "./host.ts";

/** true when every key of `expect` equals the body's value (the gateway's SPA answers 200 to unknown paths). */
export async function probeJson(host: Host, url: string, expect: Record<string, unknown>, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await host.fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as Record<string, unknown>;
    return Object.entries(expect).every(([k, v]) => body[k] === v);
  } catch {
    return false;
  }
}
