// OWNER: lead — stub signature for others to code against.
import type { Target } from '../wire/address.js';
import type { RelayOptions } from './options.js';

export interface RelayHandle {
  /** The address actually listened on (port resolved when 0 was asked). */
  readonly address: Target;
  /** ett://<pin>@host:port for clients. */
  readonly shareString: string;
  close(): Promise<void>;
}

export async function startRelay(_opts: RelayOptions): Promise<RelayHandle> {
  throw new Error('unimplemented');
}
