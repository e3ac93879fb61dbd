/** Each rejection cloudflared's validateIngress makes, its warnings for unknown keys, and FindMatchingRule's semantics. */
import { describe, expect, test } from "vitest";
import {
  ERR_ACCESS_TEAM_NAME,
  ERR_BAD_WILDCARD,
  ERR_HOSTNAME_CONTAINS_PORT,
  ERR_LAST_RULE_NOT_CATCH_ALL,
  ERR_NO_INGRESS_RULES,
  assertValidIngress,
  matchRule,
  parseGoUrl,
  splitHostPort,
  validateIngress,
  validateTunnelYaml,
  type IngressRule,
} from "./ingress-validate.ts";

const catchAll: IngressRule = { service: "http_status:404" };
const errorOf = (rules: IngressRule[] | undefined) => {
  const v = validateIngress(rules);
  return v.ok ? null : v.error;
};

describe("validateIngress: what cloudflared rejects", () => {
  test.each<[string, IngressRule[] | undefined, string]>([
    ["rule 1: no ingress key", undefined, ERR_NO_INGRESS_RULES],
    ["rule 1: an empty list", [], ERR_NO_INGRESS_RULES],
    ["rule 2: http_status below 100", [{ service: "http_status:99" }], "invalid HTTP status code: 99"],
    ["rule 2: http_status above 999", [{ service: "http_status:1000" }], "invalid HTTP status code: 1000"],
    ["rule 2: http_status not a number", [{ service: "http_status:abc" }], 'invalid HTTP status code: strconv.Atoi: parsing "abc": invalid syntax'],
    ["rule 2: URL without scheme (host:port is an opaque URL)", [{ service: "localhost:8080" }], "localhost:8080 is an invalid address, please make sure it has a scheme and a hostname"],
    ["rule 2: URL without hostname", [{ service: "http://:8080" }], "http://:8080 is an invalid address, please make sure it has a scheme and a hostname"],
    ["rule 2: bare IP:port fails Go's url.Parse", [{ service: "127.0.0.1:8080" }], 'parse "127.0.0.1:8080": first path segment in URL cannot contain colon'],
    [
      "rule 2: URL with a path (even a trailing slash)",
      [{ service: "http://127.0.0.1:8080/" }],
      "http://127.0.0.1:8080/ is an invalid address, ingress rules don't support proxying to a different path on the origin service. The path will be the same as the eyeball request's path",
    ],
    ["rule 3: access audTag without teamName", [{ service: "http://127.0.0.1:1", originRequest: { access: { required: true, audTag: ["aud"] } } }], ERR_ACCESS_TEAM_NAME],
    ["rule 4: hostname with a port", [{ hostname: "a.example.com:443", service: "http://127.0.0.1:1" }, catchAll], ERR_HOSTNAME_CONTAINS_PORT],
    ["rule 4: hostname with an empty port still splits in Go", [{ hostname: "a.example.com:", service: "http://127.0.0.1:1" }, catchAll], ERR_HOSTNAME_CONTAINS_PORT],
    ["rule 5: wildcard not first", [{ hostname: "a.*.example.com", service: "http://127.0.0.1:1" }, catchAll], ERR_BAD_WILDCARD],
    ["rule 5: two wildcards", [{ hostname: "*.*.example.com", service: "http://127.0.0.1:1" }, catchAll], ERR_BAD_WILDCARD],
    ["rule 6: last rule has a hostname", [{ hostname: "a.example.com", service: "http://127.0.0.1:1" }], ERR_LAST_RULE_NOT_CATCH_ALL],
    ["rule 6: last rule has a path", [{ hostname: "a.example.com", service: "http://127.0.0.1:1" }, { path: "^/x", service: "http_status:404" }], ERR_LAST_RULE_NOT_CATCH_ALL],
    [
      "rule 6: catch-all before the end",
      [{ service: "http://127.0.0.1:1" }, { hostname: "a.example.com", service: "http://127.0.0.1:2" }, catchAll],
      "Rule #1 is matching the hostname '', but this will match every hostname, meaning the rules which follow it will never be triggered.",
    ],
    [
      "rule 6: '*' is a catch-all too",
      [{ hostname: "a.example.com", service: "http://127.0.0.1:1" }, { hostname: "*", service: "http://127.0.0.1:2" }, catchAll],
      "Rule #2 is matching the hostname '*', but this will match every hostname, meaning the rules which follow it will never be triggered.",
    ],
  ])("%s", (_name, rules, message) => {
    expect(errorOf(rules)).toBe(message);
  });

  test("rule 7: an invalid path regex names the rule", () => {
    const err = errorOf([{ hostname: "a.example.com", path: "^/(unclosed", service: "http://127.0.0.1:1" }, catchAll]);
    expect(err).toMatch(/^Rule #1 has an invalid regex: error parsing regexp: /);
  });

  test("rule 7: RE2 refuses look-ahead and back-references even though JS accepts them", () => {
    expect(errorOf([{ hostname: "a.example.com", path: "^/(?=x)", service: "http://127.0.0.1:1" }, catchAll])).toMatch(/^Rule #1 has an invalid regex/);
    expect(errorOf([{ hostname: "a.example.com", path: "(a)\\1", service: "http://127.0.0.1:1" }, catchAll])).toMatch(/^Rule #1 has an invalid regex/);
  });

  test("service errors are found before hostname errors, rule by rule (cloudflared's order)", () => {
    expect(errorOf([{ hostname: "a:1", service: "nope" }, catchAll])).toBe("nope is an invalid address, please make sure it has a scheme and a hostname");
  });

  test("accepts every service form cloudflared knows", () => {
    const v = validateIngress([
      { hostname: "u.example.com", service: "unix:/run/x.sock" },
      { hostname: "t.example.com", service: "unix+tls:/run/x.sock" },
      { hostname: "h.example.com", service: "hello_world" },
      { hostname: "h2.example.com", service: "hello-world" },
      { hostname: "s.example.com", service: "socks-proxy" },
      { hostname: "b.example.com", service: "bastion" },
      { hostname: "ssh.example.com", service: "ssh://127.0.0.1:22" },
      { hostname: "w.example.com", service: "wss://127.0.0.1:8443" },
      { hostname: "q.example.com", service: "http://127.0.0.1:8080?x=1" },
      { hostname: "*.example.com", path: "^/api/", service: "http://[::1]:8080" },
      { hostname: "*", service: "http_status:503" },
    ]);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.rules.map((r) => r.serviceKind)).toEqual([
      "unix", "unix+tls", "hello_world", "hello_world", "socks-proxy", "bastion", "tcp-over-ws", "http", "http", "http", "http_status",
    ]);
    expect(v.rules.at(-1)!.statusCode).toBe(503);
  });

  test("bastionMode in originRequest makes any service a bastion", () => {
    const v = validateIngress([{ hostname: "b.example.com", service: "whatever", originRequest: { bastionMode: true } }, catchAll]);
    expect(v.ok && v.rules[0]!.serviceKind).toBe("bastion");
  });

  test("access.required with teamName and audTag, or with neither, is fine", () => {
    expect(errorOf([{ service: "http://127.0.0.1:1", originRequest: { access: { required: true, teamName: "t", audTag: ["a"] } } }])).toBeNull();
    expect(errorOf([{ service: "http://127.0.0.1:1", originRequest: { access: { required: true } } }])).toBeNull();
  });

  test("assertValidIngress throws a ConfigError carrying cloudflared's message", () => {
    expect(() => assertValidIngress([{ hostname: "a.example.com", service: "http://127.0.0.1:1" }], "test")).toThrowError(ERR_LAST_RULE_NOT_CATCH_ALL);
  });
});

describe("rule 9: unknown keys are warnings, not errors", () => {
  test("unknown keys in rules and originRequest warn with line numbers; top-level flags do not", () => {
    const v = validateTunnelYaml(
      [
        "tunnel: wirebot",
        "loglevel: info", // a CLI flag: allowed at top level
        "originRequest:",
        "  connectTimout: 10s",
        "ingress:",
        "  - hostname: a.example.com",
        "    servcie: http://127.0.0.1:1",
        "    service: http://127.0.0.1:1",
        "    originRequest: { access: { requried: true } }",
        "  - service: http_status:404",
        "",
      ].join("\n"),
    );
    expect(v.ok).toBe(true);
    expect(v.warnings.map((w) => w.message)).toEqual([
      "line 4: field connectTimout not found in type config.OriginRequestConfig",
      "line 7: field servcie not found in type config.UnvalidatedIngressRule",
      "line 9: field requried not found in type config.AccessConfig",
    ]);
  });

  test("a YAML file without ingress fails with cloudflared's message", () => {
    const v = validateTunnelYaml("tunnel: wirebot\n");
    expect(v.ok ? null : v.error).toBe(ERR_NO_INGRESS_RULES);
  });
});

describe("matchRule (FindMatchingRule)", () => {
  const v = validateIngress([
    { hostname: "helm.example.org", service: "http://127.0.0.1:18789" },
    { hostname: "api.example.org", path: "^/v1/", service: "http://127.0.0.1:8100" },
    { hostname: "*.example.org", service: "http://127.0.0.1:9000" },
    { hostname: "bücher.example.net", service: "http://127.0.0.1:9100" },
    { service: "http_status:404" },
  ]);
  if (!v.ok) throw new Error(v.error);
  const rules = v.rules;
  const n = (url: string | { host: string; path: string }) => matchRule(rules, url).number;

  test("exact hostname; the request port is stripped", () => {
    expect(n("https://helm.example.org/")).toBe(1);
    expect(n({ host: "helm.example.org:443", path: "/" })).toBe(1);
  });
  test("the path regex is unanchored unless anchored, and must match for the rule to apply", () => {
    expect(n("https://api.example.org/v1/usage")).toBe(2);
    expect(n("https://api.example.org/health")).toBe(3); // falls to the wildcard
  });
  test("a wildcard matches by suffix, including deeper names and the bare parent (cloudflared's HasSuffix)", () => {
    expect(n("https://x.example.org/")).toBe(3);
    expect(n("https://a.b.example.org/")).toBe(3);
    expect(n({ host: "example.org", path: "/" })).toBe(3);
    expect(n({ host: "badexample.org", path: "/" })).toBe(3);
  });
  test("the punycode form of a rule hostname also matches", () => {
    expect(n({ host: "xn--bcher-kva.example.net", path: "/" })).toBe(4);
    expect(n("https://bücher.example.net/")).toBe(4); // WHATWG URL hands over the punycode host
  });
  test("no match falls to the last rule", () => {
    expect(n("https://other.test/")).toBe(5);
    expect(matchRule(rules, "https://other.test/").rule.statusCode).toBe(404);
  });
  test("first match wins", () => {
    const both = validateIngress([
      { hostname: "*.example.org", service: "http://127.0.0.1:1" },
      { hostname: "helm.example.org", service: "http://127.0.0.1:2" },
      catchAll,
    ]);
    if (!both.ok) throw new Error(both.error);
    expect(matchRule(both.rules, "https://helm.example.org/").number).toBe(1);
  });
});

describe("Go parsing helpers", () => {
  test("splitHostPort follows net.SplitHostPort", () => {
    expect(splitHostPort("a.example.com")).toBeNull();
    expect(splitHostPort("a:80")).toEqual({ host: "a", port: "80" });
    expect(splitHostPort("[::1]:80")).toEqual({ host: "::1", port: "80" });
    expect(splitHostPort("::1")).toBeNull(); // too many colons
    expect(splitHostPort("[::1]")).toBeNull(); // missing port
  });
  test("parseGoUrl", () => {
    expect(parseGoUrl("http://127.0.0.1:8080")).toEqual({ scheme: "http", hostname: "127.0.0.1", path: "" });
    expect(parseGoUrl("HTTP://h")).toEqual({ scheme: "http", hostname: "h", path: "" });
    expect(() => parseGoUrl(":8080")).toThrow("missing protocol scheme");
    expect(() => parseGoUrl("http://h:abc")).toThrow('invalid port ":abc" after host');
  });
});
