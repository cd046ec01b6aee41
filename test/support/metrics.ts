// Reading a daemon's /metrics as Prometheus does: over HTTP, in the text exposition format.

import assert from 'node:assert/strict';

/** The exposition as {name{labels}: value}, checked line by line against the text format. */
export async function scrape(url: string): Promise<{ text: string; values: Map<string, number> }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    values.set(m[1]!, Number(m[2]));
  }
  return { text, values };
}
