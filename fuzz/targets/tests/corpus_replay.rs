//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`) through the same
//! target functions the cargo-fuzz targets call, on stable, so CI checks them without
//! nightly. A crash file found by `cargo +nightly fuzz run <target>` becomes a permanent
//! regression test by copying it into `fuzz/corpus/<target>/`.

use std::path::PathBuf;

use rtm_fuzz_targets::{self as fuzz_targets, Input};
use rtm_proto::wire::{ClientFrame, ServerFrame};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} missing: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("file").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable corpus file"))
        })
        .collect()
}

fn replay(target: &str, f: fn(&[u8])) {
    for (name, data) in corpus(target) {
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target}: corpus file {name} fails");
    }
}

/// A test that replays `fuzz/corpus/<target>/` through the target's body.
macro_rules! corpus_test {
    ($test:ident, $target:ident) => {
        #[test]
        fn $test() {
            replay(stringify!($target), fuzz_targets::$target);
        }
    };
}

corpus_test!(frame_decode_corpus, frame_decode);
corpus_test!(client_inputs_corpus, client_inputs);
corpus_test!(server_inputs_corpus, server_inputs);
corpus_test!(sim_corpus, sim);

/// The committed valid frames still decode (the wire format has not drifted from them).
#[test]
fn valid_corpus_frames_decode() {
    for (name, data) in corpus("frame_decode") {
        let ok = if name.starts_with("bad_") {
            continue;
        } else if name.starts_with("s_") {
            ServerFrame::decode(&data)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            ClientFrame::decode(&data)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(ok.is_ok(), "corpus frame {name} no longer decodes: {ok:?}");
    }
}

/// The structured frame generators of the fuzz targets build frames as JSON text (so they
/// keep compiling while the wire format evolves); this notices when they drift from it.
#[test]
fn generators_track_the_wire_format() {
    let mut rng = rtm_proto::rng::Rng::new(99);
    let (mut client_ok, mut server_ok) = (0, 0);
    const N: usize = 2000;
    for _ in 0..N {
        let bytes: Vec<u8> = (0..64).map(|_| rng.next_u64() as u8).collect();
        let f = fuzz_targets::client_frame(&mut Input::new(&bytes), &[]);
        client_ok += usize::from(ClientFrame::decode(&f).is_ok());
        let f = fuzz_targets::server_frame(&mut Input::new(&bytes), "sid");
        server_ok += usize::from(ServerFrame::decode(&f).is_ok());
    }
    // Some generated frames are invalid on purpose (empty peer lists, "null" ids, ...).
    assert!(
        client_ok * 2 > N,
        "only {client_ok}/{N} generated client frames decode"
    );
    assert!(
        server_ok * 2 > N,
        "only {server_ok}/{N} generated server frames decode"
    );
}

/// The extended generators (inputs starting with `fuzz_targets::EXTENDED`) build every frame
/// type of channels, attributes and invitations, mostly decodable.
#[test]
fn extended_generators_cover_the_new_frames() {
    let mut rng = rtm_proto::rng::Rng::new(7);
    let (mut client_ok, mut server_ok) = (0, 0);
    let mut client_types = std::collections::BTreeSet::new();
    let mut server_types = std::collections::BTreeSet::new();
    const N: usize = 4000;
    let ty = |f: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(f)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_string))
    };
    for _ in 0..N {
        let bytes: Vec<u8> = (0..96).map(|_| rng.next_u64() as u8).collect();
        let f = fuzz_targets::client_frame_ext(&mut Input::new(&bytes), &[]);
        if ClientFrame::decode(&f).is_ok() {
            client_ok += 1;
            client_types.extend(ty(&f));
        }
        let f = fuzz_targets::server_frame_ext(&mut Input::new(&bytes), "sid", &[1, 2]);
        if ServerFrame::decode(&f).is_ok() {
            server_ok += 1;
            server_types.extend(ty(&f));
        }
    }
    assert!(
        client_ok * 2 > N,
        "only {client_ok}/{N} client frames decode"
    );
    assert!(
        server_ok * 2 > N,
        "only {server_ok}/{N} server frames decode"
    );
    for t in [
        "join",
        "leave",
        "channel_message",
        "get_members",
        "get_member_count",
        "user_attrs",
        "get_user_attrs",
        "channel_attrs",
        "get_channel_attrs",
        "invite",
        "invitation_ack",
        "invitation_answer",
        "invitation_cancel",
        "invitation_sync",
    ] {
        assert!(client_types.contains(t), "no decodable {t} generated");
    }
    for t in [
        "joined",
        "channel_message",
        "member_joined",
        "member_left",
        "member_count",
        "members",
        "member_counts",
        "user_attributes",
        "channel_attributes",
        "attributes_updated",
        "invitation",
        "local_invitation",
        "remote_invitation",
        "invitation_states",
    ] {
        assert!(server_types.contains(t), "no decodable {t} generated");
    }
}

/// Every target has a committed input in the extended mode.
#[test]
fn corpora_exercise_the_extended_mode() {
    for target in ["client_inputs", "server_inputs"] {
        assert!(
            corpus(target)
                .iter()
                .any(|(_, d)| d.starts_with(fuzz_targets::EXTENDED)),
            "{target}: no corpus file starts with the extended prefix"
        );
    }
}

/// `server_inputs` in the media mode over 2 000 pseudo-random inputs (xorshift from a
/// fixed seed, so a failure replays): the corpus holds three, libFuzzer finds the rest, and
/// this keeps a plain `cargo test` from missing a contract break in the common paths.
#[test]
fn media_calls_hold_the_driver_contract_on_random_inputs() {
    for data in random_media_inputs(2000) {
        fuzz_targets::server_inputs(&data);
    }
}

/// The same for `client_inputs` in the media mode: transfers answered once, exchanges
/// ordered, cancelled and reported in step.
#[test]
fn media_transfers_hold_the_client_checks_on_random_inputs() {
    for data in random_media_inputs(2000) {
        fuzz_targets::client_inputs(&data);
    }
}

/// `n` inputs of 3 000 bytes after the media prefix, from xorshift64 with a fixed seed.
fn random_media_inputs(n: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..n).map(move |_| {
        let mut data = fuzz_targets::MEDIA.to_vec();
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.push(state as u8);
        }
        data
    })
}
