// Two users on two pages: channels, peer messages, presence, attributes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmServer, openPage, login, untilLogged, events } from './harness.mjs';

const server = RtmServer.forThisFile();

test('two pages chat in a channel and see each other join, count and leave', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'alice');
  await login(bob, 'bob');

  await alice.evaluate(async () => {
    const ch = window.rtm.createChannel('lobby');
    window.ch = ch;
    for (const name of ['MemberJoined', 'MemberLeft', 'MemberCountUpdated']) {
      ch.on(name, (arg) => window.log.push(`${name} ${arg}`));
    }
    ch.on('ChannelMessage', (m, member, props) =>
      window.log.push(`ChannelMessage ${member} ${m.text} ts=${typeof props.serverReceivedTs}`),
    );
    await ch.join();
  });
  await bob.evaluate(async () => {
    window.ch = window.rtm.createChannel('lobby');
    window.ch.on('ChannelMessage', (m, member) => window.log.push(`ChannelMessage ${member} ${m.text}`));
    await window.ch.join();
  });
  await untilLogged(alice, 'MemberJoined bob');
  await untilLogged(alice, 'MemberCountUpdated 2');
  assert.deepEqual(await alice.evaluate(() => window.ch.getMembers().then((m) => m.sort())), ['alice', 'bob']);
  assert.deepEqual(await bob.evaluate(() => window.rtm.getChannelMemberCount(['lobby', 'empty'])), {
    lobby: 2,
    empty: 0,
  });

  await bob.evaluate(() => window.ch.sendMessage({ text: 'hi alice' }));
  await untilLogged(alice, 'ChannelMessage bob hi alice ts=number');
  await alice.evaluate(() => window.ch.sendMessage({ text: 'hi bob' }));
  await untilLogged(bob, 'ChannelMessage alice hi bob');
  // The sender never hears its own message.
  assert.ok(!(await events(alice)).some((e) => e.startsWith('ChannelMessage alice')));

  await bob.evaluate(() => window.ch.leave());
  await untilLogged(alice, 'MemberLeft bob');
  await untilLogged(alice, 'MemberCountUpdated 1');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  await alice.context().close();
  await bob.context().close();
});

test('a peer message resolves {hasPeerReceived: true} and fires MessageFromPeer once', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'alice2');
  await login(bob, 'bob2');

  const sent = await alice.evaluate(() => window.rtm.sendMessageToPeer({ text: 'hello bob' }, 'bob2'));
  assert.deepEqual(sent, { hasPeerReceived: true });
  await untilLogged(bob, 'MessageFromPeer alice2 TEXT hello bob offline=false');

  const raw = await alice.evaluate(() =>
    window.rtm.sendMessageToPeer({ rawMessage: new Uint8Array([0, 1, 255]), description: 'bytes' }, 'bob2'),
  );
  assert.deepEqual(raw, { hasPeerReceived: true });
  await untilLogged(bob, 'MessageFromPeer alice2 RAW 0,1,255 offline=false');

  // To someone offline: not received; stored when asked, and delivered at the next login.
  const offline = await alice.evaluate(() =>
    window.rtm.sendMessageToPeer({ text: 'later' }, 'carol2', { enableOfflineMessaging: true }),
  );
  assert.deepEqual(offline, { hasPeerReceived: false });
  const carol = await openPage(server.origin);
  await login(carol, 'carol2');
  await untilLogged(carol, 'MessageFromPeer alice2 TEXT later offline=true');

  const received = (await events(bob)).filter((e) => e.startsWith('MessageFromPeer'));
  assert.equal(received.length, 2, `exactly once each: ${received}`);
  for (const p of [alice, bob, carol]) await p.context().close();
});

test('presence: a subscription sees ONLINE, then OFFLINE when the other page logs out', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'alice3');
  await login(bob, 'bob3');

  assert.deepEqual(await alice.evaluate(() => window.rtm.queryPeersOnlineStatus(['bob3', 'nobody3'])), {
    bob3: true,
    nobody3: false,
  });
  await alice.evaluate(() => window.rtm.subscribePeersOnlineStatus(['bob3']));
  await untilLogged(alice, 'PeersOnlineStatusChanged {"bob3":"ONLINE"}');
  assert.deepEqual(await alice.evaluate(() => window.rtm.queryPeersBySubscriptionOption('ONLINE_STATUS')), ['bob3']);

  await bob.evaluate(() => window.rtm.logout());
  await untilLogged(bob, 'ConnectionStateChanged DISCONNECTED LOGOUT');
  await untilLogged(alice, 'PeersOnlineStatusChanged {"bob3":"OFFLINE"}');

  await alice.evaluate(() => window.rtm.unsubscribePeersOnlineStatus(['bob3']));
  assert.deepEqual(await alice.evaluate(() => window.rtm.queryPeersBySubscriptionOption('ONLINE_STATUS')), []);
  for (const p of [alice, bob]) await p.context().close();
});

test('user and channel attributes, with AttributesUpdated', async () => {
  const alice = await openPage(server.origin);
  const bob = await openPage(server.origin);
  await login(alice, 'alice4');
  await login(bob, 'bob4');

  await alice.evaluate(() => window.rtm.setLocalUserAttributes({ mood: 'happy', city: 'Oslo' }));
  await alice.evaluate(() => window.rtm.addOrUpdateLocalUserAttributes({ mood: 'busy' }));
  assert.deepEqual(await bob.evaluate(() => window.rtm.getUserAttributes('alice4')), { city: 'Oslo', mood: 'busy' });
  await alice.evaluate(() => window.rtm.deleteLocalUserAttributesByKeys(['city']));
  assert.deepEqual(await bob.evaluate(() => window.rtm.getUserAttributesByKeys('alice4', ['mood', 'city'])), {
    mood: 'busy',
  });
  await alice.evaluate(() => window.rtm.clearLocalUserAttributes());
  assert.deepEqual(await bob.evaluate(() => window.rtm.getUserAttributes('alice4')), {});

  await bob.evaluate(async () => {
    const ch = window.rtm.createChannel('room4');
    ch.on('AttributesUpdated', (attrs) =>
      window.log.push(`AttributesUpdated ${Object.entries(attrs).map(([k, a]) => `${k}=${a.value}@${a.lastUpdateUserId}`).join(',')}`),
    );
    await ch.join();
  });
  await alice.evaluate(() =>
    window.rtm.setChannelAttributes('room4', { topic: 'rust' }, { enableNotificationToChannelMembers: true }),
  );
  await untilLogged(bob, 'AttributesUpdated topic=rust@alice4');
  await alice.evaluate(() =>
    window.rtm.addOrUpdateChannelAttributes('room4', { lang: 'en' }, { enableNotificationToChannelMembers: true }),
  );
  await untilLogged(bob, 'AttributesUpdated lang=en@alice4,topic=rust@alice4');
  const attrs = await bob.evaluate(() => window.rtm.getChannelAttributesByKeys('room4', ['topic']));
  assert.equal(attrs.topic.value, 'rust');
  assert.equal(attrs.topic.lastUpdateUserId, 'alice4');
  assert.equal(typeof attrs.topic.lastUpdateTs, 'number');
  await alice.evaluate(() => window.rtm.deleteChannelAttributesByKeys('room4', ['topic'], { enableNotificationToChannelMembers: true }));
  await untilLogged(bob, 'AttributesUpdated lang=en@alice4');
  await alice.evaluate(() => window.rtm.clearChannelAttributes('room4'));
  assert.deepEqual(await bob.evaluate(() => window.rtm.getChannelAttributes('room4')), {});
  for (const p of [alice, bob]) await p.context().close();
});
