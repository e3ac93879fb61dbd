/** Trace records: allow/deny judged against the rendered policy, wrapper calls linked, every secret and shape masked, fields capped. */
import { describe, expect, it } from "vitest";
import { cap, createRedactor } from "./redact.ts";
import { classify, toTraceRecord, traceIdOf, type ToolCallEvent } from "./record.ts";
import { policyRule } from "./tool-policy.ts";

// The restricted tenant's policy as render/gateway-config.ts writes it
const RESTRICTED = { profile: "messaging", alsoAllow: ["read", "write", "edit"], deny: ["exec", "process", "group:runtime", "message", "group:messaging", "group:sessions", "group:automation", "group:ui", "group:nodes", "gateway", "browser"] };
const TRUSTED = {};

const ev = (e: Partial<ToolCallEvent>): ToolCallEvent => ({ toolCallId: "call_1", toolName: "read", startedAt: 1_765_000_000_000, agentId: "alice", ...e });

describe("policyRule", () => {
  it("names the deny entry or the profile that removes a tool, and nothing for an offered or unknown tool", () => {
    expect(policyRule(RESTRICTED, "exec")).toBe("tools.deny exec");
    expect(policyRule(RESTRICTED, "bash")).toBe("tools.deny exec");
    expect(policyRule(RESTRICTED, "sessions_send")).toBe("tools.deny group:sessions");
    expect(policyRule(RESTRICTED, "web_fetch")).toBe("not in tools.profile messaging");
    expect(policyRule(RESTRICTED, "read")).toBeNull();
    expect(policyRule(RESTRICTED, "tool_call")).toBeNull();
    expect(policyRule(RESTRICTED, "make_me_admin")).toBeNull();
    expect(policyRule(TRUSTED, "exec")).toBeNull();
  });
});

describe("classify", () => {
  it("a tool the policy removed reads 'not found' in the runtime; the trace says runtime-policy and which rule", () => {
    expect(classify(ev({ toolName: "exec", error: "Tool exec not found" }), RESTRICTED)).toEqual({ action: "deny", reason: "runtime-policy: exec: tools.deny exec" });
    expect(classify(ev({ toolName: "tool_call", error: "Unknown tool id: sessions_send" }), RESTRICTED)).toEqual({ action: "deny", reason: "runtime-policy: sessions_send: tools.deny group:sessions" });
    // as the runtime really words it (seen in traces.slow.test.ts)
    expect(classify(ev({ toolName: "tool_call", error: "Unknown tool id: sessions_list. Did you mean: intent? Use tool_search to find a tool" }), RESTRICTED).reason).toBe("runtime-policy: sessions_list: tools.deny group:sessions");
    expect(classify(ev({ toolName: "make_me_admin", error: "Tool make_me_admin not found" }), RESTRICTED)).toEqual({ action: "deny", reason: "not-found: make_me_admin" });
  });

  it("a call a plugin blocked is a deny (wirebot's own guard named as our policy); validation failures too; a failing allowed call is an allow with its error", () => {
    const blocked = { content: [], details: { status: "blocked", deniedReason: "plugin-before-tool-call", reason: "wirebot-guard: outside the workspace" } };
    expect(classify(ev({ result: blocked, error: "blocked" }), RESTRICTED)).toEqual({ action: "deny", reason: "wirebot-policy: wirebot-guard: outside the workspace" });
    expect(classify(ev({ result: { details: { status: "blocked", reason: "approval required" } } }), RESTRICTED)).toEqual({ action: "deny", reason: "blocked: approval required" });
    expect(classify(ev({ error: "Validation failed for tool read: path is required" }), RESTRICTED).reason).toMatch(/^validation: Validation failed/);
    expect(classify(ev({ error: "Path escapes sandbox root (/data/wirebot/users/alice/workspace): ../../bob/x" }), RESTRICTED)).toEqual({ action: "deny", reason: "runtime-policy: Path escapes sandbox root" });
    expect(classify(ev({ error: "ENOENT: no such file or directory" }), RESTRICTED)).toEqual({ action: "allow", reason: null });
    expect(classify(ev({ beforeOnly: true }), RESTRICTED).reason).toMatch(/POST \/tools\/invoke/);
  });
});

describe("toTraceRecord", () => {
  const redact = createRedactor({ secrets: new Map([["tg-9f8e7d6c5b4a-SECRET", "TELEGRAM_BOT_TOKEN"]]), patterns: ["card", "iban", "email", "phone", "token"], maxFieldBytes: 4096 });
  const ctx = { gateway: "shared", policyOf: () => RESTRICTED, redact };

  it("links a call made through a wrapper to the wrapper's trace, and the same call twice has the same id", () => {
    const inner = toTraceRecord(ev({ toolCallId: "tool_search_code:call_x:session_status:1", toolName: "session_status", runId: "run-1" }), ctx);
    expect(inner).toMatchObject({ parentId: traceIdOf("shared", "run-1", "call_x"), agentId: "alice", action: "allow" });
    expect((toTraceRecord(ev({ toolCallId: "call_x", runId: "run-1" }), ctx) as { traceId: string }).traceId).toBe(traceIdOf("shared", "run-1", "call_x"));
  });

  it("takes the agent from the session key when the context has none, and refuses an event with neither", () => {
    expect(toTraceRecord(ev({ agentId: null, sessionKey: "agent:bob:telegram:direct:42" }), ctx)).toMatchObject({ agentId: "bob" });
    expect(toTraceRecord(ev({ agentId: null, sessionKey: "main" }), ctx)).toEqual({ rejected: "tool call call_1 names no agent" });
  });
});

describe("createRedactor", () => {
  const secret = 'brv-$ecret`with"quotes\\and';
  const redact = createRedactor({ secrets: new Map([[secret, "BRAVE_API_KEY"], ["sk-agent-key-alice-0123456789", "LITELLM_KEY_ALICE"]]), patterns: ["card", "iban", "email", "phone", "token"], maxFieldBytes: 4096 });

  it("replaces each secret value by its name (JSON-escaped too) and masks every shape; ordinary numbers stay", () => {
    const out = redact({
      q: `use ${secret} and sk-agent-key-alice-0123456789`,
      card: "4111 1111 1111 1111",
      notCard: "order 4111 1111 1111 1112",
      iban: "DE89 3704 0044 0532 0130 00",
      mail: "bob@example.org",
      phone: "+49 30 1234567",
      gh: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      bot: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
      count: 1765000000,
    })!;
    for (const leaked of [secret, "sk-agent-key", "4111 1111 1111 1111", "DE89", "bob@example.org", "1234567", "ghp_", "eyJhbG", "AAHdqTcv"]) expect(out).not.toContain(leaked);
    expect(out).toContain("[secret:BRAVE_API_KEY]");
    expect(out).toContain("[secret:LITELLM_KEY_ALICE]");
    expect(out).toContain("order 4111 1111 1111 1112");
    expect(out).toContain("1765000000");
    for (const shape of ["card", "iban", "email", "phone", "token"]) expect(out).toContain(`[${shape}]`);
  });

  it("cuts a long field at a character boundary and says how much went", () => {
    const long = createRedactor({ secrets: new Map(), patterns: [], maxFieldBytes: 300 })("é".repeat(1000))!;
    expect(Buffer.byteLength(long, "utf8")).toBeLessThanOrEqual(300);
    expect(long).toMatch(/…\[cut \d+ bytes\]$/);
    expect(long).not.toContain("\uFFFD");
    expect(cap("short", 300)).toBe("short");
  });
});
