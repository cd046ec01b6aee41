// OWNER: lead — stub signature for others to code against.
import type { Target } from '../wire/address.js';
import type { ClientOptions } from './options.js';

export interface ClientHandle {
  /** The mixed port's address actually listened on. */
  readonly address: Target;
  close(): Promise<void>;
}

export async function startClient(_opts: ClientOptions): Promise<ClientHandle> {
  throw new Error('unimplemented');
}
