// The `AgoraRTM` namespace (§4.1), built around a loader of the WebAssembly core.

import * as constants from './constants.js';
import { RtmClient } from './client.js';

export const VERSION = '1.5.1';
export const BUILD = 'rtm-transport-web 0.1.0';

/// `loader`: `{ ready: Promise, now(): module | null }` for the wasm-bindgen module;
/// `scriptUrl`: where the SDK was loaded from (its server, unless configured otherwise).
export function makeAgoraRTM(loader, scriptUrl) {
  const AgoraRTM = {
    VERSION,
    BUILD,
    END_CALL_PREFIX: constants.END_CALL_PREFIX,
    LOG_FILTER_OFF: constants.LOG_FILTER_OFF,
    LOG_FILTER_ERROR: constants.LOG_FILTER_ERROR,
    LOG_FILTER_WARNING: constants.LOG_FILTER_WARNING,
    LOG_FILTER_INFO: constants.LOG_FILTER_INFO,
    LOG_FILTER_DEBUG: constants.LOG_FILTER_DEBUG,
    ConnectionState: constants.ConnectionState,
    ConnectionChangeReason: constants.ConnectionChangeReason,
    LocalInvitationState: constants.LocalInvitationState,
    RemoteInvitationState: constants.RemoteInvitationState,
    LocalInvitationFailureReason: constants.LocalInvitationFailureReason,
    RemoteInvitationFailureReason: constants.RemoteInvitationFailureReason,
    MessageType: constants.MessageType,
    PeerOnlineState: constants.PeerOnlineState,
    PeerSubscriptionOption: constants.PeerSubscriptionOption,
    AreaCode: constants.AreaCode,
    LegacyAreaCode: constants.LegacyAreaCode,
    RtmError: constants.RtmError,
    /// Resolves once the WebAssembly core is loaded (the ES module build is loaded before
    /// the app's code runs; the UMD build loads it in the background).
    ready: loader.ready.then(() => undefined),

    /// `createInstance(appId, config?)`. Throws (code 1) on an app id that is not a string.
    createInstance(appId, config) {
      if (typeof appId !== 'string' || appId.length === 0) {
        throw new constants.RtmError(1, 'CreateInstanceError', 'appId must be a non-empty string');
      }
      return new RtmClient(appId, config, loader, scriptUrl);
    },

    /// `setArea(...)`: one self-hosted server has one area; accepted and ignored.
    setArea(_areaConfig) {},
  };
  return AgoraRTM;
}
