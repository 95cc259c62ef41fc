// What browsers do to a client: the server restarts under it, a second tab logs in as the
// same user, a tab closes, a background tab's timers are throttled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, until, untilLogged, events, browser } from './harness.mjs';

const server = RtmServer.forThisFile();

test('the server restarted under a logged-in page: RECONNECTING, then CONNECTED with the channel rejoined', async () => {
  const page = await openPage(server.origin);
  await login(page, 'survivor');
  await page.evaluate(async () => {
    window.ch = window.rtm.createChannel('durable-room');
    window.ch.on('ChannelMessage', (m, member) => window.log.push(`ChannelMessage ${member} ${m.text}`));
    await window.ch.join();
  });

  await server.stop('SIGKILL');
  await untilLogged(page, 'ConnectionStateChanged RECONNECTING INTERRUPTED');
  await server.start();
  await until(
    page,
    () => {
      const interrupted = window.log.indexOf('ConnectionStateChanged RECONNECTING INTERRUPTED');
      return window.log.slice(interrupted).some((e) => e.startsWith('ConnectionStateChanged CONNECTED'));
    },
    null,
    'CONNECTED again',
  );

  // The channel was rejoined: a newcomer sees the survivor and the survivor hears it.
  const other = await openPage(server.origin);
  await login(other, 'newcomer');
  await until(
    other,
    async () => {
      const ch = (window.ch ??= window.rtm.createChannel('durable-room'));
      if (!window.joined) {
        await ch.join();
        window.joined = true;
      }
      return (await ch.getMembers()).includes('survivor');
    },
    null,
    'the survivor back in the channel',
  );
  await other.evaluate(() => window.ch.sendMessage({ text: 'welcome back' }));
  await untilLogged(page, 'ChannelMessage newcomer welcome back');
  const states = (await events(page)).filter((e) => e.startsWith('ConnectionStateChanged'));
  assert.equal(states[0], 'ConnectionStateChanged CONNECTING LOGIN');
  assert.equal(states[1], 'ConnectionStateChanged CONNECTED LOGIN_SUCCESS');
  assert.equal(states[2], 'ConnectionStateChanged RECONNECTING INTERRUPTED');
  assert.ok(states.slice(3).every((s) => !s.includes('ABORTED') && !s.includes('DISCONNECTED')), String(states));
  for (const p of [page, other]) await p.context().close();
});

test('two tabs of the same user: the first is ABORTED with REMOTE_LOGIN, as Agora does', async () => {
  const first = await openPage(server.origin);
  const second = await openPage(server.origin, { context: first.context() });
  await login(first, 'twice');
  await login(second, 'twice');
  await untilLogged(first, 'ConnectionStateChanged ABORTED REMOTE_LOGIN');
  assert.equal(await second.evaluate(() => window.rtm.queryPeersOnlineStatus(['twice']).then((s) => s.twice)), true);
  assert.ok(!(await events(second)).some((e) => e.includes('ABORTED')));
  await first.context().close();
});

test('closing the tab ends the session at once (not after the resume window)', async () => {
  const watcher = await openPage(server.origin);
  await login(watcher, 'watcher');
  const leaver = await openPage(server.origin);
  await login(leaver, 'leaver');
  await watcher.evaluate(() => window.rtm.subscribePeersOnlineStatus(['leaver']));
  await untilLogged(watcher, 'PeersOnlineStatusChanged {"leaver":"ONLINE"}');

  const closed = Date.now();
  await leaver.close({ runBeforeUnload: true });
  await untilLogged(watcher, 'PeersOnlineStatusChanged {"leaver":"OFFLINE"}');
  const took = Date.now() - closed;
  assert.ok(took < 5000, `OFFLINE after ${took} ms`);
  // No UNREACHABLE on the way: the session ended, the link did not just break.
  assert.ok(!(await events(watcher)).includes('PeersOnlineStatusChanged {"leaver":"UNREACHABLE"}'));
  await watcher.context().close();
  await leaver.context().close();
});

test("a background tab's throttled timers do not make its user UNREACHABLE", async () => {
  const watcher = await openPage(server.origin);
  await login(watcher, 'watcher2');
  // The sleeper's page timers are throttled as in a background tab after minutes hidden:
  // every setTimeout/setInterval fires at most once a minute. The SDK's heartbeat timer runs
  // in a worker, which browsers do not throttle this way.
  const sleeper = await openPage(server.origin, {
    init: () => {
      const slow = (f) => (cb, ms, ...a) => f(cb, Math.max(ms ?? 0, 60_000), ...a);
      window.setTimeout = slow(window.setTimeout.bind(window));
      window.setInterval = slow(window.setInterval.bind(window));
    },
  });
  await login(sleeper, 'sleeper');
  await watcher.evaluate(() => window.rtm.subscribePeersOnlineStatus(['sleeper']));
  await untilLogged(watcher, 'PeersOnlineStatusChanged {"sleeper":"ONLINE"}');

  // Three times the link timeout of a silent client.
  await new Promise((r) => setTimeout(r, 18_000));
  const seen = (await events(watcher)).filter((e) => e.includes('sleeper'));
  assert.deepEqual(seen, ['PeersOnlineStatusChanged {"sleeper":"ONLINE"}']);
  const states = (await events(sleeper)).filter((e) => e.startsWith('ConnectionStateChanged'));
  assert.deepEqual(states, ['ConnectionStateChanged CONNECTING LOGIN', 'ConnectionStateChanged CONNECTED LOGIN_SUCCESS']);
  for (const p of [watcher, sleeper]) await p.context().close();
});

test('many pages log in and out without leaking: the server ends up with no session', async () => {
  const ctx = await (await browser()).newContext();
  for (let i = 0; i < 5; i++) {
    const page = await openPage(server.origin, { context: ctx });
    await login(page, `churn${i}`);
    await page.evaluate(() => window.rtm.logout());
    await untilLogged(page, 'ConnectionStateChanged DISCONNECTED LOGOUT');
    await page.close();
  }
  const probe = await openPage(server.origin);
  await login(probe, 'probe');
  const online = await probe.evaluate(() => window.rtm.queryPeersOnlineStatus(['churn0', 'churn4']));
  assert.deepEqual(online, { churn0: false, churn4: false });
  await ctx.close();
  await probe.context().close();
});
