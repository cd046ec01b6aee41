// The fast-check runner every property test uses: RUNS runs by default, a seed chosen here and printed
// in the assertion message on failure (with the shrunk counterexample's path), so a failure replays with
// ETT_FC_SEED=<seed> [ETT_FC_PATH=<path>]. Not a *.test.ts file: importing it runs no tests.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TunnelError, type ErrorCode } from '../../src/errors.js';

export const RUNS = 10_000;

/** Runs a property; on failure the message starts with the seed and path. */
export function check(property: fc.IProperty<unknown>, numRuns = RUNS): void {
  const seed =
    process.env.ETT_FC_SEED !== undefined
      ? Number(process.env.ETT_FC_SEED)
      : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const path = process.env.ETT_FC_PATH;
  const out = fc.check(property, { numRuns, seed, ...(path !== undefined ? { path } : {}) });
  if (out.failed) {
    assert.fail(
      `property failed with seed ${seed} path ${JSON.stringify(out.counterexamplePath)} ` +
        `(rerun: ETT_FC_SEED=${seed} ETT_FC_PATH=${JSON.stringify(out.counterexamplePath)})\n${fc.defaultReportMessage(out)}`,
    );
  }
}

/** fn's value, or the TunnelError it threw; anything else thrown is re-thrown (and fails the property). */
export function settle<T>(fn: () => T): { ok: true; value: T } | { ok: false; code: ErrorCode } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof TunnelError) return { ok: false, code: err.code };
    throw new Error(`threw a non-TunnelError: ${String(err)}`, { cause: err });
  }
}

/** Bytes that are mostly junk but often start like the message under test, so decoders get past byte 0. */
export function bytesStartingWith(...prefixes: number[][]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .tuple(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 300 }))
      .map(([p, rest]) => Uint8Array.from([...p, ...rest])),
  );
}

const LABEL = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/);

/** A host name every parser must accept as a name: 1..4 labels, not an IP literal, with some non-ASCII. */
export const domainArb: fc.Arbitrary<string> = fc
  .tuple(fc.array(LABEL, { minLength: 1, maxLength: 4 }), fc.constantFrom('', '', '', 'bücher-', 'xn--'))
  .map(([labels, extra]) => (extra + labels.join('.')).replace(/^-/, 'a'))
  .filter((h) => !/^[0-9.]+$/.test(h) && !/^0x/i.test(h));

/** Four or sixteen random bytes. */
export const ipBytesArb = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => ({ family: 4 as const, bytes })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => ({ family: 6 as const, bytes })),
);

export const portArb = fc.integer({ min: 1, max: 65535 });
