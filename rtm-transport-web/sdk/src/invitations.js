// `LocalInvitation` (caller) and `RemoteInvitation` (callee) (§4.10, events §5.3, §5.4).
//
// Their state lives in the core, which the server arbitrates; these objects read it from
// there. `content`, `channelId` and `response` are plain properties until `send`, `accept` or
// `refuse` hands them to the core, which checks them then (as Agora's Web SDK ≥ 1.4.2 does).

import { EventEmitter } from './emitter.js';
import { RtmError } from './constants.js';

export class LocalInvitation extends EventEmitter {
  #client;
  #id = null; // the core's number, once the core is loaded

  constructor(client, calleeId) {
    super();
    this.#client = client;
    this.content = '';
    this.channelId = '';
    Object.defineProperty(this, 'calleeId', { value: calleeId, enumerable: true });
    this._bind();
  }

  get state() {
    return this.#view()?.state ?? 'IDLE';
  }

  get response() {
    return this.#view()?.response ?? '';
  }

  send() {
    const core = this.#client._coreNow();
    if (core === null || this._bind() === null) {
      // The core is still loading (the UMD build, in the page's first milliseconds), so
      // nobody is logged in: fail as the core fails a send before login.
      queueMicrotask(() => this.emit('LocalInvitationFailure', 'NOT_LOGGEDIN'));
      return;
    }
    call(() => core.sendLocalInvitation(this.#id, String(this.content ?? ''), String(this.channelId ?? '')));
  }

  cancel() {
    const core = this.#client._coreNow();
    if (core === null || this._bind() === null) throw new RtmError(2, 'InvitationApiCallError', 'not started');
    call(() => core.cancelLocalInvitation(this.#id));
  }

  /// The core's number for this invitation, created on first use (creating it validates the
  /// callee id, which throws INVALID_ARGUMENT as `createLocalInvitation` does).
  _bind() {
    if (this.#id !== null) return this.#id;
    const core = this.#client._coreNow();
    if (core === null) return null;
    this.#id = call(() => core.createLocalInvitation(this.calleeId));
    this.#client._localInvitations.set(this.#id, this);
    return this.#id;
  }

  #view() {
    const core = this.#client._coreNow();
    return core === null || this.#id === null ? null : JSON.parse(core.localInvitation(this.#id));
  }
}

export class RemoteInvitation extends EventEmitter {
  #client;
  #id;

  constructor(client, id, callerId, content, channelId) {
    super();
    this.#client = client;
    this.#id = id;
    this.response = '';
    Object.defineProperty(this, 'callerId', { value: callerId, enumerable: true });
    Object.defineProperty(this, 'content', { value: content, enumerable: true });
    Object.defineProperty(this, 'channelId', { value: channelId, enumerable: true });
  }

  get state() {
    const core = this.#client._coreNow();
    const view = core === null ? null : JSON.parse(core.remoteInvitation(this.#id));
    return view?.state ?? 'FAILURE';
  }

  accept() {
    const core = this.#client._coreNow();
    call(() => core.acceptRemoteInvitation(this.#id, String(this.response ?? '')));
  }

  refuse() {
    const core = this.#client._coreNow();
    call(() => core.refuseRemoteInvitation(this.#id, String(this.response ?? '')));
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
