//! The client fed hand-made server frames: regressions the `client_inputs` fuzzer found.

use bytes::Bytes;
use rtm_proto::client::{
    ClientConfig, ClientInput, ClientOutput, ConnectionChangeReason as R, ConnectionState as S,
    Event, Response, TransportId,
};
use rtm_proto::{Client, LoginError, Message, Timestamp};

struct Fixture {
    c: Client,
    now: Timestamp,
    t: TransportId,
    out: Vec<ClientOutput>,
}

impl Fixture {
    /// A client logged in over transport `t`.
    fn logged_in() -> Self {
        let now = Timestamp::ZERO;
        let mut c = Client::new(ClientConfig::default(), 9, now, 1_750_000_000_000);
        c.login(now, "alice", None).unwrap();
        let mut f = Fixture {
            c,
            now,
            t: TransportId(0),
            out: Vec::new(),
        };
        f.drain();
        let t = f.out.iter().find_map(|o| match o {
            ClientOutput::Connect(t) => Some(*t),
            _ => None,
        });
        f.t = t.unwrap();
        f.input(ClientInput::Opened(f.t));
        let id = f.last_request_id();
        f.frame(&format!(
            r#"{{"type":"login_ok","id":{id},"version":1,"session":"s1","resumed":false,"server_ts":0,"heartbeat_ms":2000,"resend_from":1}}"#
        ));
        f.out.clear();
        f
    }

    fn drain(&mut self) {
        while let Some(o) = self.c.poll_output() {
            self.out.push(o);
        }
    }

    fn input(&mut self, i: ClientInput) {
        self.c.handle_input(self.now, i);
        self.drain();
    }

    fn frame(&mut self, s: &str) {
        self.input(ClientInput::Frame(
            self.t,
            Bytes::copy_from_slice(s.as_bytes()),
        ));
    }

    /// The `id` of the last request frame sent.
    fn last_request_id(&self) -> u64 {
        self.out
            .iter()
            .rev()
            .find_map(|o| match o {
                ClientOutput::Send(_, b) => {
                    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
                    v.get("id")?.as_u64()
                }
                _ => None,
            })
            .unwrap()
    }

    fn responses(&self) -> Vec<Response> {
        self.out
            .iter()
            .filter_map(|o| match o {
                ClientOutput::Event(Event::Response { response, .. }) => Some(response.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn regression_close_after_closed_in_drain() {
    let mut f = Fixture::logged_in();
    f.c.logout(f.now).unwrap();
    f.drain();
    f.out.clear();
    let t = f.t;
    f.input(ClientInput::Closed(t));
    assert!(
        !f.out.iter().any(|o| matches!(o, ClientOutput::Close(..))),
        "{:?}",
        f.out
    );
}

#[test]
fn regression_link_lost_while_draining() {
    let mut f = Fixture::logged_in();
    f.c.logout(f.now).unwrap();
    f.drain();
    f.frame("not json");
    assert_eq!(f.c.connection_state(), S::Disconnected);
    assert_eq!(
        f.c.poll_timeout(),
        None,
        "nothing left to do: no deadline to busy-loop on"
    );
}

#[test]
fn regression_kicked_before_login_ok() {
    let now = Timestamp::ZERO;
    let mut c = Client::new(ClientConfig::default(), 9, now, 0);
    let req = c.login(now, "alice", None).unwrap();
    c.handle_input(now, ClientInput::Opened(TransportId(1)));
    c.handle_input(
        now,
        ClientInput::Frame(
            TransportId(1),
            Bytes::from_static(br#"{"type":"kicked","reason":"remote_login"}"#),
        ),
    );
    let events: Vec<Event> = std::iter::from_fn(|| c.poll_output())
        .filter_map(|o| match o {
            ClientOutput::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        vec![
            Event::ConnectionStateChanged {
                state: S::Connecting,
                reason: R::Login
            },
            Event::Response {
                request: req,
                response: Response::Login(Err(LoginError::Rejected))
            },
            Event::ConnectionStateChanged {
                state: S::Disconnected,
                reason: R::LoginFailure
            },
        ]
    );
}

#[test]
fn regression_mismatched_answer_drops_request() {
    let mut f = Fixture::logged_in();
    f.c.send_message_to_peer(f.now, "bob", Message::text("hi"), Default::default())
        .unwrap();
    f.drain();
    let id = f.last_request_id();
    f.out.clear();
    // A wrong kind of answer is ignored: the request still waits…
    f.frame(&format!(r#"{{"type":"ok","id":{id}}}"#));
    assert!(f.responses().is_empty());
    // …for its real answer.
    f.frame(&format!(
        r#"{{"type":"peer_message_result","id":{id},"outcome":"received"}}"#
    ));
    assert_eq!(
        f.responses(),
        vec![Response::SendMessageToPeer(Ok(
            rtm_proto::PeerMessageOutcome::Received
        ))]
    );
}
