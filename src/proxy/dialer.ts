// What every client front-end knows of the rest of ett: dial a target, get a Duplex.

import type { Duplex } from 'node:stream';
import type { Target } from '../wire/address.js';

/**
 * Contract: resolves once the far end reports the destination connected; the Duplex then carries the
 * bytes both ways, half-close included (end() sends FIN one way only). If the path breaks later, the
 * Duplex is destroyed with a TunnelError (never a clean end), and the front-end must reset the app's
 * socket. Rejects with a TunnelError whose code the front-end maps through errors.ts.
 */
export interface Dialer {
  dial(target: Target, opts?: { signal?: AbortSignal }): Promise<Duplex>;
}
