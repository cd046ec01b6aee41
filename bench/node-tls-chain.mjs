// The Node.js floor for a chain, as a peer of the shared harness (bench/peers/node-tls-chain*.sh):
// nested TLS 1.3 through N hops with nothing of ett's, one TCP connection per forwarded connection,
// no multiplexer, no pins, no policy. The client's TLS to hop k runs inside its TLS to hop k-1 (node
// nests one TLS socket in another natively, no JavaScript stream adapter); hop k < N forwards what it
// decrypts to hop k+1's port, the last hop to the target. What this costs is what node:tls costs for
// ett's chain shape; ett's own code is the difference between it and the ett-Nrelay peers.
// Usage: node node-tls-chain.mjs hop    LISTEN_PORT NEXT_HOST NEXT_PORT CERT KEY CIPHERSUITE
//        node node-tls-chain.mjs client LISTEN_PORT CERT CIPHERSUITE HOP1_PORT [HOP2_PORT ...]
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [mode, listen, ...a] = process.argv.slice(2);
// Each way a pipe; a side that closes ends the other's writing (what was written still leaves: a
// destroy here could cut the last bytes off a download still in the other side's TLS), an error ends both.
const join = (x, y) => {
  x.pipe(y);
  y.pipe(x);
  const fail = () => {
    x.destroy();
    y.destroy();
  };
  for (const [s, other] of [
    [x, y],
    [y, x],
  ]) {
    s.on('error', fail);
    s.on('close', () => other.end());
  }
};
if (mode === 'hop') {
  const [host, port, cert, key, suite] = a;
  const options = {
    cert: fs.readFileSync(cert),
    key: fs.readFileSync(key),
    minVersion: 'TLSv1.3',
    ciphersuites: suite,
  };
  tls
    .createServer(options, (s) => {
      s.setNoDelay(true);
      join(s, net.connect({ host, port: Number(port), noDelay: true }));
    })
    .listen({ host: '127.0.0.1', port: Number(listen), backlog: 511 }, () => console.log(`hop ${listen}`));
} else if (mode === 'client') {
  const [cert, suite, ...hops] = a;
  const ca = fs.readFileSync(cert);
  const options = {
    ca,
    servername: 'bench-relay',
    checkServerIdentity: () => undefined,
    minVersion: 'TLSv1.3',
    ciphersuites: suite,
  };
  net
    .createServer({ noDelay: true }, (c) => {
      let s = tls.connect({ ...options, host: '127.0.0.1', port: Number(hops[0]) });
      s.setNoDelay(true);
      for (let k = 1; k < hops.length; k++) s = tls.connect({ ...options, socket: s });
      join(c, s);
    })
    .listen({ host: '127.0.0.1', port: Number(listen), backlog: 511 }, () => console.log(`client ${listen}`));
} else {
  console.error('usage: node node-tls-chain.mjs hop|client ...');
  process.exit(2);
}
