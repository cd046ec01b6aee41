import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
} from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

import { TunnelError } from '../errors.js';
import { selfSignedCertificate } from './certificate.js';
import { ephemeralIdentity, identityFromKey, loadIdentity } from './identity.js';
import { generateKey, keyToPem, loadKeyFile, writeNewKeyFile } from './keys.js';
import { pinOfCertificate, pinOfKey, pinsEqual } from './pin.js';

const configError = (re: RegExp) => (err: unknown) =>
  err instanceof TunnelError && err.code === 'config' && re.test(err.message);

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ett-identity-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// A fixed test key (made with `openssl genpkey -algorithm ed25519`) and its pin as computed by
// `openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64`, curl's recipe.
const VECTOR_KEY = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEYNJYGqxZm+L2aaxxpHYmvNzAvHQesAEE+87d42uHCR
-----END PRIVATE KEY-----
`;
const VECTOR_PIN = 'Ut2PCun5Oq4nngJF4HiSwZES95G115GzZtljl5mwHQY=';

test('pin is base64 SHA-256 of the DER SubjectPublicKeyInfo (the text curl pins)', () => {
  const key = createPrivateKey(VECTOR_KEY);
  assert.equal(pinOfKey(key), VECTOR_PIN);
  assert.equal(pinOfKey(createPublicKey(key)), VECTOR_PIN);
  const fresh = generateKey();
  const expected = createHash('sha256')
    .update(createPublicKey(fresh).export({ type: 'spki', format: 'der' }))
    .digest('base64');
  assert.equal(pinOfKey(fresh), expected);
  assert.match(expected, /^[A-Za-z0-9+/]{43}=$/);
});

test('pinsEqual: same pin in either spelling is equal; different or malformed pins are not', () => {
  const a = pinOfKey(generateKey());
  const b = pinOfKey(generateKey());
  const url = a.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  assert.equal(pinsEqual(a, a), true);
  assert.equal(pinsEqual(a, url), true);
  assert.equal(pinsEqual(a, `sha256//${a}`), true);
  assert.equal(pinsEqual(a, b), false);
  assert.equal(pinsEqual(a, ''), false);
  assert.equal(pinsEqual('not a pin', 'not a pin'), false);
});

test('writeNewKeyFile: mode 0600, loadable, returns the pin; never overwrites', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'k.key');
    const pin = await writeNewKeyFile(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(await readFile(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(pinOfKey(await loadKeyFile(path)), pin);
    const before = await readFile(path, 'utf8');
    await assert.rejects(
      writeNewKeyFile(path),
      configError(/k\.key: already exists; refusing to overwrite$/),
    );
    assert.equal(await readFile(path, 'utf8'), before);
  });
});

test('loadKeyFile refuses group/other-readable files before reading them', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'k.key');
    await writeNewKeyFile(path);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      const octal = mode.toString(8).padStart(4, '0');
      await assert.rejects(
        loadKeyFile(path),
        configError(
          new RegExp(`k\\.key: key file is readable by group or others \\(mode ${octal}\\); run: chmod 600 `),
        ),
      );
    }
    await chmod(path, 0o400);
    await loadKeyFile(path);
  });
});

test('loadKeyFile: clear errors for missing, not-a-key, encrypted, wrong type', async () => {
  await withDir(async (dir) => {
    const file = (name: string) => join(dir, name);
    await assert.rejects(loadKeyFile(file('none.key')), configError(/none\.key: no such file/));
    await assert.rejects(loadKeyFile(dir), configError(/not a regular file/));
    await writeFile(file('junk.key'), 'hello\n', { mode: 0o600 });
    await assert.rejects(loadKeyFile(file('junk.key')), configError(/junk\.key: not a PEM private key/));
    await writeFile(file('bad.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', {
      mode: 0o600,
    });
    await assert.rejects(loadKeyFile(file('bad.key')), configError(/bad\.key: not a usable private key/));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    await writeFile(file('rsa.key'), keyToPem(rsa), { mode: 0o600 });
    await assert.rejects(loadKeyFile(file('rsa.key')), configError(/rsa\.key: unsupported key type rsa/));
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    await writeFile(file('p384.key'), keyToPem(p384), { mode: 0o600 });
    await assert.rejects(
      loadKeyFile(file('p384.key')),
      configError(/unsupported key type ec \(curve secp384r1\)/),
    );
    const enc = generateKey().export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'x',
    });
    await writeFile(file('enc.key'), enc, { mode: 0o600 });
    await assert.rejects(
      loadKeyFile(file('enc.key')),
      configError(/enc\.key: encrypted keys are not supported/),
    );
  });
});

test('loadKeyFile accepts P-256 keys, PKCS#8 and SEC1', async () => {
  await withDir(async (dir) => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await writeFile(join(dir, 'p8.key'), keyToPem(key), { mode: 0o600 });
    await writeFile(join(dir, 'sec1.key'), key.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
    assert.equal(pinOfKey(await loadKeyFile(join(dir, 'p8.key'))), pinOfKey(key));
    assert.equal(pinOfKey(await loadKeyFile(join(dir, 'sec1.key'))), pinOfKey(key));
  });
});

test('certificate: CN ett, valid from yesterday for ten years, carries the key, verifies itself', async () => {
  for (const key of [generateKey(), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey]) {
    const now = new Date();
    const pem = await selfSignedCertificate(key, now);
    const cert = new X509Certificate(pem);
    assert.equal(cert.subject, 'CN=ett');
    assert.equal(cert.issuer, 'CN=ett');
    assert.equal(pinOfCertificate(cert), pinOfKey(key));
    assert.ok(cert.verify(cert.publicKey), 'self-signature verifies');
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    assert.ok(Math.abs(now.getTime() - from - 86_400_000) < 2000, cert.validFrom);
    assert.ok(to - now.getTime() > 3649 * 86_400_000, cert.validTo);
    assert.notEqual(new X509Certificate(await selfSignedCertificate(key)).serialNumber, cert.serialNumber);
  }
});

test('certificate parses with openssl x509', { skip: !hasOpenssl() }, async () => {
  const pem = await selfSignedCertificate(generateKey());
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString();
  assert.match(text, /Subject: CN\s?=\s?ett/);
  assert.match(text, /ED25519/);
});

test('identity: key and certificate pair is accepted by node:tls with TLS 1.3 both ways; pins match', async () => {
  const server = await ephemeralIdentity();
  const client = await ephemeralIdentity();
  assert.notEqual(server.pin, client.pin);
  const srv = tls.createServer({
    key: server.keyPem,
    cert: server.certPem,
    minVersion: 'TLSv1.3',
    requestCert: true,
    rejectUnauthorized: false,
  });
  const seen = new Promise<string>((resolve) =>
    srv.once('secureConnection', (s) => {
      resolve(pinOfCertificate(s.getPeerX509Certificate()!));
      s.end();
    }),
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const sock = tls.connect({
    host: '127.0.0.1',
    port,
    key: client.keyPem,
    cert: client.certPem,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  });
  await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  assert.equal(sock.getProtocol(), 'TLSv1.3');
  assert.ok(pinsEqual(pinOfCertificate(sock.getPeerX509Certificate()!), server.pin));
  assert.equal(await seen, client.pin);
  sock.destroy();
  await new Promise((resolve) => srv.close(resolve));
});

test('loadIdentity and identityFromKey agree; ephemeral identities never touch disk', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'k.key');
    const pin = await writeNewKeyFile(path);
    const id = await loadIdentity(path);
    assert.equal(id.pin, pin);
    assert.equal(id.keyPem, await readFile(path, 'utf8'));
    assert.equal(pinOfCertificate(new X509Certificate(id.certPem)), pin);
    const again = await identityFromKey(await loadKeyFile(path));
    assert.equal(again.pin, pin);
    await assert.rejects(
      identityFromKey(generateKeyPairSync('ed25519').publicKey),
      configError(/not a private key/),
    );
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
