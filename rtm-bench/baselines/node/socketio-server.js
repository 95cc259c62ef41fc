'use strict';
// rtm-bench's Socket.IO baseline: the benchmark's events (hello, join, subscribe, send,
// receipt, publish) on Socket.IO v4, WebSocket transport only, no per-message compression. A
// channel is a Socket.IO room (`socket.join`), a publish is `socket.to(room).emit(...)`, a
// peer message goes to the uid's socket through `io.to(socketId).emit(...)`.
//
//   node socketio-server.js --listen 127.0.0.1:0
//
// Prints `listening on ws://HOST:PORT` on stderr once it accepts; runs until killed.

const http = require('node:http');
const { listen } = require('./listen');
const { Server } = require('socket.io');

/** uid -> the socket id of the newest socket `hello` named with it. */
const names = new Map();

const server = http.createServer();
server.on('connection', (socket) => socket.setNoDelay(true));

const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  // Frames are capped at RTM's protocol limit (256 KiB), as rtm-server's are.
  maxHttpBufferSize: 256 * 1024,
});

const isObject = (p) => p !== null && typeof p === 'object';

io.on('connection', (socket) => {
  socket.on('hello', (p) => {
    if (!isObject(p) || typeof p.uid !== 'string') return;
    const old = socket.data.uid;
    if (old !== undefined && names.get(old) === socket.id) names.delete(old);
    socket.data.uid = p.uid;
    names.set(p.uid, socket.id);
    socket.emit('hello_ok', {});
  });
  socket.on('join', (p) => {
    if (!isObject(p) || typeof p.room !== 'string') return;
    socket.join(p.room);
    socket.emit('joined', { room: p.room });
  });
  socket.on('subscribe', (p) => {
    if (!isObject(p) || !Array.isArray(p.peers)) return;
    if (!socket.data.peers) socket.data.peers = new Set();
    for (const peer of p.peers) socket.data.peers.add(peer);
    socket.emit('subscribed', {});
  });
  socket.on('send', (p) => {
    const from = socket.data.uid;
    if (from === undefined || !isObject(p)) return;
    const to = names.get(p.to);
    if (to !== undefined) io.to(to).emit('message', { from, id: p.id, text: p.text });
  });
  socket.on('receipt', (p) => {
    const from = socket.data.uid;
    if (from === undefined || !isObject(p)) return;
    const to = names.get(p.to);
    if (to !== undefined) io.to(to).emit('receipt', { from, id: p.id });
  });
  socket.on('publish', (p) => {
    const from = socket.data.uid;
    if (from === undefined || !isObject(p) || typeof p.room !== 'string') return;
    socket.to(p.room).emit('room_message', { room: p.room, from, text: p.text });
  });
  socket.on('disconnect', () => {
    const uid = socket.data.uid;
    if (uid !== undefined && names.get(uid) === socket.id) names.delete(uid);
  });
});

listen(server);
