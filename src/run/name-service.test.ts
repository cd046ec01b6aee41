import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { silentLogger } from '../log.js';
import { answer, startNameService } from './name-service.js';
import { NameTable } from './names.js';

/** One question on the socket, as native/names.c asks it; the reply line (or what came before close). */
function ask(file: string, question: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const s = net.connect(file, () => s.write(question));
    s.setEncoding('latin1');
    s.on('data', (d: string) => (reply += d));
    s.on('close', () => resolve(reply));
    s.on('error', reject);
  });
}

describe('run name service', () => {
  test('answers, line for line', () => {
    const t = new NameTable();
    assert.equal(answer(t, 'N Example.test'), 'A 240.0.0.1');
    assert.equal(answer(t, 'N example.test.'), 'A 240.0.0.1');
    assert.equal(answer(t, 'R 240.0.0.1'), 'N example.test');
    assert.equal(answer(t, 'R 240.0.0.2'), 'E no name for this address (forgotten, or never handed out)');
    assert.equal(answer(t, 'R 10.0.0.1'), 'E no name for this address (forgotten, or never handed out)');
    assert.equal(answer(t, 'N bad name'), 'E not a host name');
    assert.equal(answer(t, 'X'), 'E bad question');
    assert.equal(answer(t, ''), 'E bad question');
  });

  test('over its Unix socket, in a directory only this user can enter; removed on close', async () => {
    const svc = await startNameService(silentLogger);
    try {
      const dir = await stat(path.dirname(svc.path));
      assert.equal(dir.mode & 0o777, 0o700);
      assert.equal(await ask(svc.path, 'N one.test\n'), 'A 240.0.0.1\n');
      assert.equal(await ask(svc.path, 'R 240.0.0.1\n'), 'N one.test\n');
      assert.equal(await ask(svc.path, 'N ' + 'x'.repeat(400)), 'E question too long\n');
      assert.equal(await ask(svc.path, Buffer.from('N a\u0000b.test\n')), 'E not a host name\n');
    } finally {
      await svc.close();
    }
    await assert.rejects(stat(path.dirname(svc.path)), { code: 'ENOENT' });
  });
});
