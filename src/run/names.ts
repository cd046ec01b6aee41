// ett run's name table: which reserved address stands for which host name. The preload library asks
// for an address when a program looks a name up, and for the name when the program connects to that
// address, so the name (never an address resolved here) goes to the exit in the SOCKS5 request.
//
// The addresses are IPv4 240.0.0.0/4 ("reserved for future use", RFC 1112 §4): no host has one and no
// router forwards one, so a connection that somehow escaped the library would reach nobody. The table
// hands out 240.0.0.1 upward through NAME_SPAN addresses (240.0.0.0/5) and holds at most `capacity`
// names: the least recently used is forgotten first. A forgotten address is not handed out again until
// the whole span has gone round, so a program that kept an old address sees a refusal, never another
// name's host. A name held by an open connection (hold) is passed over when one must be forgotten, so
// it keeps its address while it is in use; only if every name is held is the oldest forgotten anyway
// (more connections than the table's size: the bound on memory comes first). Pure: no I/O. Keep the
// range equal to native/ett-run.h.

/** 240.0.0.0 as an unsigned 32-bit number. */
export const NAME_NET = 0xf0000000;
/** How many addresses are handed out (240.0.0.0/5). */
export const NAME_SPAN = 1 << 27;
/** Names held at once by default (limits.ts nameTableSize). */
export const NAME_CAPACITY_DEFAULT = 65_536;
/** Longest name carried (DNS: 253 characters). */
export const NAME_MAX = 253;

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The name as the table keys it (lower case, no trailing dot), or null if it cannot be a host name. */
export function normalizeName(name: string): string | null {
  const plain = name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
  if (plain.length === 0 || plain.length > NAME_MAX || !NAME_RE.test(plain) || plain.includes('..')) {
    return null;
  }
  return plain.toLowerCase();
}

/** "240.x.y.z" for an offset into the range. */
export function formatNameAddress(index: number): string {
  const n = NAME_NET + index;
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** The offset of a dotted-quad address inside 240.0.0.0/4, or null if it is not one of ours. */
export function nameAddressIndex(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  const n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  if ((n & 0xf0000000) >>> 0 !== NAME_NET) return null;
  return n - NAME_NET;
}

export class NameTable {
  // Insertion order of byName is recency: a name used again is moved to the end.
  private readonly byName = new Map<string, number>();
  private readonly byIndex = new Map<number, string>();
  /** Open connections per index (hold), absent when none. */
  private readonly holds = new Map<number, number>();
  private next = 1;

  /** capacity: names held at once; span: addresses handed out (tests make both small). */
  constructor(
    readonly capacity: number = NAME_CAPACITY_DEFAULT,
    readonly span: number = NAME_SPAN,
  ) {
    if (!(capacity >= 1 && span > capacity)) throw new RangeError('NameTable: need 1 <= capacity < span');
  }

  get size(): number {
    return this.byName.size;
  }

  /** The address standing for name (the same one while the name is held), or null for a bad name. */
  addressFor(name: string): string | null {
    const key = normalizeName(name);
    if (key === null) return null;
    let index = this.byName.get(key);
    if (index !== undefined) {
      this.byName.delete(key);
    } else {
      if (this.byName.size >= this.capacity) this.forgetOldest();
      index = this.freeIndex();
      this.byIndex.set(index, key);
    }
    this.byName.set(key, index);
    return formatNameAddress(index);
  }

  /** The name an address stands for, or undefined (not ours, never handed out, or forgotten). */
  nameFor(address: string): string | undefined {
    const index = nameAddressIndex(address);
    if (index === null) return undefined;
    const name = this.byIndex.get(index);
    if (name !== undefined) {
      // A connect is a use: keep the name from being forgotten while a program still dials it.
      this.byName.delete(name);
      this.byName.set(name, index);
    }
    return name;
  }

  /**
   * Keeps the name an address stands for from being forgotten until the returned release is called
   * (once; later calls do nothing). For an address that stands for no name, a release that does nothing.
   */
  hold(address: string): () => void {
    const index = nameAddressIndex(address);
    if (index === null || !this.byIndex.has(index)) return () => undefined;
    this.holds.set(index, (this.holds.get(index) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.holds.get(index)! - 1;
      if (n > 0) this.holds.set(index, n);
      else this.holds.delete(index);
    };
  }

  /** Names held by open connections (hold) just now. */
  get heldCount(): number {
    return this.holds.size;
  }

  /** Forgets the least recently used name no connection holds (the oldest of all if every one is held). */
  private forgetOldest(): void {
    let victim: string | undefined;
    for (const [name, index] of this.byName) {
      victim ??= name;
      if (!this.holds.has(index)) {
        victim = name;
        break;
      }
    }
    if (victim === undefined) return;
    const index = this.byName.get(victim)!;
    this.byIndex.delete(index);
    this.holds.delete(index);
    this.byName.delete(victim);
  }

  /** The next index not in use, going round the span (1 .. span-1). capacity < span, so one is free. */
  private freeIndex(): number {
    for (;;) {
      const index = this.next;
      this.next = this.next + 1 >= this.span ? 1 : this.next + 1;
      if (!this.byIndex.has(index)) return index;
    }
  }
}
