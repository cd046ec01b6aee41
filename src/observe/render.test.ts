import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Snapshot } from '../link/census.js';
import { bytes, duration, renderStatus, WIDTH } from './render.js';

const LONG = 'a-very-long-host-name-that-goes-on.example.org';

const SNAPSHOT: Snapshot = {
  daemon: 'client',
  pid: 42,
  uptime_ms: 3_723_000,
  links: [
    {
      peer: 'Z4UhHI1f',
      address: `${LONG}:7000`,
      dir: 'out',
      age_ms: 61_000,
      bytes_in: 123_456_789,
      bytes_out: 1023,
      rtt_ms: 12.5,
      streams: 3,
    },
  ],
  circuits: [{ route: 'chain', hops: ['Z4UhHI1f', 'pnPpocwv', '9sdfJk2L'], age_ms: 5000, streams: 3 }],
  streams: {
    total: 250,
    shown: [{ target: `${LONG}:443`, route: 'chain', age_ms: 999, bytes_in: 5, bytes_out: 6, state: 'open' }],
  },
  groups: [
    {
      name: 'g',
      serving: 'b',
      members: [
        { route: 'a', down: true },
        { route: 'b', down: false },
      ],
    },
  ],
  listeners: [{ kind: 'forward', address: '127.0.0.1:2222', to: `${LONG}:22`, via: 'route chain' }],
  refusals: { policy: 2, timeout: 1 },
};

test('every line fits 80 columns; long names are cut with an ellipsis', () => {
  const lines = renderStatus(SNAPSHOT);
  for (const l of lines) assert.ok(l.length <= WIDTH, `${l.length}: ${l}`);
  assert.equal(lines[0], 'ett client (pid 42), up 1h02m: 1 link(s), 1 circuit(s), 250 stream(s)');
  assert.ok(lines.includes('STREAMS (250, 1 shown)'));
  assert.ok(lines.some((l) => l.startsWith('  a-very-long-host-name-tha… chain')));
  assert.ok(lines.includes('  g: serving b; members a (down), b'));
  assert.ok(lines.includes('  policy 2, timeout 1'));
  assert.ok(lines.some((l) => /Z4UhHI1f out .* 1m01s +118M +1023B +12\.5ms +3$/.test(l)));
});

test('an empty daemon says (none)', () => {
  const lines = renderStatus({
    ...SNAPSHOT,
    links: [],
    circuits: [],
    streams: { total: 0, shown: [] },
    groups: [],
    listeners: [],
    refusals: {},
  });
  assert.deepEqual(lines.slice(1), [
    '',
    'LINKS',
    '  (none)',
    '',
    'STREAMS (0)',
    '  (none)',
    '',
    'REFUSALS',
    '  (none)',
  ]);
});

test('bytes and durations', () => {
  assert.deepEqual([0, 1023, 1024, 10 * 1024, 5.5 * 1024 ** 3].map(bytes), [
    '0B',
    '1023B',
    '1.0K',
    '10K',
    '5.5G',
  ]);
  assert.deepEqual([0, 59_999, 60_000, 3_600_000, 90_000_000].map(duration), [
    '0s',
    '59s',
    '1m00s',
    '1h00m',
    '1d01h',
  ]);
});
