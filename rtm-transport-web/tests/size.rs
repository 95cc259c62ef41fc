//! The Web SDK's transfer size: what a browser downloads before the first call, gzipped as
//! the server sends it, stays under 200 KB (the budget; the figures are in
//! BENCHMARKS.md). A size, not a timing: it is the same on every machine.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

fn gzip_len(file: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sdk/dist")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&bytes).unwrap();
    gz.finish().unwrap().len()
}

#[test]
fn the_module_and_the_core_gzip_to_under_200_kb() {
    let module = gzip_len("agora-rtm.mjs");
    let core = gzip_len("rtm_core_bg.wasm");
    println!(
        "gzip: agora-rtm.mjs {module} B + rtm_core_bg.wasm {core} B = {} B",
        module + core
    );
    assert!(module + core < 200 * 1000, "{} bytes", module + core);
    let umd = gzip_len("agora-rtm.umd.js");
    assert!(umd + core < 200 * 1000, "{} bytes", umd + core);
}
