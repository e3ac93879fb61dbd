/** Env-file quoting: every byte systemd would interpret is escaped, line breaks are refused, values round-trip. */
import { expect, test } from "vitest";
import { EnvValueError, parseEnvFile, quoteEnvValue, renderEnvFile } from "./env-file.ts";

test.each([
  ["plain", "abc123", '"abc123"'],
  ["dollar", "a$HOME${X}", '"a\\$HOME\\${X}"'],
  ["quotes and backslash", 'say "hi" \\ there', '"say \\"hi\\" \\\\ there"'],
  ["backtick", "`id`", '"\\`id\\`"'],
  ["hash and spaces", "  # not a comment ", '"  # not a comment "'],
  ["single quote", "it's", "\"it's\""],
])("quotes %s", (_name, value, quoted) => {
  expect(quoteEnvValue("X", value)).toBe(quoted);
  expect(parseEnvFile(renderEnvFile([{ name: "X", value }])).get("X")).toBe(value);
});

test("line breaks and NUL are refused, naming the variable only", () => {
  for (const v of ["a\nb", "a\rb", "a\0b"]) {
    const err = (() => {
      try {
        quoteEnvValue("MY_VAR", v);
      } catch (e) {
        return e as EnvValueError;
      }
    })();
    expect(err).toBeInstanceOf(EnvValueError);
    expect(err?.variable).toBe("MY_VAR");
    expect(err?.message).not.toContain(v);
  }
});

test("invalid variable names are refused", () => {
  expect(() => renderEnvFile([{ name: "BAD-NAME", value: "x" }])).toThrow(EnvValueError);
  expect(() => renderEnvFile([{ name: "1X", value: "x" }])).toThrow(EnvValueError);
});

test("a rendered file starts with the managed-by comment and holds one line per variable", () => {
  const text = renderEnvFile([
    { name: "A", value: "1" },
    { name: "B", value: "2" },
  ]);
  expect(text.split("\n")[0]).toMatch(/^# Managed by wirebot/);
  expect(text.trimEnd().split("\n")).toHaveLength(3);
});
