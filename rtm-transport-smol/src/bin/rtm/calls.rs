//! `rtm call` and `rtm answer`.

use rtm_proto::{LocalInvitationEvent, RemoteInvitationEvent};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_signal::Signals;
use futures_lite::future;
use rtm_proto::Event;
use serde_json::{json, Value};

use crate::json::{event_json, merge, op_err, op_ok, report};
use crate::{interrupted, is_aborted, session, Cli, EventLog};

/// `rtm call` exit statuses besides 0 (accepted) and 1 (could not call).
const REFUSED: u8 = 3;
const CANCELED: u8 = 4;
const FAILED: u8 = 5;
/// After a cancel, how long to wait for the outcome before giving up on it.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// What woke a wait.
enum Next {
    Event(Event),
    /// Ctrl-C, SIGTERM, or the time limit.
    Stop,
    /// The event stream ended.
    Closed,
}

/// A timer at `deadline`, never without one.
fn timer(deadline: Option<Instant>) -> smol::Timer {
    deadline.map_or_else(smol::Timer::never, smol::Timer::at)
}

/// The next event of `log`, or [`Next::Stop`] at Ctrl-C / SIGTERM or at `deadline` (never
/// without one): every wait of `call` and `answer` is this one.
async fn next(log: &EventLog, signals: &mut Signals, deadline: Option<Instant>) -> Next {
    future::or(
        async { log.next().await.map_or(Next::Closed, Next::Event) },
        async {
            future::or(interrupted(signals), async {
                timer(deadline).await;
            })
            .await;
            Next::Stop
        },
    )
    .await
}

fn seconds(secs: Option<f64>) -> Option<Instant> {
    secs.and_then(|s| Duration::try_from_secs_f64(s).ok())
        .and_then(|d| Instant::now().checked_add(d))
}

/// `rtm call CALLEE [--content TEXT] [--channel-id ID] [--timeout SECS]`.
pub async fn call(
    cli: &Cli,
    uid: &str,
    callee: &str,
    content: &str,
    channel_id: &str,
    timeout: Option<f64>,
) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let invitation = match client.create_local_invitation(callee) {
        Ok(i) => i,
        Err(e) => {
            let fields = json!({ "callee_id": callee });
            log.print(&op_err("create_local_invitation", e.code(), &e, fields));
            log.logout(&client).await;
            return ExitCode::FAILURE;
        }
    };
    let id = invitation.id();
    // The invitation's events also name the callee.
    let callee_id = callee.to_string();
    log.set_format(move |event| {
        let mut v = event_json(event);
        if event.local_invitation() == Some(id) {
            merge(&mut v, json!({ "callee_id": callee_id }));
        }
        v
    });
    let fields = json!({ "callee_id": callee, "invitation": id.0 });
    let prepared = invitation
        .set_content(content)
        .map_err(|e| ("set_content", e))
        .and_then(|()| {
            invitation
                .set_channel_id(channel_id)
                .map_err(|e| ("set_channel_id", e))
        })
        .and_then(|()| invitation.send().map_err(|e| ("send_local_invitation", e)));
    if let Err((op, e)) = prepared {
        log.print(&op_err(op, e.code(), &e, fields));
        log.logout(&client).await;
        return ExitCode::FAILURE;
    }
    log.print(&op_ok("send_local_invitation", fields.clone()));

    let mut deadline = seconds(timeout);
    let mut canceling = false;
    let code = loop {
        // Ctrl-C or the time limit cancels; once canceling, a second Ctrl-C (or CANCEL_WAIT)
        // stops waiting for the outcome.
        match next(&log, &mut signals, deadline).await {
            Next::Event(event) => {
                if event.local_invitation() == Some(id) {
                    match event {
                        Event::LocalInvitation {
                            event: LocalInvitationEvent::Accepted { .. },
                            ..
                        } => break ExitCode::SUCCESS,
                        Event::LocalInvitation {
                            event: LocalInvitationEvent::Refused { .. },
                            ..
                        } => break ExitCode::from(REFUSED),
                        Event::LocalInvitation {
                            event: LocalInvitationEvent::Canceled,
                            ..
                        } => break ExitCode::from(CANCELED),
                        Event::LocalInvitation {
                            event: LocalInvitationEvent::Failure { .. },
                            ..
                        } => break ExitCode::from(FAILED),
                        _ => {}
                    }
                } else if is_aborted(&event) {
                    break ExitCode::FAILURE;
                }
            }
            Next::Stop if !canceling => {
                canceling = true;
                deadline = Instant::now().checked_add(CANCEL_WAIT);
                // If it already ended, the outcome is in the events.
                let canceled = invitation.cancel();
                let print = |v: &Value| log.print(v);
                report(
                    &print,
                    "cancel_local_invitation",
                    fields.clone(),
                    canceled,
                    |()| json!({}),
                );
            }
            Next::Stop | Next::Closed => break ExitCode::FAILURE,
        }
    };
    log.logout(&client).await;
    code
}

/// `rtm answer [--accept | --refuse] [--response TEXT] [--timeout SECS]`.
pub async fn answer(
    cli: &Cli,
    uid: &str,
    accept: bool,
    response: &str,
    timeout: Option<f64>,
) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let deadline = seconds(timeout);

    // Wait for an invitation, printing whatever comes before it.
    let key = loop {
        match next(&log, &mut signals, deadline).await {
            Next::Event(Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Received { .. },
            }) => break invitation,
            Next::Event(event) if is_aborted(&event) => return ExitCode::FAILURE,
            Next::Event(_) => {}
            Next::Stop | Next::Closed => {
                log.logout(&client).await;
                return ExitCode::FAILURE;
            }
        }
    };

    let fields = json!({ "caller_id": key.caller.as_str(), "invitation": key.invitation });
    let Some(invitation) = client.remote_invitation(&key) else {
        log.logout(&client).await;
        return ExitCode::FAILURE;
    };
    let op = if accept {
        "accept_remote_invitation"
    } else {
        "refuse_remote_invitation"
    };
    let result = invitation
        .set_response(response)
        .map_err(|e| ("set_response", e))
        .and_then(|()| {
            let answered = if accept {
                invitation.accept()
            } else {
                invitation.refuse()
            };
            answered.map_err(|e| (op, e))
        });
    match result {
        Ok(()) => log.print(&op_ok(op, fields)),
        // E.g. already canceled by the caller: the outcome is in the events.
        Err((op, e)) => log.print(&op_err(op, e.code(), &e, fields)),
    }

    // Wait for the outcome.
    let code = loop {
        let event = match next(&log, &mut signals, None).await {
            Next::Event(event) => event,
            Next::Stop | Next::Closed => break ExitCode::FAILURE,
        };
        let took_effect = match &event {
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Accepted,
            } if *invitation == key => Some(accept),
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Refused,
            } if *invitation == key => Some(!accept),
            Event::RemoteInvitation {
                invitation,
                event:
                    RemoteInvitationEvent::Canceled { .. } | RemoteInvitationEvent::Failure { .. },
            } if *invitation == key => Some(false),
            _ if is_aborted(&event) => Some(false),
            _ => None,
        };
        match took_effect {
            Some(true) => break ExitCode::SUCCESS,
            Some(false) => break ExitCode::FAILURE,
            None => {}
        }
    };
    log.logout(&client).await;
    code
}
