// The ES module build: loads the WebAssembly core before the app's code runs (top-level
// await), so every call works from the first line.

import init, * as core from './rtm_core.js';
import { makeAgoraRTM } from './agora-rtm.js';

await init({ module_or_path: new URL('./rtm_core_bg.wasm', import.meta.url) });

const AgoraRTM = makeAgoraRTM({ ready: Promise.resolve(core), now: () => core }, import.meta.url);
export default AgoraRTM;
export const { RtmError } = AgoraRTM;
