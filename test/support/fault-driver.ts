// The test's side of the fault runs: the load program (fault-load.ts) started in the client's namespace
// and steered over its unix socket, a body search over a capture file too large to read at once, and
// the per-kind tally the suite prints.

import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { REPO_ROOT, type Cleanup } from './proc.js';
import type { BodyIndex, Leak } from './netns-capture.js';
import type { NsProcess, Topology } from './netns.js';
import { RESULTS, type ProbeResult, type Result, type Tally } from './fault-load.js';

const LOAD = path.join(REPO_ROOT, 'dist', 'test', 'support', 'fault-load.js');

/** The load program in the client's namespace (it starts paused). */
export class LoadDriver {
  private constructor(
    readonly proc: NsProcess,
    private readonly socketPath: string,
  ) {}

  static async start(
    cleanup: Cleanup,
    topo: Topology,
    opts: { socksPort: number; host: string; port: number; dir: string; workers: number; curlEvery: number },
  ): Promise<LoadDriver> {
    const socketPath = path.join(opts.dir, 'load.sock');
    const proc = topo.spawn(cleanup, 'client', [
      process.execPath,
      LOAD,
      String(opts.socksPort),
      opts.host,
      String(opts.port),
      socketPath,
      String(opts.workers),
      String(opts.curlEvery),
    ]);
    await proc.waitForLine(/^ready$/);
    return new LoadDriver(proc, socketPath);
  }

  private call<T>(what: string, timeoutMs = 120_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, path: what, method: 'POST' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`load ${what}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  resume(): Promise<unknown> {
    return this.call('/resume');
  }
  /** Stops new fetches and waits for the running ones to end. */
  pause(): Promise<unknown> {
    return this.call('/pause');
  }
  take(): Promise<Tally> {
    return this.call('/take');
  }
  /** A new small fetch, retried within deadlineMs until one is ok. */
  probe(via: 'node' | 'curl', deadlineMs = 5_000): Promise<ProbeResult> {
    return this.call(`/probe?via=${via}&deadline=${deadlineMs}`);
  }
}

export interface Scan {
  readonly bytes: number;
  readonly leaks: Leak[];
}

/** BodyIndex.findRuns over a file read in 64 MiB pieces that overlap, so no run is missed at a seam. */
export async function scanFile(file: string, index: BodyIndex, minRun = 64): Promise<Scan> {
  const PIECE = 64 * 1024 * 1024;
  const OVERLAP = 4096;
  const fh = await fs.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const leaks: Leak[] = [];
    const buf = Buffer.alloc(PIECE + OVERLAP);
    for (let at = 0; at < size; at += PIECE) {
      const { bytesRead } = await fh.read(buf, 0, PIECE + OVERLAP, at);
      for (const l of index.findRuns(buf.subarray(0, bytesRead), minRun, 10)) {
        if (!leaks.some((k) => k.at === at + l.at)) leaks.push({ ...l, at: at + l.at });
      }
      if (leaks.length >= 10) break;
    }
    return { bytes: size, leaks };
  } finally {
    await fh.close();
  }
}

/** What one fault kind did, for the summary. */
export interface KindReport {
  readonly kind: string;
  injected: number;
  /** Attempts that did not become a fault (e.g. a RST rule no packet met), not counted above. */
  missed: number;
  readonly streams: Record<Result, number>;
  curl: number;
  bodyBytes: number;
  recoveries: number;
  recoveredIn5s: number;
  recoveryAttempts: number;
  readonly failedRecoveries: string[];
  readonly bad: string[];
  readonly loudWhy: Record<string, number>;
  /** Packets the fault's rules met (RSTs sent, packets dropped), or signals sent. */
  packets: number;
}

export function newReport(kind: string): KindReport {
  return {
    kind,
    injected: 0,
    missed: 0,
    streams: { ok: 0, loud: 0, corrupt: 0, truncated: 0, stalled: 0 },
    curl: 0,
    bodyBytes: 0,
    recoveries: 0,
    recoveredIn5s: 0,
    recoveryAttempts: 0,
    failedRecoveries: [],
    bad: [],
    loudWhy: {},
    packets: 0,
  };
}

export function addTally(r: KindReport, t: Tally): void {
  for (const k of RESULTS) r.streams[k] += t.counts[k];
  r.curl += t.curl;
  r.bodyBytes += t.bytes;
  r.bad.push(...t.bad);
  for (const [why, n] of Object.entries(t.loudWhy)) r.loudWhy[why] = (r.loudWhy[why] ?? 0) + n;
}

export function addProbe(r: KindReport, p: ProbeResult, label: string): void {
  r.recoveries++;
  r.recoveryAttempts += p.attempts;
  if (p.ok) r.recoveredIn5s++;
  else r.failedRecoveries.push(`${label}: ${p.attempts} attempt(s), last ${p.last}`);
}

/** One summary line per kind. */
export function summaryLine(r: KindReport): string {
  const s = r.streams;
  return (
    `faults ${r.kind}: injected=${r.injected} (missed=${r.missed}, packets=${r.packets}) ` +
    `streams ok=${s.ok} failed-loudly=${s.loud} corrupted=${s.corrupt} truncated-silently=${s.truncated} ` +
    `stalled=${s.stalled} (curl ${r.curl}) recovered-within-5s=${r.recoveredIn5s}/${r.recoveries} ` +
    `(attempts ${r.recoveryAttempts})`
  );
}

/** The most frequent reasons for loud failures, for the diagnostics. */
export function topReasons(r: KindReport, n = 4): string {
  return Object.entries(r.loudWhy)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([why, c]) => `${c}× ${why}`)
    .join('; ');
}
