import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagInputs, parseConfigText } from './load.js';
import { observeValue, showObserve } from './observe.js';

test('control, metrics and log_format from flags and files, with errors naming where', () => {
  assert.deepEqual(observeValue(flagInputs({})), { logFormat: 'text' });
  assert.deepEqual(
    observeValue(flagInputs({ control: 'off', metrics: '127.0.0.1:9100', 'log-format': 'json' })),
    { control: 'off', metrics: { host: '127.0.0.1', port: 9100 }, logFormat: 'json' },
  );
  // A relative control path in a file is relative to the file's directory, as `key` is.
  const file = parseConfigText('control = "run/ett.sock"\n', '/etc/ett/relay.toml');
  assert.equal(observeValue(file).control, '/etc/ett/run/ett.sock');
  assert.throws(
    () => observeValue(flagInputs({ control: '' })),
    /^TunnelError: --control: must be a socket path/,
  );
  assert.throws(() => observeValue(flagInputs({ metrics: '9100' })), /^TunnelError: --metrics: "9100": /);
  assert.throws(
    () => observeValue(parseConfigText('log_format = "xml"\n', 'c.toml')),
    /^TunnelError: c\.toml: log_format: "xml": must be one of text, json$/,
  );
});

test('check-config shows only what differs from the defaults', () => {
  assert.deepEqual(showObserve({ logFormat: 'text' }), []);
  assert.deepEqual(
    showObserve({ control: '/run/e.sock', metrics: { host: '::1', port: 9 }, logFormat: 'json' }),
    ['control = "/run/e.sock"', 'metrics = "[::1]:9"', 'log_format = "json"'],
  );
});
