/** paths.data must be a directory of wirebot's own: system trees, their shared first level and malformed paths are refused (exit 78). */
import { describe, expect, it } from "vitest";
import { parseConfig } from "./load.ts";
import { dataPathProblem } from "./data-path.ts";
import { exampleText } from "../testing/harness.ts";

const withData = (p: string) => exampleText("one-user").replace(/^users:/m, `paths: { data: "${p}" }\nusers:`);

describe("paths.data", () => {
  it.each(["/data/wirebot", "/srv/wirebot", "/wirebot/data", "/var/lib/wirebot-data", "/var/opt/wirebot", "/mnt/volume1/wirebot", "/srv/apps/wirebot", "/data/shared/wirebot.v2"])("accepts %s", (p) => {
    expect(dataPathProblem(p)).toBeNull();
    expect(parseConfig(withData(p), "t.yaml").paths.data).toBe(p);
  });

  it.each([
    ["/", /whole filesystem/],
    ["/etc", /\/etc holds the system's configuration/],
    ["/etc/wirebot", /\/etc holds/],
    ["/usr/local/wirebot", /\/usr holds installed software/],
    ["/opt/wirebot", /\/opt holds installed packages/],
    ["/opt/other/data", /\/opt holds/],
    ["/home/dana/wirebot", /ProtectHome=yes/],
    ["/root/wirebot", /ProtectHome=yes/],
    ["/tmp/wirebot", /PrivateTmp=yes/],
    ["/var/tmp/wirebot", /PrivateTmp=yes/],
    ["/run/wirebot", /tmpfs/],
    ["/var/cache/wirebot/x", /emptied at any time/],
    ["/var/lib/wirebot", /ledger directory/],
    ["/var/lib/wirebot/data", /ledger directory/],
    ["/boot/x", /kernel/],
    ["/proc/1", /kernel filesystem/],
    ["/var", /system directory/],
    ["/var/lib", /direct child of \/var/],
    ["/var/www", /direct child of \/var/],
    ["/mnt/volume1", /mount points/],
    ["/data", /top-level directory/],
    ["/srv", /top-level directory/],
    ["/data/", /trailing \//],
    ["data/wirebot", /absolute path/],
    ["/data//wirebot", /'\/\/', '\.' or '\.\.'/],
    ["/data/./wirebot", /'\.'/],
    ["/data/../etc", /'\.\.'/],
    ["/data/wire bot", /no spaces/],
  ])("refuses %s", (p, why) => {
    expect(dataPathProblem(p)).toMatch(why);
    let err: unknown;
    try {
      parseConfig(withData(p), "t.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: "config", issues: [{ path: "paths.data", message: expect.stringMatching(why) }] });
  });

  it("names the default and another directory of wirebot's own as the fix", () => {
    expect(dataPathProblem("/etc")).toMatch(/such as \/data\/wirebot \(the default\) or \/srv\/wirebot/);
    expect(dataPathProblem("/var/lib")).toMatch(/such as \/var\/lib\/wirebot-data/);
  });
});
