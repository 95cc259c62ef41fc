// Messages between the SDK's shape (`{text}`, `{rawMessage: Uint8Array, description}`) and
// the core's.

/// The core's arguments for a message `m`: `[text, raw, description]`. Anything that is
/// neither a text nor a raw message gives neither, which the core refuses with its family's
/// INVALID_MESSAGE code.
export function toCore(m) {
  const invalid = [undefined, undefined, ''];
  if (m === null || typeof m !== 'object') return invalid;
  const type = m.messageType;
  if ((type === undefined || type === 'TEXT') && typeof m.text === 'string' && m.rawMessage === undefined) {
    return [m.text, undefined, ''];
  }
  if ((type === undefined || type === 'RAW') && m.rawMessage instanceof Uint8Array) {
    const description = m.description ?? '';
    if (typeof description !== 'string') return invalid;
    return [undefined, m.rawMessage, description];
  }
  return invalid;
}

/// A received message in the SDK's shape.
export function fromCore(m) {
  if (m.messageType === 'RAW') {
    return { messageType: 'RAW', rawMessage: Uint8Array.from(m.rawMessage), description: m.description };
  }
  return { messageType: 'TEXT', text: m.text };
}

/// `createMessage(partial)`: the message with its `messageType` filled in.
export function createMessage(partial) {
  const m = { ...partial };
  if (m.messageType === undefined) m.messageType = m.rawMessage !== undefined ? 'RAW' : 'TEXT';
  return m;
}
