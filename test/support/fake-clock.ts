// A manual clock for tests of the retry schedules: timers run only when advance() passes their time,
// and random() returns the values it is given, in turn.

import type { Clock } from '../../src/circuit/retry.js';

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];

  constructor(private readonly randoms: readonly number[] = [0.5]) {}

  now(): number {
    return this.t;
  }

  random(): number {
    return this.randoms[this.seq++ % this.randoms.length]!;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.delays.push(ms);
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by ms, running due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let next: [unknown, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0] as number);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    }
    this.t = end;
  }
}
