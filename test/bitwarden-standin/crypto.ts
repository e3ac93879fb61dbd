/** The Secrets Manager crypto the real SDK expects (installers.md §4.2): access tokens, key derivation, EncString type 2. */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

export interface SymmetricKey {
  enc: Buffer;
  mac: Buffer;
}

export interface AccessToken {
  id: string;
  clientSecret: string;
  /** the 16-byte secret after ':' that derives the token's own key */
  key16: Buffer;
  text: string;
}

function hkdfExpand(prk: Buffer, info: string, len: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let n = 1; Buffer.concat(out).length < len; n++) {
    t = createHmac("sha256", prk).update(Buffer.concat([t, Buffer.from(info), Buffer.from([n])])).digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, len);
}

/** derive_shareable_key(secret, "accesstoken", "sm-access-token"): expand only, no HKDF extract. */
export function deriveAccessTokenKey(key16: Buffer): SymmetricKey {
  const prk = createHmac("sha256", "bitwarden-accesstoken").update(key16).digest();
  const okm = hkdfExpand(prk, "sm-access-token", 64);
  return { enc: okm.subarray(0, 32), mac: okm.subarray(32) };
}

export const splitKey = (k64: Buffer): SymmetricKey => ({ enc: k64.subarray(0, 32), mac: k64.subarray(32, 64) });

export function encString(key: SymmetricKey, text: string): string {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key.enc, iv);
  const ct = Buffer.concat([c.update(text, "utf8"), c.final()]);
  const mac = createHmac("sha256", key.mac).update(Buffer.concat([iv, ct])).digest();
  return `2.${iv.toString("base64")}|${ct.toString("base64")}|${mac.toString("base64")}`;
}

/** Decrypts an EncString type 2, checking the MAC first as the SDK does; throws on any mismatch. */
export function decString(key: SymmetricKey, s: string): string {
  const m = /^2\.([^|]+)\|([^|]+)\|([^|]+)$/.exec(s);
  if (!m) throw new Error("not an EncString type 2");
  const [iv, ct, mac] = [m[1]!, m[2]!, m[3]!].map((p) => Buffer.from(p, "base64")) as [Buffer, Buffer, Buffer];
  const want = createHmac("sha256", key.mac).update(Buffer.concat([iv, ct])).digest();
  if (mac.length !== want.length || !timingSafeEqual(mac, want)) throw new Error("EncString MAC mismatch");
  const d = createDecipheriv("aes-256-cbc", key.enc, iv);
  return Buffer.concat([d.update(ct), d.final()]).toString("utf8");
}

export function parseAccessToken(text: string): AccessToken {
  const m = /^0\.([0-9a-f-]{36})\.([^:]+):(.+)$/.exec(text);
  if (!m) throw new Error("malformed access token");
  return { id: m[1]!, clientSecret: m[2]!, key16: Buffer.from(m[3]!, "base64"), text };
}

export function makeAccessToken(): AccessToken {
  const id = randomUUID();
  const clientSecret = randomBytes(22).toString("base64url").slice(0, 30);
  const key16 = randomBytes(16);
  return { id, clientSecret, key16, text: `0.${id}.${clientSecret}:${key16.toString("base64")}` };
}

/** An unsigned JWT: the SDK reads the claims and never checks the signature. */
export function makeJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.${randomBytes(32).toString("base64url")}`;
}
