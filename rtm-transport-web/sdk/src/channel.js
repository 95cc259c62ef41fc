// `RtmChannel`: one channel of a client (§4.8, events §5.2).
//
// As in Agora's Web SDK, several objects may be created for one channel id; the one that
// joined hears the channel's events until it leaves, and a second one's `join` fails with
// ALREADY_JOINED (the core refuses a second join of the same id).

import { EventEmitter } from './emitter.js';
import { RtmError } from './constants.js';

export class RtmChannel extends EventEmitter {
  #client;

  constructor(client, channelId) {
    super();
    this.#client = client;
    Object.defineProperty(this, 'channelId', { value: channelId, enumerable: true });
  }

  async join() {
    const joined = this.#client._channels;
    try {
      return await this.#client._request((core) => {
        const id = core.join(this.channelId);
        joined.set(this.channelId, this);
        return id;
      });
    } catch (e) {
      if (joined.get(this.channelId) === this) joined.delete(this.channelId);
      throw e;
    }
  }

  async leave() {
    const joined = this.#client._channels;
    if (joined.has(this.channelId) && joined.get(this.channelId) !== this) {
      // Another object of the same id holds the membership: this one is not in the channel.
      throw new RtmError(3, 'LeaveChannelError', 'not in the channel');
    }
    return this.#client._request((core) => {
      const id = core.leave(this.channelId);
      joined.delete(this.channelId);
      return id;
    });
  }

  async sendMessage(message) {
    return this.#client._sendMessage(message, (core, args) => core.sendChannelMessage(this.channelId, ...args));
  }

  async getMembers() {
    return this.#client._request((core) => core.getMembers(this.channelId));
  }
}
