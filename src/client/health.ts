// Group health: which member of a group serves new streams, and bringing the group back to its first
// members once they are healthy again.
//
// - Members are tried in the configured order, except that members the pool knows are down (a failed
//   build or a lost link, not yet rebuilt) go after the others.
// - While a group is served by a later member, a health check runs every limits.healthCheckIntervalMs
//   (±25 % jitter): it probes (builds) each earlier down member in order, and the first that comes up
//   serves the group's new streams again. Streams already running stay where they are. The check stops
//   once the first member serves, when the group has had no request for RECENT_USE_MS, or at close.
// - Each switch is logged once: `group G: route R down, using S` and `group G: back to route R`.

import { jittered, RECENT_USE_MS, realClock, Retrier, type Clock } from '../circuit/retry.js';
import type { CircuitPool } from '../circuit/pool.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Route } from './rules.js';

interface GroupState {
  readonly members: readonly Route[];
  /** Index of the member serving new streams (as far as we know). */
  serving: number;
  lastUsed: number;
  readonly check: Retrier;
}

export class GroupHealth {
  private readonly groups = new Map<string, GroupState>();
  private closed = false;

  constructor(
    private readonly pool: CircuitPool,
    private readonly limits: Limits,
    private readonly log: Logger,
    private readonly clock: Clock = realClock,
  ) {}

  /** The members of group `name` in the order a new stream tries them. */
  order(name: string, members: readonly Route[]): Route[] {
    this.state(name, members).lastUsed = this.clock.now();
    const down = (m: Route): boolean => this.pool.isDown(m.relays);
    return [...members.filter((m) => !down(m)), ...members.filter(down)];
  }

  /** A new stream of group `name` went to `member`. */
  served(name: string, members: readonly Route[], member: Route): void {
    const g = this.state(name, members);
    const i = members.indexOf(member);
    if (i < 0 || i === g.serving) return;
    if (i > g.serving)
      this.log.info(`group ${name}: route ${members[g.serving]!.name} down, using ${member.name}`);
    else this.log.info(`group ${name}: back to route ${member.name}`);
    g.serving = i;
    if (i > 0) g.check.start();
  }

  /** Index of the member serving group `name` (0 for a group not used yet). */
  servingIndex(name: string): number {
    return this.groups.get(name)?.serving ?? 0;
  }

  /** A reload changed or removed group `name`: its state goes (a later use starts at member 0). */
  forget(name: string): void {
    this.groups.get(name)?.check.stop();
    this.groups.delete(name);
  }

  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) g.check.stop();
  }

  private state(name: string, members: readonly Route[]): GroupState {
    let g = this.groups.get(name);
    if (!g) {
      const state: GroupState = {
        members,
        serving: 0,
        lastUsed: this.clock.now(),
        check: new Retrier(
          {
            delay: (_n, random) => jittered(this.limits.healthCheckIntervalMs, random),
            maxAttempts: Infinity,
            keepGoing: () =>
              !this.closed && state.serving > 0 && this.clock.now() - state.lastUsed < RECENT_USE_MS,
            attempt: () => this.check(name, state),
          },
          this.clock,
        ),
      };
      g = state;
      this.groups.set(name, g);
    }
    return g;
  }

  /** One health check: the earliest member before the serving one that is (or comes) up serves. */
  private async check(name: string, g: GroupState): Promise<boolean> {
    for (let i = 0; i < g.serving; i++) {
      const m = g.members[i]!;
      if (this.pool.isDown(m.relays) && !(await this.pool.probe(m.relays))) continue;
      if (this.closed || i >= g.serving) break;
      this.log.info(`group ${name}: back to route ${m.name}`);
      g.serving = i;
      break;
    }
    return g.serving === 0;
  }
}
