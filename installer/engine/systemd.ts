/** systemctl through the host boundary: calls return exit data; a failure becomes a WirebotError at the caller. */
import type { ExecResult, Host } from "../host/host.ts";

export interface Systemd {
  daemonReload(): Promise<ExecResult>;
  restart(units: string[]): Promise<ExecResult>;
  start(units: string[]): Promise<ExecResult>;
  stop(units: string[]): Promise<ExecResult>;
  isActive(unit: string): Promise<string>;
  /** every unit's state from one `systemctl is-active` call (not one per unit) */
  activeStates(units: readonly string[]): Promise<Map<string, string>>;
  sysusers(file: string): Promise<ExecResult>;
  tmpfiles(file: string): Promise<ExecResult>;
}

export function createSystemd(host: Host): Systemd {
  const ctl = (args: string[]) => host.exec("systemctl", args, { timeoutMs: 180_000 });
  return {
    daemonReload: () => ctl(["daemon-reload"]),
    restart: (units) => ctl(["restart", ...units]),
    start: (units) => ctl(["start", ...units]),
    stop: (units) => ctl(["stop", ...units]),
    isActive: async (unit) => (await ctl(["is-active", unit])).stdout.trim(),
    async activeStates(units) {
      const states = new Map<string, string>();
      if (units.length === 0) return states;
      // systemctl prints one state per unit, in the order given, and exits non-zero when any is not active.
      const lines = (await ctl(["is-active", ...units])).stdout.split("\n").map((l) => l.trim());
      if (lines.at(-1) === "") lines.pop();
      if (lines.length === units.length) units.forEach((u, i) => states.set(u, lines[i]!));
      // An answer without one line per unit cannot be matched to the units: ask each one on its own.
      else for (const u of units) states.set(u, (await ctl(["is-active", u])).stdout.trim());
      return states;
    },
    sysusers: (file) => host.exec("systemd-sysusers", [file]),
    tmpfiles: (file) => host.exec("systemd-tmpfiles", ["--create", file]),
  };
}
