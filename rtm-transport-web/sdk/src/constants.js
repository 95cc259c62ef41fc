// The SDK's enums, log filters and constants (Agora RTM Web SDK 1.5.1, §4.1 and §7), and
// the error type its promises reject with (§8).

const strings = (...names) => Object.freeze(Object.fromEntries(names.map((n) => [n, n])));

export const ConnectionState = strings('DISCONNECTED', 'CONNECTING', 'CONNECTED', 'RECONNECTING', 'ABORTED');
export const ConnectionChangeReason = strings(
  'LOGIN', 'LOGIN_SUCCESS', 'LOGIN_FAILURE', 'LOGIN_TIMEOUT', 'INTERRUPTED', 'LOGOUT',
  'BANNED_BY_SERVER', 'REMOTE_LOGIN', 'TOKEN_EXPIRED',
);
export const LocalInvitationState = strings(
  'IDLE', 'SENT_TO_REMOTE', 'RECEIVED_BY_REMOTE', 'ACCEPTED_BY_REMOTE', 'REFUSED_BY_REMOTE',
  'CANCELED', 'FAILURE',
);
export const RemoteInvitationState = strings(
  'INVITATION_RECEIVED', 'ACCEPT_SENT_TO_LOCAL', 'REFUSED', 'ACCEPTED', 'CANCELED', 'FAILURE',
);
export const LocalInvitationFailureReason = strings(
  'UNKNOWN', 'PEER_NO_RESPONSE', 'INVITATION_EXPIRE', 'PEER_OFFLINE', 'NOT_LOGGEDIN',
);
export const RemoteInvitationFailureReason = strings(
  'UNKNOWN', 'PEER_OFFLINE', 'ACCEPT_FAILURE', 'INVITATION_EXPIRE',
);
export const PeerOnlineState = strings('ONLINE', 'UNREACHABLE', 'OFFLINE');
export const PeerSubscriptionOption = strings('ONLINE_STATUS');
export const MessageType = strings('TEXT', 'RAW', 'FILE', 'IMAGE');
export const AreaCode = strings('GLOBAL', 'INDIA', 'JAPAN', 'ASIA', 'EUROPE', 'CHINA', 'NORTH_AMERICA');
export const LegacyAreaCode = strings('CN', 'NA', 'EU', 'AS', 'JP', 'IN', 'GLOB', 'OC', 'SA', 'AF', 'OVS');

const filter = (error, warn, info) => Object.freeze({ error, warn, info, track: info, debug: false });
export const LOG_FILTER_OFF = filter(false, false, false);
export const LOG_FILTER_ERROR = filter(true, false, false);
export const LOG_FILTER_WARNING = filter(true, true, false);
export const LOG_FILTER_INFO = filter(true, true, true);
export const LOG_FILTER_DEBUG = Object.freeze({ ...LOG_FILTER_INFO, debug: true });

export const END_CALL_PREFIX = 'AgoraRTMLegacyEndcallCompatibleMessagePrefix';

/// What every promise of the SDK rejects with and every synchronous call throws: an `Error`
/// whose `code` is the §8 number of its family (`name`, e.g. `'PeerMessageError'`).
export class RtmError extends Error {
  constructor(code, name, message) {
    super(message);
    this.code = code;
    this.name = name;
  }

  static from(e) {
    if (e instanceof RtmError) return e;
    if (e && typeof e.code === 'number') return new RtmError(e.code, e.name, e.message);
    return e;
  }
}
