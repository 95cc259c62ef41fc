// The demo page at `/`, used the way a newcomer uses it: two tabs, log in, join the lobby,
// chat, a peer message with its result, presence, a call answered, images sent to a peer
// and to the channel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
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

/// A `width`×`height` PNG of one colour (8-bit RGB), made here so the test needs no file.
function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a demo tab sends an image to a peer and to the channel; the other tab shows it', async () => {
  const alice = await tab('img-demo-alice');
  const bob = await tab('img-demo-bob');
  await alice.waitForSelector('#members [data-member="img-demo-bob"]');

  // To a peer: picked, uploaded, sent; bob's tab downloads it and shows it.
  await alice.fill('#peer-to', 'img-demo-bob');
  await alice.setInputFiles('#peer-file', { name: 'red.png', mimeType: 'image/png', buffer: png(40, 30, [220, 20, 20]) });
  await alice.click('#peer-send-image');
  await alice.waitForSelector('#peer-log li.mine img.media');
  // (The note's parentheses are CSS.)
  assert.match(await alice.textContent('#peer-log li.mine'), /to img-demo-bob\[image red\.png, 40×30, \d+ B\]received$/);
  const shown = await bob.waitForFunction(() => {
    const img = document.querySelector('#peer-log img.media');
    return img?.complete && img.naturalWidth > 0 && { w: img.naturalWidth, h: img.naturalHeight, type: img.dataset.type, alt: img.alt };
  });
  assert.deepEqual(await shown.jsonValue(), { w: 40, h: 30, type: 'image/png', alt: 'red.png' });
  assert.match(await bob.textContent('#peer-log'), /from img-demo-alice.*\[image red\.png, 40×30, \d+ B\]/);

  // To the channel.
  await bob.setInputFiles('#channel-file', { name: 'blue.png', mimeType: 'image/png', buffer: png(16, 24, [20, 20, 220]) });
  await bob.click('#channel-send-image');
  const inChannel = await alice.waitForFunction(() => {
    const img = document.querySelector('#channel-log img.media');
    return img?.complete && img.naturalWidth > 0 && { w: img.naturalWidth, h: img.naturalHeight, type: img.dataset.type };
  });
  assert.deepEqual(await inChannel.jsonValue(), { w: 16, h: 24, type: 'image/png' });
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await alice.context().close();
  await bob.context().close();
});
