/** docs/configuration.md cannot drift: every schema key has a description, and the committed file is what the generator writes. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { DESCRIPTIONS, renderConfigDoc, walkSchema } from "./config-doc.ts";

describe("configuration reference", () => {
  it("every key path of the schema has a description, and no description names a key that no longer exists", () => {
    const paths = walkSchema().map((k) => k.path);
    expect(paths).toContain("users[].channels.telegram.peer");
    expect(paths).toContain("secrets.map.<VAR>");
    expect(paths.filter((p) => !DESCRIPTIONS[p])).toEqual([]);
    expect(Object.keys(DESCRIPTIONS).filter((p) => !paths.includes(p))).toEqual([]);
  });

  it("docs/configuration.md is exactly what scripts/gen-config-doc.ts generates (run it after changing the schema)", () => {
    expect(readFileSync(path.join(PACKAGE_ROOT, "docs/configuration.md"), "utf8")).toBe(renderConfigDoc());
  });

  it("defaults and required keys come from the schema itself", () => {
    const byPath = new Map(walkSchema().map((k) => [k.path, k]));
    expect(byPath.get("gateway.port")).toMatchObject({ type: "integer ≥ 1024, ≤ 65535", default: "`18789`" });
    expect(byPath.get("domain")).toMatchObject({ required: true });
    expect(byPath.get("mode")?.type).toBe("`shared` | `dedicated`");
  });
});
