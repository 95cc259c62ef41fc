// A download whose connection breaks resumes where it stopped (§4.9, issue #14): the page
// talks to the real server through a proxy that cuts the first answer for a media file after
// a megabyte; the SDK asks again with `Range: bytes=<what it has>-` on the core's order and
// delivers the whole file, byte-identical.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { RtmServer, openPage, login, freePort } from './harness.mjs';

const server = RtmServer.forThisFile();
const CUT_AFTER = 1_000_000;

/// Every `GET /v1/media/…` seen, as `"<path> <Range or ->"`.
const downloads = [];
let cut = true; // cut the next media answer
let proxy;
let origin;

before(async () => {
  const port = await freePort();
  proxy = http.createServer((req, res) => {
    const isMedia = req.method === 'GET' && req.url.startsWith('/v1/media/');
    if (isMedia) downloads.push(`${req.url} ${req.headers.range ?? '-'}`);
    const up = http.request(
      { host: '127.0.0.1', port: server.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        if (!(isMedia && cut && answer.statusCode === 200)) {
          answer.pipe(res);
          return;
        }
        cut = false;
        let sent = 0;
        answer.on('data', (chunk) => {
          if (sent >= CUT_AFTER) return;
          const part = chunk.subarray(0, CUT_AFTER - sent);
          sent += part.length;
          res.write(part);
          if (sent >= CUT_AFTER) {
            answer.destroy();
            // Once what was written has left, the connection breaks.
            setTimeout(() => res.socket?.destroy(), 300);
          }
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  // The WebSocket, as it is.
  proxy.on('upgrade', (req, socket, head) => {
    const s = net.connect(server.port, '127.0.0.1', () => {
      const lines = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`);
      s.write(`${req.method} ${req.url} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
      s.write(head);
      s.pipe(socket);
      socket.pipe(s);
    });
    s.on('error', () => socket.destroy());
    socket.on('error', () => s.destroy());
  });
  await new Promise((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${port}`;
});

after(() => new Promise((resolve) => proxy.close(resolve)));

/// In the page: `window.sha256(blob)`, the hex SHA-256 of a Blob.
function defineSha256() {
  window.sha256 = async (blob) =>
    Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())))
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
}

test('a download that breaks after a megabyte resumes with Range and gives the whole file', async () => {
  const alice = await openPage(origin);
  const bob = await openPage(origin);
  await login(alice, 'resume-alice');
  await login(bob, 'resume-bob');
  for (const page of [alice, bob]) await page.evaluate(defineSha256);
  const sent = await alice.evaluate(async () => {
    const bytes = new Uint8Array(3_000_000);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const blob = new Blob([bytes]);
    const m = await window.rtm.createMediaMessageByUploading(blob, { fileName: 'noise.bin' });
    return { mediaId: m.mediaId, sha256: await window.sha256(blob) };
  });
  cut = true;
  downloads.length = 0;
  const got = await bob.evaluate(
    async (mediaId) => {
      const progress = [];
      const blob = await window.rtm.downloadMedia(mediaId, { onOperationProgress: (p) => progress.push(p) });
      return { type: blob.type, size: blob.size, sha256: await window.sha256(blob), last: progress.at(-1) };
    },
    sent.mediaId,
  );
  assert.deepEqual(got, {
    type: 'application/octet-stream',
    size: 3_000_000,
    sha256: sent.sha256,
    last: { currentSize: 3_000_000, totalSize: 3_000_000 },
  });
  assert.equal(downloads.length, 2, `two requests: ${downloads}`);
  assert.equal(downloads[0], `/v1/media/${sent.mediaId} -`);
  const [, from] = /^\S+ bytes=(\d+)-$/.exec(downloads[1]) ?? [];
  assert.ok(Number(from) > 0 && Number(from) <= CUT_AFTER, `resumed from what arrived: ${downloads}`);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  for (const p of [alice, bob]) await p.context().close();
});
