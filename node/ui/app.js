// The p2pfaas dashboard: draws the last five minutes each node kept (GET /events/cluster/history, once),
// then the frames of GET /events (one per second: this node's snapshot and its peers'), adding a point
// per second to each node's five minutes, and sends operator actions — signed here
// with HMAC-SHA256 (WebCrypto, or the plain-script fallback outside a secure context) when the cluster has
// a key (the scheme of node/src/auth.rs). No library.
"use strict";

const HISTORY_MS = 5 * 60 * 1000;
const SVG = "http://www.w3.org/2000/svg";

const state = {
  frame: null,         // the latest frame
  prev: new Map(),     // node id -> previous snapshot
  rates: new Map(),    // node id -> rates over the last interval
  history: new Map(),  // node id -> [{t, load, slots, rejected, met, p99}]
  flows: new Map(),    // "from\u0000to" -> forwards/s
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElementNS(tag === "svg" || attrs.svg ? SVG : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attrs)) if (k !== "svg") e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- numbers ---------------------------------------------------------------------------------------

function sumCalls(c) { return c.ok + c.overloaded + c.rejected + c.timeout + c.failed; }

// The q-quantile of the latency over an interval, from the bucket counts' deltas, interpolated inside
// the bucket; null without calls; Infinity when it is beyond the last bound.
function quantile(delta, bounds, q) {
  const total = delta.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < delta.length; i++) {
    if (seen + delta[i] >= rank && delta[i] > 0) {
      if (i >= bounds.length) return Infinity;
      const lo = i === 0 ? 0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * ((rank - seen) / delta[i]);
    }
    seen += delta[i];
  }
  return Infinity;
}

function rates(prev, cur, bounds) {
  if (!prev || cur.t <= prev.t || cur.uptime_s < prev.uptime_s) return null;
  const dt = (cur.t - prev.t) / 1000;
  const calls = sumCalls(cur.calls) - sumCalls(prev.calls);
  const rejected = (cur.calls.overloaded + cur.calls.rejected) - (prev.calls.overloaded + prev.calls.rejected);
  const lat = cur.latency.map((n, i) => n - prev.latency[i]);
  const met = cur.deadline_met - prev.deadline_met;
  const missed = cur.deadline_missed - prev.deadline_missed;
  const rewards = cur.learner.rewards - prev.learner.rewards;
  return {
    dt,
    callsPerSec: calls / dt,
    rejectedShare: calls > 0 ? rejected / calls : null,
    rejectedPerSec: rejected / dt,
    forwardPerSec: (cur.forwarded - prev.forwarded) / dt,
    p50: quantile(lat, bounds, 0.5),
    p99: quantile(lat, bounds, 0.99),
    met: met + missed > 0 ? met / (met + missed) : null,
    reward: rewards > 0 ? (cur.learner.reward_sum - prev.learner.reward_sum) / rewards : null,
  };
}

function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
  return v.toFixed(digits);
}
function fmtPct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + " %"; }
function fmtSecs(v) {
  if (v === null || v === undefined) return "–";
  if (v === Infinity) return "> 5 s";
  if (v < 1e-3) return (v * 1e6).toFixed(0) + " µs";
  if (v < 1) return (v * 1e3).toFixed(1) + " ms";
  return v.toFixed(2) + " s";
}
function fmtUs(v) { return v === null || v === undefined ? "–" : fmtSecs(v / 1e6); }

// --- frames ----------------------------------------------------------------------------------------

function onFrame(frame) {
  state.frame = frame;
  state.flows.clear();
  for (const n of frame.nodes) {
    const prev = state.prev.get(n.id);
    const r = rates(prev, n, frame.bounds);
    if (r) {
      state.rates.set(n.id, r);
      const h = state.history.get(n.id) || [];
      h.push({ t: n.t, load: n.running + n.queued, slots: n.slots, rejected: r.rejectedPerSec, met: r.met, p99: r.p99 === Infinity ? 5 : r.p99 });
      while (h.length && h[0].t < n.t - HISTORY_MS) h.shift();
      state.history.set(n.id, h);
      for (const link of n.peers) {
        const before = prev.peers.find((p) => p.addr === link.addr);
        if (before) state.flows.set(n.id + "\u0000" + link.id, (link.forwarded - before.forwarded) / r.dt);
      }
    }
    state.prev.set(n.id, n);
  }
  drawTable(frame);
  drawFlows(frame);
  drawSeries(frame);
  drawActions(frame);
  const missing = frame.unreachable.length ? `; no snapshot from ${frame.unreachable.map((u) => u.id).join(", ")}` : "";
  $("status").textContent = `Served by ${frame.self}: ${frame.nodes.length} node(s) reporting${missing}. Updated ${new Date().toLocaleTimeString()}.`;
}

// Each node's last five minutes as its node kept them (one record per second: counts over the interval
// and the admission state at its end), drawn at once. Points the live frames made already are kept.
function onHistory(cluster) {
  for (const s of cluster.nodes) {
    const points = s.t.map((t, i) => {
      const dt = s.interval_ms[i] / 1000;
      const decided = s.deadline_met[i] + s.deadline_missed[i];
      return {
        t: t * 1000, load: s.load[i], slots: s.slots[i],
        rejected: dt > 0 ? s.rejected[i] / dt : null,
        met: decided > 0 ? s.deadline_met[i] / decided : null,
        p99: s.p99_us[i] === null ? null : s.p99_us[i] / 1e6,
      };
    });
    const live = state.history.get(s.id) || [];
    const first = live.length ? live[0].t : Infinity;
    state.history.set(s.id, points.filter((p) => p.t < first).concat(live));
  }
  if (state.frame) drawSeries(state.frame);
}

function cell(field, text, cls) {
  const td = el("td", { "data-field": field }, text);
  if (cls) td.className = cls;
  return td;
}

function drawTable(frame) {
  const body = $("nodes").tBodies[0];
  const rows = [];
  for (const n of frame.nodes) {
    const r = state.rates.get(n.id) || {};
    const tr = el("tr", { "data-node": n.id });
    if (n.id === frame.self) tr.className = "self";
    const th = el("th", { scope: "row" }, n.id);
    th.title = n.addr;
    tr.append(
      th,
      cell("state", "▲ up", "up"),
      cell("load", `${n.running} / ${n.queued} / ${n.slots}`),
      cell("queue_len", String(n.queue_len)),
      cell("calls", fmtNum(r.callsPerSec)),
      cell("rejected", fmtPct(r.rejectedShare)),
      cell("forwarded", fmtNum(r.forwardPerSec)),
      cell("p50", fmtSecs(r.p50)),
      cell("p99", fmtSecs(r.p99)),
      cell("deadline", fmtPct(r.met)),
      cell("source", n.load.source),
      cell("cpu", fmtPct(n.load.utilisation)),
      cell("runq", `${fmtUs(n.load.runq_p50_us)} / ${fmtUs(n.load.runq_p99_us)}`),
      cell("scheduler", n.scheduler),
      cell("epsilon", fmtNum(n.learner.epsilon, 3)),
      cell("reward", `${fmtNum(r.reward, 3)} (R̄ ${fmtNum(n.learner.average_reward, 3)})`),
    );
    rows.push(tr);
  }
  for (const u of frame.unreachable) {
    const tr = el("tr", { "data-node": u.id });
    const th = el("th", { scope: "row" }, u.id);
    th.title = u.addr;
    tr.append(th, cell("state", "▼ no data", "down"));
    const rest = el("td", { colspan: "14" }, "no snapshot in the last 5 s");
    tr.append(rest);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function drawFlows(frame) {
  const svg = $("flows");
  const ids = frame.nodes.map((n) => n.id).concat(frame.unreachable.map((u) => u.id));
  const W = 480, H = 360, R = Math.min(W, H) / 2 - 60, cx = W / 2, cy = H / 2;
  const pos = new Map(ids.map((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, ids.length);
    return [id, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a) }];
  }));
  const kids = [svg.querySelector("title")];
  const defs = el("defs", { svg: 1 });
  const marker = el("marker", { svg: 1, id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "14", markerHeight: "14", markerUnits: "userSpaceOnUse", orient: "auto" });
  marker.append(el("path", { svg: 1, d: "M 0 0 L 10 5 L 0 10 z" }));
  defs.append(marker);
  kids.push(defs);
  const max = Math.max(1, ...state.flows.values());
  for (const [key, rate] of state.flows) {
    if (rate <= 0) continue;
    const [from, to] = key.split("\u0000");
    const a = pos.get(from), b = pos.get(to);
    if (!a || !b) continue;
    // Shift sideways so that A→B and B→A are two separate arrows; stop short of the circles.
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const ox = (-dy / len) * 7, oy = (dx / len) * 7, sx = (dx / len) * 26, sy = (dy / len) * 26;
    const line = el("line", { svg: 1, x1: a.x + ox + sx, y1: a.y + oy + sy, x2: b.x + ox - sx, y2: b.y + oy - sy,
      "stroke-width": (1 + 9 * rate / max).toFixed(1), "marker-end": "url(#arrow)", "data-flow": `${from}→${to}` });
    line.append(el("title", { svg: 1 }, `${from} → ${to}: ${fmtNum(rate)} forwards/s`));
    kids.push(line);
    kids.push(el("text", { svg: 1, x: (a.x + b.x) / 2 + 3 * ox, y: (a.y + b.y) / 2 + 3 * oy + 4, "text-anchor": "middle" }, `${fmtNum(rate)}/s`));
  }
  for (const id of ids) {
    const p = pos.get(id);
    const down = frame.unreachable.some((u) => u.id === id);
    kids.push(el("circle", { svg: 1, cx: p.x, cy: p.y, r: 22, "stroke-dasharray": down ? "4 3" : "none" }));
    const n = frame.nodes.find((x) => x.id === id);
    kids.push(el("text", { svg: 1, x: p.x, y: p.y + 4, "text-anchor": "middle" }, n ? `${n.running + n.queued}/${n.slots}` : "?"));
    kids.push(el("text", { svg: 1, x: p.x, y: p.y + (p.y < cy ? -30 : 40), "text-anchor": "middle" }, down ? `${id} (no data)` : id));
  }
  svg.replaceChildren(...kids);
}

function chart(points, label, value, limit, fmt) {
  const W = 240, H = 64, pad = 2;
  const svg = el("svg", { svg: 1, class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  const vals = points.map(value).filter((v) => v !== null && v !== undefined);
  const top = Math.max(1e-9, ...vals, limit ? Math.max(...points.map(limit)) : 0);
  const now = points.length ? points[points.length - 1].t : 0;
  const x = (t) => W - ((now - t) / HISTORY_MS) * W;
  const y = (v) => H - pad - (v / top) * (H - 2 * pad - 12);
  const last = vals.length ? vals[vals.length - 1] : null;
  svg.append(el("title", { svg: 1 }, `${label}: now ${fmt(last)}, max ${fmt(vals.length ? top : null)}`));
  if (limit && points.length) {
    const k = limit(points[points.length - 1]);
    svg.append(el("line", { svg: 1, class: "limit", x1: 0, x2: W, y1: y(k), y2: y(k) }));
  }
  const pts = points.filter((p) => value(p) !== null && value(p) !== undefined).map((p) => `${x(p.t).toFixed(1)},${y(value(p)).toFixed(1)}`);
  svg.append(el("polyline", { svg: 1, points: pts.join(" ") }));
  svg.append(el("text", { svg: 1, x: 3, y: 10 }, `${label}: ${fmt(last)}`));
  return svg;
}

function drawSeries(frame) {
  const rows = [];
  for (const n of frame.nodes) {
    const h = state.history.get(n.id) || [];
    // How many points and since when (Unix ms): the browser tests read them.
    const row = el("div", { class: "series-row", "data-node": n.id, "data-points": h.length, "data-since": h.length ? h[0].t : "" });
    row.append(
      el("h3", {}, n.id),
      chart(h, "load", (p) => p.load, (p) => p.slots, (v) => fmtNum(v, 0)),
      chart(h, "rejected/s", (p) => p.rejected, null, (v) => fmtNum(v)),
      chart(h, "deadline met", (p) => p.met, null, fmtPct),
      chart(h, "p99", (p) => p.p99, null, fmtSecs),
    );
    rows.push(row);
  }
  $("series").replaceChildren(...rows);
}

function drawActions(frame) {
  $("key-field").hidden = !frame.signed;
  $("auth-note").textContent = frame.signed
    ? "This cluster has a key: enter it to sign each change in this page (it is never sent)."
    : "No cluster key: changes are accepted from loopback only.";
  const select = $("target");
  const want = ["*"].concat(frame.nodes.map((n) => n.id));
  const have = Array.from(select.options).map((o) => o.value);
  if (want.join("\u0000") !== have.join("\u0000")) {
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "*" }, "every node"), ...frame.nodes.map((n) => el("option", { value: n.id }, n.id)));
    select.value = want.includes(chosen) ? chosen : "*";
  }
}

// --- actions ---------------------------------------------------------------------------------------

function hex(buf) { return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join(""); }

// SHA-256 and HMAC-SHA256 in plain script, for pages outside a secure context (plain HTTP to a LAN
// address), where browsers withhold WebCrypto. The browser tests check them against WebCrypto.
const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256(bytes) {
  const ror = (x, n) => (x >>> n) | (x << (32 - n));
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const len = bytes.length;
  const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[len] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
  view.setUint32(padded.length - 4, (len * 8) >>> 0);
  const w = new Uint32Array(64);
  for (let o = 0; o < padded.length; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(o + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  H.forEach((v, i) => outView.setUint32(4 * i, v));
  return out;
}

function hmacSha256(key, message) {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256(key) : key);
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

// HMAC-SHA256 of `message` under `key` (both bytes): WebCrypto where the browser offers it, else the
// plain-script one above.
async function hmac(key, message) {
  if (window.crypto && crypto.subtle) {
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, message));
  }
  return hmacSha256(key, message);
}

async function digest(bytes) {
  if (window.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return sha256(bytes);
}

// The three signature headers for a call, as node/src/auth.rs checks them: HMAC-SHA256 with the key
// over "p2pfaas-v1\n{method}\n{target}\n{unix ms}\n{nonce: 16 hex}\n{hex SHA-256 of the body}".
async function sign(keyText, method, target, body) {
  const enc = new TextEncoder();
  const nonce = hex(crypto.getRandomValues(new Uint8Array(8)));
  const ts = String(Date.now());
  const text = `p2pfaas-v1\n${method}\n${target}\n${ts}\n${nonce}\n${hex(await digest(enc.encode(body)))}`;
  const sig = hex(await hmac(enc.encode(keyText.trim()), enc.encode(text)));
  return { "X-P2pfaas-Auth-Timestamp": ts, "X-P2pfaas-Auth-Nonce": nonce, "X-P2pfaas-Auth-Signature": sig };
}

function log(text, ok) {
  const li = el("li", { class: ok ? "done" : "failed" }, text);
  $("log").prepend(li);
  while ($("log").children.length > 50) $("log").lastChild.remove();
}

// Sends `body` to `path` on every chosen node: this node directly, peers through its relay.
async function act(what, path, body) {
  const frame = state.frame;
  if (!frame) return;
  const target = $("target").value;
  const nodes = frame.nodes.filter((n) => target === "*" || n.id === target);
  const key = $("key").value;
  if (frame.signed && !key.trim()) { log(`${what}: enter the cluster key first`, false); return; }
  await Promise.all(nodes.map(async (n) => {
    const url = n.id === frame.self ? path : `/cluster/${n.addr}${path}`;
    try {
      const headers = { "Content-Type": "application/json" };
      if (frame.signed) Object.assign(headers, await sign(key, "POST", path, body));
      const res = await fetch(url, { method: "POST", headers, body });
      const text = await res.text();
      let detail = "";
      try { const j = JSON.parse(text); detail = j.message || ""; } catch (_) { detail = text.slice(0, 120); }
      log(`${n.id}: ${what} → ${res.status}${detail ? " " + detail : ""}`, res.ok);
    } catch (e) {
      log(`${n.id}: ${what} failed: ${e.message}`, false);
    }
  }));
}

function wire() {
  $("sched-apply").addEventListener("click", () => {
    const name = $("sched-name").value.trim();
    const parameters = $("sched-params").value.split(",").map((s) => s.trim()).filter((s) => s.length);
    act(`scheduler ${name}`, "/configuration/scheduler", JSON.stringify({ name, parameters }));
  });
  $("kq-apply").addEventListener("click", () => {
    const patch = {};
    if ($("k").value !== "") patch.parallel_running_functions_max = Number($("k").value);
    if ($("q").value !== "") patch.queue_length_max = Number($("q").value);
    act("K/Q", "/configuration", JSON.stringify(patch));
  });
  $("reset-learners").addEventListener("click", () => act("learner reset", "/learner/reset", ""));
  // The first frame and every node's last five minutes by plain requests (painted at once, and headless
  // --dump-dom waits for them), then one frame per second from the stream.
  fetch("/events/cluster").then((r) => r.json()).then(onFrame).catch((e) => { $("status").textContent = `no frame: ${e.message}`; });
  fetch("/events/cluster/history").then((r) => r.json()).then(onHistory).catch((e) => {
    $("series-note").append(` The nodes' history did not arrive (${e.message}): from now on only.`);
  });
  const events = new Worker("/ui/events.js");
  events.onmessage = (m) => {
    if (m.data.frame) onFrame(m.data.frame);
    else $("status").textContent = m.data.error;
  };
}

wire();
