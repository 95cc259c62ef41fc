//! The `media` benchmark (issue #14): upload and download throughput through a real
//! `rtm-server` process beside a plain file copy on the same disk, and the server's memory
//! while 9 clients transfer at once (it must not grow with the file size: bodies are
//! streamed, never held whole).
//!
//! `cargo bench -p rtm-transport-smol --bench media` (about 30 s). Prints its figures; the
//! ones recorded are in BENCHMARKS.md.
//!
//! * copy: `std::fs::copy` of a 30 MiB file and an fsync of the copy, in the same temporary
//!   directory as the server's data directory (what an upload does to the disk, without the
//!   network).
//! * upload / download: one `RtmClient` on loopback, a 30 MiB file from disk to the server's
//!   media directory (fsync'd), then back to a file; the best of 3 runs each.
//! * RSS: the server's VmRSS (from `/proc`), sampled every 20 ms while 9 users each upload,
//!   then download, a file of 3 MiB, 10 MiB or 30 MiB, at once; a fresh server per size.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtm_proto::media::{MediaKind, MAX_MEDIA_BYTES};
use rtm_proto::{ClientConfig, Message};
use rtm_transport_smol::media::UploadOptions;
use rtm_transport_smol::RtmClient;

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let size = MAX_MEDIA_BYTES as usize;
    let source = dir.path().join("source.bin");
    write_file(&source, size);

    // A plain copy on the same disk, fsync'd like an upload.
    let copy = best_of(3, || {
        let target = dir.path().join("copy.bin");
        let start = Instant::now();
        std::fs::copy(&source, &target).expect("copy");
        std::fs::File::open(&target)
            .and_then(|f| f.sync_all())
            .expect("fsync");
        let took = start.elapsed();
        std::fs::remove_file(&target).ok();
        took
    });

    let data = dir.path().join("data");
    let (mut server, url) = start_server(&data);
    let pid = server.id();
    let client = logged_in(&url, "bench");
    let mut media_id = String::new();
    let upload = best_of(3, || {
        let start = Instant::now();
        let message = smol::block_on(client.upload_media(
            MediaKind::File,
            source.clone(),
            UploadOptions::default(),
        ))
        .expect("uploaded");
        let took = start.elapsed();
        if let Message::File(m) = message {
            media_id = m.media_id;
        }
        took
    });
    let download = best_of(3, || {
        let target = dir.path().join("download.bin");
        let start = Instant::now();
        smol::block_on(client.download_media_to_file(&media_id, &target)).expect("downloaded");
        let took = start.elapsed();
        std::fs::remove_file(&target).ok();
        took
    });
    drop(client);

    let mbps = |d: Duration| size as f64 / MIB / d.as_secs_f64();
    println!("media benchmark: one 30 MiB file ({size} bytes), best of 3, same disk");
    println!(
        "  plain copy + fsync     {:7.1} MiB/s  ({:?})",
        mbps(copy),
        copy
    );
    println!(
        "  upload through server  {:7.1} MiB/s  ({:?})",
        mbps(upload),
        upload
    );
    println!(
        "  download from server   {:7.1} MiB/s  ({:?})",
        mbps(download),
        download
    );

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    // A fresh server per size: glibc keeps some freed heap between phases (the server
    // trims it every 10 s), which would otherwise carry one phase's peak into the next.
    println!("server RSS, 9 clients transferring at once (a fresh server per size; peak VmRSS and threads):");
    for (label, each) in [
        ("3 MiB each", 3 << 20),
        ("10 MiB each", 10 << 20),
        ("30 MiB each", size),
    ] {
        let file = dir.path().join(format!("nine-{each}.bin"));
        write_file(&file, each);
        let (mut server, url) = start_server(&dir.path().join(format!("data-{each}")));
        let pid = server.id();
        let idle = status_field(pid, "VmRSS:");
        let ((up, up_threads), (down, down_threads)) = nine_at_once(&url, &file, pid);
        println!("  {label:<12} idle {idle:6} KiB, uploads {up:6} KiB ({up_threads} threads), downloads {down:6} KiB ({down_threads} threads)");
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = server.wait();
    }
}

/// 9 users upload `file` at once, then download it at once: the server's peak RSS (KiB)
/// and thread count during each phase.
fn nine_at_once(url: &str, file: &Path, pid: u32) -> ((u64, u64), (u64, u64)) {
    let clients: Vec<RtmClient> = (0..9)
        .map(|i| logged_in(url, &format!("user{i}")))
        .collect();
    let peak = Sampler::start(pid);
    // All 9 are handed to their clients before any is awaited: they run at once.
    let transfers: Vec<_> = clients
        .iter()
        .map(|c| {
            c.upload_media(
                MediaKind::File,
                file.to_path_buf(),
                UploadOptions::default(),
            )
        })
        .collect();
    let messages: Vec<Message> = transfers
        .into_iter()
        .map(|t| smol::block_on(t).expect("uploaded"))
        .collect();
    let up = peak.stop();
    let peak = Sampler::start(pid);
    smol::block_on(async {
        let transfers: Vec<_> = clients
            .iter()
            .zip(&messages)
            .map(|(c, m)| match m {
                Message::File(m) => c.download_media_to_memory(&m.media_id),
                _ => unreachable!(),
            })
            .collect();
        for t in transfers {
            t.await.expect("downloaded");
        }
    });
    (up, peak.stop())
}

/// Samples a process's VmRSS and thread count every 20 ms on a thread; `stop` gives the
/// peaks.
struct Sampler {
    running: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    threads: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let running = Arc::new(AtomicBool::new(true));
        let peak = Arc::new(AtomicU64::new(status_field(pid, "VmRSS:")));
        let threads = Arc::new(AtomicU64::new(status_field(pid, "Threads:")));
        let thread = {
            let (running, peak, threads) = (running.clone(), peak.clone(), threads.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    peak.fetch_max(status_field(pid, "VmRSS:"), Ordering::Relaxed);
                    threads.fetch_max(status_field(pid, "Threads:"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Sampler {
            running,
            peak,
            threads,
            thread,
        }
    }

    /// Peak RSS (KiB) and peak thread count.
    fn stop(self) -> (u64, u64) {
        self.running.store(false, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            self.peak.load(Ordering::Relaxed),
            self.threads.load(Ordering::Relaxed),
        )
    }
}

/// A number of `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn best_of(n: usize, mut run: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| run()).min().expect("n > 0")
}

fn write_file(path: &Path, size: usize) {
    let mut file = std::fs::File::create(path).expect("create");
    let chunk: Vec<u8> = (0..1 << 20).map(|i: usize| ((i * 31) >> 3) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
    file.sync_all().expect("fsync");
}

fn start_server(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtm-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log",
            "info",
            "--data-dir",
            data.to_str().expect("UTF-8"),
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtm-server");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("listening on ws://") {
                let url = line[i + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("rtm-server announced its address");
    (child, url)
}

fn logged_in(url: &str, uid: &str) -> RtmClient {
    let client = RtmClient::new(url, ClientConfig::default()).expect("a client");
    smol::block_on(client.login(uid, None)).expect("login");
    client
}
