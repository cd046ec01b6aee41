// Benchmark target, run as its own process so it never shares an event loop with ett.
// Protocol by first byte (the same as ../shared/bench's target): 'D' + u64 N → N bytes then FIN;
// 'U' + u64 N → read N bytes, answer 'K'; anything else → echo until EOF.
import net from 'node:net';

const block = Buffer.alloc(1024 * 1024, 0x5a);
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy());
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    if (head[0] !== 0x44 && head[0] !== 0x55) {
      sock.off('data', onData);
      sock.write(head);
      sock.pipe(sock);
      return;
    }
    if (head.length < 9) return;
    sock.off('data', onData);
    const n = Number(head.readBigUInt64BE(1));
    const rest = head.subarray(9);
    if (head[0] === 0x44) {
      let left = n;
      const pump = () => {
        while (left > 0) {
          const c = left >= block.length ? block : block.subarray(0, left);
          left -= c.length;
          if (!sock.write(c)) return void sock.once('drain', pump);
        }
        sock.end();
      };
      pump();
    } else {
      let got = rest.length;
      const done = () => sock.end('K');
      if (got >= n) return done();
      sock.on('data', (c) => {
        got += c.length;
        if (got >= n) done();
      });
    }
  };
  sock.on('data', onData);
});
server.listen({ host: process.env.TARGET_HOST ?? '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.stdout.write(`${server.address().port}\n`);
});
