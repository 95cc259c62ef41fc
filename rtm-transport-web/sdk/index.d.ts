// Type declarations of rtm-web-sdk: the Agora RTM Web SDK 1.5.1 API (default export
// `AgoraRTM`) for a self-hosted RTM server. Written for this package; checked for
// compatibility with `agora-rtm-sdk@1.5.1`'s typings by `npm run typecheck` (tests/types).

/** String enums of the SDK (§7), grouped as in the Agora typings so they stay compatible. */
declare namespace RtmStatusCode {
  enum ConnectionChangeReason {
    LOGIN = 'LOGIN',
    LOGIN_SUCCESS = 'LOGIN_SUCCESS',
    LOGIN_FAILURE = 'LOGIN_FAILURE',
    LOGIN_TIMEOUT = 'LOGIN_TIMEOUT',
    INTERRUPTED = 'INTERRUPTED',
    LOGOUT = 'LOGOUT',
    BANNED_BY_SERVER = 'BANNED_BY_SERVER',
    REMOTE_LOGIN = 'REMOTE_LOGIN',
    TOKEN_EXPIRED = 'TOKEN_EXPIRED',
  }
  enum ConnectionState {
    DISCONNECTED = 'DISCONNECTED',
    CONNECTING = 'CONNECTING',
    CONNECTED = 'CONNECTED',
    RECONNECTING = 'RECONNECTING',
    ABORTED = 'ABORTED',
  }
  enum LocalInvitationState {
    IDLE = 'IDLE',
    SENT_TO_REMOTE = 'SENT_TO_REMOTE',
    RECEIVED_BY_REMOTE = 'RECEIVED_BY_REMOTE',
    ACCEPTED_BY_REMOTE = 'ACCEPTED_BY_REMOTE',
    REFUSED_BY_REMOTE = 'REFUSED_BY_REMOTE',
    CANCELED = 'CANCELED',
    FAILURE = 'FAILURE',
  }
  enum RemoteInvitationState {
    INVITATION_RECEIVED = 'INVITATION_RECEIVED',
    ACCEPT_SENT_TO_LOCAL = 'ACCEPT_SENT_TO_LOCAL',
    REFUSED = 'REFUSED',
    ACCEPTED = 'ACCEPTED',
    CANCELED = 'CANCELED',
    FAILURE = 'FAILURE',
  }
  enum LocalInvitationFailureReason {
    UNKNOWN = 'UNKNOWN',
    PEER_NO_RESPONSE = 'PEER_NO_RESPONSE',
    INVITATION_EXPIRE = 'INVITATION_EXPIRE',
    PEER_OFFLINE = 'PEER_OFFLINE',
    NOT_LOGGEDIN = 'NOT_LOGGEDIN',
  }
  enum RemoteInvitationFailureReason {
    UNKNOWN = 'UNKNOWN',
    PEER_OFFLINE = 'PEER_OFFLINE',
    ACCEPT_FAILURE = 'ACCEPT_FAILURE',
    INVITATION_EXPIRE = 'INVITATION_EXPIRE',
  }
  enum PeerOnlineState {
    ONLINE = 'ONLINE',
    UNREACHABLE = 'UNREACHABLE',
    OFFLINE = 'OFFLINE',
  }
  enum PeerSubscriptionOption {
    ONLINE_STATUS = 'ONLINE_STATUS',
  }
  /** `AgoraRTM.MessageType` also has `FILE` and `IMAGE` at run time (the 1.4.x SDK's); they
   * are left out here so that the enum stays assignable to `agora-rtm-sdk@1.5.1`'s. */
  enum MessageType {
    TEXT = 'TEXT',
    RAW = 'RAW',
  }
  enum LegacyAreaCode {
    CN = 'CN',
    NA = 'NA',
    EU = 'EU',
    AS = 'AS',
    JP = 'JP',
    IN = 'IN',
    GLOB = 'GLOB',
    OC = 'OC',
    SA = 'SA',
    AF = 'AF',
    OVS = 'OVS',
  }
  enum AreaCode {
    GLOBAL = 'GLOBAL',
    INDIA = 'INDIA',
    JAPAN = 'JAPAN',
    ASIA = 'ASIA',
    EUROPE = 'EUROPE',
    CHINA = 'CHINA',
    NORTH_AMERICA = 'NORTH_AMERICA',
  }
}

/** A text message: at most 32 KB of UTF-8. */
interface RtmTextMessage {
  text: string;
  messageType?: 'TEXT';
  rawMessage?: never;
  description?: never;
}

/** A raw message: bytes plus an optional description, together at most 32 KB. */
interface RtmRawMessage {
  rawMessage: Uint8Array;
  description?: string;
  messageType?: 'RAW';
  text?: never;
}

/**
 * A file message (§4.9; Web SDK 1.3.0–1.4.x, which `agora-rtm-sdk@1.5.1`'s typings dropped):
 * a reference to media uploaded with `createMediaMessageByUploading`, valid 7 days. File name,
 * description and thumbnail together at most 32 KB.
 */
interface RtmFileMessage {
  messageType: 'FILE';
  /** The media's id on the server: `downloadMedia(mediaId)` fetches it. */
  mediaId: string;
  /** Bytes of the media (1 to 30 MB). */
  size: number;
  fileName: string;
  description: string;
  /** App-provided; the SDK makes none. */
  thumbnail?: Blob;
  text?: never;
  rawMessage?: never;
}

/** An image message: a file message with the image's size (computed by the SDK for
 * PNG/JPEG/BMP/GIF unless the app set it, else 0) and its thumbnail's (app-provided). */
interface RtmImageMessage extends Omit<RtmFileMessage, 'messageType'> {
  messageType: 'IMAGE';
  width: number;
  height: number;
  thumbnailWidth: number;
  thumbnailHeight: number;
}

type RtmMessage = RtmTextMessage | RtmRawMessage | RtmFileMessage | RtmImageMessage;

/** Bytes moved so far and in all, reported at most once a second while bytes flow. */
interface MediaOperationProgress {
  currentSize: number;
  totalSize: number;
}

/** What an app passes to watch or stop a transfer. */
interface MediaTransferHandler {
  /** Aborting it cancels the transfer: the promise rejects with INTERRUPTED (6). */
  cancelSignal?: AbortSignal;
  onOperationProgress?: (progress: MediaOperationProgress) => void;
}

/** `createMediaMessageByUploading` parameters of a file. */
interface FileMessageParameters {
  messageType?: 'FILE';
  fileName?: string;
  description?: string;
  thumbnail?: Blob;
}

/** `createMediaMessageByUploading` parameters of an image. */
interface ImageMessageParameters extends Omit<FileMessageParameters, 'messageType'> {
  messageType: 'IMAGE';
  width?: number;
  height?: number;
  thumbnailWidth?: number;
  thumbnailHeight?: number;
}

/** `{[key]: value}`: user attributes, or channel attribute values to write. */
interface AttributesMap {
  [key: string]: string;
}

interface ChannelAttributeProperties {
  value: string;
  lastUpdateUserId: string;
  /** Unix milliseconds of the last write. */
  lastUpdateTs: number;
}

interface ChannelAttributes {
  [key: string]: ChannelAttributeProperties;
}

interface ChannelAttributeOptions {
  /** Tell every member with `AttributesUpdated` (the complete set). */
  enableNotificationToChannelMembers?: boolean;
}

interface SendMessageOptions {
  /** Keep the message on the server if the peer is offline, delivered at its next login. */
  enableOfflineMessaging?: boolean;
  enableHistoricalMessaging?: boolean;
}

interface PeerMessageSendResult {
  /** Whether the peer's client received it (false: offline, cached or not). */
  hasPeerReceived: boolean;
}

interface ReceivedMessageProperties {
  /** Unix milliseconds at which the server received the message. */
  serverReceivedTs: number;
  /** A peer message kept while the receiver was offline. */
  isOfflineMessage?: boolean;
}

interface PeersOnlineStatusMap {
  [peerId: string]: RtmStatusCode.PeerOnlineState;
}

interface PeersOnlineStatusResult {
  [peerId: string]: boolean;
}

interface ChannelMemberCountResult {
  [channelId: string]: number;
}

type LogFilterType = {
  error: boolean;
  warn: boolean;
  info: boolean;
  track: boolean;
  debug: boolean;
};

interface RtmConfig {
  enableLogUpload?: boolean;
  logFilter?: LogFilterType;
  enableCloudProxy?: boolean;
  /**
   * The RTM server (`wss://host:port`, or `https://host` for the same). Not in Agora's SDK:
   * without it the SDK uses `globalThis.RTM_SERVER_URL`, else the server it was loaded from.
   */
  serverUrl?: string;
}

/** What every promise rejects with and every synchronous call throws. */
declare class RtmError extends Error {
  constructor(code: number, name: string, message: string);
  /** The §8 number of the error's family (`name`), e.g. 102 for not logged in. */
  readonly code: number;
}

/** Listener arguments of an event given its listener type. */
type ListenerArgs<T> = [T] extends [(...args: infer A) => any] ? A : [T] extends [void] ? [] : [T];

/** Node-style events: `on`, `once`, `off` and the rest, typed by event name. */
declare class EventEmitter<Events = {}> {
  static defaultMaxListeners: number;
  on<E extends keyof Events, T>(this: T, event: E, listener: (...args: ListenerArgs<Events[E]>) => void): this;
  once<E extends keyof Events, T>(this: T, event: E, listener: (...args: ListenerArgs<Events[E]>) => void): this;
  off<E extends keyof Events, T>(this: T, event: E, listener: (...args: any[]) => any): this;
  removeAllListeners<E extends keyof Events, T>(this: T, event?: E): this;
  listeners<E extends keyof Events, T>(this: T, event: E): Function[];
  rawListeners<E extends keyof Events, T>(this: T, event: E): Function[];
  listenerCount<E extends keyof Events, T>(this: T, event: E): number;
}

declare namespace RtmEvents {
  interface RtmClientEvents {
    MessageFromPeer: (message: RtmMessage, peerId: string, messageProps: ReceivedMessageProperties) => void;
    ConnectionStateChanged: (
      newState: RtmStatusCode.ConnectionState,
      reason: RtmStatusCode.ConnectionChangeReason,
    ) => void;
    RemoteInvitationReceived: (remoteInvitation: RemoteInvitation) => void;
    TokenExpired: () => void;
    TokenPrivilegeWillExpire: () => void;
    PeersOnlineStatusChanged: (status: PeersOnlineStatusMap) => void;
    /** Never fired: a self-hosted server needs no cloud proxy. */
    FallbackProxyConnected: () => void;
  }
  interface RtmChannelEvents {
    ChannelMessage: (message: RtmMessage, memberId: string, messagePros: ReceivedMessageProperties) => void;
    MemberJoined: (memberId: string) => void;
    MemberLeft: (memberId: string) => void;
    MemberCountUpdated: (memberCount: number) => void;
    AttributesUpdated: (attributes: ChannelAttributes) => void;
    /** The server took the local user out of this channel (a channel-scoped ban, §2.8): the
     * channel is left, not rejoined after a reconnect, and `leave()` rejects with
     * LeaveChannelError 4 (KICKED); `join()` is refused (2) while the ban lasts. */
    BannedByServer: () => void;
  }
  interface LocalInvitationEvents {
    LocalInvitationReceivedByPeer: () => void;
    LocalInvitationAccepted: (response: string) => void;
    LocalInvitationRefused: (response: string) => void;
    LocalInvitationCanceled: () => void;
    LocalInvitationFailure: (reason: RtmStatusCode.LocalInvitationFailureReason) => void;
  }
  interface RemoteInvitationEvents {
    RemoteInvitationAccepted: () => void;
    RemoteInvitationRefused: () => void;
    RemoteInvitationCanceled: (content: string) => void;
    RemoteInvitationFailure: (reason: RtmStatusCode.RemoteInvitationFailureReason) => void;
  }
}

/** A call invitation this client sends (caller side). */
declare class LocalInvitation extends EventEmitter<RtmEvents.LocalInvitationEvents> {
  readonly calleeId: string;
  /** At most 8 KB; checked at `send`. */
  content: string;
  channelId: string;
  /** The callee's response once it accepted or refused. */
  readonly response: string;
  readonly state: RtmStatusCode.LocalInvitationState;
  /** Sends it; the outcome arrives as events. Throws `InvitationApiCallError` codes. */
  send(): void;
  cancel(): void;
  on<E extends keyof RtmEvents.LocalInvitationEvents>(
    eventName: E,
    listener: (...args: ListenerArgs<RtmEvents.LocalInvitationEvents[E]>) => any,
  ): this;
}

/** A call invitation this client received (callee side). */
declare class RemoteInvitation extends EventEmitter<RtmEvents.RemoteInvitationEvents> {
  readonly callerId: string;
  readonly content: string;
  readonly channelId: string;
  readonly state: RtmStatusCode.RemoteInvitationState;
  /** Sent with `accept` or `refuse`; at most 8 KB. */
  response: string;
  accept(): void;
  refuse(): void;
  on<E extends keyof RtmEvents.RemoteInvitationEvents>(
    eventName: E,
    listener: (...args: ListenerArgs<RtmEvents.RemoteInvitationEvents[E]>) => any,
  ): this;
}

/** A channel of a client: join it to hear its messages and members. */
declare class RtmChannel extends EventEmitter<RtmEvents.RtmChannelEvents> {
  readonly channelId: string;
  join(): Promise<void>;
  leave(): Promise<void>;
  sendMessage(message: RtmMessage): Promise<void>;
  getMembers(): Promise<string[]>;
  on<E extends keyof RtmEvents.RtmChannelEvents>(
    eventName: E,
    listener: (...args: ListenerArgs<RtmEvents.RtmChannelEvents[E]>) => any,
  ): this;
}

/** One login session of one user. */
declare class RtmClient extends EventEmitter<RtmEvents.RtmClientEvents> {
  login(options: { uid: string; token?: string }): Promise<void>;
  logout(): Promise<void>;
  renewToken(token: string): Promise<void>;
  updateConfig(config: RtmConfig): void;
  /** @deprecated the old name of `updateConfig`. */
  setParameters(config: RtmConfig): void;

  sendMessageToPeer(message: RtmMessage, peerId: string, options?: SendMessageOptions): Promise<PeerMessageSendResult>;
  createMessage<T extends RtmMessage>(message: Partial<T>): T;

  /**
   * Uploads `payload` (1 byte to 30 MB) and resolves with a FILE or IMAGE message referring
   * to it, ready for `sendMessageToPeer` or `RtmChannel.sendMessage`. Rejects with an
   * `UploadMediaError` code: 1 FAILURE, 2 INVALID_ARGUMENT, 3 TIMEOUT (120 s without
   * progress), 4 SIZE_OVERFLOW, 5 CONCURRENCY_LIMIT_EXCEEDED (9 transfers at a time),
   * 6 INTERRUPTED (cancelled, or the session aborted), 102 (not logged in).
   */
  createMediaMessageByUploading(
    payload: Blob,
    params: ImageMessageParameters,
    transHandler?: MediaTransferHandler,
  ): Promise<RtmImageMessage>;
  createMediaMessageByUploading(
    payload: Blob,
    params?: FileMessageParameters,
    transHandler?: MediaTransferHandler,
  ): Promise<RtmFileMessage>;
  /**
   * Downloads media `mediaId` into a Blob whose type is the MIME type the server detected
   * (png, gif, pdf, jpeg, zip; else `application/octet-stream`). Rejects with a
   * `DownloadMediaError` code: 1 FAILURE, 2 INVALID_ARGUMENT, 3 TIMEOUT, 4 NOT_EXIST (unknown
   * or expired id), 5 CONCURRENCY_LIMIT_EXCEEDED, 6 INTERRUPTED, 102.
   */
  downloadMedia(mediaId: string, transHandler?: MediaTransferHandler): Promise<Blob>;
  queryPeersOnlineStatus(peerIds: string[]): Promise<PeersOnlineStatusResult>;
  subscribePeersOnlineStatus(peerIds: string[]): Promise<void>;
  unsubscribePeersOnlineStatus(peerIds: string[]): Promise<void>;
  queryPeersBySubscriptionOption(option: RtmStatusCode.PeerSubscriptionOption): Promise<string[]>;

  setLocalUserAttributes(attributes: AttributesMap): Promise<void>;
  addOrUpdateLocalUserAttributes(attributes: AttributesMap): Promise<void>;
  deleteLocalUserAttributesByKeys(attributeKeys: string[]): Promise<void>;
  clearLocalUserAttributes(): Promise<void>;
  getUserAttributes(userId: string): Promise<AttributesMap>;
  getUserAttributesByKeys(userId: string, attributeKeys: string[]): Promise<AttributesMap>;

  setChannelAttributes(channelId: string, attributes: AttributesMap, options?: ChannelAttributeOptions): Promise<void>;
  addOrUpdateChannelAttributes(
    channelId: string,
    attributes: AttributesMap,
    options?: ChannelAttributeOptions,
  ): Promise<void>;
  deleteChannelAttributesByKeys(
    channelId: string,
    attributeKeys: string[],
    options?: ChannelAttributeOptions,
  ): Promise<void>;
  clearChannelAttributes(channelId: string, options?: ChannelAttributeOptions): Promise<void>;
  getChannelAttributes(channelId: string): Promise<ChannelAttributes>;
  getChannelAttributesByKeys(channelId: string, keys: string[]): Promise<ChannelAttributes>;
  getChannelMemberCount(channelIds: string[]): Promise<ChannelMemberCountResult>;

  createChannel(channelId: string): RtmChannel;
  createLocalInvitation(calleeId: string): LocalInvitation;

  on<E extends keyof RtmEvents.RtmClientEvents>(
    eventName: E,
    listener: (...args: ListenerArgs<RtmEvents.RtmClientEvents[E]>) => any,
  ): this;
}

/** The SDK's namespace: the default export. */
declare namespace AgoraRTM {
  const VERSION: string;
  const BUILD: string;
  const END_CALL_PREFIX: string;
  const LOG_FILTER_OFF: LogFilterType;
  const LOG_FILTER_ERROR: LogFilterType;
  const LOG_FILTER_WARNING: LogFilterType;
  const LOG_FILTER_INFO: LogFilterType;
  const LOG_FILTER_DEBUG: LogFilterType;
  /** Resolves once the WebAssembly core is loaded (always already, in the ES module build). */
  const ready: Promise<void>;
  function createInstance(appId: string, config?: RtmConfig): RtmClient;
  function createInstance(appId: string, config?: RtmConfig, areaCodes?: RtmStatusCode.AreaCode[]): RtmClient;
  /** One self-hosted server has one area: accepted and ignored. */
  function setArea(areaConfig: { areaCodes: RtmStatusCode.AreaCode[]; excludedArea?: RtmStatusCode.AreaCode }): void;
  const ConnectionChangeReason: typeof RtmStatusCode.ConnectionChangeReason;
  const ConnectionState: typeof RtmStatusCode.ConnectionState;
  const LocalInvitationFailureReason: typeof RtmStatusCode.LocalInvitationFailureReason;
  const LocalInvitationState: typeof RtmStatusCode.LocalInvitationState;
  const RemoteInvitationState: typeof RtmStatusCode.RemoteInvitationState;
  const RemoteInvitationFailureReason: typeof RtmStatusCode.RemoteInvitationFailureReason;
  const MessageType: typeof RtmStatusCode.MessageType;
  const PeerOnlineState: typeof RtmStatusCode.PeerOnlineState;
  const PeerSubscriptionOption: typeof RtmStatusCode.PeerSubscriptionOption;
  const AreaCode: typeof RtmStatusCode.AreaCode;
  const LegacyAreaCode: typeof RtmStatusCode.LegacyAreaCode;
}

export default AgoraRTM;
export { RtmError };
export type {
  LocalInvitation,
  RemoteInvitation,
  RtmChannel,
  RtmClient,
  RtmEvents,
  RtmMessage,
  RtmRawMessage,
  RtmFileMessage,
  RtmImageMessage,
  MediaOperationProgress,
  MediaTransferHandler,
  FileMessageParameters,
  ImageMessageParameters,
  RtmStatusCode,
  RtmTextMessage,
  RtmConfig,
};
