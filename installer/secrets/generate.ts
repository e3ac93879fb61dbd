/** CSPRNG values for secrets wirebot creates when the vault lacks them. */
import { randomBytes } from "node:crypto";
import type { Generator } from "../config/secret-plan.ts";

const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** n url-safe characters; 64 symbols divide 256 exactly, so masking a byte has no modulo bias. */
export function randomUrlSafe(n: number): string {
  const bytes = randomBytes(n);
  let out = "";
  for (const b of bytes) out += URL_SAFE[b & 63];
  return out;
}

/** token: 256 bits as 43 url-safe characters; litellm-key: LiteLLM's own shape, `sk-` + 22 characters. */
export function generateSecret(kind: Generator): string {
  switch (kind) {
    case "token":
      return randomUrlSafe(43);
    case "litellm-key":
      return `sk-${randomUrlSafe(22)}`;
  }
}
