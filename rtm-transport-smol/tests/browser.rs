//! The Web SDK as a browser app uses it: the Node suites of `rtm-transport-web/sdk/tests/`,
//! run from here so `cargo test` runs them with this package's binaries.
//!
//! * `browser/` — headless Chromium pages against real `rtm-server` processes (the pages and
//!   the SDK served by the server itself, as in production): channels, peer messages,
//!   presence, attributes, invitations, the SDK's error codes, a server restart, two tabs of
//!   one user, closing a tab, throttled background timers, how the SDK finds its server, the
//!   UMD build, and a page talking to the `rtm` CLI.
//! * `types/` — our TypeScript declarations checked against `agora-rtm-sdk@1.5.1`'s own.
//! * `npm pack` gives a tarball an app installs and resolves.
//!
//! Needs Node.js and Chromium (`/usr/bin/chromium`, or `CHROMIUM`); the Node packages are
//! installed from the SDK's lockfile on first run. `.ci/run` installs all of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Serialises `npm ci` between the tests of this file.
static NPM: Mutex<()> = Mutex::new(());

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rtm-transport-web/sdk")
}

/// Runs `cmd`, panicking with `what` and how to get the tool if it cannot start.
fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("{what}: cannot run {cmd:?} ({e}); .ci/run installs Node.js and Chromium")
    });
    assert!(
        status.success(),
        "{what} failed ({status}); see the output above"
    );
}

/// The SDK's dev tools (playwright-core, typescript, Agora's typings), from its lockfile.
fn npm_ci() {
    let _once = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let sdk = sdk_dir();
    if !sdk.join("node_modules/.package-lock.json").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&sdk),
            "npm ci in rtm-transport-web/sdk",
        );
    }
}

#[test]
fn web_sdk_in_headless_chromium() {
    npm_ci();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: `apt-get install chromium` (.ci/run does), or set CHROMIUM"
    );
    run(
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "tests/browser/"])
            .current_dir(sdk_dir())
            .env("CHROMIUM", &chromium)
            .env("RTM_SERVER_BIN", env!("CARGO_BIN_EXE_rtm-server"))
            .env("RTM_CLI_BIN", env!("CARGO_BIN_EXE_rtm")),
        "the browser suite",
    );
}

#[test]
fn web_sdk_typings_fit_agoras() {
    npm_ci();
    run(
        Command::new("node")
            .args(["node_modules/typescript/bin/tsc", "-p", "tests/types"])
            .current_dir(sdk_dir()),
        "the type test against agora-rtm-sdk@1.5.1",
    );
}

#[test]
fn npm_pack_gives_an_installable_tarball() {
    npm_ci();
    let scratch = std::env::temp_dir().join(format!("rtm-web-sdk-pack-{}", std::process::id()));
    let app = scratch.join("app");
    std::fs::create_dir_all(&app).unwrap();
    run(
        Command::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&scratch)
            .current_dir(sdk_dir()),
        "npm pack",
    );
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","type":"module"}"#,
    )
    .unwrap();
    run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--offline"])
            .arg(scratch.join("rtm-web-sdk-0.1.0.tgz"))
            .current_dir(&app),
        "npm install of the tarball",
    );
    let installed = app.join("node_modules/rtm-web-sdk");
    for file in [
        "dist/agora-rtm.mjs",
        "dist/agora-rtm.umd.js",
        "dist/rtm_core_bg.wasm",
        "index.d.ts",
        "README.md",
    ] {
        assert!(
            installed.join(file).exists(),
            "{file} missing from the tarball"
        );
    }
    assert!(!installed.join("src").exists(), "sources are not shipped");
    // The package's entry points resolve the way bundlers and Node resolve them.
    let out = Command::new("node")
        .args([
            "--input-type=module",
            "-e",
            "console.log(import.meta.resolve('rtm-web-sdk'))",
        ])
        .current_dir(&app)
        .output()
        .expect("node");
    let resolved = String::from_utf8_lossy(&out.stdout);
    assert!(
        resolved
            .trim()
            .ends_with("node_modules/rtm-web-sdk/dist/agora-rtm.mjs"),
        "resolved to {resolved:?}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
