// Small UDP servers the UDP tests run in the target's namespace, as `node -e` scripts: each prints
// `ready` once bound.

/** Echoes every datagram back to its sender. */
export function udpEchoScript(address: string, port: number): string {
  return `const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(${port}, ${JSON.stringify(address)}, () => console.log('ready'));`;
}

/** A DNS server that answers every A query with 192.0.2.99 (the question copied, no EDNS). */
export function tinyDnsScript(address: string, port: number): string {
  return `const s = require('node:dgram').createSocket('udp4');
s.on('message', (q, r) => {
  if (q.length < 17) return;
  let at = 12;
  while (at < q.length && q[at] !== 0) at += q[at] + 1;
  const question = q.subarray(12, at + 5);
  const head = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
  s.send(Buffer.concat([head, question, answer]), r.port, r.address);
});
s.bind(${port}, ${JSON.stringify(address)}, () => console.log('ready'));`;
}

/**
 * Python: COUNT datagrams of 1 KiB by name to host:port, each hash-checked when it comes back; prints
 * `OK SRCPORT FAKE` (FAKE: the answer came from a name-table address, 240.0.0.0/4).
 */
export function pythonUdpEcho(host: string, port: number, count: number): string {
  return [
    'import hashlib, socket, sys',
    'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    'u.settimeout(10)',
    'ok = 0',
    `for i in range(${count}):`,
    '  data = hashlib.sha256(str(i).encode()).digest() * 32',
    `  u.sendto(data, ("${host}", ${port}))`,
    '  back, src = u.recvfrom(4096)',
    '  if back == data: ok += 1',
    '  else: print("mismatch", i, file=sys.stderr)',
    'print(ok, src[1], src[0].startswith("240."))',
  ].join('\n');
}
