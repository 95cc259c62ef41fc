// `RtmChannel`: one channel of a client (§4.8, events §5.2).

import { EventEmitter } from './emitter.js';
import { toCore } from './messages.js';

export class RtmChannel extends EventEmitter {
  #client;

  constructor(client, channelId) {
    super();
    this.#client = client;
    Object.defineProperty(this, 'channelId', { value: channelId, enumerable: true });
  }

  async join() {
    return this.#client._request((core) => core.join(this.channelId));
  }

  async leave() {
    return this.#client._request((core) => core.leave(this.channelId));
  }

  async sendMessage(message) {
    const m = toCore(message);
    return this.#client._request((core) => core.sendChannelMessage(this.channelId, ...m));
  }

  async getMembers() {
    return this.#client._request((core) => core.getMembers(this.channelId));
  }
}
