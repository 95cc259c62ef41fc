// Our declarations against Agora's own: an app typed against `agora-rtm-sdk@1.5.1` must
// type-check unchanged against `rtm-web-sdk`. Each line assigns one of our types to the
// Agora type of the same name, so tsc fails on any missing or incompatible method, property
// or listener signature. Run by the browser test suite (`tsc -p tests/types`).

import AgoraDefault from 'agora-rtm-sdk';
import type * as Agora from 'agora-rtm-sdk';
import Ours from '../../index';
import type * as Our from '../../index';

// The namespace: every constant, enum and factory.
export const namespace: typeof AgoraDefault = Ours;

// Every class, with every method, property and `on` overload.
export const client = (c: Our.RtmClient): Agora.RtmClient => c;
export const channel = (c: Our.RtmChannel): Agora.RtmChannel => c;
export const local = (i: Our.LocalInvitation): Agora.LocalInvitation => i;
export const remote = (i: Our.RemoteInvitation): Agora.RemoteInvitation => i;

// Messages both ways: what an Agora app sends we take, what we deliver it accepts.
export const message = (m: Agora.RtmMessage): Our.RtmMessage => m;
export const received = (m: Our.RtmMessage): Agora.RtmMessage => m;

// Listener tables: an Agora app's listeners fit our events, and the other way round.
export const clientEvents = (e: Our.RtmEvents.RtmClientEvents): Agora.RtmEvents.RtmClientEvents => e;
export const channelEvents = (e: Our.RtmEvents.RtmChannelEvents): Agora.RtmEvents.RtmChannelEvents => e;
export const localEvents = (e: Our.RtmEvents.LocalInvitationEvents): Agora.RtmEvents.LocalInvitationEvents => e;
export const remoteEvents = (e: Our.RtmEvents.RemoteInvitationEvents): Agora.RtmEvents.RemoteInvitationEvents => e;

// An app written against Agora's types, compiled against ours.
export async function app(): Promise<void> {
  const rtm = Ours.createInstance('appid', { logFilter: Ours.LOG_FILTER_WARNING });
  rtm.on('ConnectionStateChanged', (state, reason) => {
    const s: Agora.RtmStatusCode.ConnectionState = state;
    const r: Agora.RtmStatusCode.ConnectionChangeReason = reason;
    void s, r;
  });
  rtm.on('MessageFromPeer', (m, peerId, props) => void [m.messageType, peerId, props.serverReceivedTs]);
  await rtm.login({ uid: 'alice', token: undefined });
  const { hasPeerReceived } = await rtm.sendMessageToPeer({ text: 'hi' }, 'bob');
  const online: boolean = (await rtm.queryPeersOnlineStatus(['bob'])).bob;
  const ch = rtm.createChannel('lobby');
  ch.on('ChannelMessage', (m, memberId) => void [m, memberId]);
  await ch.join();
  const inv = rtm.createLocalInvitation('bob');
  inv.content = 'call?';
  inv.on('LocalInvitationAccepted', (response) => void response.length);
  inv.send();
  const state: Agora.RtmStatusCode.LocalInvitationState = inv.state;
  void hasPeerReceived, online, state;
}
