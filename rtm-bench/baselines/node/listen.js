'use strict';
// What both Node baselines do around their own protocol: read `--listen HOST:PORT` and listen
// on it as rtm-server does (backlog 4096), printing the line rtm-bench waits for.

/** `--listen HOST:PORT` from `argv` (port 0: any free port). */
function listenAddress(argv) {
  const at = argv.indexOf('--listen');
  const value = at >= 0 && argv[at + 1] ? argv[at + 1] : '127.0.0.1:0';
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) };
}

/**
 * Listens with `server` on this process's `--listen` address. A failure to listen exits with
 * one line; once listening, prints `listening on ws://HOST:PORT` on stderr, and later
 * errors (typically EMFILE on accept) are reported, not fatal.
 */
function listen(server) {
  const { host, port } = listenAddress(process.argv);
  server.once('error', (e) => {
    console.error(`cannot listen on ${host}:${port}: ${e.message}`);
    process.exit(1);
  });
  server.listen({ host, port, backlog: 4096 }, () => {
    server.on('error', (e) => console.error(`server error: ${e.message}`));
    console.error(`listening on ws://${host}:${server.address().port}`);
  });
}

module.exports = { listen };
