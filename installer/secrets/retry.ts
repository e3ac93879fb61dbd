/** Retries with exponential backoff for temporary failures only (network, 5xx); everything else fails at once. */
import { WirebotError } from "../errors.ts";

export interface RetryPolicy {
  /** total tries, the first one included */
  attempts: number;
  baseMs: number;
  maxMs: number;
  sleep?: (ms: number) => Promise<void>;
}

// 1+2+4+8 s of waiting: long enough for a network that comes up late at boot, short enough that
// systemd's default 90 s start timeout for the oneshot is never the one that fires.
export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 1000, maxMs: 8000 };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (attempt: number, delayMs: number, err: WirebotError) => void,
): Promise<T> {
  const sleep = policy.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof WirebotError) || e.kind !== "tempFail" || attempt >= policy.attempts) throw e;
      // Jitter keeps two hosts booting together from hammering the vault in step.
      const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.25);
      onRetry?.(attempt, delay, e);
      await sleep(delay);
    }
  }
}
