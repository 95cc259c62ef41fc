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

// Messages both ways: what an Agora app sends we take, what we deliver it accepts. File and
// image messages (§4.9) are the 1.4.x SDK's, which 1.5.1's typings dropped: an app on 1.5.1
// never makes one, so only the others must fit its types.
export const message = (m: Agora.RtmMessage): Our.RtmMessage => m;
export const received = (m: Exclude<Our.RtmMessage, Our.RtmFileMessage | Our.RtmImageMessage>): Agora.RtmMessage => m;

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

// A 1.4.x app's file and image messages: upload with progress and a cancel signal, send,
// receive, download, and re-send from a media id.
export async function media(file: Blob, png: Blob): Promise<void> {
  const rtm = Ours.createInstance('appid');
  const abort = new AbortController();
  const image: Our.RtmImageMessage = await rtm.createMediaMessageByUploading(
    png,
    { messageType: 'IMAGE', fileName: 'cat.png', description: 'a cat', thumbnail: png, thumbnailWidth: 4 },
    { cancelSignal: abort.signal, onOperationProgress: ({ currentSize, totalSize }) => void [currentSize / totalSize] },
  );
  const doc: Our.RtmFileMessage = await rtm.createMediaMessageByUploading(file, { fileName: 'a.pdf' });
  await rtm.sendMessageToPeer(image, 'bob');
  await rtm.createChannel('lobby').sendMessage(doc);
  rtm.on('MessageFromPeer', async (m) => {
    if (m.messageType === 'IMAGE') {
      const blob: Blob = await rtm.downloadMedia(m.mediaId, { onOperationProgress: (p) => void p.currentSize });
      void [blob.type, m.width, m.height, m.thumbnail?.size];
    }
  });
  const again = rtm.createMessage<Our.RtmImageMessage>({ mediaId: image.mediaId, messageType: 'IMAGE', size: image.size });
  await rtm.sendMessageToPeer(again, 'carol');
}
