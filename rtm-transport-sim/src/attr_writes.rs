//! The client's attribute writes as one call per store, chosen by [`AttrOp`]: the workload
//! and the fuzz targets draw the operation, and the client has a method for each.

use std::collections::BTreeMap;

use rtm_proto::attributes::AttrOp;
use rtm_proto::client::{ChannelAttributeOptions, RequestId};
use rtm_proto::{AttributeOperationError, ChannelId, Client, Timestamp};

type Issued = Result<RequestId, AttributeOperationError>;

/// `op` on the client's own user attributes (`attrs` for set and add/update, `keys` for
/// delete).
pub fn write_user_attributes(
    c: &mut Client,
    now: Timestamp,
    op: AttrOp,
    attrs: BTreeMap<String, String>,
    keys: Vec<String>,
) -> Issued {
    match op {
        AttrOp::Set => c.set_local_user_attributes(now, attrs),
        AttrOp::AddOrUpdate => c.add_or_update_local_user_attributes(now, attrs),
        AttrOp::Delete => c.delete_local_user_attributes_by_keys(now, keys),
        AttrOp::Clear => c.clear_local_user_attributes(now),
    }
}

/// `op` on the attributes of `channel` (as [`write_user_attributes`], with `opts`).
pub fn write_channel_attributes(
    c: &mut Client,
    now: Timestamp,
    channel: &ChannelId,
    op: AttrOp,
    attrs: BTreeMap<String, String>,
    keys: Vec<String>,
    opts: ChannelAttributeOptions,
) -> Issued {
    match op {
        AttrOp::Set => c.set_channel_attributes(now, channel, attrs, opts),
        AttrOp::AddOrUpdate => c.add_or_update_channel_attributes(now, channel, attrs, opts),
        AttrOp::Delete => c.delete_channel_attributes_by_keys(now, channel, keys, opts),
        AttrOp::Clear => c.clear_channel_attributes(now, channel, opts),
    }
}
