//! A hostile or broken client, written by hand on a raw connection, cannot make the server
//! grow without bound or serve others worse: every request kind has a server-side limit and
//! every table a bound.

mod common;

use common::{raw_login, say_raw, World};

fn count(frames: &[String], kind: &str) -> usize {
    let tag = format!(r#"{{"type":"{kind}""#);
    frames.iter().filter(|f| f.starts_with(&tag)).count()
}

#[test]
fn regression_resending_a_decided_invite_does_not_grow_the_callers_stream() {
    let mut w = World::new(0);
    let alice = raw_login(&mut w, "alice");
    let invite =
        r#"{"type":"invite","id":2,"invitation":7,"callee":"bob","content":"","channel_id":""}"#;
    let mut told = say_raw(&mut w, alice, invite);
    told.extend(say_raw(
        &mut w,
        alice,
        r#"{"type":"invitation_cancel","id":3,"invitation":7}"#,
    ));
    assert_eq!(count(&told, "local_invitation"), 1, "{told:?}");

    // Alice never acknowledges and keeps resending: each resend is answered, and the
    // decision she has not acknowledged is not pushed again.
    let mut answers = 0;
    for _ in 0..200 {
        let out = say_raw(&mut w, alice, invite);
        answers += count(&out, "ok");
        assert_eq!(count(&out, "local_invitation"), 0, "{out:?}");
    }
    assert_eq!(answers, 200);

    // Once she has acknowledged it, a resend tells her the decision again (she may have
    // lost it with a session).
    say_raw(&mut w, alice, r#"{"type":"ack","seq":1}"#);
    let out = say_raw(&mut w, alice, invite);
    assert_eq!(count(&out, "local_invitation"), 1, "{out:?}");
}
