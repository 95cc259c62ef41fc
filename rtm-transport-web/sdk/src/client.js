// `RtmClient` (§4.2–§4.7, §4.10, events §5.1): the Agora API over one `RtmCore`.
//
// Every promise method hands its command to the core, which either throws at once (a §8
// error: invalid argument, not logged in, too often) or returns a request id; the core's
// `response` event for that id settles the promise. Events are dispatched by their target:
// the client, one of its channels, or one of its invitations. No protocol logic lives here.

import { EventEmitter } from './emitter.js';
import { RtmError, LOG_FILTER_INFO } from './constants.js';
import { RtmChannel } from './channel.js';
import { LocalInvitation, RemoteInvitation } from './invitations.js';
import { toCore, fromCore, createMessage } from './messages.js';
import { Transfer, HEAD_BYTES, blobBytes, mediaUrl } from './media.js';
import { resolveServerUrl } from './server-url.js';

/// Clients alive in this page, logged out when the page goes away.
const live = new Set();
globalThis.addEventListener?.('pagehide', () => {
  for (const client of live) client._pageHide();
});

export class RtmClient extends EventEmitter {
  #appId;
  #config;
  #loader;
  #scriptUrl;
  #core = null;
  #requests = new Map(); // request id -> { resolve, reject }
  #transfers = new Map(); // media request id -> Transfer
  #serverUrl = null; // the WebSocket URL the core was created with
  #outgoing = Promise.resolve(); // messages being made ready for the core, in call order
  #preparing = 0; // how many of them
  #logouts = []; // resolvers of logout() waiting for DISCONNECTED
  _channels = new Map(); // channel id -> the RtmChannel that joined it
  _localInvitations = new Map(); // core number -> LocalInvitation
  #remoteInvitations = new Map(); // core id -> RemoteInvitation

  constructor(appId, config, loader, scriptUrl) {
    super();
    this.#appId = appId;
    this.#config = { logFilter: LOG_FILTER_INFO, ...config };
    this.#loader = loader;
    this.#scriptUrl = scriptUrl;
  }

  // --- session (§4.2) ---

  async login(options) {
    const { uid, token } = options ?? {};
    return this._request((core) => core.login(String(uid ?? ''), token ?? undefined));
  }

  async logout() {
    const core = await this.#ready();
    call(() => core.logout());
    return new Promise((resolve) => this.#logouts.push(resolve));
  }

  async renewToken(token) {
    return this._request((core) => core.renewToken(String(token ?? '')));
  }

  updateConfig(config) {
    this.#config = { ...this.#config, ...config };
    if (this.#core !== null) this.#applyLogConfig();
  }

  setParameters(config) {
    this.updateConfig(config);
  }

  // --- peer messages and presence (§4.3, §4.4) ---

  async sendMessageToPeer(message, peerId, options) {
    const offline = Boolean(options?.enableOfflineMessaging);
    const result = await this._sendMessage(message, (core, [text, raw, description, media]) =>
      core.sendMessageToPeer(String(peerId ?? ''), text, raw, description, media, offline),
    );
    return { hasPeerReceived: result.hasPeerReceived };
  }

  createMessage(partial) {
    return createMessage(partial);
  }

  async queryPeersOnlineStatus(peerIds) {
    return this._request((core) => core.queryPeersOnlineStatus(strings(peerIds)));
  }

  async subscribePeersOnlineStatus(peerIds) {
    return this._request((core) => core.subscribePeersOnlineStatus(strings(peerIds)));
  }

  async unsubscribePeersOnlineStatus(peerIds) {
    return this._request((core) => core.unsubscribePeersOnlineStatus(strings(peerIds)));
  }

  async queryPeersBySubscriptionOption(_option) {
    const core = await this.#ready();
    return call(() => core.queryPeersBySubscriptionOption());
  }

  // --- file and image messages (§4.9) ---

  /// Uploads `blob` and resolves with the FILE or IMAGE message (`params.messageType`) that
  /// refers to it, ready to send. `transHandler`: `{cancelSignal, onOperationProgress}`.
  async createMediaMessageByUploading(blob, params, transHandler) {
    const p = params ?? {};
    const isBlob = blob instanceof Blob;
    const head = isBlob ? await blobBytes(blob, HEAD_BYTES) : new Uint8Array(0);
    const thumbnail = p.thumbnail instanceof Blob ? await blobBytes(p.thumbnail) : p.thumbnail;
    // The core checks every field (a size that is not a number: not a Blob).
    const upload = { ...p, thumbnail, size: isBlob ? blob.size : NaN, head };
    const message = await this.#media(
      (core) => core.uploadMedia(upload),
      { source: isBlob ? blob : null },
      transHandler,
    );
    return fromCore(message);
  }

  /// Downloads media `mediaId` into a Blob typed with the MIME type the server detected.
  async downloadMedia(mediaId, transHandler) {
    let transfer;
    const done = await this.#media(
      (core) => core.downloadMedia(String(mediaId ?? '')),
      {},
      transHandler,
      (t) => (transfer = t),
    );
    return transfer.blob(done.mime);
  }

  /// Starts a media request with `command`, carries out its transfer orders, reports its
  /// progress to `onOperationProgress` and cancels it when `cancelSignal` aborts.
  async #media(command, options, transHandler, made = () => {}) {
    const { cancelSignal: signal, onOperationProgress } = transHandler ?? {};
    const cancelSignal = typeof signal?.addEventListener === 'function' ? signal : null;
    const onProgress = typeof onOperationProgress === 'function' ? onOperationProgress : null;
    let transfer = null;
    let onAbort = null;
    try {
      return await this._request((core) => {
        const id = command(core);
        const url = (mediaId) => mediaUrl(this.#serverUrl, mediaId);
        transfer = new Transfer(core, id, url, { ...options, onProgress });
        this.#transfers.set(id, transfer);
        made(transfer);
        if (cancelSignal) {
          onAbort = () => {
            try {
              core.cancelMedia(id);
            } catch {
              // Already over: its response is on its way.
            }
          };
          if (cancelSignal.aborted) queueMicrotask(onAbort);
          else cancelSignal.addEventListener('abort', onAbort, { once: true });
        }
        return id;
      });
    } finally {
      if (onAbort) cancelSignal.removeEventListener('abort', onAbort);
    }
  }

  // --- user attributes (§4.5) ---

  async setLocalUserAttributes(attributes) {
    return this._request((core) => core.setLocalUserAttributes(attributes));
  }

  async addOrUpdateLocalUserAttributes(attributes) {
    return this._request((core) => core.addOrUpdateLocalUserAttributes(attributes));
  }

  async deleteLocalUserAttributesByKeys(keys) {
    return this._request((core) => core.deleteLocalUserAttributesByKeys(strings(keys)));
  }

  async clearLocalUserAttributes() {
    return this._request((core) => core.clearLocalUserAttributes());
  }

  async getUserAttributes(userId) {
    return this._request((core) => core.getUserAttributes(String(userId ?? '')));
  }

  async getUserAttributesByKeys(userId, keys) {
    return this._request((core) => core.getUserAttributesByKeys(String(userId ?? ''), strings(keys)));
  }

  // --- channel attributes and counts (§4.6, §4.7) ---

  async setChannelAttributes(channelId, attributes, options) {
    return this._request((core) => core.setChannelAttributes(String(channelId ?? ''), attributes, notify(options)));
  }

  async addOrUpdateChannelAttributes(channelId, attributes, options) {
    return this._request((core) =>
      core.addOrUpdateChannelAttributes(String(channelId ?? ''), attributes, notify(options)),
    );
  }

  async deleteChannelAttributesByKeys(channelId, keys, options) {
    return this._request((core) =>
      core.deleteChannelAttributesByKeys(String(channelId ?? ''), strings(keys), notify(options)),
    );
  }

  async clearChannelAttributes(channelId, options) {
    return this._request((core) => core.clearChannelAttributes(String(channelId ?? ''), notify(options)));
  }

  async getChannelAttributes(channelId) {
    return this._request((core) => core.getChannelAttributes(String(channelId ?? '')));
  }

  async getChannelAttributesByKeys(channelId, keys) {
    return this._request((core) => core.getChannelAttributesByKeys(String(channelId ?? ''), strings(keys)));
  }

  async getChannelMemberCount(channelIds) {
    return this._request((core) => core.getChannelMemberCount(strings(channelIds)));
  }

  // --- channels and invitations (§4.8, §4.10) ---

  /// Throws CreateChannelError INVALID_ARGUMENT for a bad id. (In the UMD build, during the
  /// page's first milliseconds while the core loads, the id is checked at `join` instead.)
  createChannel(channelId) {
    const id = String(channelId ?? '');
    const core = this._coreNow();
    if (core !== null) call(() => core.createChannel(id));
    return new RtmChannel(this, id);
  }

  createLocalInvitation(calleeId) {
    return new LocalInvitation(this, String(calleeId ?? ''));
  }

  // --- for the SDK's own objects ---

  /// The core if it is loaded (creating this client's on first use), else `null`.
  _coreNow() {
    if (this.#core === null) {
      const mod = this.#loader.now();
      if (mod === null) return null;
      this.#serverUrl = resolveServerUrl(this.#config, this.#scriptUrl);
      this.#core = new mod.RtmCore(
        this.#serverUrl,
        String(this.#appId),
        (json) => this.#dispatch(JSON.parse(json)),
      );
      this.#applyLogConfig();
      live.add(this);
    }
    return this.#core;
  }

  /// Runs `command(core)`, which throws or returns a request id, and resolves with the
  /// response's value or rejects with its error.
  async _request(command) {
    const core = await this.#ready();
    const id = call(() => command(core));
    return new Promise((resolve, reject) => this.#requests.set(id, { resolve, reject }));
  }

  /// Hands `message` to the core with `command(core, args)` (`args`: see `toCore`) as
  /// `_request` does. Messages reach the core in call order: at once, like every other
  /// command, unless a media message's thumbnail Blob has to be read first — then it, and
  /// any message sent while one is being read, wait their turn.
  _sendMessage(message, command) {
    const args = toCore(message);
    if (this.#preparing === 0 && Array.isArray(args)) {
      return this._request((core) => command(core, args));
    }
    this.#preparing += 1;
    const ready = this.#outgoing.then(() => args);
    this.#outgoing = ready.then(
      () => {},
      () => {},
    );
    return ready.then(
      (a) => {
        this.#preparing -= 1;
        return this._request((core) => command(core, a));
      },
      (e) => {
        this.#preparing -= 1;
        throw e;
      },
    );
  }

  /// `enableLogUpload` (off unless set, as in Agora's SDK) and `logFilter` to the core, which
  /// records its lines at or above the filter's level and uploads them while enabled.
  #applyLogConfig() {
    const f = this.#config.logFilter ?? {};
    const level = f.debug ? 'debug' : f.info ? 'info' : f.warn ? 'warn' : f.error ? 'error' : 'off';
    this.#core.setLogUpload(Boolean(this.#config.enableLogUpload), level);
  }

  _pageHide() {
    this.#core?.pageHide();
  }

  async #ready() {
    await this.#loader.ready;
    return this._coreNow();
  }

  #dispatch(event) {
    switch (event.target) {
      case 'response': {
        const waiter = this.#requests.get(event.request);
        // A media request's response ends its transfer.
        this.#transfers.get(event.request)?.stop();
        this.#transfers.delete(event.request);
        if (!waiter) return;
        this.#requests.delete(event.request);
        if ('error' in event) waiter.reject(RtmError.from(event.error));
        else waiter.resolve(event.ok ?? undefined);
        return;
      }
      case 'transfer': {
        this.#transfers.get(event.request)?.order(event);
        return;
      }
      case 'progress': {
        const onProgress = this.#transfers.get(event.request)?.onProgress;
        if (!onProgress) return;
        try {
          onProgress({ currentSize: event.current, totalSize: event.total });
        } catch (e) {
          console.error('[AgoraRTM] onOperationProgress threw', e);
        }
        return;
      }
      case 'client': {
        if (event.name === 'MessageFromPeer') event.args[0] = fromCore(event.args[0]);
        if (event.name === 'ConnectionStateChanged' && event.args[0] === 'DISCONNECTED') {
          for (const resolve of this.#logouts.splice(0)) resolve();
        }
        this.emit(event.name, ...event.args);
        return;
      }
      case 'channel': {
        if (event.name === 'ChannelMessage') event.args[0] = fromCore(event.args[0]);
        this._channels.get(event.id)?.emit(event.name, ...event.args);
        return;
      }
      case 'local': {
        this._localInvitations.get(event.id)?.emit(event.name, ...event.args);
        return;
      }
      case 'remote': {
        if (event.name === 'RemoteInvitationReceived') {
          const inv = new RemoteInvitation(this, event.id, event.callerId, event.content, event.channelId);
          this.#remoteInvitations.set(event.id, inv);
          this.emit('RemoteInvitationReceived', inv);
          return;
        }
        const inv = this.#remoteInvitations.get(event.id);
        if (!inv) return;
        // Every event after the first ends the invitation.
        this.#remoteInvitations.delete(event.id);
        inv.emit(event.name, ...event.args);
        return;
      }
    }
  }
}

/// Runs a core call, rethrowing its error as an `RtmError`.
function call(f) {
  try {
    return f();
  } catch (e) {
    throw RtmError.from(e);
  }
}

/// A list of ids as strings (anything else is the core's INVALID_ARGUMENT).
function strings(list) {
  return Array.isArray(list) ? list.map((x) => String(x)) : [];
}

function notify(options) {
  return Boolean(options?.enableNotificationToChannelMembers);
}
