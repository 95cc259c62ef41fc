//! The answers the clients' channel and attribute requests get, checked against the model.

use std::collections::BTreeSet;

use bytes::Bytes;
use rtm_proto::attributes::{self};
use rtm_proto::client::Response;
use rtm_proto::wire::ClientFrame;
use rtm_proto::{
    AttributeOperationError, ChannelId, ConnectionState as State, GetChannelMemberCountError,
    GetMembersError, JoinChannelError, LeaveChannelError, UserId,
};

use crate::sim::{Pend, Sim};

impl Sim {
    /// Users whose connected client believes it is in channel `c`.
    pub(super) fn believers(&self, c: usize) -> BTreeSet<usize> {
        let id = &self.chans[c].id;
        let relax = self.cfg.relax.rejoin_lost_after_timeout;
        self.clients
            .iter()
            .filter(|n| n.target_in && n.state == State::Connected)
            .filter(|n| n.client.joined_channels().contains(id))
            .filter(|n| !(relax && n.ext.rejoin_due.get(&c).is_some_and(|&t| t < self.now)))
            .map(|n| n.user)
            .collect()
    }

    /// What the server's member list of `c` should be once converged: the believers, plus
    /// members whose leave may have been lost (relaxation `channel_leave_lost_after_timeout`).
    pub(super) fn expected_members(&self, c: usize) -> BTreeSet<usize> {
        let mut want = self.believers(c);
        for &u in &self.chans[c].members {
            let ghost = self.users[u]
                .session
                .as_ref()
                .is_some_and(|s| self.clients[s.node].ext.ghost_chans.contains(&c));
            if ghost {
                want.insert(u);
            }
        }
        want
    }

    /// Handles the response to a channel or attribute request.
    pub(crate) fn on_feature_response(&mut self, node: usize, pend: Pend, response: Response) {
        let name = self.node_name(node);
        match (pend, response) {
            (Pend::Join { chan }, Response::Join(r)) => {
                let id = self.chans[chan].id.clone();
                match r {
                    Ok(()) => {
                        self.stats.joins += 1;
                        if self.clients[node].client.joined_channels().contains(&id) {
                            self.clients[node].ext.joined_ok.insert(chan);
                            self.clients[node].ext.ghost_chans.remove(&chan);
                        }
                    }
                    Err(e) => {
                        let ext = &mut self.clients[node].ext;
                        ext.joined_ok.remove(&chan);
                        ext.stints.remove(&chan);
                        ext.rejoin_due.remove(&chan);
                        // Undone by an internal leave that may be dropped in turn.
                        if e == JoinChannelError::Timeout
                            && self.cfg.relax.channel_leave_lost_after_timeout
                        {
                            ext.ghost_chans.insert(chan);
                        }
                        if !matches!(e, JoinChannelError::Timeout | JoinChannelError::NotLoggedIn) {
                            self.violation(format!("{name}: join of {id} failed with {e:?}"));
                        }
                    }
                }
            }
            (Pend::Leave { chan }, Response::Leave(r)) => {
                self.stats.leaves += 1;
                if r == Err(LeaveChannelError::Failure)
                    && self.cfg.relax.channel_leave_lost_after_timeout
                {
                    self.clients[node].ext.ghost_chans.insert(chan);
                }
                if let Err(e) = r {
                    if !matches!(
                        e,
                        LeaveChannelError::Failure
                            | LeaveChannelError::NotLoggedIn
                            | LeaveChannelError::NotInChannel
                    ) {
                        let id = &self.chans[chan].id;
                        self.violation(format!("{name}: leave of {id} failed with {e:?}"));
                    }
                }
            }
            (Pend::ChannelSend { cmsg }, Response::SendChannelMessage(r)) => {
                let rec = &mut self.cmsgs[cmsg];
                rec.answered = Some(r.map_err(|e| e.code()));
                let (probe, accepted) = (rec.probe, !rec.accepts.is_empty());
                match r {
                    Ok(()) if !accepted => self.violation(format!(
                        "{name} was told channel message #{cmsg} was accepted, but no server accepted it"
                    )),
                    Err(e) if probe => self.violation(format!(
                        "{name}: probe channel message #{cmsg} failed in a healed network: {e:?}"
                    )),
                    _ => {}
                }
            }
            (Pend::GetMembers { chan, probe }, Response::GetMembers(r)) => match r {
                Ok(list) if probe => {
                    let mut got: Vec<UserId> = list;
                    got.sort();
                    let mut want: Vec<UserId> = self
                        .expected_members(chan)
                        .into_iter()
                        .map(|u| self.users[u].id.clone())
                        .collect();
                    want.sort();
                    if got != want {
                        self.violation(format!(
                            "{name}: getMembers of {} in a healed network says {got:?}; the connected members are {want:?}",
                            self.chans[chan].id
                        ));
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getMembers failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if matches!(e, GetMembersError::Failure | GetMembersError::Rejected) {
                        self.violation(format!("{name}: getMembers failed with {e:?}"));
                    }
                }
                Ok(_) => {}
            },
            (Pend::MemberCount { chans, probe }, Response::GetChannelMemberCount(r)) => match r {
                Ok(v) => {
                    let asked: Vec<&ChannelId> = chans.iter().map(|&c| &self.chans[c].id).collect();
                    let got: Vec<&ChannelId> = v.iter().map(|(c, _)| c).collect();
                    if asked != got {
                        self.violation(format!(
                            "{name}: member counts answered for {got:?}, asked for {asked:?} (must be in request order)"
                        ));
                        return;
                    }
                    if probe {
                        for (&c, (id, count)) in chans.iter().zip(&v) {
                            let want = self.expected_members(c).len() as u32;
                            if *count != want {
                                self.violation(format!(
                                    "{name}: in a healed network {id} counts {count} members; {want} connected clients are in it"
                                ));
                            }
                        }
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getChannelMemberCount failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if !matches!(
                        e,
                        GetChannelMemberCountError::Timeout
                            | GetChannelMemberCountError::NotLoggedIn
                    ) {
                        self.violation(format!("{name}: getChannelMemberCount failed with {e:?}"));
                    }
                }
            },
            (Pend::ChannelAttrWrite | Pend::UserAttrWrite, Response::AttributeWrite(r)) => {
                if let Err(e) = r {
                    if !matches!(
                        e,
                        AttributeOperationError::Timeout
                            | AttributeOperationError::NotLoggedIn
                            | AttributeOperationError::SizeOverflow
                    ) {
                        self.violation(format!("{name}: attribute write failed with {e:?}"));
                    }
                }
            }
            (
                Pend::ChannelAttrGet {
                    chan,
                    keys,
                    issued,
                    probe,
                },
                Response::GetChannelAttributes(r),
            ) => match r {
                Ok(map) => {
                    let ch = &self.chans[chan];
                    // The server's answer was checked against the store when it was given;
                    // in a healed network it must also be the latest one then (the grace
                    // period may still end in between: compare with what held since).
                    if probe {
                        let want = attributes::select(&ch.attrs, keys.as_deref());
                        if ch.held_between(issued, self.now, keys.as_deref(), &map) == Some(false) {
                            self.violation(format!(
                                "{name}: getChannelAttributes of {} in a healed network says {map:?}; the server holds {want:?}",
                                ch.id
                            ));
                        }
                    } else if ch.held_between(issued, self.now, keys.as_deref(), &map)
                        == Some(false)
                    {
                        self.violation(format!(
                            "{name}: getChannelAttributes of {} says {map:?}, which the server never held between {issued} and {} ms",
                            ch.id, self.now
                        ));
                    }
                }
                Err(e) if probe => self.violation(format!(
                    "{name}: probe getChannelAttributes failed in a healed network: {e:?}"
                )),
                Err(e) => {
                    if !matches!(
                        e,
                        AttributeOperationError::Timeout | AttributeOperationError::NotLoggedIn
                    ) {
                        self.violation(format!("{name}: getChannelAttributes failed with {e:?}"));
                    }
                }
            },
            (
                Pend::UserAttrGet {
                    user,
                    keys,
                    issued,
                    probe,
                },
                Response::GetUserAttributes(r),
            ) => {
                let id = self.users[user].id.clone();
                if probe {
                    let owner = self.users[user]
                        .nodes
                        .iter()
                        .copied()
                        .find(|&n| self.clients[n].target_in);
                    let want = owner.map(|n| {
                        attributes::select(
                            self.clients[n].client.local_user_attributes(),
                            keys.as_deref(),
                        )
                    });
                    match (r, want) {
                        (Ok(map), Some(want)) if map == want => {}
                        (r, want) => self.violation(format!(
                            "{name}: getUserAttributes({id}) in a healed network says {r:?}; its client last had {want:?} confirmed"
                        )),
                    }
                    return;
                }
                let answer = match &r {
                    Ok(map) => Some(Some(map)),
                    Err(AttributeOperationError::UserNotFound) => Some(None),
                    Err(
                        AttributeOperationError::Timeout | AttributeOperationError::NotLoggedIn,
                    ) => None,
                    Err(e) => {
                        self.violation(format!(
                            "{name}: getUserAttributes({id}) failed with {e:?}"
                        ));
                        None
                    }
                };
                if let Some(a) = answer {
                    if self.users[user].attrs_between(issued, self.now, keys.as_deref(), a)
                        == Some(false)
                    {
                        self.violation(format!(
                            "{name}: getUserAttributes({id}) says {r:?}, which was never the truth between {issued} and {} ms",
                            self.now
                        ));
                    }
                }
            }
            (pend, response) => {
                self.violation(format!("{name}: request was {pend:?} but got {response:?}"))
            }
        }
    }

    /// The client's channels are gone (logout, aborted).
    pub(crate) fn channels_forgotten(&mut self, node: usize) {
        let e = &mut self.clients[node].ext;
        e.stints.clear();
        e.joined_ok.clear();
        e.rejoin_due.clear();
        e.last_count.clear();
        e.count_private.clear();
    }

    /// The client sends a `join`: if it is an automatic rejoin (it carries `resume`), note
    /// when it times out (the client's `SHORT_TIMEOUT` after it was first sent, when it
    /// was made).
    pub(crate) fn rejoin_sent(&mut self, node: usize, b: &Bytes) {
        if let Ok(ClientFrame::Join {
            channel,
            resume: Some(_),
            ..
        }) = ClientFrame::decode(b)
        {
            if let Some(&c) = self.chan_index.get(&channel) {
                let due = self.now + rtm_proto::client::SHORT_TIMEOUT.as_millis() as u64;
                self.clients[node].ext.rejoin_due.entry(c).or_insert(due);
            }
        }
    }
}
