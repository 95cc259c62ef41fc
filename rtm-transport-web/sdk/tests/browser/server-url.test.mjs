// An unchanged app finds its server: by default the server the SDK was loaded from; else
// `RtmConfig.serverUrl`, or `RTM_SERVER_URL` set before the app's code. And the UMD build
// defines the global `AgoraRTM`.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, closeBrowser, APP_ID } from './harness.mjs';

let a;
let b;
before(async () => {
  [a, b] = await Promise.all([RtmServer.start(), RtmServer.start()]);
});
after(async () => {
  await closeBrowser();
  await Promise.all([a.stop(), b.stop()]);
});

/// Which of the two servers has `uid` online, asked by a fresh page on each.
async function whereIs(uid) {
  const found = [];
  for (const [name, server] of [['a', a], ['b', b]]) {
    const probe = await openPage(server.origin);
    await login(probe, `probe-${uid}`);
    if ((await probe.evaluate((uid) => window.rtm.queryPeersOnlineStatus([uid]), uid))[uid]) found.push(name);
    await probe.context().close();
  }
  return found;
}

test('by default, the server the SDK was loaded from', async () => {
  const page = await openPage(a.origin);
  await login(page, 'default-user');
  assert.deepEqual(await whereIs('default-user'), ['a']);
  await page.context().close();
});

test("the SDK's own origin wins over the page's (an app served elsewhere loading the SDK from the RTM server)", async () => {
  const page = await openPage(b.origin, { sdk: `${a.origin}/sdk/agora-rtm.mjs` });
  await login(page, 'script-origin-user');
  assert.deepEqual(await whereIs('script-origin-user'), ['a']);
  await page.context().close();
});

test('RtmConfig.serverUrl overrides the default', async () => {
  const page = await openPage(a.origin);
  await login(page, 'config-user', { serverUrl: b.wsUrl });
  assert.deepEqual(await whereIs('config-user'), ['b']);
  await page.context().close();
});

test('a global RTM_SERVER_URL set before the app runs overrides the default', async () => {
  const page = await openPage(a.origin, { init: `globalThis.RTM_SERVER_URL = ${JSON.stringify(b.origin)};` });
  await login(page, 'global-user');
  assert.deepEqual(await whereIs('global-user'), ['b']);
  await page.context().close();
});

test('the UMD build defines the global AgoraRTM and works from a <script> tag', async () => {
  const page = await openPage(a.origin, { sdk: null });
  const version = await page.evaluate(async () => {
    await new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/sdk/agora-rtm.umd.js';
      s.onload = resolve;
      s.onerror = reject;
      document.head.append(s);
    });
    await window.AgoraRTM.ready;
    window.log = [];
    return window.AgoraRTM.VERSION;
  });
  assert.equal(version, '1.5.1');
  assert.equal(await page.evaluate(() => window.AgoraRTM.ConnectionState.CONNECTED), 'CONNECTED');
  await page.evaluate((appId) => {
    window.rtm = window.AgoraRTM.createInstance(appId);
    return window.rtm.login({ uid: 'umd-user' });
  }, APP_ID);
  assert.deepEqual(await whereIs('umd-user'), ['a']);
  await page.context().close();
});
