// File and image messages (§4.9) between browser pages over a real server: upload with
// progress, IMAGE messages to a peer and a channel, download into a typed Blob, cancel, the
// §8.14 error codes, and re-sending from a media id.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, until } from './harness.mjs';

const server = RtmServer.forThisFile();

/// Slows the page's network to `bytesPerSecond` each way (Chromium's network emulation), so
/// a few megabytes take seconds and progress is reported on the way.
async function throttle(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: bytesPerSecond,
    uploadThroughput: bytesPerSecond,
  });
  return cdp;
}

/// In the page: `window.png`, a `width`×`height` PNG of noise (incompressible, so its size
/// is about 4 bytes a pixel), and helpers to hash Blobs.
async function makePng(page, width, height) {
  return page.evaluate(
    async ({ width, height }) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      const pixels = ctx.createImageData(width, height);
      for (let i = 0; i < pixels.data.length; i += 65536) {
        crypto.getRandomValues(pixels.data.subarray(i, Math.min(i + 65536, pixels.data.length)));
      }
      for (let i = 3; i < pixels.data.length; i += 4) pixels.data[i] = 255;
      ctx.putImageData(pixels, 0, 0);
      window.png = await canvas.convertToBlob({ type: 'image/png' });
      window.sha256 = async (blob) =>
        Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())))
          .map((b) => b.toString(16).padStart(2, '0'))
          .join('');
      return { size: window.png.size, sha256: await window.sha256(window.png) };
    },
    { width, height },
  );
}

/// Progress as §4.9 reports it: every report has the file's size as `totalSize`, the counts
/// grow, reports come at most once a second (`at`: when the page heard them), and the last
/// one says the whole file moved. A transfer of several seconds reports more than once.
function checkProgress(reports, total, what) {
  const show = JSON.stringify(reports);
  assert.ok(reports.length >= 3, `${what}: several reports: ${show}`);
  for (const [i, r] of reports.entries()) {
    assert.equal(r.totalSize, total, `${what}: totalSize: ${show}`);
    if (i === 0) continue;
    const prev = reports[i - 1];
    assert.ok(r.currentSize > prev.currentSize, `${what}: growing: ${show}`);
    if (i < reports.length - 1) assert.ok(r.at - prev.at >= 900, `${what}: a second apart: ${show}`);
  }
  assert.equal(reports.at(-1).currentSize, total, `${what}: ends whole: ${show}`);
}

test('an IMAGE message between two pages: uploaded with progress, received with its size, downloaded byte-identical', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'img-alice');
  await login(bob, 'img-bob');
  await bob.evaluate(() => {
    window.got = [];
    window.rtm.on('MessageFromPeer', (m, peer) => window.got.push({ m, peer }));
  });

  const png = await makePng(alice, 900, 700);
  assert.ok(png.size > 2_000_000, `a noise PNG is big: ${png.size}`);
  // ~2.5 MB at 1 MB/s: three seconds of upload, progress on the way.
  await throttle(alice, 1_000_000);
  const up = await alice.evaluate(async () => {
    const progress = [];
    const thumbnail = new Blob([new Uint8Array([137, 80, 78, 71, 1, 2, 3])]);
    const m = await window.rtm.createMediaMessageByUploading(
      window.png,
      { messageType: 'IMAGE', fileName: 'noise.png', description: 'a test image', thumbnail, thumbnailWidth: 3, thumbnailHeight: 2 },
      { onOperationProgress: (p) => progress.push({ ...p, at: performance.now() }) },
    );
    window.image = m;
    const { thumbnail: t, ...rest } = m;
    return { message: rest, thumbnail: Array.from(new Uint8Array(await t.arrayBuffer())), progress };
  });
  checkProgress(up.progress, png.size, 'upload');
  assert.equal(typeof up.message.mediaId, 'string');
  assert.deepEqual(up.message, {
    messageType: 'IMAGE',
    mediaId: up.message.mediaId,
    size: png.size,
    fileName: 'noise.png',
    description: 'a test image',
    width: 900,
    height: 700,
    thumbnailWidth: 3,
    thumbnailHeight: 2,
  });
  assert.deepEqual(up.thumbnail, [137, 80, 78, 71, 1, 2, 3]);

  const sent = await alice.evaluate(() => window.rtm.sendMessageToPeer(window.image, 'img-bob'));
  assert.deepEqual(sent, { hasPeerReceived: true });
  await until(bob, () => window.got.length === 1, undefined, 'the IMAGE message at bob');
  const got = await bob.evaluate(async () => {
    const { m, peer } = window.got[0];
    const { thumbnail, ...rest } = m;
    return {
      peer,
      message: rest,
      thumbnail: thumbnail instanceof Blob ? Array.from(new Uint8Array(await thumbnail.arrayBuffer())) : thumbnail,
    };
  });
  assert.deepEqual(got, {
    peer: 'img-alice',
    message: { ...up.message },
    thumbnail: [137, 80, 78, 71, 1, 2, 3],
  });

  // Bob downloads it, slowly enough to see progress.
  await throttle(bob, 1_000_000);
  await makePng(bob, 1, 1); // for window.sha256
  const down = await bob.evaluate(async (mediaId) => {
    const progress = [];
    const blob = await window.rtm.downloadMedia(mediaId, {
      onOperationProgress: (p) => progress.push({ ...p, at: performance.now() }),
    });
    return { type: blob.type, size: blob.size, sha256: await window.sha256(blob), progress };
  }, up.message.mediaId);
  checkProgress(down.progress, png.size, 'download');
  assert.deepEqual(
    { type: down.type, size: down.size, sha256: down.sha256 },
    { type: 'image/png', size: png.size, sha256: png.sha256 },
  );
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  for (const p of [alice, bob]) await p.context().close();
});

test('cancelSignal aborts an upload mid-way with INTERRUPTED (6); the next upload works', async () => {
  const alice = await openPage(server.origin);
  await login(alice, 'cancel-alice');
  await throttle(alice, 500_000);
  const r = await alice.evaluate(async () => {
    const bytes = new Uint8Array(4_000_000);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const abort = new AbortController();
    const progress = [];
    const error = await window.rtm
      .createMediaMessageByUploading(new Blob([bytes]), { fileName: 'big.bin' }, {
        cancelSignal: abort.signal,
        onOperationProgress: (p) => {
          progress.push(p);
          abort.abort();
        },
      })
      .then(
        (m) => ({ resolved: m }),
        (e) => ({ code: e.code, name: e.name }),
      );
    // A small file goes through afterwards.
    const small = await window.rtm.createMediaMessageByUploading(new Blob(['hello']), { fileName: 'hi.txt' });
    return { error, progress, small: { messageType: small.messageType, size: small.size, fileName: small.fileName } };
  });
  assert.deepEqual(r.error, { code: 6, name: 'UploadMediaError' });
  assert.equal(r.progress.length, 1, 'aborted at the first progress report');
  assert.ok(r.progress[0].currentSize > 0 && r.progress[0].currentSize < 4_000_000, JSON.stringify(r.progress));
  assert.deepEqual(r.small, { messageType: 'FILE', size: 5, fileName: 'hi.txt' });
  assert.deepEqual(alice.errors, []);
  await alice.context().close();
});

test('§8.14 codes: an unknown media id is NOT_EXIST (4), a Blob-less upload INVALID_ARGUMENT (2), before login 102', async () => {
  const page = await openPage(server.origin);
  const before = await page.evaluate(async (appId) => {
    const rtm = window.AgoraRTM.createInstance(appId);
    const upload = await rtm.createMediaMessageByUploading(new Blob(['x'])).catch((e) => [e.code, e.name]);
    const download = await rtm.downloadMedia('whatever').catch((e) => [e.code, e.name]);
    return { upload, download };
  }, '00000000000000000000000000000000');
  assert.deepEqual(before, {
    upload: [102, 'UploadMediaError'],
    download: [102, 'DownloadMediaError'],
  });
  await login(page, 'codes-alice');
  const r = await page.evaluate(async () => {
    // Uploaded, then asked for under another well-formed id that nobody uploaded.
    const m = await window.rtm.createMediaMessageByUploading(new Blob(['abc']));
    const unknown = m.mediaId.replace(/[0-9a-zA-Z]$/, (c) => (c === 'a' ? 'b' : 'a'));
    const notExist = await window.rtm.downloadMedia(unknown).catch((e) => [e.code, e.name]);
    const notBlob = await window.rtm.createMediaMessageByUploading('not a blob').catch((e) => [e.code, e.name]);
    return { notExist, notBlob, same: unknown === m.mediaId };
  });
  assert.deepEqual(r, {
    notExist: [4, 'DownloadMediaError'],
    notBlob: [2, 'UploadMediaError'],
    same: false,
  });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('createMessage from a media id re-sends it to a channel; the member downloads the same bytes', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'again-alice');
  await login(bob, 'again-bob');
  const png = await makePng(alice, 64, 48);
  await makePng(bob, 1, 1);
  await bob.evaluate(async () => {
    window.got = [];
    const ch = window.rtm.createChannel('media-room');
    ch.on('ChannelMessage', (m, member) => window.got.push({ m, member }));
    await ch.join();
  });
  const mediaId = await alice.evaluate(async () => {
    const m = await window.rtm.createMediaMessageByUploading(window.png, { messageType: 'IMAGE', fileName: 'small.png' });
    window.ch = window.rtm.createChannel('media-room');
    await window.ch.join();
    // Only the id and what the app kept: a new message object, sent without re-uploading.
    const again = window.rtm.createMessage({
      mediaId: m.mediaId,
      messageType: 'IMAGE',
      size: m.size,
      fileName: 'again.png',
      width: m.width,
      height: m.height,
    });
    await window.ch.sendMessage(again);
    return m.mediaId;
  });
  await until(bob, () => window.got.length === 1, undefined, 'the channel IMAGE message at bob');
  const got = await bob.evaluate(async () => {
    const { m, member } = window.got[0];
    const blob = await window.rtm.downloadMedia(m.mediaId);
    return {
      member,
      m: { messageType: m.messageType, mediaId: m.mediaId, size: m.size, fileName: m.fileName, width: m.width, height: m.height, thumbnail: m.thumbnail ?? null },
      blob: { type: blob.type, size: blob.size, sha256: await window.sha256(blob) },
    };
  });
  assert.deepEqual(got, {
    member: 'again-alice',
    m: { messageType: 'IMAGE', mediaId, size: png.size, fileName: 'again.png', width: 64, height: 48, thumbnail: null },
    blob: { type: 'image/png', size: png.size, sha256: png.sha256 },
  });
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  for (const p of [alice, bob]) await p.context().close();
});

test('nine transfers at a time: the tenth is CONCURRENCY_LIMIT_EXCEEDED (5); cancelled downloads are INTERRUPTED (6)', async () => {
  const page = await openPage(server.origin);
  await login(page, 'nine-alice');
  const mediaId = await page.evaluate(async () => {
    const bytes = new Uint8Array(2_000_000);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    return (await window.rtm.createMediaMessageByUploading(new Blob([bytes]))).mediaId;
  });
  // Slow enough that nine downloads are still running when the tenth starts.
  await throttle(page, 200_000);
  const r = await page.evaluate(async (mediaId) => {
    const abort = new AbortController();
    const nine = Array.from({ length: 9 }, () =>
      window.rtm.downloadMedia(mediaId, { cancelSignal: abort.signal }).then(
        (blob) => `resolved ${blob.size}`,
        (e) => [e.code, e.name],
      ),
    );
    const tenth = await window.rtm.downloadMedia(mediaId).catch((e) => [e.code, e.name]);
    const upload = await window.rtm.createMediaMessageByUploading(new Blob(['x'])).catch((e) => [e.code, e.name]);
    abort.abort();
    const ended = await Promise.all(nine);
    // The slots are free again.
    const after = await window.rtm.createMediaMessageByUploading(new Blob(['y'])).then((m) => m.size);
    return { tenth, upload, ended, after };
  }, mediaId);
  assert.deepEqual(r, {
    tenth: [5, 'DownloadMediaError'],
    upload: [5, 'UploadMediaError'],
    ended: Array(9).fill([6, 'DownloadMediaError']),
    after: 1,
  });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an app served from another origin uploads and downloads across origins (CORS preflights)', async () => {
  // Another server only serves the page: its origin differs from the RTM server's by the port.
  const other = await RtmServer.start();
  try {
    // Not the other server's demo page at `/`: its own client, made from that server's SDK,
    // would race the test's for `window.rtm`. Its stylesheet is a document of that origin.
    const page = await openPage(`${other.origin}/demo.css`, { sdk: `${server.origin}/sdk/agora-rtm.mjs` });
    await login(page, 'cors-alice', { serverUrl: server.wsUrl });
    await throttle(page, 1_000_000);
    const r = await page.evaluate(async () => {
      const bytes = new Uint8Array(1_500_000);
      for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
      bytes.set([0x25, 0x50, 0x44, 0x46, 0x2d], 0); // %PDF-
      const up = [];
      const m = await window.rtm.createMediaMessageByUploading(new Blob([bytes]), { fileName: 'doc.pdf' }, {
        onOperationProgress: (p) => up.push(p.currentSize),
      });
      const down = [];
      const blob = await window.rtm.downloadMedia(m.mediaId, { onOperationProgress: (p) => down.push(p.currentSize) });
      const same = new Uint8Array(await blob.arrayBuffer()).every((b, i) => b === bytes[i]);
      return { origin: location.origin, type: blob.type, size: blob.size, same, up: up.at(-1), down: down.at(-1), reports: up.length > 1 && down.length > 1 };
    });
    assert.notEqual(r.origin, server.origin);
    assert.deepEqual(
      { type: r.type, size: r.size, same: r.same, up: r.up, down: r.down, reports: r.reports },
      { type: 'application/pdf', size: 1_500_000, same: true, up: 1_500_000, down: 1_500_000, reports: true },
    );
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    await other.stop();
  }
});

test('messages reach the peer in the order sent, also a text sent while an image message\'s thumbnail is read', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'order-alice');
  await login(bob, 'order-bob');
  await bob.evaluate(() => {
    window.got = [];
    window.rtm.on('MessageFromPeer', (m) => window.got.push(m.messageType === 'TEXT' ? m.text : `${m.messageType} ${m.fileName}`));
  });
  const sent = await alice.evaluate(async () => {
    const m = await window.rtm.createMediaMessageByUploading(new Blob(['not really a png']), { fileName: 'a.bin' });
    const thumbnail = new Blob([new Uint8Array(20_000)]);
    // Not awaited one by one: the SDK keeps the order.
    const results = await Promise.all([
      window.rtm.sendMessageToPeer({ text: 'before' }, 'order-bob'),
      window.rtm.sendMessageToPeer({ ...m, fileName: 'with-thumbnail.bin', thumbnail }, 'order-bob'),
      window.rtm.sendMessageToPeer({ text: 'after' }, 'order-bob'),
      window.rtm.sendMessageToPeer({ ...m, fileName: 'plain.bin' }, 'order-bob'),
      window.rtm.sendMessageToPeer({ text: 'last' }, 'order-bob'),
    ]);
    return results.map((r) => r.hasPeerReceived);
  });
  assert.deepEqual(sent, [true, true, true, true, true]);
  await until(bob, () => window.got.length === 5, undefined, 'five messages at bob');
  assert.deepEqual(await bob.evaluate(() => window.got), [
    'before',
    'FILE with-thumbnail.bin',
    'after',
    'FILE plain.bin',
    'last',
  ]);
  for (const p of [alice, bob]) await p.context().close();
});
