/** Test helper shared by the lifecycle command tests: service users seeded as systemd-sysusers would leave them. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** /etc/passwd and /etc/group under root, as systemd-sysusers would leave them; extra users get their own uids. */
export function seedUsers(root: string, extra: Record<string, number> = {}): void {
  mkdirSync(path.join(root, "etc"), { recursive: true });
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const users: [string, number, number][] = [["wirebot", uid, gid], ["wb-erin", uid, gid], ...Object.entries(extra).map(([n, id]): [string, number, number] => [n, id, id])];
  writeFileSync(path.join(root, "etc/passwd"), ["root:x:0:0::/root:/bin/sh", ...users.map(([n, u, g]) => `${n}:x:${u}:${g}::/nonexistent:/usr/sbin/nologin`)].join("\n") + "\n");
  writeFileSync(path.join(root, "etc/group"), ["root:x:0:", ...users.map(([n, , g]) => `${n}:x:${g}:`)].join("\n") + "\n");
}
