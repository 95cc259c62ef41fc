// The UMD build (a `<script>` defining the global `AgoraRTM`, or CommonJS/AMD): the
// WebAssembly core loads in the background from beside this script.

import init, * as core from './rtm_core.js';
import { makeAgoraRTM } from './agora-rtm.js';

const scriptUrl = globalThis.document?.currentScript?.src ?? globalThis.location?.href;
let loaded = null;
const ready = init({ module_or_path: new URL('rtm_core_bg.wasm', scriptUrl) }).then(() => {
  loaded = core;
  return core;
});
ready.catch((e) => console.error('[AgoraRTM] the WebAssembly core failed to load', e));

export default makeAgoraRTM({ ready, now: () => loaded }, scriptUrl);
