// Giving memory back once a load has passed (issue 16; DESIGN.md §4.7). Moving data grows a daemon:
// V8's young generation grows to its largest semi-spaces under the allocation rate, and glibc keeps the
// pages of freed Buffer backing stores (tens of MiB after a bulk transfer) for reuse. Neither is given
// back by itself while the process sits idle. So a daemon looks at itself once a second (one unref'd
// timer: process.cpuUsage() and the RSS, a few microseconds) and, when it has used next to no CPU for a
// few seconds after growing, tells V8 that memory is low (Isolate::LowMemoryNotification: full
// collections that also shrink the young generation and compact the old one; JavaScript's gc() does
// neither) and then asks glibc to return its free pages (malloc_trim), both through ett-mem.node
// (native/mem/addon.cc, built at install).
//
// The rule (QuietRule): quiet means less than QUIET_CPU_MS of CPU in a check's interval; after
// QUIET_CHECKS quiet checks in a row, and only if the RSS is at least GROWTH_MIN above what it was after
// the last give-back (or at start), memory is given back. So a daemon that stays busy is never
// interrupted, one that idles costs one look a second, and a give-back (about 10-30 ms of CPU) happens at
// most once per GROWTH_MIN of growth.
// Without ett-mem.node (no C++ compiler or not glibc at install) nothing of this runs, and the daemon
// says so once.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import { NATIVE_DIR } from '../run/library.js';
import { memoryStats } from '../observe/memory-stats.js';

/** How often a daemon looks at its CPU time and RSS, ms. */
export const MEMORY_CHECK_MS = 1000;
/** A check is quiet when the process used less CPU than this in its interval, ms (2 % of one core). */
export const QUIET_CPU_MS = 20;
/** Quiet checks in a row before memory is given back: the load has passed when it has been quiet 3 s. */
export const QUIET_CHECKS = 3;
/** Memory is given back only when the RSS has grown at least this much since the last time, bytes. */
export const GROWTH_MIN = 16 * 1024 * 1024;
/** From the collection to malloc_trim, ms: V8 frees dead ArrayBuffers' memory on a background thread. */
const TRIM_DELAY_MS = 50;

export interface QuietOptions {
  readonly quietCpuMs: number;
  readonly quietChecks: number;
  readonly growthMin: number;
}

const DEFAULTS: QuietOptions = {
  quietCpuMs: QUIET_CPU_MS,
  quietChecks: QUIET_CHECKS,
  growthMin: GROWTH_MIN,
};

/** When to give memory back, from one sample per check. Pure: the tests drive it with numbers. */
export class QuietRule {
  private quiet = 0;
  private floor: number;

  constructor(
    rss: number,
    private readonly opts: QuietOptions = DEFAULTS,
  ) {
    this.floor = rss;
  }

  /** One check: CPU ms used since the last one and the RSS now; true when memory is to be given back. */
  check(cpuMs: number, rss: number): boolean {
    this.floor = Math.min(this.floor, rss);
    if (cpuMs >= this.opts.quietCpuMs) {
      this.quiet = 0;
      return false;
    }
    this.quiet++;
    return this.quiet >= this.opts.quietChecks && rss >= this.floor + this.opts.growthMin;
  }

  /** Memory was given back and the RSS is now `rss`: the next time waits for growth from here. */
  gaveBack(rss: number): void {
    this.floor = rss;
    this.quiet = 0;
  }
}

export interface MemAddon {
  /** V8's Isolate::LowMemoryNotification(): full collections, young generation shrunk, old compacted. */
  lowMemory(): void;
  /** malloc_trim(0): true if memory was returned to the system. */
  trim(): boolean;
  info(): { arena: number; mmapped: number; inUse: number; free: number; topFree: number };
}

/** ett-mem.node from dir, or a sentence saying why it is not there. */
export function loadMemAddon(dir = NATIVE_DIR): MemAddon | { why: string } {
  const file = path.join(dir, 'ett-mem.node');
  try {
    return createRequire(import.meta.url)(file) as MemAddon;
  } catch (err) {
    let reason = (err as Error).message.split('\n')[0]!;
    try {
      reason = readFileSync(path.join(dir, 'UNAVAILABLE-mem'), 'utf8').trim();
    } catch {
      // no reason left by the build: the load error is the reason
    }
    return { why: `${file} is missing: ${reason}` };
  }
}

const MiB = (n: number): string => (n / 1048576).toFixed(0);

/**
 * One give-back: V8's collections now, malloc_trim shortly after (V8 frees dead ArrayBuffers' memory on
 * a background thread). `done` gets the RSS after both.
 */
export function giveBack(addon: MemAddon, log: Logger, done: (rss: number) => void): void {
  const rss0 = process.memoryUsage.rss();
  const heap0 = process.memoryUsage().heapTotal;
  addon.lowMemory();
  const heap1 = process.memoryUsage().heapTotal;
  const timer = setTimeout(() => {
    const trimmed = addon.trim();
    const rss1 = process.memoryUsage.rss();
    memoryStats.givebacks++;
    memoryStats.givenBackBytes += Math.max(0, rss0 - rss1);
    log.debug(
      `memory: load passed, gave back ${MiB(Math.max(0, rss0 - rss1))} MiB: RSS ${MiB(rss0)} → ` +
        `${MiB(rss1)} MiB, V8 heap ${MiB(heap0)} → ${MiB(heap1)} MiB, C heap ${trimmed ? 'trimmed' : 'had nothing to trim'}`,
    );
    done(rss1);
  }, TRIM_DELAY_MS);
  timer.unref();
}

/**
 * Starts the checks for this daemon; returns a function that stops them. Without ett-mem.node there
 * are none, and the daemon says so once at info level.
 */
export function startGivingBack(log: Logger, dir = NATIVE_DIR): () => void {
  const addon = loadMemAddon(dir);
  if ('why' in addon) {
    log.info(`memory: not given back after a load (${addon.why})`);
    return () => {};
  }
  const rule = new QuietRule(process.memoryUsage.rss());
  let last = process.cpuUsage();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const now = process.cpuUsage();
    const cpuMs = (now.user - last.user + now.system - last.system) / 1000;
    last = now;
    if (!rule.check(cpuMs, process.memoryUsage.rss())) return;
    busy = true;
    giveBack(addon, log, (rss) => {
      rule.gaveBack(rss);
      last = process.cpuUsage();
      busy = false;
    });
  }, MEMORY_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
