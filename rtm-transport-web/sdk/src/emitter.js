// The Node-style event emitter Agora's SDK objects extend (`on`, `once`, `off`,
// `removeAllListeners`, `listeners`, `rawListeners`, `listenerCount`).

export class EventEmitter {
  static defaultMaxListeners = 10;

  #listeners = new Map(); // event name -> [{ listener, once }]

  on(event, listener) {
    return this.#add(event, listener, false);
  }

  addListener(event, listener) {
    return this.#add(event, listener, false);
  }

  once(event, listener) {
    return this.#add(event, listener, true);
  }

  off(event, listener) {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l.listener === listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeListener(event, listener) {
    return this.off(event, listener);
  }

  removeAllListeners(event) {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listeners(event) {
    return (this.#listeners.get(event) ?? []).map((l) => l.listener);
  }

  rawListeners(event) {
    return (this.#listeners.get(event) ?? []).map((l) =>
      l.once ? Object.assign((...args) => l.listener(...args), { listener: l.listener }) : l.listener,
    );
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /// Calls every listener of `event` in registration order; one that throws is reported
  /// and does not stop the others.
  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (!list) return false;
    for (const l of [...list]) {
      if (l.once) this.off(event, l.listener);
      try {
        l.listener(...args);
      } catch (e) {
        console.error(`[AgoraRTM] a listener of ${event} threw`, e);
      }
    }
    return true;
  }

  #add(event, listener, once) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let list = this.#listeners.get(event);
    if (!list) this.#listeners.set(event, (list = []));
    list.push({ listener, once });
    return this;
  }
}
