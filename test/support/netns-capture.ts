// Packet captures for the namespace tests: tcpdump inside a namespace (started before a transfer, stopped
// by PID after it), a minimal pcap reader, and a search for any run of a known body in captured bytes.

import * as fs from 'node:fs/promises';
import { sleep, type Cleanup } from './proc.js';
import type { Host, NsProcess, Topology } from './netns.js';

const SETTLE_MS = 300;

export interface CaptureResult {
  readonly file: string;
  /** Packets tcpdump said the kernel dropped (null if it did not say). */
  readonly dropped: number | null;
}

/** A running tcpdump writing every packet of one interface (or `any`) to a file. */
export class Capture {
  private constructor(
    readonly proc: NsProcess,
    readonly file: string,
  ) {}

  /** Starts tcpdump in host's namespace and waits until it is listening. */
  static async start(
    cleanup: Cleanup,
    topo: Topology,
    host: Host,
    iface: string,
    file: string,
    filter?: string,
  ): Promise<Capture> {
    // -Z root: no privilege drop, so it can write into our 0700 temp dir; -B: a large kernel buffer;
    // --immediate-mode: each packet is handed over at once, so none waits in the ring when we stop it.
    const argv = [
      'tcpdump',
      '-i',
      iface,
      '-w',
      file,
      '-U',
      '-n',
      '-Z',
      'root',
      '-B',
      '131072',
      '--immediate-mode',
    ];
    if (filter) argv.push(filter);
    const proc = topo.spawn(cleanup, host, argv);
    await proc.waitForLine(/listening on/, { stderr: true });
    return new Capture(proc, file);
  }

  /** Stops tcpdump (SIGTERM by PID, SIGKILL after a bounded wait) and reports what it said. */
  async stop(): Promise<CaptureResult> {
    await sleep(SETTLE_MS); // the last packets of a transfer reach tcpdump a moment after the app is done
    await this.proc.stop();
    const m = /(\d+) packets? dropped by kernel/.exec(this.proc.stderr());
    return { file: this.file, dropped: m ? Number(m[1]) : null };
  }
}

export interface Pcap {
  readonly data: Buffer;
  readonly packets: number;
  /** Sum of the captured lengths of all packets. */
  readonly capturedBytes: number;
}

/** Reads a classic pcap file (either byte order, µs or ns timestamps). Throws on a malformed file. */
export async function readPcap(file: string): Promise<Pcap> {
  const data = await fs.readFile(file);
  if (data.length < 24) throw new Error(`${file}: ${data.length} bytes, no pcap header`);
  const magic = data.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${file}: not a pcap file (magic ${magic.toString(16)})`);
  let at = 24;
  let packets = 0;
  let capturedBytes = 0;
  while (at + 16 <= data.length) {
    const incl = le ? data.readUInt32LE(at + 8) : data.readUInt32BE(at + 8);
    at += 16 + incl;
    if (at > data.length) break; // a last record cut short by the stop
    packets++;
    capturedBytes += incl;
  }
  return { data, packets, capturedBytes };
}

export interface Leak {
  /** Offset in the searched bytes. */
  readonly at: number;
  readonly bodyOffset: number;
  readonly length: number;
}

/**
 * Finds runs of `body` inside other bytes, fast enough for captures of gigabytes. Every 32-byte block of
 * the body at an offset that is a multiple of 32 is indexed; any run of 64 bytes contains one whole such
 * block, so sliding over the haystack and checking each position's 32 bytes finds every run of 64 or
 * more. The first
 * test at each position is one bit of a set hashed from 4 bytes, sized to about 1.5 % set and (for a body
 * of a few hundred kB) small enough to stay in the CPU's cache, then a map keyed by those 4 bytes, then a
 * compare of the 32 bytes and the run around them.
 */
export class BodyIndex {
  private static readonly BLOCK = 32;
  private readonly bits: Uint8Array;
  private readonly shift: number;
  private readonly blocks = new Map<number, number[]>();

  constructor(private readonly body: Buffer) {
    const blocks = Math.max(1, Math.floor(body.length / BodyIndex.BLOCK));
    let log2 = 16;
    while (log2 < 27 && 2 ** log2 < blocks * 64) log2++;
    this.bits = new Uint8Array(2 ** (log2 - 3));
    this.shift = 32 - log2;
    for (let q = 0; q + BodyIndex.BLOCK <= body.length; q += BodyIndex.BLOCK) {
      const w = body.readInt32LE(q);
      const h = Math.imul(w, 0x9e3779b1) >>> this.shift;
      this.bits[h >>> 3]! |= 1 << (h & 7);
      const key = w & 0x3fffffff; // a small integer key
      const list = this.blocks.get(key);
      if (list) list.push(q);
      else this.blocks.set(key, [q]);
    }
  }

  /** Every maximal run of at least minRun bytes of the body in hay (at most `limit`). */
  findRuns(hay: Buffer, minRun = 64, limit = 10): Leak[] {
    const B = BodyIndex.BLOCK;
    const { body, bits, blocks, shift } = this;
    const found: Leak[] = [];
    if (hay.length < B) return found;
    let w = hay.readInt32LE(0);
    for (let i = 0; i + B <= hay.length; i++) {
      if (i > 0) w = (w >>> 8) | (hay[i + 3]! << 24);
      const h = Math.imul(w, 0x9e3779b1) >>> shift;
      if ((bits[h >>> 3]! & (1 << (h & 7))) === 0) continue;
      const list = blocks.get(w & 0x3fffffff);
      if (!list) continue;
      for (const q of list) {
        if (hay.compare(body, q, q + B, i, i + B) !== 0) continue;
        let left = 0;
        while (i - left > 0 && q - left > 0 && hay[i - left - 1] === body[q - left - 1]) left++;
        let right = 0;
        while (
          i + B + right < hay.length &&
          q + B + right < body.length &&
          hay[i + B + right] === body[q + B + right]
        )
          right++;
        const length = left + B + right;
        if (length >= minRun) {
          found.push({ at: i - left, bodyOffset: q - left, length });
          if (found.length >= limit) return found;
          i += B + right - 1; // this run is reported; go on after it
          if (i + 4 <= hay.length) w = hay.readInt32LE(i); // the word the next step shifts on from
          break;
        }
      }
    }
    return found;
  }
}
