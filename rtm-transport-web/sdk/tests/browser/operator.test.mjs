// The operator's plane as a browser app meets it: a server with an admin key, pages whose
// log lines reach the server (enableLogUpload), and bans made through the REST API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, APP_ID, openPage, login, untilLogged } from './harness.mjs';

const KEY = 'ops:s3cret';
const server = RtmServer.forThisFile(async () => {}, ['--admin-key', KEY]);

/// One REST call: `{status, body}`.
async function rest(method, path, body) {
  const response = await fetch(`${server.origin}/v1/project/${APP_ID}/rtm${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(KEY).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/// Polls the REST API until `pred(body)` holds.
async function untilRest(path, pred, what) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { status, body } = await rest('GET', path);
    if (status === 200 && pred(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const DEBUG = { error: true, warn: true, info: true, track: true, debug: true };

test('with enableLogUpload a page uploads its log lines and support reads them by user id', async () => {
  const page = await openPage(server.origin);
  const quiet = await openPage(server.origin);
  await login(page, 'logger', { enableLogUpload: true, logFilter: DEBUG });
  await login(quiet, 'quiet'); // upload off: the default, as in Agora's SDK
  await page.evaluate(async () => {
    window.ch = window.rtm.createChannel('support');
    await window.ch.join();
    // A failure the app saw: a peer message to an invalid id is refused locally.
    await window.rtm.sendMessageToPeer({ text: 'x' }, '').catch(() => {});
  });
  const body = await untilRest(
    '/users/logger/logs',
    (b) => b.lines.some((l) => l.text === 'connection state CONNECTED (LOGIN_SUCCESS)'),
    'the login line',
  );
  for (const line of body.lines) {
    assert.ok(['error', 'warn', 'info', 'debug'].includes(line.level), JSON.stringify(line));
    assert.equal(typeof line.ts, 'number');
  }
  await page.evaluate(() => window.rtm.updateConfig({ enableLogUpload: false }));
  await quiet.evaluate(() => window.rtm.logout());
  assert.deepEqual((await rest('GET', '/users/quiet/logs')).body.lines, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
  await quiet.context().close();
});

test('a user ban ends the page session with BANNED_BY_SERVER and refuses logins until deleted', async () => {
  const page = await openPage(server.origin);
  await login(page, 'troll');
  const made = await rest('POST', '/bans', { user_id: 'troll', minutes: 5, reason: 'spam' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await untilLogged(page, 'ConnectionStateChanged ABORTED BANNED_BY_SERVER');
  const refused = await page.evaluate(async () => {
    await window.rtm.logout();
    return window.rtm.login({ uid: 'troll' }).then(
      () => 'logged in',
      (e) => `${e.name} ${e.code}`,
    );
  });
  assert.equal(refused, 'LoginError 2');
  const listed = await rest('GET', '/bans');
  assert.ok(listed.body.bans.some((b) => b.id === made.body.ban.id && b.user_id === 'troll'));
  assert.equal((await rest('DELETE', `/bans/${made.body.ban.id}`)).status, 200);
  // Past the SDK's own login rate (2 per second, §9.2) before logging in again.
  await new Promise((r) => setTimeout(r, 1100));
  await page.evaluate(() => {
    window.log.length = 0;
    return window.rtm.login({ uid: 'troll' });
  });
  await untilLogged(page, 'ConnectionStateChanged CONNECTED LOGIN_SUCCESS');
  await page.context().close();
});

test('a channel ban takes the page out of the channel with BannedByServer; the others see it leave', async () => {
  const banned = await openPage(server.origin);
  const other = await openPage(server.origin);
  await login(banned, 'heckler');
  await login(other, 'host');
  for (const page of [banned, other]) {
    await page.evaluate(async () => {
      window.ch = window.rtm.createChannel('stage');
      for (const name of ['MemberLeft', 'BannedByServer']) {
        window.ch.on(name, (...args) => window.log.push([name, ...args].join(' ')));
      }
      await window.ch.join();
    });
  }
  const made = await rest('POST', '/bans', { user_id: 'heckler', channel_name: 'stage', minutes: 5 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await untilLogged(banned, 'BannedByServer');
  await untilLogged(other, 'MemberLeft heckler');
  const codes = await banned.evaluate(async () => {
    const code = (p) => p.then(() => 'ok', (e) => `${e.name} ${e.code}`);
    const leave = await code(window.ch.leave());
    const join = await code(window.ch.join());
    return { leave, join };
  });
  assert.deepEqual(codes, { leave: 'LeaveChannelError 4', join: 'JoinChannelError 2' });
  // Only the channel: the session is untouched.
  assert.ok(!(await banned.evaluate(() => window.log)).some((e) => e.includes('ABORTED')));
  const members = await rest('GET', '/channels/stage/members');
  assert.deepEqual(members.body.members, ['host']);
  await banned.context().close();
  await other.context().close();
});
