// The demo page at `/`, used the way a newcomer uses it: two tabs, log in, join the lobby,
// chat, a peer message with its result, presence, a call answered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, browser } from './harness.mjs';

const server = RtmServer.forThisFile();

/// A demo tab logged in as `uid`, joined to the lobby.
async function tab(uid) {
  const page = await (await (await browser()).newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.errors = errors;
  await page.goto(server.origin + '/');
  // The login button is enabled once the SDK has loaded.
  await page.waitForSelector('#login:enabled');
  await page.fill('#uid', uid);
  await page.click('#login');
  await page.waitForSelector('#state[data-state="CONNECTED"]');
  await page.click('#join');
  try {
    await page.waitForSelector(`#members [data-member="${uid}"]`, { timeout: 15_000 });
  } catch (e) {
    const seen = await page.evaluate(() => ({
      error: document.querySelector('#error-text').textContent,
      log: document.querySelector('#channel-log').textContent,
      state: document.querySelector('#state').textContent,
      join: document.querySelector('#join').disabled,
    }));
    throw new Error(`${uid} never listed as a member: ${JSON.stringify(seen)}`, { cause: e });
  }
  return page;
}

test('two demo tabs chat, message, watch presence and call', async () => {
  const alice = await tab('demo-alice');
  const bob = await tab('demo-bob');

  // Both are members; the count follows.
  await alice.waitForSelector('#members [data-member="demo-bob"]');
  await alice.waitForFunction(() => document.querySelector('#member-count').textContent === '2');

  // Channel chat.
  await bob.fill('#channel-text', 'hello <b>lobby</b>');
  await bob.click('#channel-send');
  await alice.waitForFunction(() => document.querySelector('#channel-log').textContent.includes('hello <b>lobby</b>'));
  assert.equal(await alice.locator('#channel-log b').count(), 0, 'message text is never markup');

  // A peer message and its result.
  await alice.fill('#peer-to', 'demo-bob');
  await alice.fill('#peer-text', 'psst');
  await alice.click('#peer-send');
  await alice.waitForFunction(() => document.querySelector('#peer-result').textContent === 'received');
  await bob.waitForFunction(() => document.querySelector('#peer-log').textContent.includes('psst'));

  // Presence.
  await alice.fill('#presence-peers', 'demo-bob, demo-nobody');
  await alice.click('#presence-subscribe');
  await alice.waitForSelector('#presence-body tr[data-peer="demo-bob"] td.state[data-state="ONLINE"]');

  // A call, answered with a response.
  await alice.fill('#ring-to', 'demo-bob');
  await alice.fill('#ring-content', 'video?');
  await alice.click('#ring');
  await bob.waitForSelector('#incoming:not([hidden])');
  assert.equal(await bob.textContent('#incoming-caller'), 'demo-alice');
  await bob.fill('#incoming-response', 'coming');
  await bob.click('#accept');
  await alice.waitForSelector('#call-status[data-state="ACCEPTED"]');
  assert.match(await alice.textContent('#call-status'), /coming/);

  // Bob logs out: alice sees him OFFLINE and leave the channel.
  await bob.click('#logout');
  await alice.waitForSelector('#presence-body tr[data-peer="demo-bob"] td.state[data-state="OFFLINE"]');
  await alice.waitForFunction(() => !document.querySelector('#members [data-member="demo-bob"]'));
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await alice.context().close();
  await bob.context().close();
});
