// Prometheus metrics (`--metrics HOST:PORT`, GET /metrics, text exposition 0.0.4), built with
// prom-client: its exposition format, escaping, counters and histogram buckets are what dashboards
// expect, and we would otherwise rewrite and test all of it by hand. The process metrics (RSS, CPU,
// event-loop lag from perf_hooks' monitorEventLoopDelay) are our own few, read cheaply (processMetrics).
//
// What is exported is numbers from Census.totals() and nothing else: no target, no pin, no address in
// any label (a target is the user's browsing history; labels are the closed sets below). The values are
// read when a scrape comes, not kept up to date on the data path; the one per-stream event is
// Census 'opened' (the open latency).

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as client from 'prom-client';
import { TunnelError } from '../errors.js';
import type { Census } from '../link/census.js';
import type { Logger } from '../log.js';
import { memoryStats } from './memory-stats.js';
import { formatTarget, type Target } from '../wire/address.js';

/** Scrapers served at once, and how long one request may take, ms. */
export const METRICS_CONNECTIONS_MAX = 64;
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Resolution of the event-loop delay monitor, ms (perf_hooks samples the loop this often). */
const LAG_RESOLUTION_MS = 20;

/** Stream open latency buckets, seconds. */
const OPEN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsHandle {
  readonly address: Target;
  close(): Promise<void>;
}

/** A registry of ett's metrics over `census`. Never throws. */
export function metricsRegistry(census: Census, version: string): client.Registry {
  const registry = new client.Registry();
  processMetrics(registry);
  const t = (): ReturnType<Census['totals']> => census.totals();
  const gauge = (name: string, help: string, read: () => number): void =>
    readGauge(registry, name, help, read);
  const counter = (name: string, help: string, read: () => number): void =>
    readCounter(registry, name, help, read);
  new client.Gauge({
    name: 'ett_info',
    help: 'Always 1; the labels say which daemon and version',
    labelNames: ['daemon', 'version'],
    registers: [registry],
  }).set({ daemon: census.daemon, version }, 1);
  gauge('ett_links', 'Links up now (multiplexed TLS connections)', () => t().links);
  gauge('ett_circuits', 'Client: circuits in use now', () => t().circuits);
  gauge('ett_streams', 'Streams open now', () => t().streams);
  counter('ett_streams_opened_total', 'Streams whose open succeeded', () => t().streamsOpened);
  counter('ett_handshakes_total', 'TLS handshakes of links that succeeded', () => t().handshakes);
  counter('ett_handshake_failures_total', 'TLS handshakes of links that failed', () => t().handshakeFailures);
  for (const [name, help, inKey, outKey] of [
    ['ett_link_bytes_total', 'Multiplexer bytes on links, frames included', 'linkBytesIn', 'linkBytesOut'],
    ['ett_stream_bytes_total', 'Payload bytes of streams', 'streamBytesIn', 'streamBytesOut'],
  ] as const) {
    new client.Counter({
      name,
      help,
      labelNames: ['direction'],
      registers: [registry],
      collect() {
        const now = t();
        this.reset();
        this.inc({ direction: 'in' }, now[inKey]);
        this.inc({ direction: 'out' }, now[outKey]);
      },
    });
  }
  new client.Counter({
    name: 'ett_refusals_total',
    help: 'Refusals and failures by reason (an ett error code)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(t().refusals)) this.inc({ reason }, n);
    },
  });
  const open = new client.Histogram({
    name: 'ett_stream_open_seconds',
    help: 'Time from a stream open to its result (relay: the exit connect)',
    buckets: OPEN_BUCKETS,
    registers: [registry],
  });
  census.on('opened', (ms: number) => open.observe(ms / 1000));
  return registry;
}

/** A gauge whose value is read when a scrape comes. */
function readGauge(registry: client.Registry, name: string, help: string, read: () => number): void {
  new client.Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose total is read when a scrape comes (from a count kept elsewhere). */
function readCounter(registry: client.Registry, name: string, help: string, read: () => number): void {
  new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * The process's own figures, cheap to read on each scrape. Not prom-client's collectDefaultMetrics: that
 * lists /proc/self/fd on every scrape, which for a relay holding ten thousand sockets is the costliest
 * part of a scrape. The names are the usual ones, so dashboards find them.
 */
function processMetrics(registry: client.Registry): void {
  const delay = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  delay.enable();
  const seconds = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
  const lag = (name: string, help: string, read: () => number): void => readGauge(registry, name, help, read);
  readGauge(registry, 'process_resident_memory_bytes', 'Resident memory size in bytes', () =>
    process.memoryUsage.rss(),
  );
  readCounter(registry, 'process_cpu_seconds_total', 'User and system CPU time spent, seconds', () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  });
  readCounter(
    registry,
    'ett_memory_givebacks_total',
    'Times memory was given back after a load',
    () => memoryStats.givebacks,
  );
  readCounter(
    registry,
    'ett_memory_given_back_bytes_total',
    'Resident memory given back after loads, bytes',
    () => memoryStats.givenBackBytes,
  );
  new client.Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the epoch, seconds',
    registers: [registry],
  }).set(Math.round(Date.now() / 1000 - process.uptime()));
  // The event-loop delay since the last scrape (then the histogram starts again).
  lag('nodejs_eventloop_lag_seconds', 'Mean event-loop delay since the last scrape, seconds', () =>
    seconds(delay.mean),
  );
  lag(
    'nodejs_eventloop_lag_p99_seconds',
    '99th percentile of the event-loop delay since the last scrape, seconds',
    () => seconds(delay.percentile(99)),
  );
  lag('nodejs_eventloop_lag_max_seconds', 'Largest event-loop delay since the last scrape, seconds', () => {
    const max = seconds(delay.max);
    delay.reset(); // the last of the three read in a scrape (registration order)
    return max;
  });
}

/**
 * Serves /metrics on `listen`. Rejects with TunnelError('config') if it cannot listen there.
 * Anything but GET /metrics gets 404.
 */
export async function startMetrics(
  listen: Target,
  census: Census,
  log: Logger,
  version: string,
): Promise<MetricsHandle> {
  const registry = metricsRegistry(census, version);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.warn(`metrics: ${(err as Error).message}`);
        res.writeHead(500).end();
      },
    );
  });
  server.maxConnections = METRICS_CONNECTIONS_MAX;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new TunnelError(
      'config',
      `metrics: cannot listen on ${formatTarget(listen)}: ${(err as Error).message}`,
    );
  });
  server.on('error', (err) => log.warn(`metrics: ${err.message}`));
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
