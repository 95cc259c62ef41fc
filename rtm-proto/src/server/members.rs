//! A channel's members as others see them (§4.8, §5.2): `get_members` (a shared random
//! sample above 512 members), `get_member_count`, and the coalesced `member_count` pushes.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use crate::errors::{GetChannelMemberCountError, GetMembersError};
use crate::ids::{ChannelId, UserId};
use crate::time::Timestamp;
use crate::wire::{ChannelCount, Push, Reply};

use super::{ConnId, Server, ServerTimer};

use crate::limits::{MAX_COUNT_CHANNELS, MAX_GET_MEMBERS, MEMBER_EVENT_LIMIT};

/// How long a member sample of a big channel is reused (`get_members` on > 512 members).
pub const SAMPLE_TTL: Duration = Duration::from_secs(1);

/// What a channel's members were told of its membership.
#[derive(Debug, Default)]
pub(super) struct MemberView {
    /// When the last coalesced `member_count` push went out, and the count it carried.
    sent_at: Option<Timestamp>,
    sent: Option<u32>,
    /// Joiners told the count privately since the last coalesced push, and what they were
    /// told: the push skips those who already know it.
    pub told: BTreeMap<UserId, u32>,
    /// Whether a coalesced push is scheduled.
    timer: bool,
    /// The last member sample of a channel over 512 members, and when it was drawn.
    sample: Option<(Timestamp, Vec<UserId>)>,
}

/// How often the count of a channel of `members` is pushed: 1/s, 1 per 3 s above 512.
fn count_interval(members: usize) -> Duration {
    if members > MEMBER_EVENT_LIMIT {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(1)
    }
}

impl Server {
    pub(super) fn on_get_members(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        id: u32,
        channel: ChannelId,
    ) {
        let member = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.channels.contains_key(&channel));
        let Some(ch) = self.channels.get(&channel).filter(|_| member) else {
            let e = GetMembersError::NotInChannel;
            return self.reply_error(conn, id, e.code(), e.to_string());
        };
        let members = if ch.members.len() <= MAX_GET_MEMBERS {
            ch.members.iter().cloned().collect()
        } else {
            self.member_sample(&channel)
        };
        self.reply(conn, Reply::Members { id, members });
    }

    /// A uniform random sample of [`MAX_GET_MEMBERS`] members of a bigger channel, sorted.
    /// Drawing one walks the member set once, so it is drawn at most once per
    /// [`SAMPLE_TTL`] and channel and shared by every `get_members` in that time: a tight
    /// loop of them costs O(512) each, not O(members).
    fn member_sample(&mut self, channel: &ChannelId) -> Vec<UserId> {
        let now = self.now;
        let Some(ch) = self.channels.get(channel) else {
            return Vec::new();
        };
        if let Some((at, sample)) = &ch.view.sample {
            if now.since(*at) < SAMPLE_TTL {
                return sample.clone();
            }
        }
        // Floyd's algorithm: MAX_GET_MEMBERS distinct indices, then one ordered walk.
        let n = ch.members.len() as u64;
        let mut picked = BTreeSet::new();
        for j in n - MAX_GET_MEMBERS as u64..n {
            let t = self.rng.below(j + 1);
            if !picked.insert(t) {
                picked.insert(j);
            }
        }
        let mut wanted = picked.into_iter().peekable();
        let sample: Vec<UserId> = ch
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let hit = wanted.peek() == Some(&(*i as u64));
                if hit {
                    wanted.next();
                }
                hit
            })
            .map(|(_, m)| m.clone())
            .collect();
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.view.sample = Some((now, sample.clone()));
        }
        sample
    }

    pub(super) fn on_get_member_count(&mut self, conn: ConnId, id: u32, channels: Vec<ChannelId>) {
        if channels.is_empty() {
            let e = GetChannelMemberCountError::InvalidArgument;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        if channels.len() > MAX_COUNT_CHANNELS {
            let e = GetChannelMemberCountError::ExceedLimit;
            return self.reply_error(conn, id, e.code(), e.to_string());
        }
        let counts = channels
            .into_iter()
            .map(|channel| {
                let count = self.channels.get(&channel).map_or(0, |ch| ch.count());
                ChannelCount { channel, count }
            })
            .collect();
        self.reply(conn, Reply::MemberCounts { id, counts });
    }

    /// Membership changed: push the count now, or when the throttle allows (§5.2).
    /// Returns whether it was pushed now.
    pub(super) fn count_changed(&mut self, channel: &ChannelId) -> bool {
        let now = self.now;
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        let due = ch
            .view
            .sent_at
            .map_or(now, |t| t.saturating_add(count_interval(ch.members.len())));
        if now >= due {
            return self.push_count(channel);
        }
        if !ch.view.timer {
            ch.view.timer = true;
            let epoch = ch.epoch;
            self.timers.schedule(
                due,
                ServerTimer::MemberCount {
                    channel: channel.clone(),
                    epoch,
                },
            );
        }
        false
    }

    pub(super) fn on_member_count_timer(&mut self, channel: &ChannelId, epoch: u64) {
        if let Some(ch) = self.channels.get_mut(channel) {
            if ch.epoch == epoch {
                ch.view.timer = false;
                self.push_count(channel);
            }
        }
    }

    /// Pushes the count to every member unless it is the one last pushed; returns whether
    /// it pushed.
    fn push_count(&mut self, channel: &ChannelId) -> bool {
        let now = self.now;
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        let count = ch.count();
        if ch.view.sent == Some(count) {
            // Unchanged for everyone told by the last coalesced push; joiners told another
            // count privately since must hear this one.
            let stale: Vec<UserId> = ch
                .view
                .told
                .iter()
                .filter(|(_, c)| **c != count)
                .map(|(m, _)| m.clone())
                .collect();
            ch.view.told.clear();
            if !stale.is_empty() {
                let frame = Push::MemberCount {
                    channel: channel.clone(),
                    count,
                }
                .encode();
                for m in &stale {
                    self.push_member_count(m, channel, frame.clone());
                }
            }
            return false;
        }
        ch.view.sent = Some(count);
        ch.view.sent_at = Some(now);
        let frame = Push::MemberCount {
            channel: channel.clone(),
            count,
        }
        .encode();
        self.fan_out_counts(channel, count, &frame);
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.view.told.clear();
        }
        true
    }
}
