// Misuse is refused with the SDK's error codes (§8): promises reject, synchronous calls
// throw, each with the family's `name` and numeric `code`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, APP_ID } from './harness.mjs';

const server = RtmServer.forThisFile();

/// `[name, code]` of what `f` (run in the page) rejects or throws with, or `null`.
async function refusal(page, f) {
  return page.evaluate(async (src) => {
    try {
      await new Function(`return (${src})()`)();
      return null;
    } catch (e) {
      return [e.name, e.code];
    }
  }, String(f));
}

test('calls before login are refused with NOT_LOGGED_IN (102)', async () => {
  const page = await openPage(server.origin);
  await page.evaluate((appId) => {
    window.rtm = window.AgoraRTM.createInstance(appId);
  }, APP_ID);
  assert.deepEqual(await refusal(page, () => window.rtm.sendMessageToPeer({ text: 'x' }, 'bob')), ['PeerMessageError', 102]);
  assert.deepEqual(await refusal(page, () => window.rtm.logout()), ['LogoutError', 102]);
  assert.deepEqual(await refusal(page, () => window.rtm.queryPeersOnlineStatus(['bob'])), ['QueryPeersOnlineStatusError', 102]);
  assert.deepEqual(await refusal(page, () => window.rtm.createChannel('c').join()), ['JoinChannelError', 102]);
  assert.deepEqual(await refusal(page, () => window.rtm.getUserAttributes('bob')), ['AttributeOperationError', 102]);
  await page.context().close();
});

test('invalid arguments are refused with each family code', async () => {
  const page = await openPage(server.origin);
  await login(page, 'misuser');
  // Login again while logged in: ALREADY_LOGIN (8).
  assert.deepEqual(await refusal(page, () => window.rtm.login({ uid: 'misuser' })), ['LoginError', 8]);
  // Empty message: INVALID_MESSAGE (7); bad peer id: INVALID_USERID (6).
  assert.deepEqual(await refusal(page, () => window.rtm.sendMessageToPeer({ text: '' }, 'bob')), ['PeerMessageError', 7]);
  assert.deepEqual(await refusal(page, () => window.rtm.sendMessageToPeer({ foo: 1 }, 'bob')), ['PeerMessageError', 7]);
  assert.deepEqual(await refusal(page, () => window.rtm.sendMessageToPeer({ text: 'x' }, '')), ['PeerMessageError', 6]);
  assert.deepEqual(
    await refusal(page, () => window.rtm.sendMessageToPeer({ text: 'x'.repeat(32 * 1024 + 1) }, 'bob')),
    ['PeerMessageError', 7],
  );
  // A channel id with a character ids may not hold: createChannel throws INVALID_ARGUMENT.
  assert.deepEqual(await refusal(page, () => window.rtm.createChannel('a/b')), ['CreateChannelError', 1]);
  // A second object for a joined channel id cannot join it again: ALREADY_JOINED (6).
  assert.deepEqual(
    await refusal(page, async () => {
      await window.rtm.createChannel('twice').join();
      await window.rtm.createChannel('twice').join();
    }),
    ['JoinChannelError', 6],
  );
  // Leaving a channel never joined: NOT_IN_CHANNEL.
  const leave = await refusal(page, () => window.rtm.createChannel('never').leave());
  assert.equal(leave[0], 'LeaveChannelError');
  // An attribute value that is not a string: INVALID_ARGUMENT (3).
  assert.deepEqual(await refusal(page, () => window.rtm.setLocalUserAttributes({ k: 1 })), ['AttributeOperationError', 3]);
  assert.deepEqual(await refusal(page, () => window.rtm.setLocalUserAttributes(['v'])), ['AttributeOperationError', 3]);
  // An invitation canceled before it was sent: NOT_STARTED (2); content over 8 KB: INVALID_ARGUMENT (1).
  assert.deepEqual(await refusal(page, () => window.rtm.createLocalInvitation('bob').cancel()), ['InvitationApiCallError', 2]);
  assert.deepEqual(
    await refusal(page, () => {
      const inv = window.rtm.createLocalInvitation('bob');
      inv.content = 'x'.repeat(8 * 1024 + 1);
      inv.send();
    }),
    ['InvitationApiCallError', 1],
  );
  // createInstance without an app id throws (code 1).
  assert.deepEqual(await refusal(page, () => window.AgoraRTM.createInstance('')), ['CreateInstanceError', 1]);
  // The client is still fine.
  assert.deepEqual(await page.evaluate(() => window.rtm.queryPeersOnlineStatus(['misuser'])), { misuser: true });
  await page.context().close();
});

test('a wrong app id fails the login with INVALID_APP_ID (4)', async () => {
  const page = await openPage(server.origin);
  const r = await page.evaluate(async () => {
    const rtm = window.AgoraRTM.createInstance('11111111111111111111111111111111');
    try {
      await rtm.login({ uid: 'x' });
      return null;
    } catch (e) {
      return [e.name, e.code];
    }
  });
  assert.deepEqual(r, ['LoginError', 4]);
  await page.context().close();
});
