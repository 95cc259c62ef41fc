//! One invitation as the server sees it: a [`Phase`] whose states hold their own data, and
//! [`step`], the pure transition function every ask, session change and deadline goes
//! through. What each side is told (`local_invitation` / `remote_invitation`) is derived
//! from the phase, never stored beside it. The server glue (records, timers, pushes) is
//! `invitations.rs`.

use crate::invitation::{
    LocalInvitationFailureReason as LocalWhy, LocalInvitationState as L,
    RemoteInvitationFailureReason as RemoteWhy, RemoteInvitationState as R,
};

/// Where one invitation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Phase {
    /// The callee had no session: waiting (≤ 30 s) for it to log in.
    Pending,
    /// Pushed to the callee, not acknowledged.
    Ringing,
    /// Acknowledged by the callee.
    Received,
    /// Accepted while the caller's session was detached; waiting ≤ 5 s for it.
    AwaitCaller { response: String },
    /// Decided, once: what the caller was told, and what the callee was told if it ever saw
    /// the invitation.
    Decided {
        local: L,
        response: String,
        local_why: Option<LocalWhy>,
        remote: Option<(R, Option<RemoteWhy>)>,
    },
}

/// Whose session an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Caller,
    Callee,
}

/// The caller's session when the callee accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallerSession {
    Attached,
    Detached,
    Gone,
}

/// A deadline of the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deadline {
    /// 30 s after the invite: delivered and acknowledged by now, or it fails.
    Ack,
    /// 60 s after the invite: decided by now, or it expires.
    Expiry,
    /// 5 s after an accept that waits for the caller.
    AcceptConfirm,
}

/// What happens to an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// The caller sent the `invite` again (its answer may have been lost).
    Reinvited,
    /// Pushed to the callee's session.
    Delivered,
    /// The callee acknowledged the push.
    Acked,
    /// The callee accepted or refused.
    Answered {
        accept: bool,
        response: String,
        caller: CallerSession,
    },
    /// The caller cancelled.
    Cancelled,
    /// The caller's session resumed.
    CallerBack,
    /// A side's session ended.
    SessionEnded(Side),
    Expired(Deadline),
}

/// What the server does after a step, besides storing the new phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    Nothing,
    /// Push the invitation to the callee.
    Ring,
    /// Tell the caller its invitation's new state.
    TellCaller,
    /// Arm [`Deadline::AcceptConfirm`].
    AwaitCaller,
    /// Tell both sides the decision (the callee only if it saw the invitation).
    Decided,
    /// A repeated ask of a decided invitation: tell that side again (if its last push is
    /// no longer in its stream).
    TellCallerAgain,
    TellCalleeAgain,
}

impl Phase {
    /// Whether the callee has seen the invitation.
    pub(super) fn delivered(&self) -> bool {
        match self {
            Phase::Pending => false,
            Phase::Ringing | Phase::Received | Phase::AwaitCaller { .. } => true,
            Phase::Decided { remote, .. } => remote.is_some(),
        }
    }

    pub(super) fn is_decided(&self) -> bool {
        matches!(self, Phase::Decided { .. })
    }

    /// The response text the record holds.
    pub(super) fn response(&self) -> &str {
        match self {
            Phase::AwaitCaller { response } | Phase::Decided { response, .. } => response,
            _ => "",
        }
    }

    /// What the caller is told: state, response, failure reason.
    pub(super) fn local_view(&self) -> (L, &str, Option<LocalWhy>) {
        match self {
            Phase::Pending | Phase::Ringing => (L::SentToRemote, "", None),
            Phase::Received | Phase::AwaitCaller { .. } => (L::ReceivedByRemote, "", None),
            Phase::Decided {
                local,
                response,
                local_why,
                ..
            } => (*local, response, *local_why),
        }
    }

    /// What the callee is told, if it has seen the invitation.
    pub(super) fn remote_view(&self) -> Option<(R, Option<RemoteWhy>)> {
        match self {
            Phase::Pending => None,
            Phase::Ringing | Phase::Received => Some((R::InvitationReceived, None)),
            Phase::AwaitCaller { .. } => Some((R::AcceptSentToLocal, None)),
            Phase::Decided { remote, .. } => *remote,
        }
    }

    /// The failure each side sees.
    fn failed(&self, local_why: LocalWhy, remote_why: Option<RemoteWhy>) -> Phase {
        self.decide(
            L::Failure,
            String::new(),
            Some(local_why),
            R::Failure,
            remote_why,
        )
    }

    fn decide(
        &self,
        local: L,
        response: String,
        local_why: Option<LocalWhy>,
        remote: R,
        remote_why: Option<RemoteWhy>,
    ) -> Phase {
        debug_assert!(!self.is_decided(), "an invitation is decided once");
        Phase::Decided {
            local,
            response,
            local_why,
            remote: self.delivered().then_some((remote, remote_why)),
        }
    }
}

/// The transition function: the next phase (`None`: unchanged) and what to do about it.
/// The server decides in the order things reach it; the first decision stands and later
/// asks only hear it again.
pub(super) fn step(phase: &Phase, input: Input) -> (Option<Phase>, Effect) {
    use Phase as P;
    let decided = |next: Phase| (Some(next), Effect::Decided);
    match (phase, input) {
        (P::Decided { .. }, Input::Reinvited | Input::Cancelled) => (None, Effect::TellCallerAgain),
        (P::Decided { .. }, Input::Answered { .. }) => (None, Effect::TellCalleeAgain),
        (P::Decided { .. }, _) => (None, Effect::Nothing),
        (P::Pending, Input::Delivered) => (Some(P::Ringing), Effect::Ring),
        (P::Ringing, Input::Acked) => (Some(P::Received), Effect::TellCaller),
        (
            P::Ringing | P::Received,
            Input::Answered {
                accept,
                response,
                caller,
            },
        ) => match (accept, caller) {
            (false, _) => {
                decided(phase.decide(L::RefusedByRemote, response, None, R::Refused, None))
            }
            (true, CallerSession::Attached) => {
                decided(phase.decide(L::AcceptedByRemote, response, None, R::Accepted, None))
            }
            (true, CallerSession::Detached) => {
                (Some(P::AwaitCaller { response }), Effect::AwaitCaller)
            }
            (true, CallerSession::Gone) => {
                decided(phase.failed(LocalWhy::NotLoggedin, Some(RemoteWhy::PeerOffline)))
            }
        },
        // An answer to an invitation the callee was not shown, or a second one while an
        // accept waits: tell the callee where it stands.
        (_, Input::Answered { .. }) => (None, Effect::TellCalleeAgain),
        (_, Input::Cancelled) => {
            decided(phase.decide(L::Canceled, String::new(), None, R::Canceled, None))
        }
        (P::AwaitCaller { response }, Input::CallerBack) => decided(phase.decide(
            L::AcceptedByRemote,
            response.clone(),
            None,
            R::Accepted,
            None,
        )),
        (P::AwaitCaller { .. }, Input::SessionEnded(Side::Caller))
        | (P::AwaitCaller { .. }, Input::Expired(Deadline::AcceptConfirm)) => {
            decided(phase.failed(LocalWhy::NotLoggedin, Some(RemoteWhy::AcceptFailure)))
        }
        (_, Input::SessionEnded(Side::Caller)) => {
            decided(phase.failed(LocalWhy::NotLoggedin, Some(RemoteWhy::PeerOffline)))
        }
        (P::Ringing | P::Received | P::AwaitCaller { .. }, Input::SessionEnded(Side::Callee)) => {
            decided(phase.failed(LocalWhy::PeerOffline, Some(RemoteWhy::PeerOffline)))
        }
        (P::Pending, Input::Expired(Deadline::Ack)) => {
            decided(phase.failed(LocalWhy::PeerOffline, None))
        }
        (P::Ringing, Input::Expired(Deadline::Ack)) => {
            decided(phase.failed(LocalWhy::PeerNoResponse, Some(RemoteWhy::InvitationExpire)))
        }
        (P::Received, Input::Expired(Deadline::Expiry)) => decided(phase.failed(
            LocalWhy::InvitationExpire,
            Some(RemoteWhy::InvitationExpire),
        )),
        _ => (None, Effect::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `inputs` from `Pending`, returning the phase and every effect.
    fn run(inputs: impl IntoIterator<Item = Input>) -> (Phase, Vec<Effect>) {
        let mut phase = Phase::Pending;
        let mut effects = Vec::new();
        for input in inputs {
            let (next, effect) = step(&phase, input);
            if let Some(next) = next {
                phase = next;
            }
            effects.push(effect);
        }
        (phase, effects)
    }

    fn accept(caller: CallerSession) -> Input {
        Input::Answered {
            accept: true,
            response: "ok".into(),
            caller,
        }
    }

    #[test]
    fn ring_ack_accept_is_accepted_on_both_sides() {
        let (phase, effects) = run([
            Input::Delivered,
            Input::Acked,
            accept(CallerSession::Attached),
        ]);
        assert_eq!(effects, [Effect::Ring, Effect::TellCaller, Effect::Decided]);
        assert_eq!(phase.local_view(), (L::AcceptedByRemote, "ok", None));
        assert_eq!(phase.remote_view(), Some((R::Accepted, None)));
    }

    #[test]
    fn the_first_decision_stands_and_later_asks_hear_it_again() {
        let (phase, effects) = run([
            Input::Delivered,
            Input::Cancelled,
            accept(CallerSession::Attached),
            Input::Cancelled,
            Input::Expired(Deadline::Expiry),
        ]);
        assert_eq!(
            effects,
            [
                Effect::Ring,
                Effect::Decided,
                Effect::TellCalleeAgain,
                Effect::TellCallerAgain,
                Effect::Nothing
            ]
        );
        assert_eq!(phase.local_view().0, L::Canceled);
        assert_eq!(phase.remote_view(), Some((R::Canceled, None)));
    }

    #[test]
    fn a_callee_that_never_saw_it_is_never_told() {
        let (phase, _) = run([Input::Expired(Deadline::Ack)]);
        assert_eq!(
            phase.local_view(),
            (L::Failure, "", Some(LocalWhy::PeerOffline))
        );
        assert_eq!(phase.remote_view(), None);
        assert!(!phase.delivered());
    }

    #[test]
    fn an_accept_while_the_caller_is_away_waits_for_it() {
        let waiting = [Input::Delivered, accept(CallerSession::Detached)];
        let (phase, effects) = run(waiting.clone());
        assert_eq!(effects, [Effect::Ring, Effect::AwaitCaller]);
        assert_eq!(phase.remote_view(), Some((R::AcceptSentToLocal, None)));

        let (back, _) = run(waiting.clone().into_iter().chain([Input::CallerBack]));
        assert_eq!(back.local_view(), (L::AcceptedByRemote, "ok", None));

        let (late, _) = run(waiting
            .into_iter()
            .chain([Input::Expired(Deadline::AcceptConfirm)]));
        assert_eq!(late.local_view().2, Some(LocalWhy::NotLoggedin));
        assert_eq!(
            late.remote_view(),
            Some((R::Failure, Some(RemoteWhy::AcceptFailure)))
        );
    }

    #[test]
    fn deadlines_fail_only_the_phase_they_guard() {
        let (ringing, _) = run([Input::Delivered, Input::Expired(Deadline::Ack)]);
        assert_eq!(ringing.local_view().2, Some(LocalWhy::PeerNoResponse));
        let (received, _) = run([
            Input::Delivered,
            Input::Acked,
            Input::Expired(Deadline::Ack),
        ]);
        assert_eq!(received, Phase::Received, "acknowledged in time");
        let (expired, _) = run([
            Input::Delivered,
            Input::Acked,
            Input::Expired(Deadline::Expiry),
        ]);
        assert_eq!(
            expired.remote_view(),
            Some((R::Failure, Some(RemoteWhy::InvitationExpire)))
        );
    }

    #[test]
    fn a_session_ending_fails_the_open_invitation_with_each_sides_reason() {
        let (callee_gone, _) = run([Input::Delivered, Input::SessionEnded(Side::Callee)]);
        assert_eq!(
            callee_gone.remote_view(),
            Some((R::Failure, Some(RemoteWhy::PeerOffline)))
        );
        let (pending, _) = run([Input::SessionEnded(Side::Callee)]);
        assert_eq!(pending, Phase::Pending, "it may still log in");
        let (caller_gone, _) = run([Input::SessionEnded(Side::Caller)]);
        assert_eq!(caller_gone.local_view().2, Some(LocalWhy::NotLoggedin));
    }
}
