// A stand-in for a circuit's Session in the pool's tests: usable until destroyed, `close` once.

import { EventEmitter } from 'node:events';

export class FakeSession extends EventEmitter {
  usable = true;
  /** The relay's first frame has come (a real Session's 'accepted'); tests may start it false. */
  accepted = true;
  /** Streams open on it (tests set it). */
  streamCount = 0;
  closed = false;
  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.usable = false;
    this.emit('close', err);
  }
  shutdown(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }
}
