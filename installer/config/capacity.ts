/** The capacity model: each gateway's memory budget from the measured footprint (docs/gateway-footprint.md), and whether a layout fits the host. Pure. */
import type { GatewayLayout, Layout } from "./layout.ts";
import type { Config } from "./schema.ts";

const MiB = 1024 ** 2;

/**
 * Measured with the real runtime (openclaw 2026.9.6, wirebot's memory knobs; docs/gateway-footprint.md):
 * a shared gateway settles at 1.15 GiB + 5.4 MiB per agent that chatted (6 with margin); the runtime
 * retires idle workers above 75 % of the cgroup limit it sees, so MemoryHigh sits at steady ÷ 0.75, and
 * MemoryMax 512 MiB above it for the peak of four turns at once (+250–290 MiB at 200 agents).
 */
export const FOOTPRINT = { baseMiB: 1178, perAgentMiB: 6, reliefRatio: 0.75, peakMiB: 512 } as const;

/** What the rest of the box needs besides the gateways: the system, the reconcile daemon (its 150 MB budget), cloudflared, the secrets pull. */
export const RESERVE_MIB = { system: 512, reconcile: 150, tunnel: 64 } as const;
export const reserveMiB = () => RESERVE_MIB.system + RESERVE_MIB.reconcile + RESERVE_MIB.tunnel;

/**
 * A shared gateway is sized for a tier of agents, not its exact count: its unit carries the budget, and a
 * unit that changed restarts the gateway for every tenant. So a user added restarts nothing until the
 * agents outgrow the tier.
 */
export const AGENT_TIERS = [10, 25, 50, 100, 200] as const;
export const agentTier = (n: number) => AGENT_TIERS.find((t) => n <= t) ?? Math.ceil(n / 100) * 100;

export interface GatewayBudget {
  /** the agents it is sized for (a shared gateway: its tier; a dedicated one: 1) */
  agents: number;
  /** the model's steady figure, what the gateway is expected to hold */
  steadyMiB: number;
  /** MemoryHigh=: the kernel throttles and reclaims above it; the runtime retires idle workers at 75 % of it */
  highMiB: number;
  /** MemoryMax=: the OOM killer takes the gateway (and systemd restarts it) above it */
  maxMiB: number;
  /** the main V8 heap limit (--max-old-space-size), below MemoryHigh so V8 collects before the kernel acts */
  heapMiB: number;
  tasksMax: number;
  source: "model" | "wirebot.yaml";
}

const agentsOf = (g: GatewayLayout) => (g.kind === "shared" ? agentTier(g.users.length + 1) : 1);

export function gatewayBudget(c: Config, g: GatewayLayout): GatewayBudget {
  const agents = agentsOf(g);
  const steadyMiB = FOOTPRINT.baseMiB + FOOTPRINT.perAgentMiB * agents;
  const override = g.kind === "shared" ? c.gateway.memory : c.users.find((u) => u.id === g.users[0]?.id)?.memory;
  const highMiB = override?.high ?? Math.ceil(steadyMiB / FOOTPRINT.reliefRatio / 64) * 64;
  const maxMiB = override?.max ?? highMiB + FOOTPRINT.peakMiB;
  // The main heap held 320–490 MiB at 100 agents: half of MemoryHigh leaves it room and stays below it.
  const heapMiB = Math.max(512, Math.floor(highMiB / 2 / 64) * 64);
  return { agents, steadyMiB, highMiB, maxMiB, heapMiB, tasksMax: 1024, source: override ? "wirebot.yaml" : "model" };
}

export interface Fit {
  /** what the gateways hold steady plus the reserve, in bytes */
  neededBytes: number;
  /** bytes short (0 when it fits) */
  shortBytes: number;
  budgets: Array<{ gateway: string; budget: GatewayBudget }>;
}

/**
 * Fits when every gateway's steady footprint plus the reserve fits in RAM. MemoryHigh/Max are per-gateway
 * ceilings, not reservations: they may add up to more than RAM, since not every gateway peaks at once; what
 * they guarantee is that a runaway is stopped at its own ceiling.
 */
export function layoutFit(c: Config, l: Layout, memTotalBytes: number): Fit {
  const budgets = l.gateways.map((g) => ({ gateway: g.id, budget: gatewayBudget(c, g) }));
  const neededBytes = (budgets.reduce((n, b) => n + b.budget.steadyMiB, 0) + reserveMiB()) * MiB;
  return { neededBytes, shortBytes: Math.max(0, neededBytes - memTotalBytes), budgets };
}
