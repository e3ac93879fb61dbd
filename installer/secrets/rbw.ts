/** The rbw backend (the original Wirebot host's vault CLI): secrets travel only on rbw's stdin and stdout. */
import { configError, preflightError, tempFailError } from "../errors.ts";
import type { ExecResult, Host } from "../host/host.ts";
import { scrub, type SecretsBackend } from "./backend.ts";
import { RBW_SOCKET, RBW_XDG_RUNTIME_DIR } from "./rbw-place.ts";

export interface RbwBackendOptions {
  host: Host;
  folder?: string | undefined;
  /** the rbw executable; PATH lookup by default */
  bin?: string;
}

export function createRbwBackend(o: RbwBackendOptions): SecretsBackend {
  const { host, folder } = o;
  const bin = o.bin ?? "rbw";
  const seen = new Set<string>();
  let ready = false;

  const run = (args: string[], input?: string, extraEnv: Record<string, string> = {}): Promise<ExecResult> => runRbw(host, bin, args, input, extraEnv);
  const why = (r: ExecResult) => scrub(r.stderr.trim().split("\n").slice(-3).join(" "), seen).slice(0, 300);

  async function ensureReady(): Promise<void> {
    if (ready) return;
    // rbw asks for the master password through pinentry, which a boot-time unit cannot answer.
    const unlocked = await run(["unlocked"]);
    if (unlocked.code !== 0) {
      throw rbwLockedError(why(unlocked) || `exit ${unlocked.code}`);
    }
    // rbw answers from its local cache: sync first, or a second host would miss a secret the first just created.
    const sync = await run(["sync"]);
    if (sync.code !== 0) throw tempFailError("secrets.rbw-sync", `rbw sync failed: ${why(sync) || `exit ${sync.code}`}`);
    ready = true;
  }

  /**
   * `rbw get` falls back to a partial name match when no entry matches exactly (find_entry_raw), which could
   * hand wirebot/gateway-token/dana's value to wirebot/gateway-token. Only exact names from the list are used.
   */
  async function listFolders(): Promise<Map<string, string[]>> {
    const list = await run(["list", "--fields", "name,folder"]);
    if (list.code !== 0) throw tempFailError("secrets.rbw-list", `rbw list failed: ${why(list) || `exit ${list.code}`}`);
    const folders = new Map<string, string[]>();
    for (const line of list.stdout.split("\n")) {
      if (line === "") continue;
      const [name = "", entryFolder = ""] = line.split("\t");
      if (folder !== undefined && entryFolder !== folder) continue;
      folders.set(name, [...(folders.get(name) ?? []), entryFolder]);
    }
    return folders;
  }

  /** The one folder ("" for none) holding `name`, or null when no entry has that exact name. */
  function entryFolder(folders: Map<string, string[]>, name: string): string | null {
    const where = folders.get(name);
    if (!where) return null;
    if (where.length > 1) {
      throw configError("secrets.rbw-ambiguous", `rbw holds ${where.length} entries named '${name}'${folder ? ` in folder '${folder}'` : ""}`, {
        hint: "delete the duplicates, or set secrets.rbw.folder",
      });
    }
    return where[0]!;
  }

  return {
    kind: "rbw",
    sensitive: [],
    async get(names) {
      await ensureReady();
      const folders = await listFolders();
      const out = new Map<string, string>();
      for (const name of new Set(names)) {
        const where = entryFolder(folders, name);
        if (where === null) continue;
        const args = ["get", ...(where ? ["--folder", where] : []), name];
        const r = await run(args);
        if (r.code !== 0) throw tempFailError("secrets.rbw-get", `rbw get '${name}' failed: ${why(r) || `exit ${r.code}`}`);
        // rbw println!s the password: drop exactly that one newline.
        const value = r.stdout.endsWith("\n") ? r.stdout.slice(0, -1) : r.stdout;
        seen.add(value);
        out.set(name, value);
      }
      return out;
    },
    async create(name, value) {
      await ensureReady();
      seen.add(value);
      // `rbw add` takes the password as the first line of an editor buffer. An editor command with a shell
      // metacharacter runs as `sh -c "<editor> <file>"`, so "cat >" copies rbw's stdin, our pipe, into that buffer;
      // rbw versions that read a piped stdin directly get the same text.
      const r = await run(["add", ...(folder ? ["--folder", folder] : []), name], `${value}\n`, { VISUAL: "cat >", EDITOR: "cat >" });
      if (r.code !== 0) throw tempFailError("secrets.rbw-add", `rbw add '${name}' failed: ${why(r) || `exit ${r.code}`}`);
    },
    async update(name, value) {
      await ensureReady();
      seen.add(value);
      const where = entryFolder(await listFolders(), name);
      if (where === null) throw configError("secrets.update-missing", `cannot update '${name}': rbw no longer holds it`, { hint: "run `wirebot apply` again; it creates what is missing" });
      const at = [...(where ? ["--folder", where] : []), name];
      // `rbw edit` replaces password and note from one buffer: read the note first so it survives.
      const raw = await run(["get", "--raw", ...at]);
      if (raw.code !== 0) throw tempFailError("secrets.rbw-get", `rbw get --raw '${name}' failed: ${why(raw) || `exit ${raw.code}`}`);
      let entry: { notes?: string | null; data?: { password?: string | null } };
      try {
        entry = JSON.parse(raw.stdout) as typeof entry;
      } catch {
        // not temporary: retrying will not teach this rbw a flag it lacks
        throw preflightError("secrets.rbw-raw", `rbw get --raw '${name}' printed no JSON (rbw too old for --raw?)`, { hint: "upgrade rbw, or change the secret by hand" });
      }
      if (entry.data?.password) seen.add(entry.data.password);
      // The buffer's first line is the password; a blank line, then the note (rbw's own edit format).
      const buffer = `${value}\n${entry.notes ? `\n${entry.notes}\n` : ""}`;
      const r = await run(["edit", ...at], buffer, { VISUAL: "cat >", EDITOR: "cat >" });
      if (r.code !== 0) throw tempFailError("secrets.rbw-edit", `rbw edit '${name}' failed: ${why(r) || `exit ${r.code}`}`);
    },
  };
}

/** Every rbw call: the agent wirebot uses is the one at RBW_SOCKET, whoever runs it (a shell, sudo, the unit). */
export async function runRbw(host: Host, bin: string, args: string[], input?: string, extraEnv: Record<string, string> = {}, interactive = false): Promise<ExecResult> {
  const env = { ...host.env, XDG_RUNTIME_DIR: host.resolve(RBW_XDG_RUNTIME_DIR), ...extraEnv };
  const r = await host.exec(bin, args, { env, ...(input === undefined ? {} : { input }), ...(interactive ? { interactive } : { timeoutMs: 60_000 }) });
  if (r.code === 127 && /ENOENT/.test(r.stderr)) {
    throw preflightError("secrets.rbw-missing", "the 'rbw' secrets backend needs the rbw command, which is not on PATH", {
      hint: "install rbw for root where systemd finds it (e.g. `cargo install --root /usr/local rbw`; not ~/.cargo/bin, which wirebot-secrets.service cannot see)",
    });
  }
  return r;
}

export const rbwLockedError = (why: string) =>
  configError("secrets.rbw-locked", `rbw-agent at ${RBW_SOCKET} is not running, locked, or not logged in (${why})`, {
    hint: "run `sudo wirebot secrets unlock` (rbw asks for the master password; the agent keeps the keys until rbw's lock_timeout), then `sudo systemctl restart wirebot-secrets`",
  });

/** Before a live converge writes anything: the unit it starts could only fail, later and less clearly. */
export async function assertRbwReady(host: Host, secrets: { backend: string }): Promise<void> {
  if (secrets.backend !== "rbw") return;
  const r = await runRbw(host, "rbw", ["unlocked"]);
  if (r.code !== 0) throw rbwLockedError(r.stderr.trim().split("\n").pop()?.slice(0, 200) || `exit ${r.code}`);
}
