// Call invitations between two pages: rung and accepted with a response, refused, canceled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, until, untilLogged } from './harness.mjs';

let caller;
let callee;
RtmServer.forThisFile(async (server) => {
  caller = await openPage(server.origin);
  callee = await openPage(server.origin);
  await login(caller, 'caller');
  await login(callee, 'callee');
  // The callee records every invitation event and keeps the latest invitation.
  await callee.evaluate(() => {
    window.rtm.on('RemoteInvitationReceived', (inv) => {
      window.inv = inv;
      window.log.push(`RemoteInvitationReceived ${inv.callerId} ${inv.content} ${inv.state}`);
      for (const name of ['RemoteInvitationAccepted', 'RemoteInvitationRefused', 'RemoteInvitationCanceled', 'RemoteInvitationFailure']) {
        inv.on(name, (...args) => window.log.push([name, ...args].join(' ')));
      }
    });
  });
});

/// Rings the callee with `content`; the caller's events go to its log as `Local... <args>`.
function ring(content) {
  return caller.evaluate((content) => {
    const inv = window.rtm.createLocalInvitation('callee');
    inv.content = content;
    for (const name of ['LocalInvitationReceivedByPeer', 'LocalInvitationAccepted', 'LocalInvitationRefused', 'LocalInvitationCanceled', 'LocalInvitationFailure']) {
      inv.on(name, (...args) => window.log.push([name, content, ...args].join(' ')));
    }
    window.inv = inv;
    inv.send();
    return inv.state;
  }, content);
}

test('an invitation rung and accepted with a response', async () => {
  assert.equal(await ring('video?'), 'SENT_TO_REMOTE');
  await untilLogged(callee, 'RemoteInvitationReceived caller video? INVITATION_RECEIVED');
  await untilLogged(caller, 'LocalInvitationReceivedByPeer video?');
  await callee.evaluate(() => {
    window.inv.response = 'on my way';
    window.inv.accept();
  });
  await untilLogged(caller, 'LocalInvitationAccepted video? on my way');
  await untilLogged(callee, 'RemoteInvitationAccepted');
  assert.equal(await caller.evaluate(() => window.inv.state), 'ACCEPTED_BY_REMOTE');
  assert.equal(await caller.evaluate(() => window.inv.response), 'on my way');
  assert.equal(await callee.evaluate(() => window.inv.state), 'ACCEPTED');
  // An ended invitation refuses more actions with the SDK's codes.
  const again = await callee.evaluate(() => {
    try {
      window.inv.accept();
      return null;
    } catch (e) {
      return [e.name, e.code];
    }
  });
  assert.ok(again && again[0] === 'InvitationApiCallError' && (again[1] === 3 || again[1] === 4), String(again));
  const resend = await caller.evaluate(() => {
    try {
      window.inv.send();
      return null;
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(resend, 3, 'send after the end: ALREADY_END');
});

test('an invitation refused', async () => {
  await ring('lunch?');
  await untilLogged(callee, 'RemoteInvitationReceived caller lunch? INVITATION_RECEIVED');
  await callee.evaluate(() => {
    window.inv.response = 'busy';
    window.inv.refuse();
  });
  await untilLogged(caller, 'LocalInvitationRefused lunch? busy');
  await untilLogged(callee, 'RemoteInvitationRefused');
  assert.equal(await caller.evaluate(() => window.inv.state), 'REFUSED_BY_REMOTE');
});

test('an invitation canceled by its caller', async () => {
  await ring('call?');
  await untilLogged(callee, 'RemoteInvitationReceived caller call? INVITATION_RECEIVED');
  await caller.evaluate(() => window.inv.cancel());
  await untilLogged(caller, 'LocalInvitationCanceled call?');
  await untilLogged(callee, 'RemoteInvitationCanceled call?');
  assert.equal(await caller.evaluate(() => window.inv.state), 'CANCELED');
  await until(callee, () => window.inv.state === 'CANCELED', null, 'the callee sees CANCELED');
});
