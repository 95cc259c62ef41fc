//! The event loop: virtual time, one heap ordered by (time, sequence number), every node's
//! output drained in node order after every input, and invariants checked after every step.
//!
//! Nodes are the real [`rtm_proto::Server`] (node 0) and the real [`rtm_proto::Client`]s
//! (nodes 1..), driven only through `handle_input` / `poll_output` / `poll_timeout` and the
//! client's command methods. What the server decided (its sessions, channel members,
//! epochs and attributes, where a member starts, what it replays) is read through its
//! read-only view ([`rtm_proto::server::Observer`]), never re-derived. Frames on the wire
//! are decoded only where they are the outcome being checked: the requests the server
//! handles and the answers and pushes their senders and members got in that step, the
//! `login_ok` a client got (its session), `kicked`, and the frames peeked by `"type"`. The
//! events the clients emit are checked against a reference model ([`crate::model`]).

use rtm_proto::ChannelEvent;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::time::Instant;

use rtm_proto::client::{ClientConfig, ClientInput, ClientOutput, Event, Response};
use rtm_proto::server::{ConnId, Server, ServerConfig, ServerInput, ServerOutput};
use rtm_proto::wire::{ClientFrame, KickReason, LoginFrame, ServerFrame, MAX_FRAME_BYTES};
use rtm_proto::wire::{Notice, Reply};
use rtm_proto::{
    Client, ConnectionState as State, Message, PeerMessageOutcome, PeerOnlineState, Timestamp,
    UserId,
};

use crate::config::{NameStyle, SimConfig};
use crate::entropy::{derive, Source};
use crate::model::{allowed_transition, sid_hash, Delivery, MsgRec, Outcome, SessModel, UserRec};
use crate::net::{Conn, Item};
use crate::trace::{ClientInRec, Rec, ServerInRec, Trace};
use rtm_proto::wire::frame_type;

/// Wall clock (Unix ms) at simulated time zero.
pub const UNIX_ORIGIN_MS: u64 = 1_700_000_000_000;
/// Most outputs one node may produce for one input before the run is declared runaway.
const MAX_OUTPUTS_PER_STEP: usize = 50_000;
/// Most consecutive ticks of one node at one instant (a tick at the deadline must progress).
const MAX_SAME_INSTANT_TICKS: u32 = 3;
/// Period of the full sweeps (liveness reference, presence truth, convergence).
const SWEEP_MS: u64 = 1_000;
/// Most messages one run may send (bounds the model).
const MAX_MESSAGES: usize = 400_000;

/// Scheduled happenings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ev {
    /// Deliver the front item of one connection direction (`at` guards staleness).
    Pump {
        conn: u64,
        up: bool,
        at: u64,
    },
    /// A refused connect: the client learns its transport closed.
    Refused {
        conn: u64,
    },
    ClientTick {
        node: usize,
        gen: u64,
    },
    ServerTick {
        gen: u64,
    },
    Work {
        node: usize,
        gen: u64,
    },
    Fault,
    Restart {
        incarnation: u32,
    },
    Heal,
    Sweep,
    /// A callee answers (or not) invitation `inv`, as planned.
    InvAnswer {
        inv: usize,
    },
    /// A caller cancels invitation `inv`.
    InvCancel {
        inv: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for earliest (time, seq) first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// When a node's next tick is scheduled.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TickState {
    pub gen: u64,
    pub at: Option<u64>,
    /// Consecutive ticks at `last_tick_at`.
    pub same_instant: u32,
    pub last_tick_at: u64,
    /// The current step's input was a tick of this node.
    pub ticked: bool,
}

/// What a command is waiting for.
#[derive(Debug, Clone)]
pub(crate) enum Pend {
    Login,
    Renew,
    Send {
        msg: usize,
    },
    Query {
        peers: Vec<usize>,
        issued: u64,
        probe: bool,
    },
    Subscribe {
        peers: Vec<usize>,
        cursors: Vec<u64>,
    },
    Unsubscribe {
        peers: Vec<usize>,
    },
    Join {
        chan: usize,
    },
    Leave {
        chan: usize,
    },
    ChannelSend {
        cmsg: usize,
    },
    GetMembers {
        chan: usize,
        probe: bool,
    },
    MemberCount {
        chans: Vec<usize>,
        probe: bool,
    },
    ChannelAttrWrite,
    ChannelAttrGet {
        chan: usize,
        keys: Option<Vec<String>>,
        issued: u64,
        probe: bool,
    },
    UserAttrWrite,
    UserAttrGet {
        user: usize,
        keys: Option<Vec<String>>,
        issued: u64,
        probe: bool,
    },
}

/// The simulator's view of one node's channels (beside the client's own).
#[derive(Debug, Default)]
pub(crate) struct NodeExt {
    /// Channel → the node's current membership stint (see `channels.rs`).
    pub stints: BTreeMap<usize, u64>,
    /// Channels whose join the client confirmed (its `joined` flag).
    pub joined_ok: std::collections::BTreeSet<usize>,
    /// Channels the client left (or gave up joining) with a leave that may have been
    /// dropped (relaxation `channel_leave_lost_after_timeout`).
    pub ghost_chans: std::collections::BTreeSet<usize>,
    /// Channel → when the client's automatic rejoin of it (sent, not yet handled by the
    /// server) times out (relaxation `rejoin_lost_after_timeout`).
    pub rejoin_due: BTreeMap<usize, u64>,
    /// (channel, member) → the membership entry its last MemberJoined/Left matched.
    pub member_cursor: BTreeMap<(usize, usize), u64>,
    /// Channel → the entry its last MemberCountUpdated matched.
    pub count_cursor: BTreeMap<usize, u64>,
    /// Channel → the count its last MemberCountUpdated reported.
    pub last_count: BTreeMap<usize, u32>,
    /// Channels whose last `member_count` pushed to this node's session was the private
    /// one on joining (relaxation `member_count_private_stale`).
    pub count_private: std::collections::BTreeSet<usize>,
    /// Channel → the attribute version its last AttributesUpdated matched.
    pub attr_cursor: BTreeMap<usize, u64>,
    /// Channel → (crashes, instance, cseq) of the last channel message delivered.
    pub last_cseq: BTreeMap<usize, (u32, u64, u64)>,
    /// Since when the node is CONNECTED without interruption.
    pub connected_since: Option<u64>,
    /// Heal phase: joined a channel already.
    pub heal_joined: bool,
    /// Counter for unique attribute values.
    pub writes: u64,
}

/// A request of the channel and attribute families whose frame the server is handling in
/// the current step, with the answer it gave.
#[derive(Debug, Clone)]
pub(crate) struct StepReq {
    pub conn: u64,
    pub node: usize,
    pub user: usize,
    pub id: u32,
    pub kind: ClientFrame,
    pub answer: Option<ServerFrame>,
    /// The first `attributes_updated` pushed in the step.
    pub updated: Option<ServerFrame>,
    /// Connections a `channel_message` push went out on in the step.
    pub pushed_to: Vec<u64>,
    /// In a join's step: the `cseq`s of the replayed messages sent to the joiner.
    pub replayed: Vec<u64>,
    /// In a join's step: the connections a `member_count` went out on.
    pub counts_to: Vec<u64>,
}

/// A subscription as the client should hold it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubView {
    /// The presence history entry the last report matched.
    pub cursor: u64,
    pub last: Option<PeerOnlineState>,
}

/// One client node with the model's view of it.
#[derive(Debug)]
pub(crate) struct ClientNode {
    pub client: Client,
    pub user: usize,
    pub twin: bool,
    pub tick: TickState,
    pub dirty: bool,
    /// State per the events it emitted.
    pub state: State,
    pub outstanding: BTreeMap<u32, Pend>,
    pub subs: BTreeMap<usize, SubView>,
    /// Peers whose subscription state is unknown after a timed-out (un)subscribe.
    pub uncertain: std::collections::BTreeSet<usize>,
    /// Transports open from the client's side.
    pub open_transports: u32,
    pub last_transport: u64,
    /// The server session the client is in: (incarnation, sid hash), from `login_ok`.
    pub session: (u32, u64),
    pub work_gen: u64,
    /// Heal phase: should end logged in.
    pub target_in: bool,
    pub heal_subscribed: bool,
    /// Partition: until, client→server blocked, server→client blocked.
    pub partition: Option<(u64, bool, bool)>,
    pub refuse_until: u64,
    pub outputs_this_step: usize,
    /// Server crashes before the incarnation that sent the frame being handled.
    pub rx_crash: u32,
    /// When it last became DISCONNECTED (a logout drains its link for a bounded time).
    pub disconnected_at: u64,
    /// The connection of the frame being handled.
    pub rx_conn: u64,
    pub ext: NodeExt,
}

/// Phases of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Workload and faults (safety).
    Faults,
    /// Faults healed; converging (liveness).
    Healing,
    /// Converged and quiet for a while (streams acknowledged); peer and presence probe
    /// traffic must succeed.
    Probing,
    /// The peer probes are done; channel, attribute and invitation probes must succeed.
    ProbingFeatures,
    /// Passed.
    Done,
}

/// How the server went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashKind {
    /// The process died: the OS closes its sockets and refuses new connects.
    Process,
    /// The host died: silence both ways until it is back.
    Host,
}

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub events: u64,
    pub sim_ms: u64,
    pub messages: u64,
    pub received: u64,
    pub cached: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub deliveries: u64,
    pub dup_after_crash: u64,
    pub dup_relaxed: u64,
    pub self_kicks_relaxed: u64,
    pub close_after_closed_relaxed: u64,
    pub logins: u64,
    pub connects: u64,
    pub refused: u64,
    pub resets: u64,
    pub half_open: u64,
    pub stalls: u64,
    pub partitions: u64,
    pub slow: u64,
    pub driver_closes: u64,
    pub crashes: u64,
    pub kicks: u64,
    pub presence_reports: u64,
    pub queries: u64,
    pub frames: u64,
    pub joins: u64,
    pub leaves: u64,
    pub channel_messages: u64,
    pub channel_accepted: u64,
    pub channel_deliveries: u64,
    pub channel_replayed: u64,
    pub channel_dup_after_crash: u64,
    pub channel_gc: u64,
    pub attr_writes: u64,
    pub attr_updates: u64,
    pub user_attr_writes: u64,
    pub invitations: u64,
    pub invitations_accepted: u64,
    pub invitations_refused: u64,
    pub invitations_canceled: u64,
    pub invitations_failed: u64,
    /// Relaxed: channel messages missing at a member the server did not push them to at
    /// once (possibly dropped by a full stream).
    pub relaxed_unpushed_drops: u64,
    /// Lags resolved by a catch-up, and held-back channel messages lost to them (outside
    /// the replay window).
    pub channel_catch_ups: u64,
    pub channel_lag_lost: u64,
    /// Relaxed: invitation outcomes that differ because one side ended it locally.
    pub relaxed_invitation_local_end: u64,
    /// Excused: invitation outcomes that differ because a crash lost the server's record.
    pub invitation_crash_excused: u64,
    /// Relaxed: PEER_NO_RESPONSE after the callee's ack was lost and never resent.
    pub relaxed_ack_not_resent: u64,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub seed: u64,
    /// `None` when every invariant held and the run converged.
    pub failure: Option<String>,
    /// The full failure report (seed, replay command, trace), when failed.
    pub report: Option<String>,
    pub trace_hash: u64,
    pub stats: RunStats,
    pub wall: std::time::Duration,
}

impl RunResult {
    /// True when the run passed.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// One simulated world.
#[derive(Debug)]
pub struct Sim {
    pub(crate) cfg: SimConfig,
    pub(crate) now: u64,
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    pub(crate) server: Server,
    pub(crate) server_cfg: ServerConfig,
    pub(crate) server_up: bool,
    pub(crate) crash_kind: CrashKind,
    pub(crate) incarnation: u32,
    server_tick: TickState,
    server_dirty: bool,
    server_outputs: usize,
    pub(crate) server_open_count: usize,
    pub(crate) clients: Vec<ClientNode>,
    dirty_clients: Vec<usize>,
    pub(crate) conns: BTreeMap<u64, Conn>,
    pub(crate) by_transport: BTreeMap<(usize, u64), u64>,
    next_conn: u64,
    pub(crate) net: Source,
    pub(crate) work: Source,
    pub(crate) faults: Source,
    pub(crate) users: Vec<UserRec>,
    pub(crate) user_index: BTreeMap<UserId, usize>,
    pub(crate) msgs: Vec<MsgRec>,
    pair_next: BTreeMap<(usize, usize), u64>,
    pair_delivered: BTreeMap<(usize, usize), u64>,
    pub(crate) crashes: u32,
    truth_seq: u64,
    /// Users whose presence may have changed in this server step (`None`: all).
    affected: Option<Vec<usize>>,
    /// When the state the server holds for users and channels (session ids, user
    /// attributes, channel members) is next compared with the model: once per simulated
    /// second at a full sweep, as a divergence persists (every full sweep cost ~8% of
    /// throughput, as the server ticks many times a second).
    next_held_check: u64,
    /// The connection whose frame is the current server input.
    step_conn: Option<u64>,
    /// The user being banned by the current server input.
    pub(crate) banning: Option<usize>,
    pub(crate) phase: Phase,
    pub(crate) heal_at: u64,
    /// Healing: converged without interruption since then.
    pub(crate) quiet_since: Option<u64>,
    /// Channels of the run (see `channels.rs`).
    pub(crate) chans: Vec<crate::model::ChanModel>,
    pub(crate) chan_index: BTreeMap<rtm_proto::ChannelId, usize>,
    pub(crate) cmsgs: Vec<crate::model::CMsgRec>,
    /// Sequence of channel history entries and attribute versions.
    pub(crate) hist_seq: u64,
    pub(crate) next_stint: u64,
    /// (user, channel) → the member's lag the server reports (see `channels.rs`, "Lags").
    pub(crate) lags: BTreeMap<(usize, usize), crate::model::LagRec>,
    pub(crate) step_req: Option<StepReq>,
    /// The current server input is a timer tick.
    pub(crate) step_tick: bool,
    /// Invitations of the run (see `invitations.rs`).
    pub(crate) invs: Vec<crate::model::InvRec>,
    /// (caller user, caller's number) → invitation.
    pub(crate) inv_index: BTreeMap<(usize, u64), usize>,
    pub(crate) refuse_p: f64,
    pub(crate) trace: Trace,
    pub(crate) stats: RunStats,
    pub(crate) failure: Option<String>,
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn user_name(style: NameStyle, prefix: &str, i: usize) -> String {
    match style {
        NameStyle::Plain => format!("{prefix}{i}"),
        NameStyle::Punctuated => format!("<{prefix}{i}>|~ !#$%&()+-:;=.?@[]^_{{}},"),
        NameStyle::Long => {
            let mut s = format!("{prefix}{i}-");
            while s.len() < rtm_proto::ids::MAX_ID_BYTES {
                s.push('x');
            }
            s
        }
    }
}

impl Sim {
    /// A world for `cfg`, with every choice drawn from the seed.
    pub fn new(cfg: SimConfig) -> Sim {
        let work = Source::seeded(derive(cfg.seed, 2));
        let faults = Source::seeded(derive(cfg.seed, 3));
        Sim::with_sources(cfg, work, faults)
    }

    /// A world whose workload and fault choices come from the given sources.
    pub fn with_sources(cfg: SimConfig, work: Source, faults: Source) -> Sim {
        let k = &cfg.knobs;
        let server_cfg = ServerConfig {
            max_unacked: k.max_unacked,
            offline_per_user: k.offline_per_user,
            // What a resume resends at once is bounded by the send window, not by
            // `max_unacked` (catch-ups, replays and invitation decisions are kept beyond
            // it): the simulated driver holds twice the window, as the smol driver's queue
            // (4096 frames) holds far more than the default window (256). Seed 2002217: a
            // 70-frame driver queue under a 256 window closed every resume.
            send_window: ServerConfig::default()
                .send_window
                .min(k.link_queue_cap / 2),
            channel_attributes_grace: std::time::Duration::from_millis(k.grace_ms),
            ..ServerConfig::default()
        };
        let server = Server::new(
            server_cfg.clone(),
            derive(cfg.seed, 1000),
            ts(0),
            UNIX_ORIGIN_MS,
        );
        let mut truth_seq = 0;
        let mut users = Vec::new();
        let mut user_index = BTreeMap::new();
        for i in 0..cfg.clients + k.ghosts {
            let ghost = i >= cfg.clients;
            let name = if ghost {
                user_name(k.names, "ghost", i - cfg.clients)
            } else {
                user_name(k.names, "u", i)
            };
            let id = UserId::new(name).expect("generated ids are valid");
            user_index.insert(id.clone(), i);
            users.push(UserRec::new(id, ghost, &mut truth_seq));
        }
        let mut clients = Vec::new();
        for node in 0..cfg.clients + k.twins {
            let (user, twin) = if node < cfg.clients {
                (node, false)
            } else {
                ((node - cfg.clients) % cfg.clients, true)
            };
            users[user].nodes.push(node);
            let client = Client::new(
                ClientConfig::default(),
                derive(cfg.seed, 10_000 + node as u64),
                ts(0),
                UNIX_ORIGIN_MS,
            );
            clients.push(ClientNode {
                client,
                user,
                twin,
                tick: TickState::default(),
                dirty: false,
                state: State::Disconnected,
                outstanding: BTreeMap::new(),
                subs: BTreeMap::new(),
                uncertain: Default::default(),
                open_transports: 0,
                last_transport: 0,
                session: (0, 0),
                work_gen: 0,
                target_in: true,
                heal_subscribed: false,
                partition: None,
                refuse_until: 0,
                outputs_this_step: 0,
                rx_crash: 0,
                disconnected_at: 0,
                rx_conn: 0,
                ext: NodeExt::default(),
            });
        }
        let mut chans = Vec::new();
        let mut chan_index = BTreeMap::new();
        for i in 0..k.channels.max(1) {
            let id = rtm_proto::ChannelId::new(user_name(k.names, "ch", i))
                .expect("generated channel ids are valid");
            chan_index.insert(id.clone(), i);
            chans.push(crate::model::ChanModel::new(id));
        }
        let refuse_p = cfg.knobs.refuse_p;
        let trace = Trace::new(cfg.trace_lines);
        Sim {
            now: 0,
            heap: BinaryHeap::new(),
            seq: 0,
            server,
            server_cfg,
            server_up: true,
            crash_kind: CrashKind::Process,
            incarnation: 1,
            server_tick: TickState::default(),
            server_dirty: false,
            server_outputs: 0,
            server_open_count: 0,
            clients,
            dirty_clients: Vec::new(),
            conns: BTreeMap::new(),
            by_transport: BTreeMap::new(),
            next_conn: 1,
            net: Source::seeded(derive(cfg.seed, 1)),
            work,
            faults,
            users,
            user_index,
            msgs: Vec::new(),
            pair_next: BTreeMap::new(),
            pair_delivered: BTreeMap::new(),
            crashes: 0,
            truth_seq,
            affected: Some(Vec::new()),
            next_held_check: 0,
            step_conn: None,
            banning: None,
            phase: Phase::Faults,
            heal_at: 0,
            quiet_since: None,
            chans,
            chan_index,
            cmsgs: Vec::new(),
            hist_seq: 0,
            next_stint: 1,
            lags: BTreeMap::new(),
            step_req: None,
            step_tick: false,
            invs: Vec::new(),
            inv_index: BTreeMap::new(),
            refuse_p,
            trace,
            stats: RunStats::default(),
            failure: None,
            cfg,
        }
    }

    pub(crate) fn schedule(&mut self, at: u64, ev: Ev) {
        debug_assert!(at >= self.now);
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Records an invariant violation (the first one ends the run).
    pub(crate) fn violation(&mut self, what: String) {
        if self.failure.is_none() && std::env::var_os("RTM_SIM_DUMP").is_some() {
            eprintln!("{:#?}", self.server);
        }
        if self.failure.is_none() {
            self.failure = Some(format!("t={}ms: {what}", self.now));
        }
    }

    pub(crate) fn note(&mut self, text: String) {
        self.trace.push(self.now, Rec::Net { text });
    }

    pub(crate) fn node_name(&self, node: usize) -> String {
        let n = &self.clients[node];
        format!(
            "c{node}{}({})",
            if n.twin { "'" } else { "" },
            self.users[n.user].id
        )
    }

    /// Runs to completion: the fault phase, healing, convergence and probes.
    pub fn run(mut self) -> RunResult {
        let started = Instant::now();
        for node in 0..self.clients.len() {
            let d = self.work.below(2_000) + 1;
            self.schedule(d, Ev::Work { node, gen: 0 });
        }
        if self.cfg.knobs.fault_mean_ms > 0 {
            let d = self.faults.exp_ms(self.cfg.knobs.fault_mean_ms);
            self.schedule(d, Ev::Fault);
        }
        self.schedule(self.cfg.fault_ms, Ev::Heal);
        self.schedule(SWEEP_MS, Ev::Sweep);
        self.reschedule_server();

        while let Some(s) = self.heap.pop() {
            if s.at < self.now {
                self.violation(format!(
                    "time went backwards: event at {} < now {}",
                    s.at, self.now
                ));
                break;
            }
            self.now = s.at;
            self.stats.events += 1;
            if self.stats.events > self.cfg.max_events {
                self.violation(format!(
                    "event budget of {} exhausted (runaway or livelock)",
                    self.cfg.max_events
                ));
                break;
            }
            self.dispatch(s.ev);
            self.drain();
            if self.failure.is_some() || self.phase == Phase::Done {
                break;
            }
        }
        if self.failure.is_none() && self.phase != Phase::Done {
            self.violation("event heap ran dry before the run converged".into());
        }
        self.stats.sim_ms = self.now;
        self.finish(started)
    }

    fn finish(self, started: Instant) -> RunResult {
        let report = self.failure.as_ref().map(|f| self.report(f));
        RunResult {
            seed: self.cfg.seed,
            failure: self.failure.clone(),
            report,
            trace_hash: self.trace.hash(),
            stats: self.stats.clone(),
            wall: started.elapsed(),
        }
    }

    fn report(&self, failure: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "=== rtm-sim FAILURE  seed={} ===", self.cfg.seed);
        let _ = writeln!(s, "violation: {failure}");
        let replay = match &self.cfg.replay {
            Some(r) => r.clone(),
            None => {
                let mut r = format!(
                    "cargo run -p rtm-transport-sim --release -- --seed {} --clients {}",
                    self.cfg.seed, self.cfg.clients
                );
                if self.cfg.relax == crate::config::Relaxations::strict() {
                    r.push_str(" --strict");
                } else {
                    // Name every relaxation whose setting differs from the default.
                    let is_on = |r: crate::config::Relaxations, name: &str| {
                        let mut on = r;
                        on.set(name, true);
                        on == r
                    };
                    let d = crate::config::Relaxations::default();
                    for name in crate::config::Relaxations::NAMES {
                        let mine = is_on(self.cfg.relax, name);
                        if mine != is_on(d, name) {
                            let v = if mine { "on" } else { "off" };
                            r.push_str(&format!(" --relax {name}={v}"));
                        }
                    }
                }
                r
            }
        };
        let _ = writeln!(s, "replay:    {replay}");
        let _ = writeln!(
            s,
            "phase={:?} sim_time={}ms events={} crashes={} fault_ms={} trace_hash={:016x}",
            self.phase,
            self.now,
            self.stats.events,
            self.crashes,
            self.cfg.fault_ms,
            self.trace.hash()
        );
        let _ = writeln!(s, "knobs: {:?}", self.cfg.knobs);
        let _ = writeln!(s, "relaxations: {:?}", self.cfg.relax);
        if self.trace.keeps() {
            let _ = writeln!(s, "--- last {} trace records ---", self.cfg.trace_lines);
            let names = |n: u32| self.node_name(n as usize);
            s.push_str(&self.trace.render(&names));
        }
        s
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Pump { conn, up, at } => self.pump(conn, up, at),
            Ev::Refused { conn } => self.refused(conn),
            Ev::ClientTick { node, gen } => {
                if self.clients[node].tick.gen == gen {
                    self.clients[node].tick.at = None;
                    self.clients[node].tick.ticked = true;
                    self.client_input(node, ClientInput::Tick, ClientInRec::Tick);
                }
            }
            Ev::ServerTick { gen } => {
                if self.server_up && self.server_tick.gen == gen {
                    self.server_tick.at = None;
                    self.server_tick.ticked = true;
                    self.affected = None;
                    self.step_tick = true;
                    self.server_input(ServerInput::Tick, ServerInRec::Tick);
                }
            }
            Ev::Work { node, gen } => {
                if self.clients[node].work_gen == gen {
                    self.work(node);
                }
            }
            Ev::Fault => self.fault(),
            Ev::Restart { incarnation } => {
                if !self.server_up && self.incarnation == incarnation {
                    self.restart();
                }
            }
            Ev::Heal => self.heal(),
            Ev::Sweep => self.sweep(),
            Ev::InvAnswer { inv } => self.invitation_answer(inv),
            Ev::InvCancel { inv } => self.invitation_cancel(inv),
        }
    }

    // ----- node inputs ---------------------------------------------------------------------

    pub(crate) fn mark_client(&mut self, node: usize) {
        if !self.clients[node].dirty {
            self.clients[node].dirty = true;
            self.dirty_clients.push(node);
        }
    }

    fn client_input(&mut self, node: usize, input: ClientInput, rec: ClientInRec) {
        self.trace.push(
            self.now,
            Rec::ClientIn {
                node: node as u32,
                what: rec,
            },
        );
        let now = ts(self.now);
        self.clients[node].client.handle_input(now, input);
        self.mark_client(node);
    }

    fn server_input(&mut self, input: ServerInput, rec: ServerInRec) {
        self.trace.push(self.now, Rec::ServerIn { what: rec });
        self.server.handle_input(ts(self.now), input);
        self.server_dirty = true;
    }

    /// A brand-new server core was just driven once: drain it and re-check everything.
    pub(crate) fn server_dirty_after_restart(&mut self) {
        self.server_dirty = true;
        self.affected = None;
        self.server_tick.gen += 1;
        self.server_tick.at = None;
        self.server_tick.same_instant = 0;
    }

    /// The operator called `Server::ban`: drain the server and re-check every user.
    pub(crate) fn server_dirty_after_ban(&mut self) {
        self.server_dirty = true;
        self.affected = None;
    }

    pub(crate) fn affect(&mut self, user: usize) {
        if let Some(v) = &mut self.affected {
            v.push(user);
        }
    }

    // ----- draining ------------------------------------------------------------------------

    fn drain(&mut self) {
        if self.server_dirty {
            self.server_dirty = false;
            self.server_outputs = 0;
            while let Some(out) = self.server.poll_output() {
                self.server_outputs += 1;
                if self.server_outputs > MAX_OUTPUTS_PER_STEP {
                    self.violation(format!(
                        "server produced more than {MAX_OUTPUTS_PER_STEP} outputs for one input"
                    ));
                    return;
                }
                self.server_output(out);
            }
            self.finish_step_req();
            self.after_server_step();
            self.reschedule_server();
            self.step_conn = None;
            self.banning = None;
            self.step_tick = false;
        }
        let mut dirty = std::mem::take(&mut self.dirty_clients);
        dirty.sort_unstable();
        for &node in &dirty {
            self.clients[node].dirty = false;
            self.clients[node].outputs_this_step = 0;
            while let Some(out) = self.clients[node].client.poll_output() {
                self.clients[node].outputs_this_step += 1;
                if self.clients[node].outputs_this_step > MAX_OUTPUTS_PER_STEP {
                    let n = self.node_name(node);
                    self.violation(format!(
                        "{n} produced more than {MAX_OUTPUTS_PER_STEP} outputs for one input"
                    ));
                    return;
                }
                self.trace.push(
                    self.now,
                    Rec::ClientOut {
                        node: node as u32,
                        out: out.clone(),
                    },
                );
                self.client_output(node, out);
            }
            self.after_client_step(node);
            self.reschedule_client(node);
        }
        dirty.clear();
        if self.dirty_clients.is_empty() {
            self.dirty_clients = dirty;
        }
    }

    fn reschedule_server(&mut self) {
        if !self.server_up {
            return;
        }
        let deadline = self.server.poll_timeout().map(Timestamp::as_millis);
        let ticked = std::mem::take(&mut self.server_tick.ticked);
        let outputs = self.server_outputs;
        if let Some(t) = self.check_deadline(deadline, ticked, outputs, None) {
            self.set_server_tick(t);
        } else {
            self.server_tick.at = None;
            self.server_tick.gen += 1;
        }
    }

    fn set_server_tick(&mut self, t: u64) {
        if self.server_tick.at != Some(t) {
            self.server_tick.gen += 1;
            self.server_tick.at = Some(t);
            let gen = self.server_tick.gen;
            self.schedule(t, Ev::ServerTick { gen });
        }
    }

    fn reschedule_client(&mut self, node: usize) {
        let deadline = self.clients[node]
            .client
            .poll_timeout()
            .map(Timestamp::as_millis);
        let ticked = std::mem::take(&mut self.clients[node].tick.ticked);
        let outputs = self.clients[node].outputs_this_step;
        match self.check_deadline(deadline, ticked, outputs, Some(node)) {
            Some(t) => {
                let tk = &mut self.clients[node].tick;
                if tk.at != Some(t) {
                    tk.gen += 1;
                    tk.at = Some(t);
                    let gen = tk.gen;
                    self.schedule(t, Ev::ClientTick { node, gen });
                }
            }
            None => {
                let tk = &mut self.clients[node].tick;
                tk.at = None;
                tk.gen += 1;
            }
        }
    }

    /// `poll_timeout` rules: never before now; a tick at the deadline makes progress (a
    /// bounded number of same-instant ticks). Returns when to tick next.
    fn check_deadline(
        &mut self,
        deadline: Option<u64>,
        ticked: bool,
        outputs: usize,
        node: Option<usize>,
    ) -> Option<u64> {
        let now = self.now;
        let t = deadline?;
        let tick = match node {
            Some(n) => &mut self.clients[n].tick,
            None => &mut self.server_tick,
        };
        if ticked {
            if tick.last_tick_at == now {
                tick.same_instant += 1;
            } else {
                tick.last_tick_at = now;
                tick.same_instant = 1;
            }
        }
        let same = tick.same_instant;
        let last = tick.last_tick_at;
        if t < now {
            let who = self.who(node);
            self.violation(format!(
                "{who}: poll_timeout went backwards: deadline {t} ms < now {now} ms"
            ));
            return None;
        }
        if t == now && ticked && outputs == 0 {
            // A tick at the deadline did nothing and asks to be ticked again right away.
            let who = self.who(node);
            self.violation(format!(
                "{who}: a Tick at its poll_timeout deadline ({now} ms) made no progress and \
                 poll_timeout still returns {t} ms (busy loop)"
            ));
            return None;
        }
        if t == now && last == now && same > MAX_SAME_INSTANT_TICKS {
            let who = self.who(node);
            self.violation(format!(
                "{who}: ticked {same} times at {now} ms and still due (busy loop)"
            ));
            return None;
        }
        Some(t)
    }

    /// The name of client `node`, or "server".
    fn who(&self, node: Option<usize>) -> String {
        node.map_or_else(|| "server".to_string(), |n| self.node_name(n))
    }

    // ----- the network ---------------------------------------------------------------------

    pub(crate) fn latency(&mut self) -> u64 {
        let k = &self.cfg.knobs;
        let (base, jitter) = (k.latency_ms, k.jitter_ms);
        base + self.net.below(jitter + 1)
    }

    /// Makes sure a pump is scheduled for a direction that has items.
    pub(crate) fn ensure_pump(&mut self, conn: u64, up: bool) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        let Some(t) = dir.next_time(now) else { return };
        if dir.pump_at.is_some_and(|p| p <= t) {
            return;
        }
        dir.pump_at = Some(t);
        self.schedule(t, Ev::Pump { conn, up, at: t });
    }

    /// Queues an item on one direction; closes the connection if its queue overflows (the
    /// simulated driver's bounded buffer).
    pub(crate) fn send_on(&mut self, conn: u64, up: bool, item: Item) {
        let delay = self.latency();
        let now = self.now;
        let cap = self.cfg.knobs.link_queue_cap;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        if !dir.push(now, delay, item) {
            return;
        }
        if dir.queue.len() > cap {
            self.stats.driver_closes += 1;
            self.note(format!(
                "c{conn} {} queue over {cap}: driver closes the slow connection",
                if up { "up" } else { "down" }
            ));
            self.reset_conn(conn);
            return;
        }
        self.ensure_pump(conn, up);
    }

    /// Both ends of `conn` learn it closed (RST); everything in flight is lost.
    pub(crate) fn reset_conn(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for dir in [&mut c.up, &mut c.down] {
            dir.queue.clear();
            dir.blackholed = false;
            dir.stalled_until = 0;
            dir.throttle_until = 0;
        }
        let (client_open, server_open) = (c.client_open, c.server_open);
        if client_open {
            self.send_on(conn, false, Item::Fin);
        }
        if server_open {
            self.send_on(conn, true, Item::Fin);
        }
    }

    fn pump(&mut self, conn: u64, up: bool, at: u64) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let dir = if up { &mut c.up } else { &mut c.down };
        if dir.pump_at != Some(at) {
            return; // superseded
        }
        dir.pump_at = None;
        let Some(t) = dir.next_time(now) else {
            self.maybe_remove(conn);
            return;
        };
        if t > now {
            dir.pump_at = Some(t);
            self.schedule(t, Ev::Pump { conn, up, at: t });
            return;
        }
        let (_, item) = dir.queue.pop_front().expect("next_time saw an item");
        if dir.throttle_until > now {
            dir.next_free = now + dir.throttle_ms;
        }
        if let Some(t2) = dir.next_time(now) {
            dir.pump_at = Some(t2);
            self.schedule(t2, Ev::Pump { conn, up, at: t2 });
        }
        if up {
            self.deliver_up(conn, item);
        } else {
            self.deliver_down(conn, item);
        }
        self.maybe_remove(conn);
    }

    fn maybe_remove(&mut self, conn: u64) {
        if self.conns.get(&conn).is_some_and(Conn::is_dead) {
            let c = self.conns.remove(&conn).expect("checked");
            self.by_transport.remove(&(c.node, c.transport));
        }
    }

    fn deliver_up(&mut self, conn: u64, item: Item) {
        match item {
            Item::Syn => self.syn_arrives(conn),
            Item::Frame(b) => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if !c.server_open {
                    return; // the server closed or forgot it: dropped
                }
                let bound = c.bound;
                let node = c.node;
                self.stats.frames += 1;
                let ty = frame_type(&b);
                let mut logout = false;
                if ty == b"login" {
                    match ClientFrame::decode(&b) {
                        Ok(ClientFrame::Login(LoginFrame { uid, resume, .. })) => {
                            let Some(&u) = self.user_index.get(&uid) else {
                                self.violation(format!("login for unknown user {uid}"));
                                return;
                            };
                            let c = self.conns.get_mut(&conn).expect("present");
                            c.login = Some((u, resume));
                            self.affect(u);
                        }
                        _ => {
                            let n = self.node_name(node);
                            self.violation(format!("{n} sent a login frame that does not decode"));
                            return;
                        }
                    }
                } else if ty == b"logout" {
                    logout = true;
                } else if let Some(u) = bound.filter(|_| crate::channels::watched_request(ty)) {
                    self.watch_request(conn, node, u, &b);
                } else if ty.is_empty() {
                    let n = self.node_name(node);
                    self.violation(format!("{n} sent a frame without a leading type tag"));
                    return;
                }
                if let Some(u) = bound {
                    let now = self.now;
                    let user = &mut self.users[u];
                    if user.session.is_some()
                        && user.session_conns.len() < 64
                        && !user.session_conns.iter().any(|&(k, _)| k == conn)
                    {
                        user.session_conns.push((conn, now));
                    }
                    let was_unreachable = user.current().state == PeerOnlineState::Unreachable;
                    if let Some(s) = &mut user.session {
                        s.last_rx = now;
                        // The server hears from the session: it is ONLINE at this instant
                        // (even if this very frame then logs it out).
                        if was_unreachable {
                            s.recovered = true;
                            user.record(&mut self.truth_seq, now, PeerOnlineState::Online);
                        }
                    }
                    self.affect(u);
                }
                self.step_conn = Some(conn);
                self.server_input(
                    ServerInput::Frame(ConnId(conn), b.clone()),
                    ServerInRec::Frame(conn, b),
                );
                if logout {
                    if let Some(u) = bound {
                        // §2.4: logout is immediate.
                        if let Some(old) = self.users[u].session.take() {
                            self.session_ended(u, &old);
                        }
                    }
                }
            }
            Item::Fin => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.server_open {
                    c.server_open = false;
                    self.server_open_count -= 1;
                    self.server_input(ServerInput::Closed(ConnId(conn)), ServerInRec::Closed(conn));
                }
            }
            Item::Open => unreachable!("Open travels server→client"),
        }
    }

    fn syn_arrives(&mut self, conn: u64) {
        let node = match self.conns.get(&conn) {
            Some(c) if c.client_open => c.node,
            Some(_) => return, // the client gave up already; the server never sees it
            None => return,
        };
        let refuse_window = self.clients[node].refuse_until > self.now;
        if !self.server_up {
            if self.crash_kind == CrashKind::Host {
                return; // nothing answers
            }
            self.refuse(conn);
            return;
        }
        if refuse_window || (self.refuse_p > 0.0 && self.net.chance(self.refuse_p)) {
            self.refuse(conn);
            return;
        }
        let c = self.conns.get_mut(&conn).expect("present");
        c.server_open = true;
        c.incarnation = self.incarnation;
        self.server_open_count += 1;
        // One source address per simulated client.
        let source = std::net::IpAddr::from([10, 0, (node >> 8) as u8, node as u8]);
        self.server_input(
            ServerInput::Opened(ConnId(conn), Some(source)),
            ServerInRec::Opened(conn),
        );
        self.send_on(conn, false, Item::Open);
    }

    pub(crate) fn refuse(&mut self, conn: u64) {
        self.stats.refused += 1;
        let d = self.latency();
        self.schedule(self.now + d, Ev::Refused { conn });
    }

    fn refused(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.client_open {
            return;
        }
        c.client_open = false;
        let (node, t) = (c.node, c.transport);
        self.clients[node].open_transports -= 1;
        self.client_input(
            node,
            ClientInput::Closed(rtm_proto::TransportId(t)),
            ClientInRec::Closed(t),
        );
        self.maybe_remove(conn);
    }

    fn deliver_down(&mut self, conn: u64, item: Item) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.client_open {
            return;
        }
        let (node, t) = (c.node, c.transport);
        let tid = rtm_proto::TransportId(t);
        match item {
            Item::Open => self.client_input(node, ClientInput::Opened(tid), ClientInRec::Opened(t)),
            Item::Frame(b) => {
                self.stats.frames += 1;
                // Incarnation k was started after k-1 crashes.
                self.clients[node].rx_crash = self.conns[&conn].incarnation.saturating_sub(1);
                self.clients[node].rx_conn = conn;
                if frame_type(&b) == b"login_ok" {
                    if let Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) =
                        ServerFrame::decode(&b)
                    {
                        let inc = self.conns[&conn].incarnation;
                        self.clients[node].session = (inc, sid_hash(&session));
                    }
                }
                self.client_input(
                    node,
                    ClientInput::Frame(tid, b.clone()),
                    ClientInRec::Frame(t, b),
                );
            }
            Item::Fin => {
                c.client_open = false;
                self.clients[node].open_transports -= 1;
                self.client_input(node, ClientInput::Closed(tid), ClientInRec::Closed(t));
            }
            Item::Syn => unreachable!("Syn travels client→server"),
        }
    }

    // ----- outputs -------------------------------------------------------------------------

    fn server_output(&mut self, out: ServerOutput) {
        self.trace
            .push(self.now, Rec::ServerOut { out: out.clone() });
        match out {
            ServerOutput::Send { conn, frame } => {
                let ok = self.conns.get(&conn.0).is_some_and(|c| c.server_open);
                if !ok {
                    self.violation(format!(
                        "server sent a frame on c{} which it does not hold (closed, forgotten or never opened)",
                        conn.0
                    ));
                    return;
                }
                if frame.len() > MAX_FRAME_BYTES {
                    self.violation(format!(
                        "server sent a {}-byte frame; clients refuse frames over {MAX_FRAME_BYTES} bytes",
                        frame.len()
                    ));
                    return;
                }
                let ty = frame_type(&frame);
                if ty == b"login_ok" {
                    self.on_login_ok(conn.0);
                } else if ty == b"kicked" {
                    if let Ok(ServerFrame::Notice(Notice::Kicked { reason })) =
                        ServerFrame::decode(&frame)
                    {
                        self.on_kicked(conn.0, reason);
                    }
                } else if ty.is_empty() {
                    self.violation("server sent a frame without a leading type tag".into());
                } else if self.step_req.is_some() {
                    self.capture_answer(conn.0, ty, &frame);
                } else if ty == b"member_count" {
                    self.count_pushed(conn.0, &frame);
                }
                self.send_on(conn.0, false, Item::Frame(frame));
            }
            ServerOutput::Close { conn, .. } => {
                let Some(c) = self.conns.get_mut(&conn.0) else {
                    self.violation(format!("server closed unknown connection c{}", conn.0));
                    return;
                };
                if !c.server_open {
                    self.violation(format!("server closed c{} twice or after Closed", conn.0));
                    return;
                }
                c.server_open = false;
                self.server_open_count -= 1;
                self.send_on(conn.0, false, Item::Fin);
            }
        }
    }

    /// The server accepted a login on `conn`. Which session it is (the one the model
    /// holds, resumed, or a new one replacing it) is observed from the server, not read
    /// from the frame.
    fn on_login_ok(&mut self, conn: u64) {
        let login = self
            .conns
            .get(&conn)
            .and_then(|c| c.login.as_ref().map(|l| l.0));
        let Some(u) = login else {
            self.violation(format!(
                "server sent login_ok on c{conn} which sent no login"
            ));
            return;
        };
        let node = self.conns[&conn].node;
        self.conns.get_mut(&conn).expect("present").bound = Some(u);
        self.affect(u);
        let now = self.now;
        let Some(sid) = self.server.observe().session_id(&self.users[u].id) else {
            let id = self.users[u].id.clone();
            self.violation(format!(
                "server accepted a login of {id} and holds no session"
            ));
            return;
        };
        let sid = sid.to_owned();
        let user = &mut self.users[u];
        let resumed = user.session.as_ref().is_some_and(|s| s.sid == sid);
        let ended = user.ended_sids.contains(&sid);
        if resumed || ended {
            match &mut user.session {
                Some(s) if s.sid == sid => {
                    s.last_rx = now;
                    if user
                        .truth
                        .back()
                        .is_some_and(|e| e.state == PeerOnlineState::Unreachable)
                    {
                        s.recovered = true;
                    }
                }
                _ => {
                    let id = user.id.clone();
                    self.violation(format!(
                        "server resumed a session of {id} that the model says does not exist"
                    ));
                }
            }
        } else {
            let old = user.session.replace(SessModel {
                sid,
                node,
                last_rx: now,
                recovered: false,
            });
            if let Some(old) = old {
                // Replaced by this newer login: kicked (§2.7).
                if user.kicked_sids.len() < 100_000 {
                    user.kicked_sids.insert(old.sid.clone());
                }
                self.session_ended(u, &old);
            }
            self.session_started(u);
        }
    }

    fn on_kicked(&mut self, conn: u64, reason: KickReason) {
        self.stats.kicks += 1;
        let (kicked_node, victim_live, bound) = {
            let c = &self.conns[&conn];
            (c.node, c.client_open, c.bound)
        };
        if self.step_conn == Some(conn) {
            // The login itself is refused: it tried to resume a session this server ended
            // on its own (a tombstone), with the reason it was ended for.
            let login = self.conns[&conn].login.clone();
            let ok = login.is_some_and(|(u, sid)| {
                sid.is_some_and(|sid| match reason {
                    KickReason::RemoteLogin => self.users[u].kicked_sids.contains(&sid),
                    KickReason::BannedByServer => self.users[u].banned_sids.contains(&sid),
                    KickReason::TokenExpired => false,
                })
            });
            if !ok {
                self.violation(format!(
                    "server refused a login on c{conn} with kicked({reason:?}), but never ended that session for that reason"
                ));
            }
            return;
        }
        match reason {
            KickReason::RemoteLogin => {}
            KickReason::BannedByServer => {
                if self.banning.is_none() || self.banning != bound {
                    self.violation(format!("kicked(BannedByServer) on c{conn} without a ban"));
                }
                return;
            }
            KickReason::TokenExpired => {
                self.violation("kicked(TokenExpired) in app-id-only mode".into());
                return;
            }
        }
        let Some(kicker) = self.step_conn.and_then(|c| self.conns.get(&c)) else {
            self.violation("REMOTE_LOGIN kick outside a login".into());
            return;
        };
        let kicker_node = kicker.node;
        let kicker_live = kicker.client_open;
        // A resume of a session this server incarnation had itself kicked (a newer login
        // replaced it): it must be refused, not allowed to kick the newer session. (A resume
        // of a session that expired, or that a crashed incarnation held, is a fresh login
        // and legitimately wins, §2.7.)
        let resume = kicker.login.as_ref().is_some_and(|(u, r)| {
            r.as_ref()
                .is_some_and(|sid| self.users[*u].kicked_sids.contains(sid))
        });
        // A kick that lands on a connection its client already abandoned is harmless (the
        // newer login legitimately replaces a stale session).
        let problem = if !victim_live {
            None
        } else if kicker_node == kicked_node && !kicker_live {
            Some(format!(
                "self-kick: a stale login of {} on an abandoned connection kicked its own live session (REMOTE_LOGIN with no other device)",
                self.node_name(kicked_node)
            ))
        } else if resume {
            Some(format!(
                "automatic re-login of {} resumed a session the server had already kicked, and kicked the newer session of {}",
                self.node_name(kicker_node),
                self.node_name(kicked_node)
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            if self.cfg.relax.stale_login_self_kick && kicker_node == kicked_node {
                self.stats.self_kicks_relaxed += 1;
                self.note(format!("(relaxed stale_login_self_kick) {p}"));
            } else {
                self.violation(p);
            }
        }
    }

    fn client_output(&mut self, node: usize, out: ClientOutput) {
        match out {
            ClientOutput::Connect(t) => {
                let n = &mut self.clients[node];
                if t.0 <= n.last_transport {
                    let name = self.node_name(node);
                    self.violation(format!("{name} reused transport id t{}", t.0));
                    return;
                }
                n.last_transport = t.0;
                n.open_transports += 1;
                self.stats.connects += 1;
                let id = self.next_conn;
                self.next_conn += 1;
                self.conns.insert(
                    id,
                    Conn {
                        id,
                        node,
                        transport: t.0,
                        incarnation: 0,
                        client_open: true,
                        server_open: false,
                        login: None,
                        bound: None,
                        up: Default::default(),
                        down: Default::default(),
                    },
                );
                self.by_transport.insert((node, t.0), id);
                self.apply_partition(node, id);
                self.send_on(id, true, Item::Syn);
            }
            ClientOutput::Send(t, b) => {
                let conn = self.by_transport.get(&(node, t.0)).copied();
                let open = conn
                    .and_then(|c| self.conns.get(&c))
                    .is_some_and(|c| c.client_open);
                if !open {
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} sent on transport t{} which is not open",
                        t.0
                    ));
                    return;
                }
                if b.len() > MAX_FRAME_BYTES {
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} sent a {}-byte frame; the server refuses frames over {MAX_FRAME_BYTES} bytes (TOO_BIG) although the message passed the client's own validation",
                        b.len()
                    ));
                    return;
                }
                if frame_type(&b) == b"join" {
                    self.rejoin_sent(node, &b);
                }
                self.send_on(conn.expect("open"), true, Item::Frame(b));
            }
            ClientOutput::Close(t, _code) => {
                let conn = self.by_transport.get(&(node, t.0)).copied();
                let Some(conn) = conn.filter(|c| self.conns.get(c).is_some_and(|c| c.client_open))
                else {
                    if self.cfg.relax.close_after_closed_in_drain
                        && self.clients[node].state == State::Disconnected
                        && t.0 <= self.clients[node].last_transport
                    {
                        self.stats.close_after_closed_relaxed += 1;
                        return;
                    }
                    let name = self.node_name(node);
                    self.violation(format!(
                        "{name} closed transport t{} which is not open (already closed, or never opened)",
                        t.0
                    ));
                    return;
                };
                self.conns.get_mut(&conn).expect("present").client_open = false;
                self.clients[node].open_transports -= 1;
                self.send_on(conn, true, Item::Fin);
                self.maybe_remove(conn);
            }
            ClientOutput::Event(e) => self.on_event(node, e),
        }
    }

    // ----- client events against the model ------------------------------------------------

    fn on_event(&mut self, node: usize, e: Event) {
        match e {
            Event::ConnectionStateChanged { state, reason } => {
                if matches!(state, State::Disconnected | State::Aborted) {
                    self.channels_forgotten(node);
                }
                let prev = self.clients[node].state;
                if !allowed_transition(prev, state, reason) {
                    let n = self.node_name(node);
                    self.violation(format!(
                        "{n}: connection state {prev:?} -> {state:?} ({reason:?}) is not allowed by §2.3"
                    ));
                }
                let n = &mut self.clients[node];
                n.state = state;
                n.ext.connected_since = if state == State::Connected {
                    n.ext.connected_since.or(Some(self.now))
                } else {
                    None
                };
                if state == State::Disconnected {
                    n.subs.clear();
                    n.uncertain.clear();
                    n.disconnected_at = self.now;
                }
                if state == State::Aborted {
                    // The application reacts soon (logs out).
                    n.work_gen += 1;
                    let gen = n.work_gen;
                    let d = self.work.range(50, 1_500);
                    self.schedule(self.now + d, Ev::Work { node, gen });
                }
            }
            Event::MessageFromPeer {
                peer_id,
                message,
                server_received_ts,
                is_offline_message: _,
            } => self.on_message(node, peer_id, message, server_received_ts),
            Event::PeersOnlineStatusChanged(map) => {
                self.stats.presence_reports += 1;
                for (peer, state) in map {
                    self.on_presence(node, &peer, state);
                }
            }
            Event::TokenExpired | Event::TokenPrivilegeWillExpire => {
                let n = self.node_name(node);
                self.violation(format!("{n}: token event {e:?} in app-id-only mode"));
            }
            Event::Response { request, response } => self.on_response(node, request.0, response),
            Event::Channel { channel, event } => match event {
                ChannelEvent::Message {
                    member_id,
                    message,
                    server_received_ts,
                } => self.on_channel_message(node, channel, member_id, message, server_received_ts),
                ChannelEvent::MemberJoined { member_id } => {
                    self.on_member_event(node, channel, member_id, true)
                }
                ChannelEvent::MemberLeft { member_id } => {
                    self.on_member_event(node, channel, member_id, false)
                }
                ChannelEvent::MemberCountUpdated { count } => {
                    self.on_member_count(node, channel, count)
                }
                ChannelEvent::AttributesUpdated { attributes } => {
                    self.on_attributes_updated(node, channel, attributes)
                }
                // `ChannelEvent` is non-exhaustive too.
                other => {
                    let n = self.node_name(node);
                    self.violation(format!(
                        "{n}: a channel event the model does not check: {other:?}"
                    ));
                }
            },
            e @ (Event::LocalInvitation { .. } | Event::RemoteInvitation { .. }) => {
                self.on_invitation_event(node, e)
            }
            // `Event` is non-exhaustive: an event the model has no rule for is a finding.
            other => {
                let n = self.node_name(node);
                self.violation(format!("{n}: an event the model does not check: {other:?}"));
            }
        }
    }

    fn on_message(&mut self, node: usize, peer: UserId, message: Message, server_ts: u64) {
        self.stats.deliveries += 1;
        let name = self.node_name(node);
        if self.clients[node].state != State::Connected {
            self.violation(format!(
                "{name} delivered a message while {:?}",
                self.clients[node].state
            ));
        }
        let Some(idx) = parse_body(&message) else {
            self.violation(format!(
                "{name} delivered a message the workload never sent: {message:?}"
            ));
            return;
        };
        let Some(m) = self.msgs.get(idx) else {
            self.violation(format!("{name} delivered unknown message #{idx}"));
            return;
        };
        let user = self.clients[node].user;
        if m.to != user {
            self.violation(format!(
                "{name} delivered message #{idx} addressed to another user"
            ));
            return;
        }
        if self.users[m.from_user].id != peer {
            self.violation(format!(
                "{name} delivered message #{idx} from {peer}, but {} sent it",
                self.users[m.from_user].id
            ));
            return;
        }
        let (raw, len) = body_shape(&message);
        if raw != m.raw || len != m.len {
            self.violation(format!(
                "{name} delivered message #{idx} with a corrupted body"
            ));
            return;
        }
        let sent_wall = UNIX_ORIGIN_MS + m.sent_at;
        if server_ts < sent_wall || server_ts > UNIX_ORIGIN_MS + self.now {
            self.violation(format!(
                "{name}: message #{idx} has serverReceivedTs {server_ts} outside [send, now]"
            ));
        }
        let crash = self.clients[node].rx_crash;
        let here = Delivery {
            at: self.now,
            node,
            crash,
            session: self.clients[node].session,
        };
        let m = &self.msgs[idx];
        for d in &m.deliveries {
            if d.crash < here.crash {
                self.stats.dup_after_crash += 1;
                continue;
            }
            if d.node != here.node && self.cfg.relax.redelivery_in_new_session {
                self.stats.dup_relaxed += 1;
                continue;
            }
            let first = d.at;
            let dn = self.node_name(d.node);
            let what = format!(
                "message #{idx} ({} -> {}) delivered twice to the same user with no server crash between: first to {dn} at {first} ms (session {:x}), again to {name} (session {:x})",
                self.users[m.from_user].id, self.users[m.to].id, d.session.1, here.session.1
            );
            self.violation(what);
            return;
        }
        if m.outcome == Outcome::Unreachable && m.sent_crash == crash && m.outcome_crash == crash {
            self.violation(format!(
                "message #{idx} delivered to {name} although its sender was told PEER_UNREACHABLE"
            ));
            return;
        }
        let first = m.deliveries.is_empty();
        // Order is promised within one server incarnation: a message sent before a crash
        // and resent after it (its first outcome lost with the crash) may land after later
        // ones that the old server had already delivered.
        let across_crash = m.sent_crash != crash;
        let (from_node, to, pair_index) = (m.from_node, m.to, m.pair_index);
        self.msgs[idx].deliveries.push(here);
        if first {
            let last = *self.pair_delivered.get(&(from_node, to)).unwrap_or(&0);
            if pair_index + 1 < last && !across_crash {
                let what = format!(
                    "message #{idx} from {} arrived after a later message to {} (pair order {pair_index} after {})",
                    self.node_name(from_node),
                    self.users[to].id,
                    last - 1
                );
                self.violation(what);
                return;
            }
            self.pair_delivered
                .insert((from_node, to), last.max(pair_index + 1));
        }
    }

    fn on_presence(&mut self, node: usize, peer: &UserId, state: PeerOnlineState) {
        let name = self.node_name(node);
        let Some(&p) = self.user_index.get(peer) else {
            self.violation(format!("{name} got presence for unknown user {peer}"));
            return;
        };
        let Some(view) = self.clients[node].subs.get(&p).copied() else {
            self.violation(format!(
                "{name} got PeersOnlineStatusChanged for {peer}, to which it is not subscribed"
            ));
            return;
        };
        match self.users[p].match_report(view.cursor, state) {
            Some(seq) => {
                let v = self.clients[node].subs.get_mut(&p).expect("present");
                v.cursor = seq;
                v.last = Some(state);
            }
            None => {
                let hist = crate::model::newest_first(&self.users[p].truth, 6, |e| {
                    format!("#{}@{}:{:?}", e.seq, e.at, e.state)
                });
                self.violation(format!(
                    "{name} was told {peer} is {state:?}, which is not a state {peer} had since its last report (cursor #{}; recent truth, newest first: {})",
                    view.cursor,
                    hist
                ));
            }
        }
    }

    fn on_response(&mut self, node: usize, rid: u32, response: Response) {
        let name = self.node_name(node);
        let Some(pend) = self.clients[node].outstanding.remove(&rid) else {
            self.violation(format!(
                "{name}: Response for request {rid} which is not outstanding (unknown or answered twice): {response:?}"
            ));
            return;
        };
        match (pend, response) {
            (Pend::Login, Response::Login(_)) | (Pend::Renew, Response::RenewToken(_)) => {}
            (Pend::Send { msg }, Response::SendMessageToPeer(r)) => {
                self.on_send_result(node, msg, r)
            }
            (
                Pend::Query {
                    peers,
                    issued,
                    probe,
                },
                Response::QueryPeersOnlineStatus(r),
            ) => {
                self.stats.queries += 1;
                match r {
                    Ok(list) => {
                        let asked: Vec<&UserId> =
                            peers.iter().map(|&p| &self.users[p].id).collect();
                        let got: Vec<&UserId> = list.iter().map(|(p, _)| p).collect();
                        if asked != got {
                            self.violation(format!(
                                "{name}: query answered {got:?} for {asked:?} (must be in request order)"
                            ));
                            return;
                        }
                        for (&p, (_, online)) in peers.iter().zip(&list) {
                            if probe {
                                let expect = self.expected_online(p);
                                if *online != expect {
                                    self.violation(format!(
                                        "{name}: probe query says {} online={online} in a healed network; expected {expect}",
                                        self.users[p].id
                                    ));
                                    return;
                                }
                            }
                            if self.users[p].online_at_some_point(issued, self.now, *online)
                                == Some(false)
                            {
                                self.violation(format!(
                                    "{name}: query says {} online={online}, which it never was between {issued} and {} ms",
                                    self.users[p].id, self.now
                                ));
                                return;
                            }
                        }
                    }
                    Err(e) if probe => self.violation(format!(
                        "{name}: probe query failed in a healed network: {e:?}"
                    )),
                    Err(_) => {}
                }
            }
            (Pend::Subscribe { peers, cursors }, Response::SubscribePeersOnlineStatus(r)) => {
                let n = &mut self.clients[node];
                match r {
                    Ok(()) => {
                        for (p, c) in peers.into_iter().zip(cursors) {
                            n.uncertain.remove(&p);
                            n.subs.entry(p).or_insert(SubView {
                                cursor: c,
                                last: None,
                            });
                        }
                    }
                    Err(_) => n.uncertain.extend(peers),
                }
            }
            (Pend::Unsubscribe { peers }, Response::UnsubscribePeersOnlineStatus(r)) => {
                let n = &mut self.clients[node];
                match r {
                    Ok(()) => {
                        for p in peers {
                            n.uncertain.remove(&p);
                            n.subs.remove(&p);
                        }
                    }
                    Err(_) => n.uncertain.extend(peers),
                }
            }
            (
                pend @ (Pend::Join { .. }
                | Pend::Leave { .. }
                | Pend::ChannelSend { .. }
                | Pend::GetMembers { .. }
                | Pend::MemberCount { .. }
                | Pend::ChannelAttrWrite
                | Pend::ChannelAttrGet { .. }
                | Pend::UserAttrWrite
                | Pend::UserAttrGet { .. }),
                response,
            ) => self.on_feature_response(node, pend, response),
            (pend, response) => self.violation(format!(
                "{name}: request {rid} was {pend:?} but got {response:?}"
            )),
        }
    }

    fn on_send_result(
        &mut self,
        node: usize,
        msg: usize,
        r: Result<PeerMessageOutcome, rtm_proto::PeerMessageError>,
    ) {
        let name = self.node_name(node);
        let now = self.now;
        // Answers from the server were produced by the incarnation that sent the frame;
        // local answers (timeouts, logout) by no server at all: use the current count.
        let crashes = match r {
            Ok(_) => self.clients[node].rx_crash,
            Err(_) => self.crashes,
        };
        let m = &mut self.msgs[msg];
        m.outcome_at = now;
        m.outcome_crash = crashes;
        let delivered = !m.deliveries.is_empty();
        let (to, probe) = (m.to, m.probe);
        let leaves_backlog = matches!(
            r,
            Ok(PeerMessageOutcome::Received | PeerMessageOutcome::Unreachable)
        ) && std::mem::replace(&mut m.in_backlog, false);
        if leaves_backlog {
            self.users[to].backlog = self.users[to].backlog.saturating_sub(1);
        }
        let m = &mut self.msgs[msg];
        match r {
            Ok(PeerMessageOutcome::Received) => {
                m.outcome = Outcome::Received;
                self.stats.received += 1;
                if !delivered {
                    self.violation(format!(
                        "{name} was told message #{msg} was received, but {} never delivered it",
                        self.users[to].id
                    ));
                }
            }
            Ok(PeerMessageOutcome::Cached) => {
                m.outcome = Outcome::Cached;
                self.stats.cached += 1;
            }
            Ok(PeerMessageOutcome::Unreachable) => {
                m.outcome = Outcome::Unreachable;
                self.stats.unreachable += 1;
                if delivered && m.sent_crash == crashes {
                    self.violation(format!(
                        "{name} was told message #{msg} is PEER_UNREACHABLE, but it was delivered"
                    ));
                }
            }
            Err(e) => {
                m.outcome = Outcome::Failed(e.code());
                self.stats.failed += 1;
            }
        }
        if probe && self.msgs[msg].outcome != Outcome::Received {
            let o = self.msgs[msg].outcome;
            self.violation(format!(
                "{name}: probe message #{msg} in a healed network got {o:?}, expected Received"
            ));
        }
    }

    /// Whether `user` should be online once healed.
    pub(crate) fn expected_online(&self, user: usize) -> bool {
        self.users[user]
            .nodes
            .iter()
            .any(|&n| self.clients[n].target_in)
    }

    // ----- per-step checks -----------------------------------------------------------------

    fn after_client_step(&mut self, node: usize) {
        let n = &self.clients[node];
        let actual = n.client.connection_state();
        if actual != n.state {
            let name = self.node_name(node);
            self.violation(format!(
                "{name}: connection_state() is {actual:?} but its events say {:?}",
                n.state
            ));
            return;
        }
        if n.open_transports > 1 {
            let name = self.node_name(node);
            let k = n.open_transports;
            self.violation(format!("{name} holds {k} open transports (leak)"));
            return;
        }
        // After `logout` the client drains its link (the server's answers to what it sent
        // before still arrive) for at most the core's LOGOUT_DRAIN; otherwise a DISCONNECTED or
        // ABORTED client holds no transport.
        let draining = n.state == State::Disconnected
            && self.now <= n.disconnected_at + rtm_proto::client::LOGOUT_DRAIN.as_millis() as u64;
        if matches!(n.state, State::Disconnected | State::Aborted)
            && n.open_transports != 0
            && !draining
        {
            let name = self.node_name(node);
            let s = n.state;
            self.violation(format!("{name} is {s:?} but still holds a transport"));
        }
    }

    fn after_server_step(&mut self) {
        if !self.server_up {
            return;
        }
        let stats = self.server.stats();
        if stats.connections != self.server_open_count {
            self.violation(format!(
                "server holds {} connections, the network says {} are open to it (leak or lost close)",
                stats.connections, self.server_open_count
            ));
            return;
        }
        let users = self.users.len();
        if stats.sessions > users {
            self.violation(format!(
                "server holds {} sessions for {users} users",
                stats.sessions
            ));
        }
        if stats.subscriptions > users * users {
            self.violation(format!(
                "server holds {} subscriptions",
                stats.subscriptions
            ));
        }
        if stats.offline_messages > self.server_cfg.offline_per_user * users {
            self.violation(format!(
                "offline store holds {} messages, over {} per user",
                stats.offline_messages, self.server_cfg.offline_per_user
            ));
        }
        let full_sweep = self.affected.is_none();
        let held_check = full_sweep && self.now >= self.next_held_check;
        if held_check {
            self.next_held_check = self.now + 1_000;
        }
        match self.affected.take() {
            None => {
                for u in 0..self.users.len() {
                    self.update_truth(u);
                    self.check_session(u);
                    if held_check {
                        self.check_held_session(u);
                    }
                }
            }
            Some(mut v) => {
                v.sort_unstable();
                v.dedup();
                for &u in &v {
                    self.update_truth(u);
                    self.check_session(u);
                }
                v.clear();
                self.affected = Some(v);
            }
        }
        if self.affected.is_none() {
            self.affected = Some(Vec::new());
        }
        if self.step_tick {
            self.channel_gc();
        }
        if held_check {
            self.check_channel_members();
        }
        let model = self.chans.iter().filter(|c| c.exists).count();
        if stats.channels != model {
            let mine: Vec<String> = self
                .chans
                .iter()
                .filter(|c| c.exists)
                .map(|c| c.id.to_string())
                .collect();
            self.violation(format!(
                "server holds {} channels, the model expects {model} ({mine:?})",
                stats.channels
            ));
        }
        self.follow_lags();
    }

    pub(crate) fn update_truth(&mut self, u: usize) {
        let st = if self.server_up {
            self.server.observe().peer_state(&self.users[u].id)
        } else {
            PeerOnlineState::Offline
        };
        let now = self.now;
        let user = &mut self.users[u];
        if user.record(&mut self.truth_seq, now, st) && st == PeerOnlineState::Unreachable {
            if let Some(s) = &mut user.session {
                s.recovered = false;
            }
        }
    }

    /// The liveness reference (§2.4) for one user: the server's presence must match the
    /// session the model expects and the time since the server last heard from it.
    pub(crate) fn check_session(&mut self, u: usize) {
        if !self.server_up {
            return;
        }
        let st = self.server.observe().peer_state(&self.users[u].id);
        let now = self.now;
        let id = self.users[u].id.clone();
        let (unreach, offline) = (
            self.server_cfg.unreachable_after.as_millis() as u64,
            self.server_cfg.offline_after.as_millis() as u64,
        );
        match &self.users[u].session {
            None => {
                if st != PeerOnlineState::Offline {
                    self.violation(format!(
                        "server says {id} is {st:?}, but it has no session (logged out, never logged in, or expired)"
                    ));
                }
            }
            Some(s) => {
                let silent = now.saturating_sub(s.last_rx);
                if st == PeerOnlineState::Offline {
                    if silent > offline {
                        // Expired, as it should.
                        if let Some(old) = self.users[u].session.take() {
                            self.session_ended(u, &old);
                        }
                    } else {
                        self.violation(format!(
                            "server ended the session of {id} after only {silent} ms of silence"
                        ));
                    }
                } else if silent > offline + 2 {
                    self.violation(format!(
                        "session of {id} outlived {silent} ms of silence (limit {offline} ms, §2.4)"
                    ));
                } else if silent > unreach + 2 && st == PeerOnlineState::Online {
                    if s.recovered && self.cfg.relax.unreachable_after_recovery {
                        return;
                    }
                    self.violation(format!(
                        "{id} is ONLINE after {silent} ms of silence (UNREACHABLE after {unreach} ms, §2.4)"
                    ));
                } else if silent <= unreach && st == PeerOnlineState::Unreachable {
                    self.violation(format!(
                        "{id} is UNREACHABLE although the server heard from it {silent} ms ago"
                    ));
                }
            }
        }
    }

    /// At every full sweep (a divergence persists; once a simulated second keeps the
    /// per-step cost down): the session the server holds for `u` is the one the model
    /// follows (same id), and holds the attributes the model's writes left (§4.5). A write's
    /// own step is checked where it is handled.
    fn check_held_session(&mut self, u: usize) {
        let Some(s) = self.users[u].session.as_ref().filter(|_| self.server_up) else {
            return;
        };
        let id = &self.users[u].id;
        let observe = self.server.observe();
        let (sid, attrs) = (observe.session_id(id), observe.user_attributes(id));
        if sid != Some(s.sid.as_str()) {
            self.violation(format!(
                "server holds session {sid:?} for {id}; the model follows {}",
                s.sid
            ));
        } else if attrs != Some(&self.users[u].attrs) {
            self.violation(format!(
                "server holds user attributes {attrs:?} for {id}; the model has {:?}",
                self.users[u].attrs
            ));
        }
    }

    // ----- messages ------------------------------------------------------------------------

    /// Registers a message about to be sent; returns its index and body.
    pub(crate) fn new_message(
        &mut self,
        node: usize,
        to: usize,
        offline: bool,
        probe: bool,
    ) -> Option<(usize, Message)> {
        if self.msgs.len() >= MAX_MESSAGES {
            return None;
        }
        let idx = self.msgs.len();
        let raw = self.work.chance(0.3);
        let large = self.work.chance(self.cfg.knobs.large_p);
        let pad = if large {
            self.work.range(100, 8_192) as usize
        } else {
            self.work.below(24) as usize
        };
        let mut message = make_body(idx, raw, pad);
        if large && !self.cfg.relax.no_escape_heavy_messages && self.work.chance(0.1) {
            // Valid by `Message::is_valid` (32 KB of text), but every \u{1} is six bytes
            // of JSON.
            let mut text = format!("m{idx};");
            let n = rtm_proto::message::MAX_MESSAGE_BYTES - text.len();
            text.push_str(&"\u{1}".repeat(n));
            message = Message::text(text);
        }
        let (raw, len) = body_shape(&message);
        let from_user = self.clients[node].user;
        let pair = self.pair_next.entry((node, to)).or_insert(0);
        let pair_index = *pair;
        *pair += 1;
        let overflow_mark = self.users[to].overflow_epoch;
        self.msgs.push(MsgRec {
            from_user,
            from_node: node,
            to,
            offline,
            raw,
            len,
            sent_at: self.now,
            sent_crash: self.crashes,
            pair_index,
            outcome: Outcome::Pending,
            outcome_at: 0,
            outcome_crash: self.crashes,
            overflow_mark,
            deliveries: Vec::new(),
            probe,
            in_backlog: false,
        });
        Some((idx, message))
    }

    /// The send was accepted locally: count it against the receiver's backlog.
    pub(crate) fn message_accepted(&mut self, idx: usize) {
        self.stats.messages += 1;
        self.msgs[idx].in_backlog = true;
        let to = self.msgs[idx].to;
        let cap = self.server_cfg.offline_per_user;
        let u = &mut self.users[to];
        u.backlog += 1;
        if u.backlog > cap {
            u.overflow_epoch += 1;
        }
    }

    /// The send was refused locally: forget it (the index stays, unused).
    pub(crate) fn message_refused(&mut self, idx: usize) {
        let m = &mut self.msgs[idx];
        m.outcome = Outcome::Failed(0);
        let key = (m.from_node, m.to);
        // Keep pair indices dense so order checks stay meaningful.
        if let Some(p) = self.pair_next.get_mut(&key) {
            *p -= 1;
        }
        m.pair_index = u64::MAX;
    }
}

/// Message bodies carry their model index: text `m<idx>;<pad>` or raw `<idx LE><pad>`.
pub(crate) fn make_body(idx: usize, raw: bool, pad: usize) -> Message {
    if raw {
        let mut data = (idx as u64).to_le_bytes().to_vec();
        data.extend((0..pad).map(|i| (i * 31 + idx) as u8));
        Message::raw(data, if pad % 2 == 0 { "" } else { "d" })
    } else {
        let mut text = format!("m{idx};");
        text.push_str(&"x".repeat(pad));
        Message::text(text)
    }
}

pub(crate) fn parse_body(m: &Message) -> Option<usize> {
    match m {
        Message::Text { text } => {
            let rest = text.strip_prefix('m')?;
            let end = rest.find(';')?;
            rest[..end].parse().ok()
        }
        Message::Raw { data, .. } => {
            let b: [u8; 8] = data.get(..8)?.try_into().ok()?;
            usize::try_from(u64::from_le_bytes(b)).ok()
        }
    }
}

pub(crate) fn body_shape(m: &Message) -> (bool, usize) {
    (matches!(m, Message::Raw { .. }), m.counted_len())
}
