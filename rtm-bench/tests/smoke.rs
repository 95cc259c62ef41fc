//! CI's smoke run of the benchmark: `rtm-bench all --smoke` exits 0 and prints the table
//! with a row of every scenario where our server was measured. Asserts nothing about speed
//! (the baselines may be "skipped" where node or npm is missing).

use std::process::Command;
use std::time::Instant;

#[test]
fn all_scenarios_run_and_print_their_rows() {
    let exe = env!("CARGO_BIN_EXE_rtm-bench");
    let server = std::path::Path::new(exe).with_file_name("rtm-server");
    assert!(
        server.is_file(),
        "{} not built: run `cargo build --release -p rtm-transport-smol` (cargo test --workspace builds it)",
        server.display()
    );
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["all", "--smoke"])
        .output()
        .expect("rtm-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rtm-bench all --smoke failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    for scenario in ["peer", "fanout", "idle", "storm", "login", "core"] {
        let rows: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {scenario} |")))
            .collect();
        assert!(!rows.is_empty(), "no {scenario} row in:\n{stdout}");
        // The third column is ours: a number, or "—" when it could not be measured.
        for row in rows {
            let ours = row.split('|').nth(3).map(str::trim);
            assert!(
                ours.is_some_and(|o| o != "—" && !o.is_empty()),
                "ours not measured in `{row}`:\n{stdout}\n{stderr}"
            );
        }
    }
    eprintln!(
        "rtm-bench all --smoke took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
