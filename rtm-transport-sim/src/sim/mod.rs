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
//!
//! This file holds the loop itself (the heap, node inputs, draining); the rest of `Sim` is
//! split by concern: `network` (links and delivery), `outputs` (what nodes ask for),
//! `client_events` (events against the model), `checks` (per-step invariants and the
//! held-state comparison) and `messages` (registering peer messages).

use rtm_proto::ChannelEvent;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::time::Instant;

use rtm_proto::client::{ClientConfig, ClientInput, ClientOutput, Event, Response};
use rtm_proto::server::{
    ConnId, Server, ServerConfig, ServerInput, ServerOutput, StorageEvent, StorageOp,
};
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

mod checks;
mod client_events;
mod messages;
mod network;
mod outputs;
mod storage;

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
    /// The store's next batch (group commit) is due (`gen` guards against a crash).
    StoreBatch {
        gen: u64,
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
    /// Peer messages delivered to the application so far.
    pub peer_deliveries: u64,
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
    /// Store batches completed (committed or failed).
    pub store_batches: u64,
    /// Writes the store reported failed.
    pub store_failed_writes: u64,
    /// Store faults: failing periods, stalls.
    pub store_failures: u64,
    pub store_stalls: u64,
    /// Uncommitted ops lost in crashes.
    pub store_ops_lost: u64,
    /// Records handed to restarted servers.
    pub restored_records: u64,
    /// Crashes that happened while some cached message was undelivered, and how many such
    /// messages there were in all.
    pub crashes_with_cached_outstanding: u64,
    pub cached_outstanding_at_crash: u64,
    /// Cached messages first delivered by a later server incarnation than the one that
    /// answered `cached` (they survived a crash on disk).
    pub cached_delivered_after_crash: u64,
    /// Senders answered FAILURE / not stored.
    pub not_stored: u64,
    /// … of which the receiver had already shown (delivered from a session's stream
    /// before the session ended and the message's write on its way to the offline store
    /// failed).
    pub not_stored_seen_before: u64,
    /// … or shows it after: a push sent before the answer, still on its way (stalled
    /// link) or from an older incarnation.
    pub not_stored_seen_late: u64,
    /// Not-stored messages shown by the receiver from a push of an older incarnation (the
    /// first send's outcome was lost with a crash; the resend was new to the new server).
    pub not_stored_seen_across_crash: u64,
    /// Records the core had undone (delete emitted before the write committed) that
    /// committed late and came back after a crash lost the delete.
    pub late_commits_restored: u64,
    /// Excused: deliveries of a message whose sender heard not-stored, because a late
    /// commit of its record came back after a crash (`late_commits_restored`).
    pub not_stored_delivered_excused: u64,
    /// Relaxed: a not-stored message delivered from its sender's resend that crossed the
    /// answer (`not_stored_resend_crosses_answer`).
    pub relaxed_not_stored_resend: u64,
    /// Redeliveries to the same node excused because the node's memory of delivered
    /// messages (4096) forgot it.
    pub dup_memory_excused: u64,
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
    /// The simulated record store (see [`crate::store`]).
    pub(crate) store: crate::store::Store,
    /// The current step delivered a not-stored answer: (node, request, message).
    pub(crate) step_not_stored: Option<(usize, u32, usize)>,
    /// Counts the server's peer-message pushes and error answers (orders them).
    pub(crate) server_out_seq: u64,
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
                peer_deliveries: 0,
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
            store: crate::store::Store::new(Source::seeded(derive(cfg.seed, 4))),
            step_not_stored: None,
            server_out_seq: 0,
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
            self.step_not_stored = None;
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
            Ev::StoreBatch { gen } => {
                if self.server_up {
                    self.store_batch(gen);
                }
            }
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
        // The workload sends no media messages.
        Message::File(_) | Message::Image(_) => None,
    }
}

pub(crate) fn body_shape(m: &Message) -> (bool, usize) {
    (matches!(m, Message::Raw { .. }), m.counted_len())
}
