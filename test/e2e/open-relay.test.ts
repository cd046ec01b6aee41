// A relay started open to the internet (listening on 0.0.0.0, --allow-any, no exit rules of the
// owner's) prints a loud multi-line warning on stderr at startup, whatever the log level; the same relay
// on loopback, or with an exit policy, does not. Binds 0.0.0.0 on a free port; sends no traffic.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Cleanup, keygen, spawnEtt, tempDir } from '../support/proc.js';

const cleanup = new Cleanup();
after(() => cleanup.run());

async function startupStderr(args: string[]): Promise<string> {
  const dir = await tempDir(cleanup);
  const key = await keygen(dir, 'relay');
  const proc = spawnEtt(cleanup, ['relay', '--key', key.file, ...args]);
  await proc.waitForLine(/ett:\/\//);
  await proc.stop();
  return proc.stderr();
}

test(
  '0.0.0.0 + --allow-any + default exit policy: a loud WARNING on stderr',
  { timeout: 60_000 },
  async () => {
    const err = await startupStderr(['--listen', '0.0.0.0:0', '--allow-any', '--log-level', 'silent']);
    assert.match(err, /WARNING: this is an OPEN RELAY TO THE INTERNET FOR ANYONE/);
    assert.match(err, /listens on 0\.0\.0\.0/);
    assert.match(err, /--allow PIN/);
    assert.match(err, /--exit "accept \*:443" --exit "reject \*:\*"/);
    assert.ok(err.split('\n').length >= 8, 'several lines, not one to miss');
  },
);

test('the same relay on 127.0.0.1, or with an exit rule: no warning', { timeout: 60_000 }, async () => {
  for (const args of [
    ['--listen', '127.0.0.1:0', '--allow-any'],
    ['--listen', '0.0.0.0:0', '--allow-any', '--exit', 'accept 127.0.0.1:9', '--exit', 'reject *:*'],
  ]) {
    const err = await startupStderr(args);
    assert.doesNotMatch(err, /OPEN RELAY/, args.join(' '));
    assert.match(err, /serving any client key/, 'the relay did start and log');
  }
});
