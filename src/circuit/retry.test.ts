import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../test/support/fake-clock.js';
import { BACKOFF_FIRST_MS, BACKOFF_MAX_MS, backoffDelay, jittered, Retrier } from './retry.js';

test('backoff doubles from 1 s to a 30 s cap, jittered into [0.5, 1.5) of the base', () => {
  const bases = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  bases.forEach((base, i) => {
    assert.equal(backoffDelay(i + 1, 0), base / 2);
    assert.equal(backoffDelay(i + 1, 0.5), base);
    assert.ok(backoffDelay(i + 1, 0.999999) < base * 1.5);
  });
  assert.equal(BACKOFF_FIRST_MS, 1000);
  assert.equal(BACKOFF_MAX_MS, 30000);
  assert.equal(jittered(4000, 0), 3000);
  assert.equal(jittered(4000, 0.5), 4000);
  assert.ok(jittered(4000, 0.999999) < 5000);
});

function failingPlan(clock: FakeClock, maxAttempts: number, keep = () => true) {
  const attempts: number[] = [];
  let gaveUp = 0;
  const r = new Retrier(
    {
      delay: backoffDelay,
      maxAttempts,
      keepGoing: keep,
      attempt: (n) => {
        attempts.push(clock.now());
        assert.equal(n, attempts.length);
        return Promise.resolve(false);
      },
      onGiveUp: (n) => (gaveUp = n),
    },
    clock,
  );
  return { r, attempts, gaveUp: () => gaveUp };
}

test('a failing reconnect stops after maxAttempts, on the jittered exponential schedule', async () => {
  const randoms = [0.1, 0.9, 0.3, 0.7, 0.5, 0.2, 0.8, 0.6];
  const clock = new FakeClock(randoms);
  const { r, attempts, gaveUp } = failingPlan(clock, 6);
  r.start();
  r.start(); // a second start while running is a no-op
  await clock.advance(10 * 60_000);
  assert.equal(attempts.length, 6);
  assert.equal(gaveUp(), 6);
  assert.equal(r.running, false);
  assert.equal(clock.pending, 0, 'no timer left behind');
  // Each gap is the backoff base for that attempt times the jitter factor drawn for it.
  const gaps = attempts.map((t, i) => t - (i === 0 ? 0 : attempts[i - 1]!));
  const bases = [1000, 2000, 4000, 8000, 16000, 30000];
  gaps.forEach((gap, i) => assert.equal(gap, Math.floor(bases[i]! * (0.5 + randoms[i]!))));
  console.log(`reconnect gaps (ms): ${gaps.join(', ')}`);
});

test('jitter: two clients with different random draws do not retry in step', async () => {
  const a = new FakeClock([0.05]);
  const b = new FakeClock([0.95]);
  const ra = failingPlan(a, 4);
  const rb = failingPlan(b, 4);
  ra.r.start();
  rb.r.start();
  await a.advance(5 * 60_000);
  await b.advance(5 * 60_000);
  assert.equal(ra.attempts.length, 4);
  assert.equal(rb.attempts.length, 4);
  for (let i = 0; i < 4; i++) assert.notEqual(ra.attempts[i], rb.attempts[i]);
  assert.deepEqual(new Set(a.delays).size, 4);
});

test('keepGoing false ends the run quietly; stop() clears the timer; success ends the run', async () => {
  const clock = new FakeClock();
  let keep = true;
  const idle = failingPlan(clock, 100, () => keep);
  idle.r.start();
  await clock.advance(3500); // attempts at 1000 and 3000
  assert.equal(idle.attempts.length, 2);
  keep = false;
  await clock.advance(60_000);
  assert.equal(idle.attempts.length, 2);
  assert.equal(idle.gaveUp(), 0);
  assert.equal(idle.r.running, false);

  const stopped = failingPlan(clock, 100);
  stopped.r.start();
  stopped.r.stop();
  await clock.advance(60_000);
  assert.equal(stopped.attempts.length, 0);
  assert.equal(clock.pending, 0);

  let tries = 0;
  const ok = new Retrier(
    {
      delay: () => 1000,
      maxAttempts: Infinity,
      keepGoing: () => true,
      attempt: () => Promise.resolve(++tries === 3),
    },
    clock,
  );
  ok.start();
  await clock.advance(60_000);
  assert.equal(tries, 3);
  assert.equal(ok.running, false);
  assert.equal(clock.pending, 0);
});
