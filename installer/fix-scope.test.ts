/** Fix commands as printed: --root only off `/`, --config only for commands that take it, arguments pasted back as one word. */
import { describe, expect, it } from "vitest";
import { shellWord, wirebotFix } from "./fix-scope.ts";

describe("wirebotFix", () => {
  it("adds nothing on `/`, --root and --config elsewhere, and leaves --config off commands that do not take it", () => {
    expect(wirebotFix({ root: "/" }, "apply")).toBe("wirebot apply");
    expect(wirebotFix({ root: "/srv/img", config: "/home/op/w.yaml" }, "apply")).toBe("wirebot apply --root /srv/img --config /home/op/w.yaml");
    expect(wirebotFix({ root: "/srv/img", config: "/home/op/w.yaml" }, "upgrade --runtime-version 2026.9.6", { config: false })).toBe("wirebot upgrade --runtime-version 2026.9.6 --root /srv/img");
  });

  it("quotes what a shell would split or expand, including a single quote", () => {
    expect(shellWord("/tmp/plain-dir_1.x")).toBe("/tmp/plain-dir_1.x");
    expect(shellWord("/tmp/a b")).toBe("'/tmp/a b'");
    expect(shellWord("/tmp/it's $HOME")).toBe(`'/tmp/it'\\''s $HOME'`);
  });
});
