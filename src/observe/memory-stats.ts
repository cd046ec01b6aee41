// What the daemon's give-back of memory after a load (src/cli/memory.ts) has done, for the metrics
// (ett_memory_givebacks_total, ett_memory_given_back_bytes_total). One per process: the give-back is
// the process's own, like its RSS.

export const memoryStats = {
  /** Give-backs run since the start. */
  givebacks: 0,
  /** RSS they took off, bytes (before minus after each, never negative). */
  givenBackBytes: 0,
};
