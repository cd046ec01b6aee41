// The shape every pure decoder in wire/ returns: a value and how many bytes it used, or `null` meaning
// "need more bytes" (every strict prefix of a valid message answers null). Malformed input throws a
// TunnelError whose code says how the front-end must answer (e.g. 'bad-request', 'address-type').

export type Decoded<T> = { readonly value: T; readonly bytesUsed: number } | null;
