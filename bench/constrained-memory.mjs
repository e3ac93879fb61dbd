/** Preload for the footprint bench (`--import`): makes process.constrainedMemory() report $WB_CONSTRAINED_MEMORY bytes, as a systemd MemoryHigh=/MemoryMax= would through the cgroup, without needing a cgroup on this machine. */
const limit = Number(process.env.WB_CONSTRAINED_MEMORY);
// The runtime reads it once at module load (its memory-pressure thresholds are 50 % / 75 % of it): a preload runs first.
if (Number.isFinite(limit) && limit > 0) process.constrainedMemory = () => limit;
