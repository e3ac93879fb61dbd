/** Preflight judgement: a layout the box cannot hold is refused with a clear, numeric message. */
import { describe, expect, it } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText } from "../testing/harness.ts";
import { judge, memoryNeeded, type HostFacts } from "./preflight.ts";

const GB = 1024 ** 3;
const ok: HostFacts = { osId: "debian", osVersion: "12", systemdVersion: 252, memTotalBytes: 8 * GB, diskFreeBytes: 50 * GB, busyPorts: [] };

describe("preflight", () => {
  const c = parseConfig(exampleText("mixed"), "mixed");
  const l = resolveLayout(c);

  it("passes a Debian 12 box with room", () => {
    expect(judge(c, l, ok)).toEqual([]);
  });

  it("costs what the capacity model says: 1.15 GB + 6 MB per agent (a shared gateway sized for its tier of 10) per gateway, plus the reserve", () => {
    // shared: 1178 + 6 × 10 MiB; erin's dedicated: 1178 + 6 MiB; reserve 512 + 150 + 64 MiB
    expect(memoryNeeded(c, l)).toBe((1238 + 1184 + 726) * 1024 ** 2);
  });

  it("refuses a layout the memory cannot hold and says what to do", () => {
    const issues = judge(c, l, { ...ok, memTotalBytes: 2 * GB });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("memory");
    expect(issues[0]!.message).toMatch(/2 gateway\(s\) \(1 dedicated\) need about 3\.1 GB .* this host has 2\.0 GB: 1\.1 GB short; move users to mode: shared/);
  });

  it("names the OS, old systemd, small disk and busy ports", () => {
    const issues = judge(c, l, { ...ok, osId: "alpine", systemdVersion: 239, diskFreeBytes: 1 * GB, busyPorts: [18920] });
    expect(issues.map((i) => i.path)).toEqual(["os", "systemd", "disk", "port 18920"]);
    expect(issues[3]!.message).toContain("for erin");
  });

  it("wants Debian 12+ or Ubuntu 22.04+, not just the family: an older release is named and refused", () => {
    for (const [osId, osVersion] of [["debian", "11"], ["ubuntu", "20.04"], ["debian", ""], ["almalinux", "8.10"]] as const) {
      const issues = judge(c, l, { ...ok, osId, osVersion });
      expect(issues.map((i) => i.path), `${osId} ${osVersion}`).toEqual(["os"]);
      expect(issues[0]!.message).toMatch(/is not supported: Debian 12\+ or Ubuntu 22\.04\+ is needed/);
    }
    for (const [osId, osVersion] of [["debian", "12"], ["debian", "13"], ["ubuntu", "22.04"], ["ubuntu", "24.04"]] as const) expect(judge(c, l, { ...ok, osId, osVersion }), `${osId} ${osVersion}`).toEqual([]);
  });
});
