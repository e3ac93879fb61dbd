/** The vault port every secrets backend implements, plus the scrubbing every message from outside passes through. */
import type { Config } from "../config/schema.ts";

export type BackendKind = Config["secrets"]["backend"];

export interface SecretsBackend {
  readonly kind: BackendKind;
  /** Values of the named secrets the vault holds; a name it lacks is simply absent from the map. */
  get(names: readonly string[]): Promise<Map<string, string>>;
  /** Stores a new secret; called only for a name `get` reported absent. */
  create(name: string, value: string): Promise<void>;
  /** Replaces the value of a secret `get` reported present (the one `get` read), keeping its name, place and note. */
  update(name: string, value: string): Promise<void>;
  /** Credentials of the backend itself (the access token): scrubbed from every message like vault values. */
  readonly sensitive: readonly string[];
  close?(): Promise<void>;
}

const CENSOR = "[redacted]";

/**
 * Replaces every known secret value in text from outside (SDK errors, child stderr). Short values are
 * skipped: a 1-3 character "secret" would censor ordinary words and is no secret anyway.
 */
export function scrub(text: string, values: Iterable<string>): string {
  const sorted = [...new Set(values)].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of sorted) out = out.split(v).join(CENSOR);
  return out;
}

/** Pieces of an access token that must never be printed, as well as the whole token. */
export function tokenParts(token: string): string[] {
  const m = /^0\.([^.]+)\.([^:]+):(.+)$/.exec(token);
  return m ? [token, m[2]!, m[3]!] : [token];
}
