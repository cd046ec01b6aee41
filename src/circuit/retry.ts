// Background retries of the client: one scheduler (Retrier) for both the pool's reconnects (exponential
// backoff) and a group's health checks (a steady interval), each delay jittered so that many clients cut
// off by the same relay restart do not all come back in the same instant. Time and randomness come in
// through a Clock so the schedule can be tested without waiting.

/** First reconnect delay; it doubles per attempt up to BACKOFF_MAX_MS. */
export const BACKOFF_FIRST_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;
/** A route (or group) no request has asked for in this long is not retried in the background. */
export const RECENT_USE_MS = 5 * 60_000;

export interface Clock {
  now(): number;
  /** A number in [0, 1). */
  random(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Delay before background attempt n (1-based): BACKOFF_FIRST_MS doubling per attempt, capped at
 * BACKOFF_MAX_MS, times a jitter factor in [0.5, 1.5).
 */
export function backoffDelay(attempt: number, random: number): number {
  const base = Math.min(BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt - 1), BACKOFF_MAX_MS);
  return Math.floor(base * (0.5 + random));
}

/** ms with ±25 % jitter: a factor in [0.75, 1.25). */
export function jittered(ms: number, random: number): number {
  return Math.floor(ms * (0.75 + random / 2));
}

export interface RetryPlan {
  /** Delay before attempt n (1-based), given a random number in [0, 1). */
  delay(attempt: number, random: number): number;
  /** Attempts before giving up (Infinity: until stopped or keepGoing says no). */
  readonly maxAttempts: number;
  /** Asked before each attempt; false ends the retries quietly. */
  keepGoing(): boolean;
  /** One attempt: resolves true when done (success), false to try again. Must not reject. */
  attempt(n: number): Promise<boolean>;
  /** Called once when maxAttempts failed attempts were made. */
  onGiveUp?(attempts: number): void;
}

/**
 * Runs plan.attempt one at a time, each after its jittered delay, until one succeeds, maxAttempts have
 * failed, keepGoing() says no, or stop() is called. At most one timer and one attempt at any time.
 */
export class Retrier {
  private timer: unknown = null;
  private attempts = 0;
  private active = false;

  constructor(
    private readonly plan: RetryPlan,
    private readonly clock: Clock = realClock,
  ) {}

  get running(): boolean {
    return this.active;
  }

  /** Attempts made so far in the current run. */
  get attemptsMade(): number {
    return this.attempts;
  }

  /** Starts a run (from attempt 1) unless one is going. */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.attempts = 0;
    this.schedule();
  }

  stop(): void {
    this.active = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const n = this.attempts + 1;
    this.timer = this.clock.setTimeout(() => void this.fire(n), this.plan.delay(n, this.clock.random()));
  }

  private async fire(n: number): Promise<void> {
    this.timer = null;
    if (!this.active) return;
    if (!this.plan.keepGoing()) return this.stop();
    this.attempts = n;
    const done = await this.plan.attempt(n);
    if (!this.active) return;
    if (done) return this.stop();
    if (n >= this.plan.maxAttempts) {
      this.stop();
      this.plan.onGiveUp?.(n);
      return;
    }
    this.schedule();
  }
}
