// A page and the Rust CLI talk to each other through the same server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { RtmServer, openPage, login, untilLogged } from './harness.mjs';

const server = RtmServer.forThisFile();
let listener;
after(() => listener?.kill('SIGKILL'));

function cli() {
  const bin = process.env.RTM_CLI_BIN;
  if (!bin) throw new Error('RTM_CLI_BIN is not set (the rtm binary)');
  return bin;
}

test('a page and the Rust CLI exchange peer messages', async () => {
  // The CLI listens as clibob and prints every event as a JSON line.
  listener = spawn(cli(), ['--server', server.wsUrl, '--uid', 'clibob', 'listen'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  createInterface({ input: listener.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  });
  const nextEvent = async (pred, what) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`the CLI never printed ${what}: ${JSON.stringify(lines)}`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  await nextEvent((e) => e.event === 'ConnectionStateChanged' && e.state === 'CONNECTED', 'CONNECTED');

  const page = await openPage(server.origin);
  await login(page, 'pagealice');
  const sent = await page.evaluate(() => window.rtm.sendMessageToPeer({ text: 'hello from the browser' }, 'clibob'));
  assert.deepEqual(sent, { hasPeerReceived: true });
  const got = await nextEvent((e) => e.event === 'MessageFromPeer', 'the message');
  assert.equal(got.peer_id, 'pagealice');
  assert.equal(got.text, 'hello from the browser');

  const { stdout } = await promisify(execFile)(cli(), [
    '--server', server.wsUrl, '--uid', 'clicarol', 'send-peer', 'pagealice', 'hello from the CLI',
  ]);
  assert.equal(JSON.parse(stdout).outcome, 'received');
  await untilLogged(page, 'MessageFromPeer clicarol TEXT hello from the CLI offline=false');
  await page.context().close();
});
