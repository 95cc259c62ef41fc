'use strict';
// rtm-bench's Node `ws` baseline: the benchmark's plain dialect (one JSON object per text
// frame: hello, join, subscribe, send, receipt, publish) on Node.js and the `ws` package, as a
// Node developer would write it. A broadcast is JSON.stringify'd once and its bytes shared by
// every recipient; no per-message compression.
//
//   node ws-server.js --listen 127.0.0.1:0
//
// Prints `listening on ws://HOST:PORT` on stderr once it accepts; runs until killed.

const http = require('node:http');
const { listen } = require('./listen');
const { WebSocketServer } = require('ws');

/** uid -> the newest connection `hello` named with it. */
const names = new Map();
/** room -> the Set of its member connections. */
const rooms = new Map();

const server = http.createServer((req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' });
  res.end('WebSocket only\n');
});
server.on('connection', (socket) => socket.setNoDelay(true));

// Frames are capped at RTM's protocol limit (256 KiB), as rtm-server's are.
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 256 * 1024 });
// ws re-emits the HTTP server's errors here: without a listener they would be thrown.
wss.on('error', () => {});

wss.on('connection', (ws) => {
  ws.uid = undefined;
  ws.rooms = [];
  ws.peers = undefined;
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let f;
    try {
      f = JSON.parse(data.toString());
    } catch {
      return; // bad frames are ignored
    }
    if (f === null || typeof f !== 'object') return;
    handle(ws, f);
  });
  ws.on('close', () => {
    if (ws.uid !== undefined && names.get(ws.uid) === ws) names.delete(ws.uid);
    for (const room of ws.rooms) {
      const members = rooms.get(room);
      if (!members) continue;
      members.delete(ws);
      if (members.size === 0) rooms.delete(room);
    }
  });
});

function handle(ws, f) {
  switch (f.type) {
    case 'hello': {
      if (typeof f.uid !== 'string') return;
      if (ws.uid !== undefined && names.get(ws.uid) === ws) names.delete(ws.uid);
      ws.uid = f.uid;
      names.set(f.uid, ws);
      ws.send(JSON.stringify({ type: 'hello_ok' }));
      return;
    }
    case 'join': {
      if (typeof f.room !== 'string') return;
      if (!ws.rooms.includes(f.room)) {
        let members = rooms.get(f.room);
        if (!members) rooms.set(f.room, (members = new Set()));
        members.add(ws);
        ws.rooms.push(f.room);
      }
      ws.send(JSON.stringify({ type: 'joined', room: f.room }));
      return;
    }
    case 'subscribe': {
      if (!Array.isArray(f.peers)) return;
      if (!ws.peers) ws.peers = new Set();
      for (const peer of f.peers) ws.peers.add(peer);
      ws.send(JSON.stringify({ type: 'subscribed' }));
      return;
    }
    case 'send': {
      if (ws.uid === undefined) return;
      const peer = names.get(f.to);
      if (peer) peer.send(JSON.stringify({ type: 'message', from: ws.uid, id: f.id, text: f.text }));
      return;
    }
    case 'receipt': {
      if (ws.uid === undefined) return;
      const peer = names.get(f.to);
      if (peer) peer.send(JSON.stringify({ type: 'receipt', from: ws.uid, id: f.id }));
      return;
    }
    case 'publish': {
      if (ws.uid === undefined) return;
      const members = rooms.get(f.room);
      if (!members) return;
      // Encoded once: one Buffer written to every other member.
      const frame = Buffer.from(
        JSON.stringify({ type: 'room_message', room: f.room, from: ws.uid, text: f.text }),
      );
      for (const member of members) {
        if (member !== ws) member.send(frame, { binary: false });
      }
      return;
    }
    default:
      return; // unknown frames are ignored
  }
}

listen(server);
