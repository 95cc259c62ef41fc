//! Call-invitation stories (§4.10, §10): one test per path of the two state diagrams.

mod common;

use common::{story, LinkMode, World};
use rtm_proto::client::InvitationId;
use rtm_proto::invitation::{
    LocalInvitationFailureReason as LF, LocalInvitationState as L,
    RemoteInvitationFailureReason as RF, RemoteInvitationState as R,
};
use rtm_proto::wire::InvitationKey;
use rtm_proto::InvitationApiCallError as E;

/// Invitation events of client `c`, as short strings.
fn calls(w: &mut World, c: usize) -> Vec<String> {
    w.story(c, story::invitation)
}

/// The state of alice's (client 0) invitation `inv`.
fn caller_state(w: &World, inv: InvitationId) -> L {
    w.clients[0].local_invitation(inv).expect("kept").state
}

/// The state of bob's (client 1) side of the invitation `key`.
fn callee_state(w: &World, key: &InvitationKey) -> R {
    w.clients[1].remote_invitation(key).expect("kept").state
}

fn ring(w: &mut World, content: &str) -> (InvitationId, InvitationKey) {
    let inv = w.clients[0].create_local_invitation("bob").unwrap();
    w.clients[0]
        .set_local_invitation_content(inv, content)
        .unwrap();
    w.clients[0].send_local_invitation(w.now, inv).unwrap();
    w.settle();
    let key = InvitationKey {
        caller: "alice".try_into().unwrap(),
        invitation: inv.0,
    };
    (inv, key)
}

fn pair() -> World {
    World::logged_in(&["alice", "bob"])
}

#[test]
fn ring_and_accept_with_a_response() {
    let mut w = pair();
    let (inv, key) = ring(&mut w, "video call?");
    assert_eq!(calls(&mut w, 1), ["invited by alice: video call?"]);
    assert_eq!(calls(&mut w, 0), ["received by peer"]);
    assert_eq!(caller_state(&w, inv), L::ReceivedByRemote);
    w.clients[1]
        .set_remote_invitation_response(&key, "sure")
        .unwrap();
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    assert_eq!(callee_state(&w, &key), R::AcceptSentToLocal);
    assert_eq!(
        w.clients[1].accept_remote_invitation(w.now, &key),
        Err(E::AlreadyAccept)
    );
    w.settle();
    assert_eq!(calls(&mut w, 0), ["accepted: sure"]);
    assert_eq!(calls(&mut w, 1), ["accepted"]);
    assert_eq!(caller_state(&w, inv), L::AcceptedByRemote);
    assert_eq!(w.clients[0].local_invitation(inv).unwrap().response, "sure");
    assert_eq!(callee_state(&w, &key), R::Accepted);
    // The lifecycle is over for both.
    assert_eq!(
        w.clients[0].cancel_local_invitation(w.now, inv),
        Err(E::AlreadyEnd)
    );
    assert_eq!(
        w.clients[1].refuse_remote_invitation(w.now, &key),
        Err(E::AlreadyEnd)
    );
}

#[test]
fn refuse() {
    let mut w = pair();
    let (_, key) = ring(&mut w, "");
    calls(&mut w, 0);
    w.clients[1]
        .set_remote_invitation_response(&key, "busy")
        .unwrap();
    w.clients[1].refuse_remote_invitation(w.now, &key).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 0), ["refused: busy"]);
    assert_eq!(calls(&mut w, 1), ["invited by alice: ", "refused"]);
}

#[test]
fn cancel_before_and_after_the_peer_received_it() {
    let mut w = pair();
    let (inv, _) = ring(&mut w, "call");
    w.clients[0].cancel_local_invitation(w.now, inv).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 0), ["received by peer", "canceled"]);
    assert_eq!(
        calls(&mut w, 1),
        ["invited by alice: call", "canceled: call"]
    );
    // Cancel before send, and send twice.
    let fresh = w.clients[0].create_local_invitation("bob").unwrap();
    assert_eq!(
        w.clients[0].cancel_local_invitation(w.now, fresh),
        Err(E::NotStarted)
    );
    w.clients[0].send_local_invitation(w.now, fresh).unwrap();
    assert_eq!(
        w.clients[0].send_local_invitation(w.now, fresh),
        Err(E::AlreadySent)
    );
}

#[test]
fn a_cancel_crossing_an_accept_ends_the_same_way_on_both_sides() {
    let mut w = pair();
    let (inv, key) = ring(&mut w, "");
    calls(&mut w, 0);
    calls(&mut w, 1);
    // Both act before either hears from the other: the cancel reaches the server first.
    w.clients[0].cancel_local_invitation(w.now, inv).unwrap();
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 0), ["canceled"]);
    assert_eq!(calls(&mut w, 1), ["canceled: "]);
    assert_eq!(callee_state(&w, &key), R::Canceled);
}

#[test]
fn an_offline_callee_fails_with_peer_offline_after_30_s() {
    let mut w = pair();
    w.clients[1].logout(w.now).unwrap();
    w.settle();
    let (inv, _) = ring(&mut w, "");
    w.advance(29_999);
    assert_eq!(calls(&mut w, 0), Vec::<String>::new());
    w.advance(1);
    assert_eq!(calls(&mut w, 0), [format!("failure {:?}", LF::PeerOffline)]);
    assert_eq!(caller_state(&w, inv), L::Failure);
}

#[test]
fn a_callee_that_logs_in_within_30_s_still_gets_it() {
    let mut w = pair();
    w.clients[1].logout(w.now).unwrap();
    w.settle();
    ring(&mut w, "hello");
    w.advance(10_000);
    w.clients[1].login(w.now, "bob", None).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 1), ["invited by alice: hello"]);
    assert_eq!(calls(&mut w, 0), ["received by peer"]);
}

#[test]
fn nobody_deciding_expires_both_sides_after_60_s() {
    let mut w = pair();
    ring(&mut w, "");
    calls(&mut w, 0);
    calls(&mut w, 1);
    w.advance(59_999);
    assert_eq!(calls(&mut w, 0), Vec::<String>::new());
    w.advance(1);
    assert_eq!(
        calls(&mut w, 0),
        [format!("failure {:?}", LF::InvitationExpire)]
    );
    assert_eq!(
        calls(&mut w, 1),
        [format!("failure {:?}", RF::InvitationExpire)]
    );
}

#[test]
fn a_callee_whose_client_never_acknowledges_is_no_response() {
    let mut w = pair();
    // Bob's link is dead but the server does not know yet: the push goes nowhere.
    w.set_mode(1, LinkMode::Blackhole);
    ring(&mut w, "");
    w.advance(30_000);
    let caller = calls(&mut w, 0);
    // Bob went silent for 30 s too, so his session may have ended first: either way the
    // caller hears a failure that names the callee.
    assert!(
        caller == [format!("failure {:?}", LF::PeerNoResponse)]
            || caller == [format!("failure {:?}", LF::PeerOffline)],
        "{caller:?}"
    );
}

#[test]
fn the_caller_going_offline_mid_ring_fails_both_sides() {
    let mut w = pair();
    let (inv, key) = ring(&mut w, "");
    calls(&mut w, 1);
    w.clients[0].logout(w.now).unwrap();
    w.advance(3_000);
    assert_eq!(
        calls(&mut w, 0),
        [
            "received by peer",
            &format!("failure {:?}", LF::NotLoggedin)
        ]
    );
    assert_eq!(calls(&mut w, 1), [format!("failure {:?}", RF::PeerOffline)]);
    assert_eq!(
        w.clients[1].accept_remote_invitation(w.now, &key),
        Err(E::AlreadyEnd)
    );
    assert_eq!(caller_state(&w, inv), L::Failure);
}

#[test]
fn accepting_while_the_caller_is_away_fails_with_accept_failure_after_5_s() {
    let mut w = pair();
    let (_, key) = ring(&mut w, "");
    calls(&mut w, 0);
    calls(&mut w, 1);
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    w.advance(5_000);
    assert_eq!(
        calls(&mut w, 1),
        [format!("failure {:?}", RF::AcceptFailure)]
    );
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(
        calls(&mut w, 0),
        [format!("failure {:?}", LF::NotLoggedin)],
        "the caller hears the same decision"
    );
}

#[test]
fn a_caller_back_within_5_s_completes_the_accept() {
    let mut w = pair();
    let (_, key) = ring(&mut w, "");
    calls(&mut w, 0);
    calls(&mut w, 1);
    w.reset_link(0); // a short break: alice reconnects within a second
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    w.advance(3_000);
    assert_eq!(calls(&mut w, 1), ["accepted"]);
    assert_eq!(calls(&mut w, 0), ["accepted: "]);
}

#[test]
fn a_callee_reconnecting_mid_ring_keeps_the_invitation() {
    let mut w = pair();
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    let (_, key) = ring(&mut w, "x");
    w.advance(3_000);
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    assert_eq!(calls(&mut w, 1), ["invited by alice: x"]);
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 0), ["received by peer", "accepted: "]);
}

#[test]
fn several_invitations_at_once_to_the_same_callee_are_independent() {
    let mut w = pair();
    let (a, ka) = ring(&mut w, "one");
    let (b, _) = ring(&mut w, "two");
    assert_ne!(a, b);
    w.clients[1].refuse_remote_invitation(w.now, &ka).unwrap();
    w.settle();
    assert_eq!(caller_state(&w, a), L::RefusedByRemote);
    assert_eq!(caller_state(&w, b), L::ReceivedByRemote);
}

#[test]
fn sending_while_logged_out_fails_with_not_logged_in_and_misuse_has_codes() {
    let mut w = World::new(1);
    let inv = w.clients[0].create_local_invitation("bob").unwrap();
    assert_eq!(
        w.clients[0].create_local_invitation("null"),
        Err(E::InvalidArgument)
    );
    w.clients[0]
        .set_local_invitation_content(inv, &"x".repeat(8 * 1024 + 1))
        .unwrap();
    assert_eq!(
        w.clients[0].send_local_invitation(w.now, inv),
        Err(E::InvalidArgument)
    );
    w.clients[0]
        .set_local_invitation_content(inv, "ok")
        .unwrap();
    w.clients[0].send_local_invitation(w.now, inv).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 0), [format!("failure {:?}", LF::NotLoggedin)]);
    assert_eq!(
        w.clients[0].send_local_invitation(w.now, inv),
        Err(E::AlreadyEnd)
    );
}

/// Found by reading the simulator's report: invitations created and never sent were never
/// forgotten. The newest 128 unsent ones are kept.
#[test]
fn regression_unsent_invitations_are_bounded_oldest_forgotten_first() {
    let mut w = World::new(1);
    let first = w.clients[0].create_local_invitation("bob").unwrap();
    let ids: Vec<InvitationId> = (0..200)
        .map(|_| w.clients[0].create_local_invitation("bob").unwrap())
        .collect();
    assert!(
        w.clients[0].local_invitation(first).is_none(),
        "the oldest went"
    );
    assert!(
        w.clients[0]
            .local_invitation(*ids.last().unwrap())
            .is_some(),
        "the newest stays"
    );
    let kept = ids
        .iter()
        .filter(|i| w.clients[0].local_invitation(**i).is_some())
        .count();
    assert_eq!(kept, 128);
}

/// The design allowance (PROTOCOL.md, "The one pair that may disagree"; simulator seed
/// 1041): a caller that logs out while it cannot hear the server ends its invitation itself
/// (NOT_LOGGEDIN); the callee's acceptance, decided while the caller's link was already
/// dead, stands. The side that disagrees is the one that left.
#[test]
fn a_logout_while_unreachable_ends_locally_and_the_decision_on_its_way_stands() {
    let mut w = pair();
    let (_, key) = ring(&mut w, "");
    calls(&mut w, 0);
    calls(&mut w, 1);
    w.set_mode(0, LinkMode::Blackhole); // dead, but the server does not know yet
    w.clients[1].accept_remote_invitation(w.now, &key).unwrap();
    w.settle();
    assert_eq!(calls(&mut w, 1), ["accepted"]);
    w.clients[0].logout(w.now).unwrap();
    w.advance(3_000);
    assert_eq!(calls(&mut w, 0), [format!("failure {:?}", LF::NotLoggedin)]);
}
