/** systemctl through the host boundary: calls return exit data; a failure becomes a WirebotError at the caller. */
import type { ExecResult, Host } from "../host/host.ts";

export interface Systemd {
  daemonReload(): Promise<ExecResult>;
  restart(units: string[]): Promise<ExecResult>;
  start(units: string[]): Promise<ExecResult>;
  stop(units: string[]): Promise<ExecResult>;
  isActive(unit: string): Promise<string>;
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
    sysusers: (file) => host.exec("systemd-sysusers", [file]),
    tmpfiles: (file) => host.exec("systemd-tmpfiles", ["--create", file]),
  };
}
