// A status snapshot as text for a terminal (`ett status`): sections for links, circuits, streams,
// groups, listeners and refusals, every line at most WIDTH columns (long fields are cut with '…').
// Pure: a Snapshot in, lines out.

import type { Snapshot } from '../link/census.js';

export const WIDTH = 80;

/** The snapshot as lines of at most WIDTH characters. Never throws. */
export function renderStatus(s: Snapshot): string[] {
  const out: string[] = [];
  out.push(
    fit(
      `ett ${s.daemon} (pid ${s.pid}), up ${duration(s.uptime_ms)}: ${s.links.length} link(s), ` +
        `${s.circuits.length} circuit(s), ${s.streams.total} stream(s)`,
    ),
  );
  if (s.listeners.length > 0) {
    out.push('', 'LISTENERS');
    for (const l of s.listeners) {
      const extra = l.to === undefined ? '' : ` -> ${l.to} via ${l.via ?? '?'}`;
      out.push(fit(`  ${l.kind.padEnd(8)} ${l.address}${extra}`));
    }
  }
  out.push('', 'LINKS');
  if (s.links.length === 0) out.push('  (none)');
  else {
    out.push(
      row(
        ['  PEER', 10],
        ['DIR', 4],
        ['ADDRESS', 23],
        ['AGE', 7],
        ['IN', 8],
        ['OUT', 8],
        ['RTT', 8],
        ['STR', 5],
      ),
    );
    for (const l of s.links) {
      out.push(
        row(
          ['  ' + l.peer, 10],
          [l.dir, 4],
          [l.address, 23],
          [duration(l.age_ms), 7],
          [bytes(l.bytes_in), 8],
          [bytes(l.bytes_out), 8],
          [l.rtt_ms > 0 ? `${l.rtt_ms}ms` : '-', 8],
          [String(l.streams), 5],
        ),
      );
    }
  }
  if (s.circuits.length > 0) {
    out.push('', 'CIRCUITS');
    out.push(row(['  ROUTE', 16], ['AGE', 7], ['STR', 6], ['HOPS', 48]));
    for (const c of s.circuits) {
      out.push(
        row(['  ' + c.route, 16], [duration(c.age_ms), 7], [String(c.streams), 6], [c.hops.join(' > '), 48]),
      );
      if (c.isolation !== undefined) out.push(`    isolated: ${c.isolation}`);
    }
  }
  out.push(
    '',
    `STREAMS (${s.streams.total}${s.streams.shown.length < s.streams.total ? `, ${s.streams.shown.length} shown` : ''})`,
  );
  if (s.streams.shown.length === 0) out.push('  (none)');
  else {
    out.push(row(['  TARGET', 28], ['ROUTE', 12], ['STATE', 12], ['AGE', 7], ['IN', 8], ['OUT', 8]));
    for (const st of s.streams.shown) {
      out.push(
        row(
          ['  ' + st.target, 28],
          [st.route, 12],
          [st.state, 12],
          [duration(st.age_ms), 7],
          [bytes(st.bytes_in), 8],
          [bytes(st.bytes_out), 8],
        ),
      );
    }
  }
  if (s.groups.length > 0) {
    out.push('', 'GROUPS');
    for (const g of s.groups) {
      const members = g.members.map((m) => `${m.route}${m.down ? ' (down)' : ''}`).join(', ');
      out.push(fit(`  ${g.name}: serving ${g.serving}; members ${members}`));
    }
  }
  const refusals = Object.entries(s.refusals);
  out.push('', 'REFUSALS');
  out.push(refusals.length === 0 ? '  (none)' : fit('  ' + refusals.map(([k, n]) => `${k} ${n}`).join(', ')));
  return out;
}

/** Columns of fixed widths (each cut to fit, a space between), the whole cut to WIDTH. */
function row(...cols: [string, number][]): string {
  return fit(
    cols
      .map(([text, w]) => cut(text, w).padEnd(w))
      .join(' ')
      .trimEnd(),
  );
}

function fit(line: string): string {
  return cut(line, WIDTH);
}

function cut(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width - 1) + '…';
}

/** 1234567 → "1.2M"; base 1024, one decimal below 10. */
export function bytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n}B` : `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

/** ms → "45s", "12m03s", "3h07m", "2d04h". */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}
