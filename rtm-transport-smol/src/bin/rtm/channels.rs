//! `rtm join`, `rtm send-channel` and `rtm attrs`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use futures_lite::io::BufReader;
use futures_lite::{future, AsyncBufReadExt, StreamExt};
use rtm_proto::client::ChannelAttributeOptions;
use rtm_proto::{ChannelId, Message};
use rtm_transport_smol::{RtmChannel, RtmClient};
use serde_json::{json, Value};

use crate::json::{
    channel_attributes_json, op_err, op_ok, print_json, report, user_attributes_json,
};
use crate::{interrupted, session, Cli};

/// Whose attributes.
#[derive(Debug, Subcommand)]
pub enum AttrsTarget {
    /// The logged-in user's attributes (they live as long as the session), or another online
    /// user's (`get`).
    User {
        #[command(subcommand)]
        op: UserAttrOp,
    },
    /// A channel's attributes (no need to join it).
    Channel {
        /// The channel id.
        channel: String,
        #[command(subcommand)]
        op: ChannelAttrOp,
    },
}

/// User attribute operations. The writes stay logged in (printing events) until Ctrl-C,
/// because user attributes end with the session; `--exit` logs out at once.
pub type UserAttrOp = AttrOp<Exit, UserGet>;

/// Channel attribute operations: each prints its result and exits.
pub type ChannelAttrOp = AttrOp<Notify, Keys>;

/// The same five operations on a user's or a channel's attributes (§4.5, §4.6): `F` is the
/// target's flag (`--exit` or `--notify`), `G` what `get` takes.
#[derive(Debug, Subcommand)]
pub enum AttrOp<F: Args, G: Args> {
    /// Replace the whole set (`setLocalUserAttributes` / `setChannelAttributes`).
    Set(Write<F>),
    /// Add or update keys (`addOrUpdateLocalUserAttributes` /
    /// `addOrUpdateChannelAttributes`).
    Update(Write<F>),
    /// Delete keys (`deleteLocalUserAttributesByKeys` / `deleteChannelAttributesByKeys`).
    Delete(Delete<F>),
    /// Delete every key (`clearLocalUserAttributes` / `clearChannelAttributes`).
    Clear(F),
    /// Print the attributes, all or those with these keys.
    Get(G),
}

/// What `attrs user get` takes: an online user's id, and keys.
#[derive(Debug, Args)]
pub struct UserGet {
    /// The user id.
    user: String,
    #[command(flatten)]
    keys: Keys,
}

/// Keys to read (none: all of them).
#[derive(Debug, Args)]
pub struct Keys {
    #[arg(value_name = "KEY")]
    keys: Vec<String>,
}

impl Keys {
    /// The read these keys ask for: `all` when none are named, else `some` of them.
    fn read<T>(&self, all: impl FnOnce() -> T, some: impl FnOnce(&[&str]) -> T) -> T {
        if self.keys.is_empty() {
            all()
        } else {
            some(&keys(&self.keys))
        }
    }
}

/// The arguments of a write of `KEY=VALUE` pairs, user or channel alike; `F` is the flag of
/// the target (`--exit` or `--notify`).
#[derive(Debug, Args)]
pub struct Write<F: Args> {
    #[arg(required = true, value_name = "KEY=VALUE", value_parser = key_value)]
    attributes: Vec<(String, String)>,
    #[command(flatten)]
    flag: F,
}

/// The arguments of a delete by keys; `F` as in [`Write`].
#[derive(Debug, Args)]
pub struct Delete<F: Args> {
    #[arg(required = true, value_name = "KEY")]
    keys: Vec<String>,
    #[command(flatten)]
    flag: F,
}

/// The flag of user attribute writes.
#[derive(Debug, Args)]
pub struct Exit {
    /// Log out right after the write (which ends the attributes too).
    #[arg(long)]
    exit: bool,
}

/// The flag of channel attribute writes.
#[derive(Debug, Args)]
pub struct Notify {
    /// Send the members `AttributesUpdated` with the complete set.
    #[arg(long)]
    notify: bool,
}

pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn channel_handle(
    client: &RtmClient,
    channel: &str,
    print: &dyn Fn(&Value),
) -> Result<RtmChannel, ExitCode> {
    client.create_channel(channel).map_err(|e| {
        let fields = json!({ "channel_id": channel });
        print(&op_err("create_channel", e.code(), &e, fields));
        ExitCode::from(2)
    })
}

/// Sends `text` to the channel and prints the result with `print`.
async fn say(channel: &RtmChannel, text: &str, print: &dyn Fn(&Value)) -> bool {
    let fields = json!({ "channel_id": channel.channel_id().as_str(), "text": text });
    let sent = channel.send_message(Message::text(text)).await;
    report(print, "send_channel_message", fields, sent, |()| json!({})) == ExitCode::SUCCESS
}

/// `rtm join CHANNEL [--say TEXT]... [--stdin]`.
pub async fn join(cli: &Cli, uid: &str, channel: &str, says: &[String], stdin: bool) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let print = |v: &Value| log.print(v);
    let channel = match channel_handle(&client, channel, &print) {
        Ok(c) => c,
        Err(code) => {
            log.logout(&client).await;
            return code;
        }
    };
    let fields = json!({ "channel_id": channel.channel_id().as_str() });
    if let Err(e) = channel.join().await {
        log.print(&op_err("join", e.code(), &e, fields));
        log.logout(&client).await;
        return ExitCode::FAILURE;
    }
    log.print(&op_ok("join", fields.clone()));
    let speaker = async {
        for text in says {
            say(&channel, text, &print).await;
        }
        if stdin {
            let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
            while let Some(Ok(line)) = lines.next().await {
                if !line.is_empty() {
                    say(&channel, &line, &print).await;
                }
            }
        }
        future::pending().await
    };
    let code = future::or(
        async {
            interrupted(&mut signals).await;
            ExitCode::SUCCESS
        },
        future::or(log.print_all(), speaker),
    )
    .await;
    if code == ExitCode::SUCCESS {
        let left = channel.leave().await;
        report(&print, "leave", fields, left, |()| json!({}));
    }
    log.logout(&client).await;
    code
}

/// `rtm send-channel CHANNEL TEXT`: prints only the send's result (or the error that came
/// before it).
pub async fn send_channel(cli: &Cli, uid: &str, channel: &str, text: &str) -> ExitCode {
    let (client, _log, _signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let channel = match channel_handle(&client, channel, &print_json) {
        Ok(c) => c,
        Err(code) => {
            let _ = client.logout().await;
            return code;
        }
    };
    let fields = json!({ "channel_id": channel.channel_id().as_str() });
    let code = match channel.join().await {
        Err(e) => {
            print_json(&op_err("join", e.code(), &e, fields));
            ExitCode::FAILURE
        }
        Ok(()) => {
            let sent = say(&channel, text, &print_json).await;
            let _ = channel.leave().await;
            if sent {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    };
    let _ = client.logout().await;
    code
}

/// `rtm attrs ...`.
pub async fn attrs(cli: &Cli, uid: &str, target: &AttrsTarget) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    // User attributes end with the session: writes keep it (printing events) until Ctrl-C,
    // unless told to exit.
    let hold = match target {
        AttrsTarget::User { op } => match op {
            AttrOp::Set(Write { flag, .. })
            | AttrOp::Update(Write { flag, .. })
            | AttrOp::Delete(Delete { flag, .. })
            | AttrOp::Clear(flag) => !flag.exit,
            AttrOp::Get(_) => false,
        },
        AttrsTarget::Channel { .. } => false,
    };
    let print = |v: &Value| {
        if hold {
            log.print(v)
        } else {
            print_json(v)
        }
    };
    let code = match target {
        AttrsTarget::User { op } => user_attrs(&client, op, &print).await,
        AttrsTarget::Channel { channel, op } => match channel_handle(&client, channel, &print) {
            Ok(channel) => channel_attrs(&client, channel.channel_id(), op, &print).await,
            Err(code) => code,
        },
    };
    if hold && code == ExitCode::SUCCESS {
        let interrupted = async {
            interrupted(&mut signals).await;
            ExitCode::SUCCESS
        };
        let code = future::or(interrupted, log.print_all()).await;
        log.logout(&client).await;
        return code;
    }
    let _ = client.logout().await;
    code
}

fn map(attributes: &[(String, String)]) -> BTreeMap<String, String> {
    attributes.iter().cloned().collect()
}

fn keys(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}

/// Runs one user-attribute operation and prints its result.
async fn user_attrs(client: &RtmClient, op: &UserAttrOp, print: &dyn Fn(&Value)) -> ExitCode {
    let (name, result) = match op {
        AttrOp::Get(UserGet { user, keys: k }) => {
            let fields = json!({ "user_id": user });
            let result = k.read(
                || client.get_user_attributes(user),
                |k| client.get_user_attributes_by_keys(user, k),
            );
            let attributes = |a| json!({ "attributes": user_attributes_json(&a) });
            return report(
                print,
                "get_user_attributes",
                fields,
                result.await,
                attributes,
            );
        }
        AttrOp::Set(Write { attributes, .. }) => (
            "set_local_user_attributes",
            client.set_local_user_attributes(map(attributes)).await,
        ),
        AttrOp::Update(Write { attributes, .. }) => (
            "add_or_update_local_user_attributes",
            client
                .add_or_update_local_user_attributes(map(attributes))
                .await,
        ),
        AttrOp::Delete(Delete { keys: k, .. }) => (
            "delete_local_user_attributes_by_keys",
            client.delete_local_user_attributes_by_keys(&keys(k)).await,
        ),
        AttrOp::Clear(_) => (
            "clear_local_user_attributes",
            client.clear_local_user_attributes().await,
        ),
    };
    // A write prints the user's whole set as the server confirmed it.
    report(
        print,
        name,
        json!({}),
        result,
        |()| json!({ "attributes": user_attributes_json(&client.local_user_attributes()) }),
    )
}

/// Runs one channel-attribute operation and prints its result.
async fn channel_attrs(
    client: &RtmClient,
    channel: &ChannelId,
    op: &ChannelAttrOp,
    print: &dyn Fn(&Value),
) -> ExitCode {
    let fields = json!({ "channel_id": channel.as_str() });
    let options = |flag: &Notify| ChannelAttributeOptions {
        enable_notification_to_channel_members: flag.notify,
    };
    let (name, result) = match op {
        AttrOp::Get(k) => {
            let result = k.read(
                || client.get_channel_attributes(channel),
                |k| client.get_channel_attributes_by_keys(channel, k),
            );
            let attributes = |a| json!({ "attributes": channel_attributes_json(&a) });
            return report(
                print,
                "get_channel_attributes",
                fields,
                result.await,
                attributes,
            );
        }
        AttrOp::Set(Write { attributes, flag }) => (
            "set_channel_attributes",
            client
                .set_channel_attributes(channel, map(attributes), options(flag))
                .await,
        ),
        AttrOp::Update(Write { attributes, flag }) => (
            "add_or_update_channel_attributes",
            client
                .add_or_update_channel_attributes(channel, map(attributes), options(flag))
                .await,
        ),
        AttrOp::Delete(Delete { keys: k, flag }) => (
            "delete_channel_attributes_by_keys",
            client
                .delete_channel_attributes_by_keys(channel, &keys(k), options(flag))
                .await,
        ),
        AttrOp::Clear(flag) => (
            "clear_channel_attributes",
            client
                .clear_channel_attributes(channel, options(flag))
                .await,
        ),
    };
    report(print, name, fields, result, |()| json!({}))
}
