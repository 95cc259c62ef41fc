//! Typed answers: each request kind's result travels through the core as a variant of
//! [`rtm_proto::Response`]; [`RtmClient::request`] takes the kind as a type and gives back
//! its own `Result`, so no method unwraps a `Response` by hand.

use std::future::Future;

use rtm_proto::errors::{
    AttributeOperationError, ChannelMessageError, GetChannelMemberCountError, GetMembersError,
    JoinChannelError, LeaveChannelError, LoginError, PeerMessageError, PeerSubscriptionStatusError,
    QueryPeersOnlineStatusError, RenewTokenError,
};
use rtm_proto::{Client, RequestId, Response, Timestamp};

use crate::RtmClient;

/// One request kind: what it resolves with, and how that travels in a [`Response`].
pub(crate) trait Kind {
    type Ok: Send + 'static;
    type Error: Send + 'static;
    /// The `Response` of a request the core refused at once.
    fn refused(e: Self::Error) -> Response;
    /// The result in `r`, if `r` is of this kind.
    fn answer(r: Response) -> Option<Result<Self::Ok, Self::Error>>;
    /// What the caller gets when no answer can come (the client thread is gone).
    fn gone() -> Self::Error;
}

macro_rules! kinds {
    ($($kind:ident => Result<$ok:ty, $err:ty>, gone $gone:expr;)*) => {
        $(
            #[doc = concat!("`Response::", stringify!($kind), "`.")]
            pub(crate) struct $kind;

            impl Kind for $kind {
                type Ok = $ok;
                type Error = $err;
                fn refused(e: $err) -> Response {
                    Response::$kind(Err(e))
                }
                fn answer(r: Response) -> Option<Result<$ok, $err>> {
                    match r {
                        Response::$kind(r) => Some(r),
                        _ => None,
                    }
                }
                fn gone() -> $err {
                    $gone
                }
            }
        )*
    };
}

type UserAttributes = std::collections::BTreeMap<String, String>;
type ChannelAttributes =
    std::collections::BTreeMap<String, rtm_proto::attributes::ChannelAttribute>;
type Online = Vec<(rtm_proto::UserId, bool)>;
type Counts = Vec<(rtm_proto::ChannelId, u32)>;

kinds! {
    Login => Result<(), LoginError>, gone LoginError::Unknown;
    RenewToken => Result<(), RenewTokenError>, gone RenewTokenError::Failure;
    SendMessageToPeer => Result<rtm_proto::PeerMessageOutcome, PeerMessageError>, gone PeerMessageError::Failure;
    QueryPeersOnlineStatus => Result<Online, QueryPeersOnlineStatusError>, gone QueryPeersOnlineStatusError::Failure;
    SubscribePeersOnlineStatus => Result<(), PeerSubscriptionStatusError>, gone PeerSubscriptionStatusError::Failure;
    UnsubscribePeersOnlineStatus => Result<(), PeerSubscriptionStatusError>, gone PeerSubscriptionStatusError::Failure;
    Join => Result<(), JoinChannelError>, gone JoinChannelError::Failure;
    Leave => Result<(), LeaveChannelError>, gone LeaveChannelError::Failure;
    SendChannelMessage => Result<(), ChannelMessageError>, gone ChannelMessageError::Failure;
    GetMembers => Result<Vec<rtm_proto::UserId>, GetMembersError>, gone GetMembersError::Failure;
    GetChannelMemberCount => Result<Counts, GetChannelMemberCountError>, gone GetChannelMemberCountError::Failure;
    AttributeWrite => Result<(), AttributeOperationError>, gone AttributeOperationError::Failure;
    GetUserAttributes => Result<UserAttributes, AttributeOperationError>, gone AttributeOperationError::Failure;
    GetChannelAttributes => Result<ChannelAttributes, AttributeOperationError>, gone AttributeOperationError::Failure;
}

impl RtmClient {
    /// Hands a request of kind `K` to the core now; the future resolves with its result.
    pub(crate) fn request<K: Kind>(
        &self,
        start: impl FnOnce(&mut Client, Timestamp) -> Result<RequestId, K::Error> + Send + 'static,
    ) -> impl Future<Output = Result<K::Ok, K::Error>> + Send + 'static {
        let answer = self.start(move |c, now| start(c, now).map_err(K::refused));
        async move {
            match answer.recv().await {
                Ok(r) => K::answer(r).unwrap_or_else(|| Err(K::gone())),
                Err(_) => Err(K::gone()),
            }
        }
    }
}
