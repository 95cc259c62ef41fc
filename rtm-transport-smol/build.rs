//! The server embeds the Web SDK and the demo page at compile time (`src/http/assets.rs`).
//! This script reruns the build when a file in either directory changes, and tells the crate
//! which of them exist (`cfg(rtm_web_sdk)`, `cfg(rtm_web_demo)`), so that a checkout without
//! them still builds and answers 404 for their paths.

use std::path::Path;

/// The embedded directories, relative to this crate, and the cfg saying each one exists.
const DIRS: [(&str, &str); 2] = [
    ("rtm_web_sdk", "../rtm-transport-web/sdk/dist"),
    ("rtm_web_demo", "../rtm-transport-web/demo"),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for (cfg, dir) in DIRS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let path = Path::new(dir);
        if path.is_dir() {
            println!("cargo::rustc-cfg={cfg}");
        }
        // A directory is scanned whole: any file added, removed or changed reruns this. A
        // missing one makes cargo rerun this on every build until it exists, which is what
        // notices it being created (and costs a rebuild of this crate per build meanwhile).
        println!("cargo::rerun-if-changed={dir}");
    }
}
