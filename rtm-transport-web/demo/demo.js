// The demo page: every feature of the Agora RTM Web SDK 1.5.1 API a newcomer wants to try,
// against the RTM server that serves this page. Plain DOM, no framework; user data goes
// into the page through textContent only.

import AgoraRTM from '/sdk/agora-rtm.mjs';

const APP_ID = '00000000000000000000000000000000';
const $ = (id) => document.getElementById(id);

const client = AgoraRTM.createInstance(APP_ID);
window.rtm = client;

// --- state ---

let connection = 'DISCONNECTED';
let me = ''; // the uid of the current session
let channel = null; // the RtmChannel being joined or joined
let joined = false;
let memberCountSeen = false; // MemberCountUpdated arrived since the join
const members = new Set();
const presence = new Map(); // peer -> { state, since }
let call = null; // the LocalInvitation ringing
const incoming = []; // RemoteInvitations waiting for an answer, oldest first
const answered = new WeakSet(); // incoming invitations accepted or refused, outcome pending
const busy = new Set(); // actions in flight

/// Enables what can apply now, disables the rest.
function update() {
  const session = connection !== 'DISCONNECTED' && connection !== 'ABORTED';
  const online = connection === 'CONNECTED';
  $('uid').disabled = $('token').disabled = session || busy.has('login');
  $('login').disabled = session || busy.has('login');
  // ABORTED (e.g. the same uid logged in elsewhere) still needs a logout before a new login.
  $('logout').disabled = connection === 'DISCONNECTED' || busy.has('logout');
  $('channel').disabled = channel !== null;
  $('join').disabled = !online || channel !== null;
  $('leave').disabled = !joined || busy.has('leave');
  $('channel-send').disabled = !joined || busy.has('channel-send');
  $('attr-set').disabled = !joined || busy.has('attr-set');
  $('peer-send').disabled = !online || busy.has('peer-send');
  $('peer-send-image').disabled = !online || busy.has('peer-send-image');
  $('channel-send-image').disabled = !joined || busy.has('channel-send-image');
  $('presence-subscribe').disabled = !online || busy.has('presence');
  $('presence-unsubscribe').disabled = !online || busy.has('presence') || presence.size === 0;
  $('ring').disabled = !online || call !== null;
  $('ring-cancel').disabled = call === null;
  $('accept').disabled = $('refuse').disabled = !online || incoming.length === 0 || answered.has(incoming[0]);
}

// --- helpers ---

/// Runs an SDK call; on failure shows its code and message. Returns `{ ok, value }`.
async function act(name, label, fn) {
  busy.add(name);
  update();
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    showError(label, e);
    return { ok: false };
  } finally {
    busy.delete(name);
    update();
  }
}

function showError(label, e) {
  console.error(label, e);
  const code = typeof e?.code === 'number' ? `error ${e.code}` : 'error';
  const name = e?.name && e.name !== 'Error' ? ` ${e.name}` : '';
  $('error-text').textContent = `${label} failed: ${code}${name}: ${e?.message ?? e}`;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error-text').textContent = '';
}

/// `HH:MM:SS` of Unix milliseconds.
function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/// A message's text for display (raw messages by their size and description, files and
/// images by their name, size and description).
function messageText(message) {
  const d = message.description ? `: ${message.description}` : '';
  if (message.messageType === 'RAW') {
    return `[raw message, ${message.rawMessage.length} bytes${d}]`;
  }
  if (message.messageType === 'IMAGE') {
    return `[image ${message.fileName || message.mediaId}, ${message.width}×${message.height}, ${bytes(message.size)}${d}]`;
  }
  if (message.messageType === 'FILE') {
    return `[file ${message.fileName || message.mediaId}, ${bytes(message.size)}${d}]`;
  }
  return message.text;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/// Appends an entry to a log: time, who, text, an optional note.
function log(list, { ts = Date.now(), who = '', text, note = '', kind = '' }) {
  const li = el('li', kind);
  const time = el('time', 'time', clock(ts));
  time.dateTime = new Date(ts).toISOString();
  li.append(time);
  if (who) li.append(el('span', 'who', who));
  li.append(el('span', 'text', text));
  if (note) li.append(el('span', 'note', note));
  list.append(li);
  while (list.children.length > 300) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
  return li;
}

function systemLog(list, text) {
  log(list, { text, kind: 'system' });
}

/// `"a, b ,c"` → `['a', 'b', 'c']`.
function idList(s) {
  return [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))];
}

function onSubmit(formId, handler) {
  $(formId).addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

// --- session ---

// Prefilled once the SDK has loaded, unless someone typed a uid meanwhile.
if ($('uid').value === '') $('uid').value = `user-${Math.random().toString(16).slice(2, 6).padEnd(4, '0')}`;
$('sdk-version').textContent = `${AgoraRTM.VERSION} (${AgoraRTM.BUILD})`;

onSubmit('login-form', async () => {
  const uid = $('uid').value.trim();
  const token = $('token').value.trim();
  clearError();
  me = uid;
  const r = await act('login', 'Log in', async () => {
    if (connection === 'ABORTED') await client.logout(); // the SDK's rule after ABORTED
    return client.login(token ? { uid, token } : { uid });
  });
  if (r.ok) $('whoami').textContent = `as ${uid}`;
});

$('logout').addEventListener('click', () => act('logout', 'Log out', () => client.logout()));

client.on('ConnectionStateChanged', (state, reason) => {
  connection = state;
  $('state').textContent = state;
  $('state').dataset.state = state;
  $('state-reason').textContent = reason;
  if (state === 'DISCONNECTED' || state === 'ABORTED') endSession();
  update();
});

/// The session ended (logout, login failure, or aborted): forget what belonged to it.
function endSession() {
  $('whoami').textContent = '';
  if (channel !== null) {
    if (joined) systemLog($('channel-log'), `left ${channel.channelId} (session ended)`);
    dropChannel();
  }
  presence.clear();
  renderPresence();
  if (call !== null) {
    // Its own outcome (LocalInvitationFailure NOT_LOGGEDIN) follows and replaces this text.
    callStatus('ENDED', 'ended: the session ended');
    call = null;
  }
  if (incoming.length > 0) $('incoming-status').textContent = 'ended: the session ended';
  while (incoming.length > 0) incoming.shift().removeAllListeners();
  renderIncoming();
}

// --- channel ---

onSubmit('channel-form', async () => {
  const id = $('channel').value.trim();
  clearError();
  let ch;
  try {
    ch = client.createChannel(id);
  } catch (e) {
    showError(`Join ${id}`, e);
    return;
  }
  channel = ch;
  listenToChannel(ch);
  const r = await act('join', `Join ${id}`, () => ch.join());
  if (channel !== ch) return; // the session ended meanwhile
  if (!r.ok) {
    dropChannel();
    update();
    return;
  }
  joined = true;
  update();
  systemLog($('channel-log'), `you joined ${id} as ${me}`);
  const list = await act('members', 'Get members', () => ch.getMembers());
  if (list.ok && channel === ch) {
    for (const m of list.value) members.add(m);
    renderMembers();
  }
  loadAttributes(ch);
});

$('leave').addEventListener('click', async () => {
  const ch = channel;
  const r = await act('leave', `Leave ${ch.channelId}`, () => ch.leave());
  if (r.ok && channel === ch) {
    systemLog($('channel-log'), `you left ${ch.channelId}`);
    dropChannel();
    update();
  }
});

function listenToChannel(ch) {
  ch.on('ChannelMessage', (message, memberId, props) => {
    const li = log($('channel-log'), { ts: props.serverReceivedTs, who: memberId, text: messageText(message) });
    showMedia(li, message);
  });
  ch.on('MemberJoined', (memberId) => {
    members.add(memberId);
    renderMembers();
    systemLog($('channel-log'), `${memberId} joined`);
  });
  ch.on('MemberLeft', (memberId) => {
    members.delete(memberId);
    renderMembers();
    systemLog($('channel-log'), `${memberId} left`);
  });
  ch.on('MemberCountUpdated', (count) => {
    memberCountSeen = true;
    $('member-count').textContent = String(count);
  });
  ch.on('AttributesUpdated', (attributes) => renderAttributes(attributes));
}

function dropChannel() {
  channel?.removeAllListeners();
  channel = null;
  joined = false;
  memberCountSeen = false;
  members.clear();
  renderMembers();
  $('member-count').textContent = '–';
  renderAttributes({});
}

function renderMembers() {
  const list = $('members');
  list.replaceChildren();
  for (const m of [...members].sort()) {
    const li = el('li');
    li.dataset.member = m;
    const b = el('button', 'link', m);
    b.type = 'button';
    b.title = `Message or ring ${m}`;
    b.addEventListener('click', () => {
      $('peer-to').value = m;
      $('ring-to').value = m;
    });
    li.append(b);
    if (m === me) li.append(el('span', 'muted', ' (you)'));
    list.append(li);
  }
  if (!memberCountSeen && channel !== null) $('member-count').textContent = String(members.size);
}

onSubmit('channel-send-form', async () => {
  const text = $('channel-text').value;
  if (!text || channel === null) return;
  const ch = channel;
  const r = await act('channel-send', 'Send to the channel', () => ch.sendMessage({ text }));
  if (r.ok) {
    log($('channel-log'), { who: me, text, kind: 'mine' });
    $('channel-text').value = '';
  }
});

// --- channel attributes ---

async function loadAttributes(ch) {
  const r = await act('attributes', 'Get channel attributes', () => client.getChannelAttributes(ch.channelId));
  if (r.ok && channel === ch) renderAttributes(r.value);
}

function renderAttributes(attributes) {
  const body = $('attributes-body');
  body.replaceChildren();
  for (const key of Object.keys(attributes).sort()) {
    const a = attributes[key];
    const tr = el('tr');
    tr.dataset.key = key;
    tr.append(el('td', 'key', key), el('td', 'value', a.value));
    const by = el('td', 'muted', `${a.lastUpdateUserId} ${clock(a.lastUpdateTs)}`);
    tr.append(by);
    body.append(tr);
  }
  if (body.children.length === 0) {
    const tr = el('tr', 'empty');
    const td = el('td', 'muted', channel === null ? 'join a channel to see them' : 'none yet');
    td.colSpan = 3;
    tr.append(td);
    body.append(tr);
  }
}

onSubmit('attr-form', async () => {
  const ch = channel;
  if (ch === null) return;
  const key = $('attr-key').value.trim();
  const value = $('attr-value').value;
  const enableNotificationToChannelMembers = $('attr-notify').checked;
  const r = await act('attr-set', `Set attribute ${key}`, () =>
    client.addOrUpdateChannelAttributes(ch.channelId, { [key]: value }, { enableNotificationToChannelMembers }),
  );
  if (r.ok) {
    systemLog($('channel-log'), `you set ${key}=${value}${enableNotificationToChannelMembers ? ' (members notified)' : ''}`);
    $('attr-key').value = $('attr-value').value = '';
    loadAttributes(ch);
  }
});

// --- peer messages ---

onSubmit('peer-form', async () => {
  const to = $('peer-to').value.trim();
  const text = $('peer-text').value;
  const enableOfflineMessaging = $('peer-offline').checked;
  $('peer-result').textContent = 'sending…';
  const r = await act('peer-send', `Send to ${to}`, () =>
    client.sendMessageToPeer({ text }, to, { enableOfflineMessaging }),
  );
  if (!r.ok) {
    $('peer-result').textContent = 'failed';
    return;
  }
  // hasPeerReceived is false both when the server stored it and when it did not; only the
  // option tells them apart.
  const result = r.value.hasPeerReceived
    ? 'received'
    : enableOfflineMessaging
      ? 'not online (stored for later)'
      : 'not online';
  $('peer-result').textContent = result;
  log($('peer-log'), { who: `to ${to}`, text, note: result, kind: 'mine' });
  $('peer-text').value = '';
});

client.on('MessageFromPeer', (message, peerId, props) => {
  const li = log($('peer-log'), {
    ts: props.serverReceivedTs,
    who: `from ${peerId}`,
    text: messageText(message),
    note: props.isOfflineMessage ? 'offline message' : '',
    kind: props.isOfflineMessage ? 'offline' : '',
  });
  showMedia(li, message);
});

// --- file and image messages ---

/// Uploads the image picked in `input` (progress in `bar`), then hands the IMAGE message to
/// `send`; logs it with the image in `list`.
async function sendImage(name, input, bar, list, who, send) {
  const file = input.files[0];
  if (!file) return;
  clearError();
  bar.hidden = false;
  bar.value = 0;
  const r = await act(name, `Send image ${file.name}`, async () => {
    const message = await client.createMediaMessageByUploading(
      file,
      { messageType: 'IMAGE', fileName: file.name },
      { onOperationProgress: ({ currentSize, totalSize }) => (bar.value = totalSize ? currentSize / totalSize : 0) },
    );
    bar.value = 1;
    return { message, result: await send(message) };
  });
  bar.hidden = true;
  if (!r.ok) return;
  const li = log(list, { who, text: messageText(r.value.message), note: r.value.result ?? '', kind: 'mine' });
  addImage(li, r.value.message.mediaId, file, file.name);
  input.value = '';
}

onSubmit('peer-image-form', () => {
  const to = $('peer-to').value.trim();
  if (!to) {
    showError('Send image', new Error('type the user id to send it to'));
    return;
  }
  return sendImage('peer-send-image', $('peer-file'), $('peer-upload'), $('peer-log'), `to ${to}`, async (m) => {
    const r = await client.sendMessageToPeer(m, to);
    return r.hasPeerReceived ? 'received' : 'not online';
  });
});

onSubmit('channel-image-form', () => {
  const ch = channel;
  if (ch === null) return;
  return sendImage('channel-send-image', $('channel-file'), $('channel-upload'), $('channel-log'), me, async (m) => {
    await ch.sendMessage(m);
  });
});

/// A received IMAGE is downloaded and shown under its log entry; a FILE gets a button that
/// downloads and saves it.
function showMedia(li, message) {
  if (message.messageType === 'IMAGE') {
    const note = el('span', 'note', 'downloading…');
    li.append(note);
    client
      .downloadMedia(message.mediaId)
      .then((blob) => {
        note.remove();
        addImage(li, message.mediaId, blob, message.fileName);
      })
      .catch((e) => {
        note.textContent = `download failed: ${e.code ?? ''} ${e.message}`;
      });
  } else if (message.messageType === 'FILE') {
    const b = el('button', 'link', 'download');
    b.type = 'button';
    b.addEventListener('click', async () => {
      const r = await act('download', `Download ${message.fileName}`, () => client.downloadMedia(message.mediaId));
      if (!r.ok) return;
      const a = el('a');
      a.href = URL.createObjectURL(r.value);
      a.download = message.fileName || message.mediaId;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    });
    li.append(' ', b);
  }
}

/// `<img>` of `blob` under log entry `li`.
function addImage(li, mediaId, blob, name) {
  const img = el('img', 'media');
  img.alt = name || mediaId;
  img.dataset.mediaId = mediaId;
  img.dataset.type = blob.type;
  const url = URL.createObjectURL(blob);
  img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
  img.addEventListener('error', () => URL.revokeObjectURL(url), { once: true });
  img.src = url;
  li.append(img);
  const list = li.parentElement;
  if (list) list.scrollTop = list.scrollHeight;
}

// --- presence ---

onSubmit('presence-form', async () => {
  const peers = idList($('presence-peers').value);
  if (peers.length === 0) return;
  const r = await act('presence', 'Subscribe', () => client.subscribePeersOnlineStatus(peers));
  if (!r.ok) return;
  for (const p of peers) if (!presence.has(p)) presence.set(p, { state: '…', since: null });
  renderPresence();
  update();
});

$('presence-unsubscribe').addEventListener('click', async () => {
  const typed = idList($('presence-peers').value).filter((p) => presence.has(p));
  const peers = typed.length > 0 ? typed : [...presence.keys()];
  const r = await act('presence', 'Unsubscribe', () => client.unsubscribePeersOnlineStatus(peers));
  if (!r.ok) return;
  for (const p of peers) presence.delete(p);
  renderPresence();
  update();
});

client.on('PeersOnlineStatusChanged', (status) => {
  const now = Date.now();
  for (const [peer, state] of Object.entries(status)) presence.set(peer, { state, since: now });
  renderPresence();
  update();
});

function renderPresence() {
  const body = $('presence-body');
  body.replaceChildren();
  for (const [peer, { state, since }] of [...presence].sort(([a], [b]) => a.localeCompare(b))) {
    const tr = el('tr');
    tr.dataset.peer = peer;
    const cell = el('td', 'state', state);
    cell.dataset.state = state;
    tr.append(el('td', 'key', peer), cell, el('td', 'muted', since === null ? '' : clock(since)));
    body.append(tr);
  }
  if (presence.size === 0) {
    const tr = el('tr', 'empty');
    const td = el('td', 'muted', 'no subscriptions');
    td.colSpan = 3;
    tr.append(td);
    body.append(tr);
  }
}

// --- calls: outgoing ---

onSubmit('ring-form', () => {
  const to = $('ring-to').value.trim();
  clearError();
  let inv;
  try {
    inv = client.createLocalInvitation(to);
    inv.content = $('ring-content').value;
    call = inv;
    callStatus('RINGING', `ringing ${to}…`);
    inv.on('LocalInvitationReceivedByPeer', () => {
      if (call === inv) callStatus('RECEIVED_BY_PEER', `${to}'s phone is ringing…`);
    });
    inv.on('LocalInvitationAccepted', (response) => endCall(inv, 'ACCEPTED', `${to} accepted${quoted(response)}`));
    inv.on('LocalInvitationRefused', (response) => endCall(inv, 'REFUSED', `${to} refused${quoted(response)}`));
    inv.on('LocalInvitationCanceled', () => endCall(inv, 'CANCELED', 'canceled'));
    inv.on('LocalInvitationFailure', (reason) => endCall(inv, 'FAILURE', `failed: ${reason}`));
    inv.send();
  } catch (e) {
    showError(`Ring ${to}`, e);
    if (inv) endCall(inv, 'IDLE', 'not sent');
    return;
  }
  update();
});

$('ring-cancel').addEventListener('click', () => {
  try {
    call?.cancel();
  } catch (e) {
    showError('Cancel', e);
  }
});

function quoted(response) {
  return response ? `: “${response}”` : '';
}

function callStatus(state, text) {
  $('call-status').dataset.state = state;
  $('call-status').textContent = text;
}

/// `inv` ended; it shows its outcome unless a newer call owns the status line.
function endCall(inv, state, text) {
  inv.removeAllListeners();
  if (call !== null && call !== inv) return;
  call = null;
  callStatus(state, text);
  update();
}

// --- calls: incoming ---

client.on('RemoteInvitationReceived', (inv) => {
  const done = (text) => {
    const i = incoming.indexOf(inv);
    if (i >= 0) incoming.splice(i, 1);
    $('incoming-status').textContent = text;
    renderIncoming();
  };
  inv.on('RemoteInvitationAccepted', () => done(`you accepted ${inv.callerId}'s call`));
  inv.on('RemoteInvitationRefused', () => done(`you refused ${inv.callerId}'s call`));
  inv.on('RemoteInvitationCanceled', () => done(`${inv.callerId} canceled the call`));
  inv.on('RemoteInvitationFailure', (reason) => done(`call from ${inv.callerId} failed: ${reason}`));
  incoming.push(inv);
  $('incoming-status').textContent = `${inv.callerId} is calling`;
  renderIncoming();
});

/// The banner shows the oldest invitation waiting for an answer.
function renderIncoming() {
  const inv = incoming[0];
  $('incoming').hidden = inv === undefined;
  $('incoming-caller').textContent = inv?.callerId ?? '';
  $('incoming-content').textContent = inv?.content ? `: “${inv.content}”` : '';
  update();
}

function answer(how) {
  const inv = incoming[0];
  if (!inv) return;
  try {
    inv.response = $('incoming-response').value;
    if (how === 'accept') inv.accept();
    else inv.refuse();
    $('incoming-response').value = '';
    // The outcome arrives as RemoteInvitationAccepted / Refused / Failure.
    answered.add(inv);
    update();
  } catch (e) {
    showError(how === 'accept' ? 'Accept' : 'Refuse', e);
  }
}

$('accept').addEventListener('click', () => answer('accept'));
$('refuse').addEventListener('click', () => answer('refuse'));

// --- start ---

$('error-dismiss').addEventListener('click', clearError);
$('loading').remove();
renderMembers();
renderAttributes({});
renderPresence();
update();
