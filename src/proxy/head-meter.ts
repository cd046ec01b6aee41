// The exact size check of HTTP request heads. node:http's maxHeaderSize counts only the bytes of header
// names and values, so a head of many short fields could reach about twice the limit on the wire. This
// meter counts raw bytes, request line through the blank line that ends the head, before the parser
// sees them, and calls `overflow` once a head passes `max` bytes.
//
// It runs as the socket's first 'data' listener (node's parser then reads through 'data' too rather
// than straight from the handle), counting from each point where a head may start: the connection's
// start, and each time the handler says the previous exchange is over (restart). Bytes that follow a
// complete head (a body, or a request pipelined behind it) are not counted: only a parser knows where a
// body ends, and for those heads node's own, looser limit still applies.

import type { Socket } from 'node:net';

export interface HeadMeter {
  /** A new head may start with the next byte: count again from zero. */
  restart(): void;
  /** The socket is no longer HTTP (CONNECT tunnel): stop listening. */
  stop(): void;
}

const CR = 0x0d;
const LF = 0x0a;

export function meterHeads(socket: Socket, max: number, overflow: (seen: number) => void): HeadMeter {
  let scanning = true;
  let started = false; // a byte other than CR/LF seen (llhttp skips empty lines before a request)
  let count = 0; // head bytes counted so far
  let newlines = 0; // LFs seen since the last byte other than CR/LF: two end the head

  const onData = (chunk: Buffer): void => {
    if (!scanning) return;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (!started) {
        if (b === CR || b === LF) continue;
        started = true;
      }
      count++;
      if (count > max) {
        scanning = false;
        overflow(count);
        return;
      }
      if (b === LF) {
        if (++newlines === 2) {
          scanning = false; // end of head; what follows is for the parser alone
          return;
        }
      } else if (b !== CR) {
        newlines = 0;
      }
    }
  };
  socket.prependListener('data', onData);
  return {
    restart: () => {
      scanning = true;
      started = false;
      count = 0;
      newlines = 0;
    },
    stop: () => {
      scanning = false;
      socket.off('data', onData);
    },
  };
}
