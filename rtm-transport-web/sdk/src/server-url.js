// Which RTM server an unchanged app talks to.
//
// Agora's `createInstance(appId)` takes no server address, and a migrating app will not add
// one, so the SDK finds its server itself, first match wins:
//   1. `RtmConfig.serverUrl` given to `createInstance` (or `updateConfig` before login);
//   2. `globalThis.RTM_SERVER_URL`, set by a script that runs before the app's code (for an
//      app bundled and served elsewhere);
//   3. the server the SDK was loaded from: the origin of the SDK's own script, or of the page
//      when the SDK is bundled into an app that the RTM server serves.
// `http(s)://host` becomes `ws(s)://host/`; a `ws(s)://` URL is used as it is.

export function resolveServerUrl(config, scriptUrl) {
  const chosen = config?.serverUrl ?? globalThis.RTM_SERVER_URL ?? scriptUrl ?? globalThis.location?.href;
  if (!chosen) throw new Error('AgoraRTM: no server URL (set RtmConfig.serverUrl or RTM_SERVER_URL)');
  return toWebSocketUrl(String(chosen));
}

export function toWebSocketUrl(url) {
  const u = new URL(url, globalThis.location?.href);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.href;
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    return `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}/`;
  }
  throw new Error(`AgoraRTM: ${url} is not an http(s) or ws(s) URL`);
}
