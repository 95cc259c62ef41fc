//! The server's timers: one enum of everything the server waits for, each variant carrying
//! what it needs to tell whether it still matters (an epoch or generation: a stale timer is
//! ignored rather than cancelled), and the dispatch of the expired ones.

use core::time::Duration;

use crate::ids::{ChannelId, UserId};
use crate::wire::close;

use super::invitations::InvKey;
use super::storage::RecordId;
use super::{history, ConnId, ConnState, Server};

/// How often a round of the offline store's expiry sweep starts.
pub(super) const OFFLINE_SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// The pause between steps of one round (each looks at a bounded number of receivers).
const OFFLINE_SWEEP_STEP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServerTimer {
    LoginDeadline(ConnId),
    Liveness {
        uid: UserId,
        epoch: u64,
        gen: u64,
    },
    TokenWarning {
        uid: UserId,
        epoch: u64,
        gen: u64,
    },
    TokenExpiry {
        uid: UserId,
        epoch: u64,
        gen: u64,
    },
    OfflineSweep,
    HistorySweep,
    MemberCount {
        channel: ChannelId,
        epoch: u64,
    },
    ChannelGc {
        channel: ChannelId,
        epoch: u64,
        gen: u64,
    },
    InvitationAck(InvKey),
    InvitationExpiry(InvKey),
    InvitationAccept(InvKey),
    InvitationRetire(InvKey),
    /// The commit deadline of a record write.
    StorageDeadline(RecordId),
    /// The deadline of a REST call waiting for an outcome (`admin/pending.rs`); `request`
    /// tells it from a later call with the same id.
    AdminDeadline {
        call: super::admin::AdminCallId,
        request: u64,
    },
    /// The end of ban rule `id` (`admin/bans.rs`).
    BanExpiry(u64),
    /// The end of a media's 7 days (`media/`).
    MediaExpiry(String),
}

impl Server {
    pub(super) fn run_timers(&mut self) {
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                ServerTimer::LoginDeadline(conn) => {
                    if matches!(self.conns.get(&conn), Some(ConnState::AwaitingLogin { .. })) {
                        self.close(
                            conn,
                            close::OUT_OF_SEQUENCE,
                            "no login within the login timeout",
                        );
                    }
                }
                ServerTimer::Liveness { uid, epoch, gen } => self.on_liveness(&uid, epoch, gen),
                ServerTimer::TokenWarning { uid, epoch, gen } => {
                    self.on_token_warning(&uid, epoch, gen)
                }
                ServerTimer::TokenExpiry { uid, epoch, gen } => {
                    self.on_token_expiry(&uid, epoch, gen)
                }
                ServerTimer::MemberCount { channel, epoch } => {
                    self.on_member_count_timer(&channel, epoch)
                }
                ServerTimer::ChannelGc {
                    channel,
                    epoch,
                    gen,
                } => self.on_channel_gc(&channel, epoch, gen),
                t @ (ServerTimer::InvitationAck(_)
                | ServerTimer::InvitationExpiry(_)
                | ServerTimer::InvitationAccept(_)
                | ServerTimer::InvitationRetire(_)) => self.on_invitation_timer(t),
                ServerTimer::HistorySweep => {
                    self.sweep_history();
                    self.timers.schedule(
                        self.now.saturating_add(history::SWEEP_EVERY),
                        ServerTimer::HistorySweep,
                    );
                }
                ServerTimer::OfflineSweep => {
                    let pause = if self.sweep_offline_step() {
                        OFFLINE_SWEEP_EVERY
                    } else {
                        OFFLINE_SWEEP_STEP
                    };
                    self.timers
                        .schedule(self.now.saturating_add(pause), ServerTimer::OfflineSweep);
                }
                ServerTimer::StorageDeadline(id) => self.on_storage_deadline(id),
                ServerTimer::AdminDeadline { call, request } => {
                    self.on_admin_deadline(call, request)
                }
                ServerTimer::BanExpiry(id) => self.on_ban_expiry(id),
                ServerTimer::MediaExpiry(media_id) => self.on_media_expiry(&media_id),
            }
        }
    }
}
