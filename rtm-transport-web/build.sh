#!/usr/bin/env bash
# Builds the Web SDK into rtm-transport-web/sdk/dist: the core compiled to WebAssembly, its
# wasm-bindgen glue, and the JavaScript SDK bundled as an ES module and a UMD script.
#
# sdk/dist is committed, so a machine without the wasm toolchain still serves the SDK (the
# server embeds it); CI runs this script and fails if the output differs by one byte
# (`build.sh --check`). The build is reproducible: paths are remapped, debug info is off,
# and the JavaScript tools come from the lockfile.
#
# Needs (installed by .ci/run): Debian's rustc-web, cargo-web, rust-web-src and lld-22 (the
# machine's rustup cannot fetch the wasm32 target), wasm-bindgen-cli of the same version as
# the wasm-bindgen crate, and Node.js with npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
check=false
[[ "${1:-}" == "--check" ]] && check=true

out=$here/sdk/dist
if $check; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

target=$root/target/wasm
cargo_home=${CARGO_HOME:-$HOME/.cargo}
echo "== wasm32 build (rustc-web, build-std)"
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CARGO_PROFILE_RELEASE_PANIC=abort \
RUSTFLAGS="--remap-path-prefix=$root=/rtm --remap-path-prefix=$cargo_home=/cargo" \
CARGO_TARGET_DIR=$target \
  /usr/bin/cargo build --locked --release -p rtm-transport-web \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort

echo "== wasm-bindgen"
wasm-bindgen --target web --out-dir "$out" --out-name rtm_core --no-typescript \
  --remove-name-section --remove-producers-section \
  "$target/wasm32-unknown-unknown/release/rtm_transport_web.wasm"

echo "== JavaScript bundles"
cd "$here/sdk"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
node build.mjs "$out"

if $check; then
  if ! diff -r "$out" "$here/sdk/dist"; then
    echo "sdk/dist is not what the sources build: run rtm-transport-web/build.sh and commit" >&2
    exit 1
  fi
  echo "sdk/dist matches the sources"
fi
