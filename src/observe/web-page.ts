// The web view's one page: inline CSS and JS, nothing loaded from elsewhere. It listens to /events (a
// status snapshot per second, the same JSON as `ett status --json`), redraws the tables, and plots each
// link's traffic (bytes per second in and out, the last PLOT_POINTS seconds) as an inline SVG.
// Every value goes into the DOM with textContent: targets are names other sites choose.

export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ett status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c1e21}
header{background:#1c2733;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:18px;margin:0}#live{margin-left:auto;font-size:13px}
#live.on::before{content:"\\25CF ";color:#4caf50}#live.off::before{content:"\\25CF ";color:#e53935}
main{padding:8px 18px}section{background:#fff;border-radius:6px;box-shadow:0 1px 2px #0002;margin:10px 0;padding:8px 12px}
h2{font-size:14px;margin:4px 0 6px;color:#455}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap}
th{font-weight:600;color:#667;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.t{max-width:34em;overflow:hidden;text-overflow:ellipsis}.none{color:#889}
svg{display:block}.in{stroke:#1e88e5}.out{stroke:#fb8c00}.legend{font-size:12px;color:#667}
.legend b.in{color:#1e88e5}.legend b.out{color:#fb8c00}.down{color:#e53935}
</style></head><body>
<header><h1>ett <span id="daemon"></span></h1><span id="summary"></span><span id="live" class="off">connecting</span></header>
<main>
<section><h2>Links</h2><div class="legend">traffic per second, last minute: <b class="in">in</b> (shaded) / <b class="out">out</b> (line)</div><div id="links"></div></section>
<section><h2>Circuits</h2><div id="circuits"></div></section>
<section><h2 id="streams-title">Streams</h2><div id="streams"></div></section>
<section><h2>Groups</h2><div id="groups"></div></section>
<section><h2>Listeners</h2><div id="listeners"></div></section>
<section><h2>Refusals</h2><div id="refusals"></div></section>
</main>
<script>
"use strict";
const PLOT_POINTS = 60;
const history = new Map(); // link key -> {last: [in, out, t], points: [[inRate, outRate]...]}
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function bytes(n) {
  const u = ["B", "K", "M", "G", "T"];
  let v = n, i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? n + "B" : (v < 10 ? v.toFixed(1) : Math.round(v)) + u[i];
}
function age(ms) {
  const s = Math.floor(ms / 1000), two = (n) => String(n).padStart(2, "0");
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + two(s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + two(Math.floor(s / 60) % 60) + "m";
  return Math.floor(s / 86400) + "d" + two(Math.floor(s / 3600) % 24) + "h";
}
function table(target, heads, rows, numeric) {
  const box = $(target);
  box.replaceChildren();
  if (rows.length === 0) { box.append(el("div", "(none)", "none")); return; }
  const t = el("table"), hr = el("tr");
  heads.forEach((h) => hr.append(el("th", h)));
  t.append(hr);
  for (const r of rows) {
    const tr = el("tr");
    r.forEach((c, i) => {
      if (c instanceof Node) { const td = el("td"); td.append(c); tr.append(td); }
      else tr.append(el("td", c, numeric.includes(i) ? "n" : "t"));
    });
    t.append(tr);
  }
  box.append(t);
}
function plot(points) {
  const W = 240, H = 36, NS = "http://www.w3.org/2000/svg", step = (W - 2) / (PLOT_POINTS - 1);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "plot");
  const base = document.createElementNS(NS, "rect");
  base.setAttribute("width", W); base.setAttribute("height", H); base.setAttribute("fill", "#f3f5f8");
  svg.append(base);
  const max = Math.max(1, ...points.flat());
  const title = document.createElementNS(NS, "title");
  title.textContent = "peak " + bytes(Math.round(max)) + "/s";
  svg.append(title);
  for (const [k, cls] of [[0, "in"], [1, "out"]]) {
    const p = document.createElementNS(NS, "polyline");
    // The newest point at the right edge; older ones to its left.
    const xy = points.map((v, i) => (W - 1 - (points.length - 1 - i) * step).toFixed(1) + "," + (H - 2 - (v[k] / max) * (H - 4)).toFixed(1));
    // "in" as a shaded area, "out" as a line over it: both stay visible when they are equal (an echo).
    if (k === 0 && xy.length > 0) xy.push(xy.at(-1).split(",")[0] + "," + (H - 1), xy[0].split(",")[0] + "," + (H - 1));
    p.setAttribute("points", xy.join(" ")); p.setAttribute("stroke-width", "1.5");
    p.setAttribute("fill", k === 0 ? "#1e88e533" : "none");
    p.setAttribute("class", cls);
    svg.append(p);
  }
  return svg;
}
function draw(s) {
  $("daemon").textContent = s.daemon + " (pid " + s.pid + ")";
  $("summary").textContent = "up " + age(s.uptime_ms) + " \\u00b7 " + s.links.length + " link(s) \\u00b7 " + s.circuits.length + " circuit(s) \\u00b7 " + s.streams.total + " stream(s)";
  const now = performance.now(), seen = new Set();
  const linkRows = s.links.map((l) => {
    const key = l.peer + " " + l.dir + " " + l.address;
    seen.add(key);
    let h = history.get(key);
    if (!h) { h = { last: null, points: [] }; history.set(key, h); }
    if (h.last) {
      const dt = Math.max((now - h.last[2]) / 1000, 0.001);
      h.points.push([(l.bytes_in - h.last[0]) / dt, (l.bytes_out - h.last[1]) / dt]);
      if (h.points.length > PLOT_POINTS) h.points.shift();
    }
    h.last = [l.bytes_in, l.bytes_out, now];
    const rate = h.points.at(-1) || [0, 0];
    return [l.peer, l.dir, l.address, age(l.age_ms), bytes(l.bytes_in), bytes(l.bytes_out),
      bytes(Math.round(rate[0])) + "/s", bytes(Math.round(rate[1])) + "/s",
      l.rtt_ms > 0 ? l.rtt_ms + " ms" : "-", l.streams, plot(h.points)];
  });
  for (const k of history.keys()) if (!seen.has(k)) history.delete(k);
  table("links", ["peer", "dir", "address", "age", "in", "out", "in now", "out now", "RTT", "streams", "traffic"], linkRows, [3, 4, 5, 6, 7, 8, 9]);
  table("circuits", ["route", "hops", "age", "streams", "isolated"], s.circuits.map((c) => [c.route, c.hops.join(" > "), age(c.age_ms), c.streams, c.isolation || ""]), [2, 3]);
  const shown = s.streams.shown;
  $("streams-title").textContent = "Streams (" + s.streams.total + (shown.length < s.streams.total ? ", " + shown.length + " shown" : "") + ")";
  table("streams", ["target", "route", "state", "age", "in", "out"], shown.map((x) => [x.target, x.route, x.state, age(x.age_ms), bytes(x.bytes_in), bytes(x.bytes_out)]), [3, 4, 5]);
  table("groups", ["group", "serving", "members"], s.groups.map((g) => [g.name, g.serving, g.members.map((m) => m.route + (m.down ? " (down)" : "")).join(", ")]), []);
  table("listeners", ["kind", "address", "to", "via"], s.listeners.map((l) => [l.kind, l.address, l.to || "", l.via || ""]), []);
  table("refusals", ["reason", "count"], Object.entries(s.refusals), [1]);
}
const live = $("live");
const source = new EventSource("/events" + location.search);
source.onmessage = (e) => { live.className = "on"; live.textContent = "live"; draw(JSON.parse(e.data)); };
source.addEventListener("gone", () => { source.close(); live.className = "off"; live.textContent = "daemon stopped"; });
source.onerror = () => { live.className = "off"; live.textContent = "disconnected"; };
</script></body></html>
`;
