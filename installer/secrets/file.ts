/** The development-only `file` backend: a YAML map of vault name → value on disk, generated values written back. */
import { isMap, parseDocument, stringify } from "yaml";
import { configError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { SecretsBackend } from "./backend.ts";

export const FILE_BACKEND_WARNING =
  "WARNING: secrets backend 'file' is for DEVELOPMENT ONLY: secret values are read from and written to a plain file on disk";

export function createFileBackend(host: Host, path: string): SecretsBackend {
  async function load(): Promise<Map<string, string>> {
    const buf = await host.readFile(path);
    if (!buf) return new Map();
    const doc = parseDocument(buf.toString("utf8"), { uniqueKeys: true });
    // YAML errors quote the offending line, which may hold a value: report the position only.
    if (doc.errors.length > 0) {
      const at = doc.errors[0]!.linePos?.[0];
      throw configError("secrets.file-yaml", `${path} is not valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ""}`);
    }
    const raw: unknown = doc.toJS() ?? {};
    if (typeof raw !== "object" || Array.isArray(raw)) throw configError("secrets.file-shape", `${path} must be a YAML map of vault name → value`);
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v !== "string") throw configError("secrets.file-shape", `${path}: the value of '${k}' must be a string (quote it)`);
      out.set(k, v);
    }
    return out;
  }

  return {
    kind: "file",
    sensitive: [],
    async get(names) {
      const all = await load();
      return new Map(names.flatMap((n) => (all.has(n) ? [[n, all.get(n)!] as const] : [])));
    },
    create: (name, value) => write(name, value),
    update: (name, value) => write(name, value),
  };

  /** Sets one name, keeping the file's other entries and comments. */
  async function write(name: string, value: string): Promise<void> {
    const buf = await host.readFile(path);
    const doc = parseDocument(buf ? buf.toString("utf8") : "");
    let text: string;
    if (isMap(doc.contents)) {
      doc.set(name, value);
      text = doc.toString();
    } else {
      text = `# wirebot development secrets (secrets.backend: file). Never use on a real host.\n${stringify({ [name]: value })}`;
    }
    await host.writeFileAtomic(path, text, { mode: 0o600 });
  }
}
