// The read gate of one link: while the link's write queue is full, the TCP sockets joined to its streams
// stop reading, so what they have not read stays in the kernel's receive buffers rather than in ours.
//
// Why: every socket that is read holds what it read (one read is up to 64 KiB, libuv's suggestion) until
// the link takes it, and a stream's own back-pressure only begins after that first read. A browser, or
// the bench's burst, that sends on a thousand streams at once would otherwise have a thousand reads
// of 64 KiB (64 MiB) wait in the process for a link that takes 1 MiB at a time. With the gate, a
// socket reads only while the link can take more; when it cannot, every joined socket of that link
// stops reading at once (libuv then also skips the readiness it had already polled for them in the
// same turn), and all start again at the link's 'drain'.
//
// A stop is uv_read_stop on the socket's handle, behind Node's Readable: `handle.reading` is what
// net.Socket#_read looks at to decide whether to start reading again, so it is kept true or false
// with it. A socket without a handle (connecting, closed, not TCP) is left alone.

import type { Socket } from 'node:net';

type Handle = { reading?: boolean; readStop?: () => number; readStart?: () => number };

const handleOf = (socket: Socket): Handle | undefined =>
  (socket as Socket & { _handle?: Handle | null })._handle ?? undefined;

export class ReadGate {
  private readonly sockets = new Set<Socket>();
  /** Sockets this gate stopped, to start again at reopen. */
  private stopped: Socket[] = [];
  private shut = false;
  /** Times the gate closed (for tests and the bench: proof it acted). */
  closings = 0;

  get isShut(): boolean {
    return this.shut;
  }

  get size(): number {
    return this.sockets.size;
  }

  add(socket: Socket): void {
    this.sockets.add(socket);
    if (this.shut) this.stop(socket);
  }

  delete(socket: Socket): void {
    this.sockets.delete(socket);
  }

  /** The link's queue is full: every joined socket stops reading. */
  close(): void {
    if (this.shut) return;
    this.shut = true;
    this.closings++;
    for (const s of this.sockets) this.stop(s);
  }

  /** The link drained: the sockets this gate stopped read again. */
  open(): void {
    if (!this.shut) return;
    this.shut = false;
    const stopped = this.stopped;
    this.stopped = [];
    for (const s of stopped) {
      const h = handleOf(s);
      if (s.destroyed || !this.sockets.has(s) || !h || h.reading || typeof h.readStart !== 'function')
        continue;
      h.reading = true;
      h.readStart();
    }
  }

  private stop(socket: Socket): void {
    const h = handleOf(socket);
    if (socket.destroyed || socket.connecting || !h || !h.reading || typeof h.readStop !== 'function') return;
    h.reading = false;
    h.readStop();
    this.stopped.push(socket);
  }
}
