// File and image transfers (§4.9): the bytes between the page and the server's media
// endpoints, on the core's orders.
//
// The core decides everything — when to ask for a ticket, the limits, the 120 s timeout,
// retries and resumes, the errors — and says what to move with a transfer order:
// `upload` (POST the whole source to `/v1/media`), `download` (GET `/v1/media/{id}`, from byte
// `from`, keeping what is already here up to it) or `cancel` (stop, report nothing more).
// A `Transfer` carries those out with the browser's HTTP and reports back what happened:
// progress (bytes moved so far, as a whole-file offset), the answer (refused with its status
// and body, uploaded with its body, downloaded with its size and Content-Type), or broken.
//
// Uploads use XMLHttpRequest, which reports upload progress (fetch does not); downloads use
// fetch and read the body's stream, counting and keeping its chunks.

/// How many bytes of the source the core reads for its checks (image width and height).
export const HEAD_BYTES = 64 * 1024;

/// The media endpoint of the server behind WebSocket URL `wsUrl`: same host and port, over
/// http(s), under the WebSocket URL's path (a proxy that routes a path to the server routes
/// its media too), as the Rust client does (PROTOCOL.md, "Media over HTTP").
export function mediaUrl(wsUrl, mediaId) {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  const base = `${u.pathname.replace(/\/+$/, '')}/v1/media`;
  u.pathname = mediaId === undefined ? base : `${base}/${encodeURIComponent(mediaId)}`;
  u.search = '';
  u.hash = '';
  return u.href;
}

/// The bytes of a Blob (a thumbnail, or the head of a source).
export async function blobBytes(blob, end) {
  const part = end === undefined ? blob : blob.slice(0, end);
  return new Uint8Array(await part.arrayBuffer());
}

/// One media request of the client: its source (uploads), the exchange in flight, the bytes
/// received so far (downloads), and the app's progress callback.
export class Transfer {
  #core;
  #request;
  #url; // (mediaId?) => the media endpoint's URL
  #source;
  #exchange = null; // { stop() } of the HTTP exchange in flight
  #chunks = [];
  #have = 0;
  onProgress;

  constructor(core, request, url, { source = null, onProgress = null } = {}) {
    this.#core = core;
    this.#request = request;
    this.#url = url;
    this.#source = source;
    this.onProgress = onProgress;
  }

  /// Carries out a transfer order of the core.
  order(o) {
    this.stop();
    switch (o.order) {
      case 'upload':
        this.#exchange = this.#upload(o.ticket, o.size);
        return;
      case 'download':
        this.#keep(o.from);
        this.#exchange = this.#download(o.ticket, o.mediaId, o.from);
        return;
      case 'cancel':
        return;
    }
  }

  /// Stops the exchange in flight, if any; nothing about it is reported after this.
  stop() {
    this.#exchange?.stop();
    this.#exchange = null;
  }

  /// The bytes received, as one Blob of MIME type `mime`.
  blob(mime) {
    const blob = new Blob(this.#chunks, { type: mime });
    this.#chunks = [];
    this.#have = 0;
    return blob;
  }

  /// Keeps the first `from` bytes received (a resume continues after them).
  #keep(from) {
    if (from >= this.#have) return;
    let kept = 0;
    const chunks = [];
    for (const c of this.#chunks) {
      if (kept >= from) break;
      const part = kept + c.length > from ? c.subarray(0, from - kept) : c;
      chunks.push(part);
      kept += part.length;
    }
    this.#chunks = chunks;
    this.#have = kept;
  }

  /// Reports to the core unless the exchange was stopped.
  #report(exchange, f) {
    if (exchange.stopped) return;
    if (!f.isProgress) {
      exchange.stopped = true;
      if (this.#exchange === exchange) this.#exchange = null;
    }
    try {
      f(this.#core, this.#request);
    } catch (e) {
      // The client was freed meanwhile: nobody is left to tell.
      console.error('[AgoraRTM] a transfer report failed', e);
    }
  }

  #upload(ticket, size) {
    const xhr = new XMLHttpRequest();
    const exchange = {
      stopped: false,
      stop() {
        this.stopped = true;
        xhr.abort();
      },
    };
    xhr.open('POST', this.#url());
    xhr.responseType = 'arraybuffer';
    xhr.setRequestHeader('Authorization', `Bearer ${ticket}`);
    xhr.upload.onprogress = (e) => this.#report(exchange, progress(e.loaded, size));
    xhr.onload = () => {
      const body = new Uint8Array(xhr.response ?? new ArrayBuffer(0));
      if (xhr.status >= 200 && xhr.status < 300) {
        this.#report(exchange, (core, r) => core.transferUploaded(r, body));
      } else {
        this.#report(exchange, (core, r) => core.transferRefused(r, xhr.status, body));
      }
    };
    xhr.onerror = xhr.ontimeout = () => this.#report(exchange, broken);
    xhr.send(this.#source);
    return exchange;
  }

  #download(ticket, mediaId, from) {
    const abort = new AbortController();
    const exchange = {
      stopped: false,
      stop() {
        this.stopped = true;
        abort.abort();
      },
    };
    const headers = { Authorization: `Bearer ${ticket}` };
    if (from > 0) headers.Range = `bytes=${from}-`;
    (async () => {
      const res = await fetch(this.#url(mediaId), { headers, signal: abort.signal, cache: 'no-store' });
      if (exchange.stopped) return;
      if (!res.ok) {
        const body = new Uint8Array(await res.arrayBuffer());
        this.#report(exchange, (core, r) => core.transferRefused(r, res.status, body));
        return;
      }
      // A whole answer (200) starts at byte 0, whatever was kept; a partial one (206) at
      // the `from` asked for. The file's size: `Content-Range: bytes a-b/size` or the
      // whole answer's length (0 if neither says).
      const partial = res.status === 206;
      if (!partial) this.#keep(0);
      const total = partial
        ? Number(/\/(\d+)$/.exec(res.headers.get('Content-Range') ?? '')?.[1] ?? 0)
        : Number(res.headers.get('Content-Length') ?? 0);
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (exchange.stopped) return;
        if (done) break;
        this.#chunks.push(value);
        this.#have += value.length;
        this.#report(exchange, progress(this.#have, total));
      }
      // A body that ended short of the size it announced broke off.
      if (total > 0 && this.#have !== total) throw new Error('the answer ended short');
      const size = this.#have;
      const mime = res.headers.get('Content-Type') ?? '';
      this.#report(exchange, (core, r) => core.transferDownloaded(r, size, mime));
    })().catch(() => this.#report(exchange, broken));
    return exchange;
  }
}

function progress(current, total) {
  const f = (core, r) => core.transferProgress(r, current, total);
  f.isProgress = true;
  return f;
}

function broken(core, r) {
  core.transferBroken(r);
}
