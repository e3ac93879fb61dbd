/** Footprint bench support: memory and threads of a process tree, read from /proc (Linux only). */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface TreeMemory {
  pids: number[];
  /** summed VmRSS of every process in the tree, bytes */
  rss: number;
  /** summed Pss (smaps_rollup): shared pages split between processes, so two trees can be added */
  pss: number;
  /** summed RssAnon: heaps, not file-backed code */
  rssAnon: number;
  /** threads of the tree's processes, by kernel thread name (comm) */
  threads: Record<string, number>;
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return null; // the process or thread ended while we looked
  }
};

/** ppid of pid from /proc/pid/stat (the comm field may hold spaces and parentheses: parse after the last ")"). */
function parentOf(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return null;
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** root and every process descending from it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const ppid = parentOf(Number(e));
    if (ppid !== null) children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  if (read(`/proc/${root}/stat`)) walk(root);
  return out;
}

const kbField = (text: string | null, name: string): number => {
  const m = text?.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) * 1024 : 0;
};

export function treeMemory(root: number): TreeMemory {
  const pids = processTree(root);
  const mem: TreeMemory = { pids, rss: 0, pss: 0, rssAnon: 0, threads: {} };
  for (const pid of pids) {
    const status = read(`/proc/${pid}/status`);
    mem.rss += kbField(status, "VmRSS");
    mem.rssAnon += kbField(status, "RssAnon");
    mem.pss += kbField(read(`/proc/${pid}/smaps_rollup`), "Pss");
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      const comm = read(`/proc/${pid}/task/${t}/comm`)?.trim();
      if (comm) mem.threads[comm] = (mem.threads[comm] ?? 0) + 1;
    }
  }
  return mem;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number) => Math.round(bytes / MiB);

/** Processes whose working directory is inside dir: a gateway still starting when the bench was interrupted (its pid is not known yet) runs there. */
export function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${e}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(e));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
