/** Generated secrets have the documented shapes and come from the CSPRNG (distinct, full alphabet). */
import { expect, test } from "vitest";
import { generateSecret, randomUrlSafe } from "./generate.ts";

test("token: 43 url-safe characters (256 bits)", () => {
  expect(generateSecret("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test("litellm-key: sk- plus 22 url-safe characters, like LiteLLM's own keys", () => {
  expect(generateSecret("litellm-key")).toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
});

test("values are distinct and use all 64 symbols", () => {
  const many = Array.from({ length: 200 }, () => generateSecret("token"));
  expect(new Set(many).size).toBe(200);
  expect(new Set(randomUrlSafe(20_000)).size).toBe(64);
});
