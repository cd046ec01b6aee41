import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_LIMITS, OPEN_FILES_RESERVE, openFilesNeeded, withLimits } from './limits.js';

test('openFilesNeeded: the documented sums, for the defaults', () => {
  // links_max 4096 + handshakes_in_flight 512 + exit_sockets_per_client 16384
  // + udp_associations_per_client 256 + publish_ports_per_client 16 × (1 listener
  // + publish_connections_per_port 256) + control_connections_max 16 + reserve 64
  assert.equal(openFilesNeeded(DEFAULT_LIMITS, 'relay'), 25_440);
  // streams_per_link 16384 + path_length_max 8 + control_connections_max 16 + reserve 64
  assert.equal(openFilesNeeded(DEFAULT_LIMITS, 'client'), 16_472);
  assert.equal(OPEN_FILES_RESERVE, 64);
});

test('openFilesNeeded: follows each limit it counts, and no other', () => {
  const base = openFilesNeeded(DEFAULT_LIMITS, 'relay');
  for (const name of [
    'linksMax',
    'handshakesInFlight',
    'exitSocketsPerClient',
    'udpAssociationsPerClient',
  ] as const) {
    const l = withLimits({ [name]: DEFAULT_LIMITS[name] + 10 });
    assert.equal(openFilesNeeded(l, 'relay'), base + 10, name);
  }
  // A published port is its listener and its connections.
  assert.equal(openFilesNeeded(withLimits({ publishPortsPerClient: 17 }), 'relay'), base + 257);
  assert.equal(openFilesNeeded(withLimits({ publishConnectionsPerPort: 257 }), 'relay'), base + 16);
  assert.equal(
    openFilesNeeded(withLimits({ publishPortsPerClient: 0 }), 'client'),
    openFilesNeeded(DEFAULT_LIMITS, 'client'),
  );
  assert.equal(
    openFilesNeeded(withLimits({ streamsPerLink: 1 }), 'relay'),
    base,
    'streams_per_link is the client’s',
  );
  const cbase = openFilesNeeded(DEFAULT_LIMITS, 'client');
  assert.equal(openFilesNeeded(withLimits({ streamsPerLink: 100 }), 'client'), cbase - 16_384 + 100);
  assert.equal(openFilesNeeded(withLimits({ linksMax: 1 }), 'client'), cbase, 'links_max is the relay’s');
});
