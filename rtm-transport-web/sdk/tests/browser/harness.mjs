// What the browser tests share: real `rtm-server` processes on free loopback ports, one
// headless Chromium, pages served by the server, and bounded waits.
//
// Run by `cargo test` (rtm-transport-smol/tests/browser.rs), which passes the binaries in
// RTM_SERVER_BIN and RTM_CLI_BIN; runnable alone with those set:
//   RTM_SERVER_BIN=target/release/rtm-server RTM_CLI_BIN=target/release/rtm \
//     node --test --test-concurrency=1 rtm-transport-web/sdk/tests/browser/

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export const APP_ID = '00000000000000000000000000000000';
const WAIT_MS = 15_000;

/// A port nobody listens on now (the server binds it a moment later).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/// An `rtm-server` process on a loopback port, free when first started; `stop()` kills it
/// (SIGKILL unless told otherwise), `start()` runs it again on the same port.
export class RtmServer {
  port = null;
  proc = null;
  /// More `rtm-server` flags (e.g. `['--admin-key', 'id:secret']`).
  args = [];

  constructor(args = []) {
    this.args = args;
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/`;
  }

  static async start(args = []) {
    const server = new RtmServer(args);
    await server.start();
    return server;
  }

  /// A server started before this test file's tests (then `setUp(server)`, if given, in
  /// the same hook), and stopped with the file's browser after them.
  static forThisFile(setUp = async () => {}, args = []) {
    const server = new RtmServer(args);
    before(async () => {
      await server.start();
      await setUp(server);
    });
    after(async () => {
      await closeBrowser();
      await server.stop();
    });
    return server;
  }

  async start() {
    this.port ??= await freePort();
    const bin = process.env.RTM_SERVER_BIN;
    if (!bin) throw new Error('RTM_SERVER_BIN is not set (the rtm-server binary)');
    // Memory storage: a test server writes no database (nor ./rtm-data in the repository).
    const flags = ['--listen', `127.0.0.1:${this.port}`, '--storage', 'memory', ...this.args];
    const proc = spawn(bin, flags, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, RUST_LOG: 'info' },
    });
    this.proc = proc;
    const lines = createInterface({ input: proc.stderr });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('rtm-server did not start')), WAIT_MS);
      lines.on('line', (line) => {
        if (process.env.RTM_TEST_VERBOSE) console.error(`[server] ${line}`);
        if (line.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`rtm-server exited with ${code}`)));
    });
  }

  async stop(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    this.proc = null;
    await new Promise((resolve) => {
      proc.once('exit', resolve);
      proc.kill(signal);
    });
  }
}

/// Headless Chromium as this machine runs it: without the background-networking flags its
/// connections are refused by the closed network, many at a time.
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let browserPromise = null;

/// The one headless Chromium of this test file.
export function browser() {
  browserPromise ??= launchChromium();
  return browserPromise;
}

export async function closeBrowser() {
  if (browserPromise) await (await browserPromise).close();
  browserPromise = null;
}

/// A page of its own browser context (another user on another machine, as far as the
/// server can tell) at `url`, with the SDK's ES module loaded as `window.AgoraRTM` and an
/// event log in `window.log`.
export async function openPage(url, { context = null, sdk = '/sdk/agora-rtm.mjs', init = null } = {}) {
  const ctx = context ?? (await (await browser()).newContext());
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (process.env.RTM_TEST_VERBOSE) console.error(`[page] ${m.text()}`);
  });
  if (init) await page.addInitScript(init);
  await page.goto(url);
  if (sdk) {
    await page.evaluate(async (sdk) => {
      window.AgoraRTM = (await import(sdk)).default;
      window.log = [];
    }, sdk);
  }
  page.errors = errors;
  return page;
}

/// Polls `f` (run in the page) until it returns a truthy value, within the wait.
export async function until(page, f, arg, what = String(f)) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await page.evaluate(f, arg);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Logs in `uid` on `page` as `window.rtm`, recording every client event in `window.log`
/// as `"Name arg1 arg2"` strings.
export async function login(page, uid, config = {}) {
  await page.evaluate(
    async ({ uid, config, appId }) => {
      const rtm = window.AgoraRTM.createInstance(appId, config);
      window.rtm = rtm;
      const record = (name) => (...args) =>
        window.log.push([name, ...args.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a)))].join(' '));
      for (const name of ['ConnectionStateChanged', 'PeersOnlineStatusChanged', 'TokenExpired']) {
        rtm.on(name, record(name));
      }
      rtm.on('MessageFromPeer', (m, peer, props) =>
        window.log.push(
          `MessageFromPeer ${peer} ${m.messageType} ${m.text ?? (m.rawMessage ? Array.from(m.rawMessage).join(',') : m.mediaId)} offline=${props.isOfflineMessage}`,
        ),
      );
      await rtm.login({ uid });
    },
    { uid, config, appId: APP_ID },
  );
}

/// The event log of `page`.
export function events(page) {
  return page.evaluate(() => window.log.slice());
}

/// Waits until the page's log has an entry equal to `entry`.
export function untilLogged(page, entry) {
  return until(page, (entry) => window.log.includes(entry), entry, `"${entry}" in the log`);
}
