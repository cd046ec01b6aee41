// Giving memory back after a load: the quiet rule with numbers, and ett-mem.node on its own (built by
// `npm install` into dist/native/; the tests say so and skip when the build could not make it).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { GROWTH_MIN, loadMemAddon, QUIET_CHECKS, QUIET_CPU_MS, QuietRule } from './memory.js';

const MiB = 1024 * 1024;
const BASE = 70 * MiB;

describe('QuietRule', () => {
  test('gives back after QUIET_CHECKS quiet checks once the RSS grew by GROWTH_MIN', () => {
    const rule = new QuietRule(BASE);
    const grown = BASE + GROWTH_MIN;
    // a load: busy checks while the RSS grows
    for (let i = 0; i < 5; i++) assert.equal(rule.check(500, grown), false);
    // quiet, but not yet long enough
    for (let i = 1; i < QUIET_CHECKS; i++) assert.equal(rule.check(0, grown), false, `quiet check ${i}`);
    assert.equal(rule.check(QUIET_CPU_MS - 1, grown), true);
  });

  test('a busy check starts the quiet count again', () => {
    const rule = new QuietRule(BASE);
    const grown = BASE + 2 * GROWTH_MIN;
    for (let i = 1; i < QUIET_CHECKS; i++) assert.equal(rule.check(0, grown), false);
    assert.equal(rule.check(QUIET_CPU_MS, grown), false); // exactly the threshold is busy
    for (let i = 1; i < QUIET_CHECKS; i++) assert.equal(rule.check(0, grown), false);
    assert.equal(rule.check(0, grown), true);
  });

  test('no give-back below GROWTH_MIN of growth, however long it is quiet', () => {
    const rule = new QuietRule(BASE);
    for (let i = 0; i < 100; i++) assert.equal(rule.check(0, BASE + GROWTH_MIN - 1), false);
    assert.equal(rule.check(0, BASE + GROWTH_MIN), true);
  });

  test('after a give-back the next one waits for growth from the new RSS', () => {
    const rule = new QuietRule(BASE);
    const grown = BASE + 3 * GROWTH_MIN;
    for (let i = 1; i < QUIET_CHECKS; i++) rule.check(0, grown);
    assert.equal(rule.check(0, grown), true);
    // memory that is live (many idle streams) stays: the RSS after is high, and no retry follows
    const after = BASE + 2 * GROWTH_MIN;
    rule.gaveBack(after);
    for (let i = 0; i < 50; i++) assert.equal(rule.check(0, after + GROWTH_MIN - 1), false);
    assert.equal(rule.check(0, after + GROWTH_MIN), true);
  });

  test('the floor follows the RSS down', () => {
    const rule = new QuietRule(BASE);
    rule.check(0, BASE - 20 * MiB); // it fell by itself
    for (let i = 1; i < QUIET_CHECKS; i++) rule.check(0, BASE - 20 * MiB + GROWTH_MIN - 1);
    assert.equal(rule.check(0, BASE - 20 * MiB + GROWTH_MIN - 1), false);
    assert.equal(rule.check(0, BASE - 20 * MiB + GROWTH_MIN), true);
  });

  test('with options of its own', () => {
    const rule = new QuietRule(0, { quietCpuMs: 5, quietChecks: 1, growthMin: 10 });
    assert.equal(rule.check(5, 10), false);
    assert.equal(rule.check(4, 9), false);
    assert.equal(rule.check(4, 10), true);
  });
});

describe('ett-mem.node', () => {
  const addon = loadMemAddon();
  const skip = 'why' in addon ? addon.why : false;

  test('info() counts what malloc holds; trim() returns a boolean', { skip }, () => {
    if ('why' in addon) return;
    const before = addon.info();
    for (const k of ['arena', 'mmapped', 'inUse', 'free', 'topFree'] as const) {
      assert.equal(typeof before[k], 'number', k);
      assert.ok(before[k] >= 0, k);
    }
    // 32 MiB in 64 KiB pieces (below glibc's mmap threshold: from the arenas), held, then freed
    let held: Buffer[] = [];
    for (let i = 0; i < 512; i++) held.push(Buffer.alloc(65536, i));
    const during = addon.info();
    assert.ok(during.inUse >= before.inUse + 16 * MiB, `inUse ${before.inUse} → ${during.inUse}`);
    held = [];
    addon.lowMemory(); // the collections free the Buffers' memory (on V8's background thread)
    assert.equal(held.length, 0);
    assert.equal(typeof addon.trim(), 'boolean');
  });

  test('lowMemory() shrinks V8 heap that garbage grew', { skip }, () => {
    if ('why' in addon) return;
    let keep: object[] = [];
    for (let i = 0; i < 2_000_000; i++) {
      keep.push({ i, a: [i] });
      if (keep.length > 100_000) keep = [];
    }
    keep = [];
    const grown = process.memoryUsage().heapTotal;
    addon.lowMemory();
    const after = process.memoryUsage().heapTotal;
    assert.ok(after < grown - 8 * MiB, `heapTotal ${grown} → ${after}`);
  });

  test('a directory without it: the reason the build left, or the load error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ett-mem-'));
    try {
      const none = loadMemAddon(dir);
      assert.ok('why' in none);
      assert.match(none.why, /ett-mem\.node is missing: .*Cannot find module/);
      writeFileSync(path.join(dir, 'UNAVAILABLE-mem'), 'the C++ compiler `c++` could not be run (ENOENT)\n');
      const why = loadMemAddon(dir);
      assert.ok('why' in why);
      assert.match(
        why.why,
        /ett-mem\.node is missing: the C\+\+ compiler `c\+\+` could not be run \(ENOENT\)$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
