// Messages between the SDK's shape (`{text}`, `{rawMessage: Uint8Array, description}`,
// `{messageType: 'FILE'|'IMAGE', mediaId, size, fileName, description, thumbnail: Blob, …}`)
// and the core's.

import { blobBytes } from './media.js';

const MEDIA = new Set(['FILE', 'IMAGE']);

/// The core's arguments for a message `m`: `[text, raw, description, media]`. Anything that
/// is neither a text, a raw nor a media message gives none of them, which the core refuses
/// with its family's INVALID_MESSAGE code. A media message's fields go to the core as they
/// are (it checks them), its thumbnail as bytes: a promise of the arguments when the
/// thumbnail is a Blob to read, the arguments themselves otherwise.
export function toCore(m) {
  const invalid = [undefined, undefined, '', undefined];
  if (m === null || typeof m !== 'object') return invalid;
  const type = m.messageType;
  if ((type === undefined || type === 'TEXT') && typeof m.text === 'string' && m.rawMessage === undefined) {
    return [m.text, undefined, '', undefined];
  }
  if ((type === undefined || type === 'RAW') && m.rawMessage instanceof Uint8Array) {
    const description = m.description ?? '';
    if (typeof description !== 'string') return invalid;
    return [undefined, m.rawMessage, description, undefined];
  }
  if (MEDIA.has(type)) {
    if (m.thumbnail instanceof Blob) {
      return blobBytes(m.thumbnail).then((thumbnail) => [undefined, undefined, '', { ...m, thumbnail }]);
    }
    return [undefined, undefined, '', { ...m }];
  }
  return invalid;
}

/// A received message (or an uploaded one) in the SDK's shape.
export function fromCore(m) {
  if (m.messageType === 'RAW') {
    return { messageType: 'RAW', rawMessage: Uint8Array.from(m.rawMessage), description: m.description };
  }
  if (MEDIA.has(m.messageType)) {
    const out = {
      messageType: m.messageType,
      mediaId: m.mediaId,
      size: m.size,
      fileName: m.fileName,
      description: m.description,
      thumbnail: m.thumbnail.length > 0 ? new Blob([Uint8Array.from(m.thumbnail)]) : undefined,
    };
    if (m.messageType === 'IMAGE') {
      out.width = m.width;
      out.height = m.height;
      out.thumbnailWidth = m.thumbnailWidth;
      out.thumbnailHeight = m.thumbnailHeight;
    }
    return out;
  }
  return { messageType: 'TEXT', text: m.text };
}

/// `createMessage(partial)`: the message with its `messageType` filled in (a media message
/// from a media id names its type: `{mediaId, messageType: 'IMAGE', …}`).
export function createMessage(partial) {
  const m = { ...partial };
  if (m.messageType === undefined) m.messageType = m.rawMessage !== undefined ? 'RAW' : 'TEXT';
  return m;
}
