// Bundles the SDK sources with the wasm-bindgen glue (already in the output directory) into
// `agora-rtm.mjs` (ES module) and `agora-rtm.umd.js` (a script defining the global
// `AgoraRTM`, or a CommonJS/AMD module), and copies the type declarations beside them.
//   node build.mjs OUT_DIR
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? 'dist');
const here = new URL('.', import.meta.url).pathname;

// `./rtm_core.js` in the sources is the glue wasm-bindgen wrote into `out`.
const glue = {
  name: 'wasm-bindgen-glue',
  setup(b) {
    b.onResolve({ filter: /^\.\/rtm_core\.js$/ }, () => ({ path: join(out, 'rtm_core.js') }));
  },
};

const common = {
  bundle: true,
  plugins: [glue],
  target: 'es2022',
  legalComments: 'none',
  minify: true,
  keepNames: true,
  charset: 'utf8',
  logLevel: 'warning',
  // The glue's default wasm path uses import.meta.url, which the UMD build never takes (it
  // always passes the path).
  logOverride: { 'empty-import-meta': 'silent' },
};

await build({
  ...common,
  entryPoints: [join(here, 'src/entry-esm.js')],
  format: 'esm',
  outfile: join(out, 'agora-rtm.mjs'),
});

await build({
  ...common,
  entryPoints: [join(here, 'src/entry-umd.js')],
  format: 'iife',
  globalName: 'AgoraRTM',
  outfile: join(out, 'agora-rtm.umd.js'),
  footer: {
    js: [
      'AgoraRTM = AgoraRTM.default;',
      "if (typeof module === 'object' && module.exports) module.exports = AgoraRTM;",
      "else if (typeof define === 'function' && define.amd) define([], () => AgoraRTM);",
    ].join('\n'),
  },
});

rmSync(join(out, 'rtm_core.js'));
copyFileSync(join(here, 'index.d.ts'), join(out, 'agora-rtm.d.ts'));
