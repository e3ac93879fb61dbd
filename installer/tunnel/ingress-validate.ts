/** A TypeScript port of cloudflared's ingress validation and rule matching (ingress/ingress.go, rule.go, config/configuration.go). */
import { domainToASCII } from "node:url";
import { parseDocument, isMap, isSeq, type Node as YamlNode } from "yaml";
import { configError } from "../errors.ts";

/**
 * One ingress rule as written in a cloudflared config file or sent to the API. Durations in
 * `originRequest` are Go strings ("10s") in YAML and integer seconds in the API's JSON.
 */
export interface IngressRule {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: OriginRequest;
}

export interface OriginRequest {
  connectTimeout?: string | number;
  tlsTimeout?: string | number;
  tcpKeepAlive?: string | number;
  noHappyEyeballs?: boolean;
  keepAliveConnections?: number;
  keepAliveTimeout?: string | number;
  httpHostHeader?: string;
  originServerName?: string;
  matchSNItoHost?: boolean;
  caPool?: string;
  noTLSVerify?: boolean;
  disableChunkedEncoding?: boolean;
  bastionMode?: boolean;
  proxyAddress?: string;
  proxyPort?: number;
  proxyType?: string;
  ipRules?: { prefix?: string; ports?: number[]; allow?: boolean }[];
  http2Origin?: boolean;
  access?: { required?: boolean; teamName?: string; audTag?: string[]; environment?: string };
}

/** How cloudflared would treat a rule's `service`. */
export type ServiceKind = "unix" | "unix+tls" | "http_status" | "hello_world" | "socks-proxy" | "bastion" | "http" | "tcp-over-ws";

export interface ValidatedRule {
  /** 1-based, as cloudflared numbers rules in messages and in `ingress rule`. */
  number: number;
  hostname: string;
  /** The IDNA (punycode) form of the hostname, when it differs: cloudflared matches either. */
  punycodeHostname: string;
  path: RegExp | null;
  service: string;
  serviceKind: ServiceKind;
  /** For http_status services. */
  statusCode?: number;
  /** For URL services. */
  url?: { scheme: string; host: string };
  rule: IngressRule;
}

export interface IngressWarning {
  path: string;
  message: string;
}

export type IngressValidation =
  | { ok: true; rules: ValidatedRule[]; warnings: IngressWarning[] }
  | { ok: false; error: string; warnings: IngressWarning[] };

// cloudflared's messages, verbatim (ingress/ingress.go).
export const ERR_NO_INGRESS_RULES = "The config file doesn't contain any ingress rules";
export const ERR_LAST_RULE_NOT_CATCH_ALL = "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)";
export const ERR_BAD_WILDCARD =
  'Hostname patterns can have at most one wildcard character ("*") and it can only be used for subdomains, e.g. "*.example.com"';
export const ERR_HOSTNAME_CONTAINS_PORT = "Hostname cannot contain a port";
export const ERR_ACCESS_TEAM_NAME = "access.TeamName cannot be blank when access.audTags are present";
export const errRuleShouldNotBeCatchAll = (index: number, hostname: string) =>
  `Rule #${index + 1} is matching the hostname '${hostname}', but this will match every hostname, meaning the rules which follow it will never be triggered.`;

/** Go's net.SplitHostPort, including its odd successes (`"a:"` has an empty port and still splits). */
export function splitHostPort(hostport: string): { host: string; port: string } | null {
  const i = hostport.lastIndexOf(":");
  if (i < 0) return null;
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0) return null;
    if (end + 1 === hostport.length) return null;
    if (end + 1 !== i) return null;
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(":")) return null;
  }
  if (hostport.slice(j).includes("[")) return null;
  if (hostport.slice(k).includes("]")) return null;
  return { host, port: hostport.slice(i + 1) };
}

/**
 * The parts of Go's url.Parse that decide cloudflared's verdict on a service URL: scheme, hostname
 * and path. Throws with Go's message where Go's parser fails.
 */
export function parseGoUrl(raw: string): { scheme: string; hostname: string; path: string } {
  const fail = (msg: string): never => {
    throw new Error(`parse ${JSON.stringify(raw)}: ${msg}`);
  };
  if ([...raw].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) fail("net/url: invalid control character in URL");
  let rest = raw;
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  // getScheme: letters first, then letters, digits, + - .; a leading ':' is an error.
  let scheme = "";
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) fail("missing protocol scheme");
      scheme = rest.slice(0, i).toLowerCase();
      rest = rest.slice(i + 1);
    }
    break;
  }
  const q = rest.indexOf("?");
  if (q >= 0) rest = rest.slice(0, q);
  if (scheme !== "" && !rest.startsWith("/")) return { scheme, hostname: "", path: "" }; // opaque: "localhost:8080"
  if (scheme === "" && !rest.startsWith("/")) {
    const seg = rest.split("/")[0]!;
    if (seg.includes(":")) fail("first path segment in URL cannot contain colon");
  }
  let hostname = "";
  let path = rest;
  if (rest.startsWith("//")) {
    const after = rest.slice(2);
    const slash = after.indexOf("/");
    const authority = slash < 0 ? after : after.slice(0, slash);
    path = slash < 0 ? "" : after.slice(slash);
    const at = authority.lastIndexOf("@");
    const hostport = at < 0 ? authority : authority.slice(at + 1);
    if (hostport.startsWith("[")) {
      const end = hostport.indexOf("]");
      if (end < 0) fail("missing ']' in host");
      hostname = hostport.slice(1, end);
      const tail = hostport.slice(end + 1);
      if (tail !== "" && !/^:[0-9]*$/.test(tail)) fail(`invalid port ${JSON.stringify(tail)} after host`);
    } else {
      const colon = hostport.lastIndexOf(":");
      hostname = colon < 0 ? hostport : hostport.slice(0, colon);
      const port = colon < 0 ? "" : hostport.slice(colon);
      if (port !== "" && !/^:[0-9]*$/.test(port)) fail(`invalid port ${JSON.stringify(port)} after host`);
    }
  }
  return { scheme, hostname, path };
}

/**
 * Compile a Go (RE2) path pattern as a JS RegExp. RE2 and JS agree on the patterns ingress rules
 * use; the constructs RE2 refuses but JS accepts (look-around, back-references) are refused here
 * too, and Go's leading inline flags become JS flags.
 */
export function compileGoRegexp(pattern: string): RegExp {
  let src = pattern;
  let flags = "";
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    if (lead[1]!.includes("U")) throw new Error(`error parsing regexp: flag U (ungreedy) is not supported by this port: \`${pattern}\``);
    flags = [...new Set(lead[1]!)].join("");
    src = src.slice(lead[0].length);
  }
  if (/\(\?<?[=!]/.test(src)) throw new Error(`error parsing regexp: invalid or unsupported Perl syntax: \`${/\(\?<?[=!]/.exec(src)![0]}\``);
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(src)) throw new Error(`error parsing regexp: invalid escape sequence: \`${/\\[1-9]/.exec(src)![0]}\``);
  src = src.replace(/\(\?P</g, "(?<");
  try {
    return new RegExp(src, flags);
  } catch (e) {
    throw new Error(`error parsing regexp: ${(e as Error).message}`);
  }
}

const isCatchAll = (r: IngressRule) => ((r.hostname ?? "") === "" || r.hostname === "*") && (r.path ?? "") === "";

/** validateHostname in ingress.go: port, wildcard, and catch-all placement, in that order. */
function validateHostname(r: IngressRule, index: number, total: number): string | null {
  const hostname = r.hostname ?? "";
  if (splitHostPort(hostname) !== null) return ERR_HOSTNAME_CONTAINS_PORT;
  if (hostname.lastIndexOf("*") > 0) return ERR_BAD_WILDCARD;
  const last = index === total - 1;
  if (last && !isCatchAll(r)) return ERR_LAST_RULE_NOT_CATCH_ALL;
  if (!last && isCatchAll(r)) return errRuleShouldNotBeCatchAll(index, hostname);
  return null;
}

function classifyService(r: IngressRule): { kind: ServiceKind; statusCode?: number; url?: { scheme: string; host: string } } | { error: string } {
  const s = r.service ?? "";
  if (s.startsWith("unix:")) return { kind: "unix" };
  if (s.startsWith("unix+tls:")) return { kind: "unix+tls" };
  if (s.startsWith("http_status:")) {
    const digits = s.slice("http_status:".length);
    // strconv.Atoi: optional sign, decimal digits only.
    if (!/^[+-]?[0-9]+$/.test(digits)) return { error: `invalid HTTP status code: strconv.Atoi: parsing ${JSON.stringify(digits)}: invalid syntax` };
    const code = Number(digits);
    if (code < 100 || code > 999) return { error: `invalid HTTP status code: ${code}` };
    return { kind: "http_status", statusCode: code };
  }
  if (s === "hello_world" || s === "hello-world") return { kind: "hello_world" };
  if (s === "socks-proxy") return { kind: "socks-proxy" };
  if (s === "bastion" || r.originRequest?.bastionMode === true) return { kind: "bastion" };
  let u: ReturnType<typeof parseGoUrl>;
  try {
    u = parseGoUrl(s);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (u.scheme === "" || u.hostname === "") return { error: `${s} is an invalid address, please make sure it has a scheme and a hostname` };
  if (u.path !== "")
    return {
      error: `${s} is an invalid address, ingress rules don't support proxying to a different path on the origin service. The path will be the same as the eyeball request's path`,
    };
  const http = ["http", "https", "ws", "wss"].includes(u.scheme);
  return { kind: http ? "http" : "tcp-over-ws", url: { scheme: u.scheme, host: u.hostname } };
}

/**
 * Validate ingress rules exactly as `cloudflared tunnel ingress validate` does: the first error
 * wins, and unknown keys (pass `warnings` from {@link findUnknownKeys}) never fail validation.
 */
export function validateIngress(rules: readonly IngressRule[] | undefined | null, warnings: IngressWarning[] = []): IngressValidation {
  if (!rules || rules.length === 0) return { ok: false, error: ERR_NO_INGRESS_RULES, warnings };
  const out: ValidatedRule[] = [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const svc = classifyService(r);
    if ("error" in svc) return { ok: false, error: svc.error, warnings };
    const access = r.originRequest?.access;
    if (access?.required && !access.teamName && (access.audTag?.length ?? 0) > 0) return { ok: false, error: ERR_ACCESS_TEAM_NAME, warnings };
    const hostErr = validateHostname(r, i, rules.length);
    if (hostErr) return { ok: false, error: hostErr, warnings };
    const hostname = r.hostname ?? "";
    let punycodeHostname = "";
    if (!isCatchAll(r)) {
      const ascii = domainToASCII(hostname);
      if (ascii !== "" && ascii !== hostname) punycodeHostname = ascii;
    }
    let path: RegExp | null = null;
    if ((r.path ?? "") !== "") {
      try {
        path = compileGoRegexp(r.path!);
      } catch (e) {
        return { ok: false, error: `Rule #${i + 1} has an invalid regex: ${(e as Error).message}`, warnings };
      }
    }
    out.push({
      number: i + 1,
      hostname,
      punycodeHostname,
      path,
      service: r.service,
      serviceKind: svc.kind,
      ...(svc.statusCode !== undefined ? { statusCode: svc.statusCode } : {}),
      ...(svc.url ? { url: svc.url } : {}),
      rule: r,
    });
  }
  return { ok: true, rules: out, warnings };
}

// Field sets of the structs cloudflared decodes strictly (config/configuration.go); top-level keys
// are free because the config file also carries CLI flags (`configFileSettings` inlines them).
const RULE_KEYS = new Set(["hostname", "path", "service", "originRequest"]);
const ORIGIN_KEYS = new Set([
  "connectTimeout", "tlsTimeout", "tcpKeepAlive", "noHappyEyeballs", "keepAliveConnections", "keepAliveTimeout",
  "httpHostHeader", "originServerName", "matchSNItoHost", "caPool", "noTLSVerify", "disableChunkedEncoding",
  "bastionMode", "proxyAddress", "proxyPort", "proxyType", "ipRules", "http2Origin", "access",
]);
const IP_RULE_KEYS = new Set(["prefix", "ports", "allow"]);
const ACCESS_KEYS = new Set(["required", "teamName", "audTag", "environment"]);
const WARP_KEYS = new Set(["enabled", "connectTimeout", "maxActiveFlows", "tcpKeepAlive"]);

/** Unknown keys that cloudflared's strict second decode reports as warnings ("field x not found in type …"). */
export function findUnknownKeys(doc: unknown): IngressWarning[] {
  const warnings: IngressWarning[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const check = (obj: unknown, known: Set<string>, type: string, where: string) => {
    if (!isObj(obj)) return;
    for (const k of Object.keys(obj)) if (!known.has(k)) warnings.push({ path: `${where}.${k}`, message: `field ${k} not found in type ${type}` });
  };
  const checkOrigin = (o: unknown, where: string) => {
    check(o, ORIGIN_KEYS, "config.OriginRequestConfig", where);
    if (!isObj(o)) return;
    if (Array.isArray(o["ipRules"])) o["ipRules"].forEach((r, i) => check(r, IP_RULE_KEYS, "config.IngressIPRule", `${where}.ipRules[${i}]`));
    check(o["access"], ACCESS_KEYS, "config.AccessConfig", `${where}.access`);
  };
  if (!isObj(doc)) return warnings;
  checkOrigin(doc["originRequest"], "originRequest");
  check(doc["warp-routing"], WARP_KEYS, "config.WarpRoutingConfig", "warp-routing");
  if (Array.isArray(doc["ingress"])) {
    doc["ingress"].forEach((r, i) => {
      check(r, RULE_KEYS, "config.UnvalidatedIngressRule", `ingress[${i}]`);
      if (isObj(r)) checkOrigin(r["originRequest"], `ingress[${i}].originRequest`);
    });
  }
  return warnings;
}

/** Validate a whole cloudflared config document (parsed YAML or the API's `config` object). */
export function validateTunnelDocument(doc: unknown): IngressValidation {
  const warnings = findUnknownKeys(doc);
  const ingress = typeof doc === "object" && doc !== null ? (doc as { ingress?: unknown }).ingress : undefined;
  if (ingress !== undefined && ingress !== null && !Array.isArray(ingress)) return { ok: false, error: "ingress must be a list of rules", warnings };
  return validateIngress(ingress as IngressRule[] | undefined, warnings);
}

/** Validate cloudflared config text (YAML), like `cloudflared tunnel --config FILE ingress validate`. */
export function validateTunnelYaml(text: string): IngressValidation {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { ok: false, error: `yaml: ${doc.errors[0]!.message.split("\n")[0]}`, warnings: [] };
  const result = validateTunnelDocument(doc.toJS());
  // Go's decoder reports line numbers; add them where the YAML node carries a position.
  for (const w of result.warnings) {
    const line = lineOf(doc.contents as YamlNode | null, w.path, text);
    if (line !== null) w.message = `line ${line}: ${w.message}`;
  }
  return result;
}

function lineOf(root: YamlNode | null, path: string, text: string): number | null {
  const parts = path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== "");
  let node: unknown = root;
  let keyNode: unknown = null;
  for (const p of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => String((it.key as { value?: unknown })?.value) === p);
      if (!pair) return null;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(p)];
      keyNode = node;
    } else return null;
  }
  const range = (keyNode as { range?: [number, number, number] } | null)?.range;
  if (!range) return null;
  return text.slice(0, range[0]).split("\n").length;
}

/** Throws a ConfigError with cloudflared's message when rules would not load in cloudflared. */
export function assertValidIngress(rules: readonly IngressRule[], source: string): ValidatedRule[] {
  const v = validateIngress(rules, []);
  if (!v.ok)
    throw configError("tunnel.ingress", `${source}: cloudflared would reject the ingress rules: ${v.error}`, {
      hint: "this is a wirebot bug if the rules were generated; report it with the output of 'wirebot plan --json'",
    });
  return v.rules;
}

export interface MatchResult {
  /** 0-based index into the rules, as FindMatchingRule returns it. */
  index: number;
  /** 1-based, as `cloudflared tunnel ingress rule` prints "Matched rule #n". */
  number: number;
  rule: ValidatedRule;
}

function matchHost(ruleHost: string, reqHost: string): boolean {
  if (ruleHost === reqHost) return true;
  // cloudflared trims "*." and tests a plain suffix, so "*.example.com" also matches
  // "example.com" and "badexample.com"; ported as is.
  if (ruleHost.startsWith("*.")) return reqHost.endsWith(ruleHost.slice(2));
  return false;
}

function ruleMatches(r: ValidatedRule, hostname: string, path: string): boolean {
  const hostMatch = r.hostname === "" || r.hostname === "*" ? true : matchHost(r.hostname, hostname);
  const punyMatch = r.punycodeHostname !== "" && matchHost(r.punycodeHostname, hostname);
  const pathMatch = r.path === null || r.path.test(path);
  return (hostMatch || punyMatch) && pathMatch;
}

/**
 * FindMatchingRule: which rule serves a request URL (or an explicit Host header and path). The port
 * is stripped from the host; the first match wins; without one, the last rule applies.
 */
export function matchRule(rules: readonly ValidatedRule[], request: string | { host: string; path: string }): MatchResult {
  if (rules.length === 0) throw new Error("matchRule needs validated rules (at least the catch-all)");
  let host: string;
  let path: string;
  if (typeof request === "string") {
    const u = new URL(request);
    host = u.host;
    path = u.pathname;
  } else {
    host = request.host;
    path = request.path;
  }
  const split = splitHostPort(host);
  if (split) host = split.host;
  for (let i = 0; i < rules.length; i++) {
    if (ruleMatches(rules[i]!, host, path)) return { index: i, number: i + 1, rule: rules[i]! };
  }
  const i = rules.length - 1;
  return { index: i, number: i + 1, rule: rules[i]! };
}
