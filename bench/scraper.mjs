// The scraper of `npm run bench`'s `+scrape` runs, in a process of its own (as Prometheus and a watching
// `ett status` would be): polls each endpoint's /metrics and control-socket `status` every SCRAPE_MS
// until SIGTERM, then prints {"polls":N,"failures":M} and exits.
//   node bench/scraper.mjs '[{"metrics":"http://…/metrics","control":"/…/x.sock"},…]'
import net from 'node:net';

const SCRAPE_MS = Number(process.env.SCRAPE_MS ?? 100);
const endpoints = JSON.parse(process.argv[2] ?? '[]');
let polls = 0;
let failures = 0;
let stopped = false;
process.once('SIGTERM', () => (stopped = true));

/** One control request on a new connection: resolves with the answer's length. */
function controlStatus(path) {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      got += d;
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.length);
      }
    });
    s.on('error', reject);
    s.write('{"cmd":"status"}\n');
  });
}

while (!stopped) {
  const t0 = Date.now();
  await Promise.all(
    endpoints.flatMap(({ metrics, control }) => [
      fetch(metrics).then((r) => r.text()),
      controlStatus(control),
    ]),
  ).then(
    () => polls++,
    () => failures++,
  );
  await new Promise((r) => setTimeout(r, Math.max(0, SCRAPE_MS - (Date.now() - t0))));
}
process.stdout.write(JSON.stringify({ polls, failures }) + '\n');
