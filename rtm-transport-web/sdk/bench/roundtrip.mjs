// Peer-message round trips between two browser pages: through the SDK and `rtm-server`,
// beside a bare browser `WebSocket` through a plain relay (the `ws_relay` example), in one
// run. A benchmark that prints figures and asserts nothing.
//
//   cargo build --release -p rtm-transport-smol --example ws_relay --bin rtm-server
//   cd rtm-transport-web/sdk && npm run bench
//
// Environment: RTM_SERVER_BIN (default target/release/rtm-server), RTM_RELAY_BIN (default
// target/release/examples/ws_relay), both relative to the repository root; CHROMIUM
// (default /usr/bin/chromium); BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_LOADS (5).
//
// A round trip: page A sends a text to page B, B's listener sends it back, A's listener
// hears it; one in flight at a time. SDK: `sendMessageToPeer({text}, 'b')` and the
// `MessageFromPeer` listeners. Relay: `ws.send('b\n<text>')` and `onmessage`.
//
// The SDK holds each client to Agora's §9.2 rate for peer and channel messages together:
// 180 per 3 s (a sliding window), 60/s sustained. Each page sends one message per round
// trip, so the SDK can never make more than 60 round trips a second, however fast the link.
// To measure without a TOO_OFTEN, the SDK runs are either
//   - paced: a round trip starts every PACE_MS (18 ms: at most 167 sends in any 3 s), for
//     BENCH_SECONDS; or
//   - a burst: BURST back-to-back round trips (150, under the 180) after the window is clear.
// The relay runs the same paced runs and bursts (like for like: idle gaps between round
// trips cost latency of their own), and back to back for BENCH_SECONDS (its real ping-pong
// rate). "1000/mean" is the round-trip rate one at a time would reach with no limit: the
// latency-bound figure.
//
// Each round runs SDK paced, relay paced, SDK burst, relay burst, relay back to back (the
// setups alternate); the rounds and their medians are printed, then the ratios SDK/relay.
// Compare ratios within one run: absolute figures move with the machine's load.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zlib } from 'node:zlib';
import { launchChromium } from '../tests/browser/harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_DIR = resolve(HERE, '..');
const REPO = resolve(SDK_DIR, '../..');
const SERVER_BIN = resolve(REPO, process.env.RTM_SERVER_BIN ?? 'target/release/rtm-server');
const RELAY_BIN = resolve(REPO, process.env.RTM_RELAY_BIN ?? 'target/release/examples/ws_relay');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const APP_ID = '00000000000000000000000000000000';

/// §9.2: peer and channel messages, 180 per 3 s per client (rtm-proto `Rate::MESSAGES`).
const LIMIT = { max: 180, windowMs: 3000 };
const PACE_MS = 18;
const BURST = 150;
const WARMUP = 20;
/// A document of the RTM server's origin that loads no script (see `openPage`).
const LOAD_PAGE = '/demo.css';

const children = [];

/// Runs `bin --listen 127.0.0.1:0` and resolves with the address it prints on stderr.
function start(bin, name) {
  // rtm-server keeps nothing on disk here (no ./rtm-data left behind).
  const args = name === 'rtm-server' ? ['--listen', '127.0.0.1:0', '--storage', 'memory'] : ['--listen', '127.0.0.1:0'];
  const proc = spawn(bin, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn,rtm_server=info' },
  });
  children.push(proc);
  const lines = createInterface({ input: proc.stderr });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 15_000);
    proc.once('error', (e) => reject(new Error(`${name} (${bin}): ${e.message}`)));
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    // Keep reading: a full stderr pipe would stall the process.
    lines.on('line', (line) => {
      if (process.env.BENCH_VERBOSE) console.error(`[${name}] ${line}`);
      const m = /listening on ws:\/\/(\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

function stopChildren() {
  for (const proc of children) if (proc.exitCode === null) proc.kill('SIGTERM');
}

/// The bytes `path` is served as with `Accept-Encoding: gzip` (its Content-Length).
function servedBytes(origin, path) {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (chunk) => (n += chunk.length));
      res.on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] ?? 'identity' }));
    });
    req.once('error', reject);
    req.end();
  });
}

/// A page of its own browser context at `origin` + `path`. The two ping-pong pages are the
/// demo page (`/`), as in the browser tests. The load-time pages must not have loaded the SDK
/// already, so they open the demo's stylesheet: a document of the server's origin, from a
/// loopback address, that runs no script. (A document made up by `page.route` would do,
/// but Chromium's Local Network Access checks then block its WebSockets to 127.0.0.1.)
async function openPage(browser, origin, path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const response = await page.goto(`${origin}${path}`);
  if (!response?.ok()) throw new Error(`${origin}${path}: ${response?.status()}`);
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  return page;
}

/// In the page: the import of the SDK module until it resolves (the wasm core is loaded
/// by then: top-level await), and the bytes that came over the wire.
async function measureLoad(browser, origin) {
  const page = await openPage(browser, origin, LOAD_PAGE);
  const r = await page.evaluate(async () => {
    const t0 = performance.now();
    const AgoraRTM = (await import('/sdk/agora-rtm.mjs')).default;
    await AgoraRTM.ready;
    const ms = performance.now() - t0;
    const transfer = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/sdk/'))
      .reduce((n, e) => n + e.transferSize, 0);
    return { ms, transfer };
  });
  await page.context().close();
  return r;
}

/// Installed in both pages: the SDK client logged in as `me`, a relay socket named `me`,
/// the echo (on B) and the timed ping-pong loop (run on A).
async function setUpPage(page, { me, peer, relayUrl, appId }) {
  await page.evaluate(
    async ({ me, peer, relayUrl, appId }) => {
      const AgoraRTM = (await import('/sdk/agora-rtm.mjs')).default;
      const rtm = AgoraRTM.createInstance(appId, { logFilter: AgoraRTM.LOG_FILTER_OFF });
      const bench = { errors: [], waiting: null };
      window.bench = bench;
      const failed = (what) => (e) => bench.errors.push(`${what}: ${e?.code ?? ''} ${e?.message ?? e}`);
      const heard = (text) => {
        const w = bench.waiting;
        if (w && w.text === text) {
          bench.waiting = null;
          w.resolve(performance.now());
        }
      };
      // B echoes, A hears its round trip end.
      rtm.on('MessageFromPeer', (m, from) => {
        if (bench.echo) rtm.sendMessageToPeer({ text: m.text }, from).catch(failed('sdk echo'));
        else heard(m.text);
      });
      await rtm.login({ uid: me });
      const ws = new WebSocket(relayUrl);
      await new Promise((ok, fail) => {
        ws.onopen = ok;
        ws.onerror = () => fail(new Error(`relay ${relayUrl} refused`));
      });
      ws.send(me);
      ws.onmessage = (e) => {
        const cut = e.data.indexOf('\n');
        const from = e.data.slice(0, cut);
        const text = e.data.slice(cut + 1);
        if (bench.echo) ws.send(`${from}\n${text}`);
        else heard(text);
      };
      const send = {
        sdk: (text) => rtm.sendMessageToPeer({ text }, peer).catch(failed('sdk send')),
        relay: (text) => ws.send(`${peer}\n${text}`),
      };
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

      /// One setup's ping-pong: `trips` round trips or `ms` milliseconds, whichever ends
      /// first; with `paceMs`, a round trip starts at most every `paceMs`. Round trips
      /// not answered within 5 s are counted as lost (and the run ends).
      bench.run = async ({ setup, ms = Infinity, trips = Infinity, paceMs = 0 }) => {
        const latencies = [];
        let lost = 0;
        let seq = 0;
        const t0 = performance.now();
        let next = t0;
        const errorsBefore = bench.errors.length;
        while (latencies.length < trips && performance.now() - t0 < ms) {
          if (paceMs) {
            const wait = next - performance.now();
            if (wait > 0) await sleep(wait);
            next = Math.max(next + paceMs, performance.now());
          }
          const text = `${me}:${++seq}`;
          const answered = new Promise((resolve) => (bench.waiting = { text, resolve }));
          const start = performance.now();
          send[setup](text);
          const end = await Promise.race([answered, sleep(5000).then(() => null)]);
          if (end === null) {
            bench.waiting = null;
            lost += 1;
            break;
          }
          latencies.push(end - start);
        }
        const elapsed = performance.now() - t0;
        await sleep(50); // let a late error of the last send arrive
        return { latencies, elapsed, lost, errors: bench.errors.slice(errorsBefore) };
      };
    },
    { me, peer, relayUrl, appId },
  );
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(r) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    trips: sorted.length,
    seconds: r.elapsed / 1000,
    rate: sorted.length / (r.elapsed / 1000),
    mean,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    bound: 1000 / mean,
    lost: r.lost,
    errors: r.errors,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const f = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const pad = (s, n) => String(s).padStart(n);
const KIB = (n) => `${(n / 1024).toFixed(1)} KiB`;

function row(label, s) {
  return [
    label.padEnd(34),
    pad(s.trips, 6),
    pad(f(s.seconds, 2), 6),
    pad(f(s.rate, 1), 8),
    pad(f(s.mean, 3), 8),
    pad(f(s.p50, 3), 8),
    pad(f(s.p99, 3), 8),
    pad(f(s.max, 3), 8),
    pad(f(s.bound, 0), 9),
  ].join(' ');
}

const HEADER = [
  'round, setup'.padEnd(34),
  pad('trips', 6),
  pad('s', 6),
  pad('trips/s', 8),
  pad('mean ms', 8),
  pad('p50 ms', 8),
  pad('p99 ms', 8),
  pad('max ms', 8),
  pad('1000/mean', 9),
].join(' ');

async function main() {
  const [serverAddr, relayAddr] = await Promise.all([start(SERVER_BIN, 'rtm-server'), start(RELAY_BIN, 'ws_relay')]);
  const origin = `http://${serverAddr}`;
  const relayUrl = `ws://${relayAddr}/`;
  console.log(`rtm-server ${origin}/ (${SERVER_BIN})`);
  console.log(`ws_relay   ${relayUrl} (${RELAY_BIN})`);

  // --- the SDK's size and load time ---
  const files = ['rtm_core_bg.wasm', 'agora-rtm.mjs'];
  let raw = 0;
  let gz = 0;
  for (const file of files) {
    const bytes = readFileSync(resolve(SDK_DIR, 'dist', file));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: zlib.Z_BEST_COMPRESSION }).length;
  }
  let served = 0;
  for (const file of files) served += (await servedBytes(origin, `/sdk/${file}`)).bytes;
  console.log(`\nSDK transfer size (dist/${files.join(' + dist/')}):`);
  console.log(`  ${KIB(raw)} raw, ${KIB(gz)} gzip -9, ${KIB(served)} as rtm-server sends them gzip-encoded`);

  const browser = await launchChromium();
  try {
    const loads = [];
    for (let i = 0; i < LOADS; i++) loads.push(await measureLoad(browser, origin));
    const loadMs = loads.map((l) => l.ms);
    console.log(
      `SDK load in a fresh page (import('/sdk/agora-rtm.mjs') until ready, ${LOADS} fresh contexts): ` +
        `mean ${f(loadMs.reduce((a, b) => a + b, 0) / loadMs.length, 1)} ms, ` +
        `min ${f(Math.min(...loadMs), 1)}, max ${f(Math.max(...loadMs), 1)} ` +
        `(${loadMs.map((x) => f(x, 1)).join(', ')}); ${KIB(loads[0].transfer)} over the wire incl. headers`,
    );

    // --- the two pages ---
    const a = await openPage(browser, origin, '/');
    const b = await openPage(browser, origin, '/');
    await setUpPage(a, { me: 'a', peer: 'b', relayUrl, appId: APP_ID });
    await setUpPage(b, { me: 'b', peer: 'a', relayUrl, appId: APP_ID });
    await b.evaluate(() => (window.bench.echo = true));

    // The SDK's message window: no SDK run starts before the last one's sends left it.
    let sdkWindowEnd = 0;
    const sdkRun = async (opts) => {
      const wait = sdkWindowEnd - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = await a.evaluate((o) => window.bench.run(o), { setup: 'sdk', ...opts });
      sdkWindowEnd = Date.now() + LIMIT.windowMs + 100;
      return summarize(r);
    };
    const relayRun = async (opts) => summarize(await a.evaluate((o) => window.bench.run(o), { setup: 'relay', ...opts }));

    // Warm-up (JIT, the relay's name registration), not reported.
    await relayRun({ trips: WARMUP, paceMs: PACE_MS });
    await sdkRun({ trips: WARMUP, paceMs: PACE_MS });

    const kinds = [
      ['sdk paced', () => sdkRun({ ms: SECONDS * 1000, paceMs: PACE_MS })],
      ['relay paced', () => relayRun({ ms: SECONDS * 1000, paceMs: PACE_MS })],
      ['sdk burst', () => sdkRun({ trips: BURST })],
      ['relay burst', () => relayRun({ trips: BURST })],
      ['relay back to back', () => relayRun({ ms: SECONDS * 1000 })],
    ];
    const results = Object.fromEntries(kinds.map(([k]) => [k, []]));
    console.log(
      `\nPing-pong, one round trip in flight; ${ROUNDS} rounds of: SDK paced (a round trip every ${PACE_MS} ms, ${SECONDS} s), ` +
        `relay paced (same), SDK burst (${BURST} back to back), relay burst (same), relay back to back (${SECONDS} s).`,
    );
    console.log(
      `Limit: the SDK's §9.2 client rate for peer + channel messages, ${LIMIT.max} per ${LIMIT.windowMs / 1000} s per client ` +
        `(60/s sustained); each page sends one message per round trip, so the SDK's measured rate is capped near 60/s ` +
        `and its "1000/mean" is the latency-bound figure, not a rate it may sustain.\n`,
    );
    console.log(HEADER);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [kind, run] of kinds) {
        const s = await run();
        results[kind].push(s);
        console.log(row(`${round}, ${kind}`, s));
        if (s.lost || s.errors.length) console.log(`   !! lost ${s.lost}, errors: ${s.errors.slice(0, 3).join('; ')}`);
      }
    }
    const med = {};
    for (const [kind] of kinds) {
      const rs = results[kind];
      med[kind] = {
        trips: median(rs.map((s) => s.trips)),
        seconds: median(rs.map((s) => s.seconds)),
        rate: median(rs.map((s) => s.rate)),
        mean: median(rs.map((s) => s.mean)),
        p50: median(rs.map((s) => s.p50)),
        p99: median(rs.map((s) => s.p99)),
        max: median(rs.map((s) => s.max)),
        bound: median(rs.map((s) => s.bound)),
      };
      console.log(row(`median, ${kind}`, med[kind]));
    }

    const ratio = (x, y) => f(x / y, 2);
    console.log('\nSDK / relay (medians):');
    console.log(
      `  paced:        mean latency ${ratio(med['sdk paced'].mean, med['relay paced'].mean)}x, ` +
        `p50 ${ratio(med['sdk paced'].p50, med['relay paced'].p50)}x, p99 ${ratio(med['sdk paced'].p99, med['relay paced'].p99)}x`,
    );
    console.log(
      `  bursts:       mean latency ${ratio(med['sdk burst'].mean, med['relay burst'].mean)}x, ` +
        `p50 ${ratio(med['sdk burst'].p50, med['relay burst'].p50)}x, p99 ${ratio(med['sdk burst'].p99, med['relay burst'].p99)}x; ` +
        `round trips/s one at a time (1000/mean) ${ratio(med['sdk burst'].bound, med['relay burst'].bound)}`,
    );
    console.log(
      `  measured round trips/s: SDK paced ${f(med['sdk paced'].rate, 1)} (rate limit) / relay back to back ` +
        `${f(med['relay back to back'].rate, 0)} = ${ratio(med['sdk paced'].rate, med['relay back to back'].rate)}`,
    );
    await a.context().close();
    await b.context().close();
  } finally {
    await browser.close();
  }
}

process.on('SIGINT', () => {
  stopChildren();
  process.exit(130);
});
try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  stopChildren();
}
