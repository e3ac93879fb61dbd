/** plan() reads the host many resources at a time: the changes still come out in the resources' order, and each owner is looked up once. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Host } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { removeDir, tempDir } from "../testing/harness.ts";
import { plan } from "./plan.ts";
import type { Desired, Resource } from "./resource.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
});
afterEach(() => removeDir(root));

/** The node host with every stat answered after a pseudo-random delay, so reads finish in another order than they start. */
function shuffledHost(counts: { lookups: string[] }): Host {
  const real = createNodeHost({ root });
  let seed = 7;
  const delay = () => new Promise((r) => setTimeout(r, (seed = (seed * 48271) % 2147483647) % 5));
  return {
    ...real,
    stat: async (p) => (await delay(), real.stat(p)),
    lookupUser: async (name) => (counts.lookups.push(name), real.lookupUser(name)),
  };
}

describe("plan", () => {
  it("lists changes in the order of the resources, whatever order the reads finish in", async () => {
    mkdirSync(path.join(root, "etc"), { recursive: true });
    writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    const resources: Resource[] = [];
    for (let i = 0; i < 60; i++) {
      const p = `/srv/t/f${String(i).padStart(2, "0")}`;
      // every third file is already there and up to date, every third differs, the rest are missing
      if (i % 3 !== 2) {
        mkdirSync(path.join(root, "srv/t"), { recursive: true });
        writeFileSync(path.join(root, p), i % 3 === 0 ? `content ${i}\n` : "old\n", { mode: 0o644 });
      }
      resources.push({ kind: "file", path: p, content: `content ${i}\n`, mode: 0o644, owner: { user: "root", group: "root" }, notify: [] });
    }
    const counts = { lookups: [] as string[] };
    const p = await plan(shuffledHost(counts), { resources, units: [] } satisfies Desired);
    const expected = resources.filter((_, i) => i % 3 !== 0).map((r) => r.path);
    expect(p.changes.map((c) => c.path).filter((x) => x.startsWith("/srv/"))).toEqual(expected);
    expect(p.changes.filter((c) => c.action === "update").every((c) => c.before === "old\n" && c.fields.includes("content"))).toBe(true);
  });

  it("looks each owner up once per plan, not once per resource", async () => {
    mkdirSync(path.join(root, "etc"), { recursive: true });
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    writeFileSync(path.join(root, "etc/passwd"), `root:x:0:0::/root:/bin/sh\nwirebot:x:${uid}:${gid}::/x:/bin/false\nwb-erin:x:${uid}:${gid}::/x:/bin/false\n`);
    mkdirSync(path.join(root, "data"), { recursive: true });
    const resources: Resource[] = [];
    for (let i = 0; i < 20; i++) {
      writeFileSync(path.join(root, `data/f${i}`), "x", { mode: 0o600 });
      resources.push({ kind: "file", path: `/data/f${i}`, content: "x", mode: 0o600, owner: i % 2 ? { user: "wirebot", group: "wirebot" } : { user: "wb-erin", group: "wb-erin" }, notify: [] });
    }
    const counts = { lookups: [] as string[] };
    const p = await plan(shuffledHost(counts), { resources, units: [] });
    expect([...counts.lookups].sort()).toEqual(["wb-erin", "wirebot"]);
    // the owners resolved (to this process's uid/gid, which the files have): nothing differs but the new manifest
    expect(p.changes).toEqual([]);
  });
});
