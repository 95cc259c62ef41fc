//! Typed answers: each request kind's result travels through the core as a variant of
//! [`rtm_proto::Response`]; [`RtmClient::request`] takes the kind as a type and gives back
//! an [`Answer`] of its own `Result`, so no method unwraps a `Response` by hand and every SDK
//! method is one call of it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use rtm_proto::errors::{
    AttributeOperationError, ChannelMessageError, GetChannelMemberCountError, GetMembersError,
    JoinChannelError, LeaveChannelError, LoginError, PeerMessageError, PeerSubscriptionStatusError,
    QueryPeersOnlineStatusError, RenewTokenError,
};
use rtm_proto::{ChannelId, Client, RequestId, Response, Timestamp};

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

/// The answer to one request, on its way: a future of that call's own `Result`.
///
/// The request was handed to the client when the method returned; awaiting only waits for
/// the answer. So an `Answer` is `Send`, `'static` and `Unpin`, works on any executor, and can
/// be dropped without cancelling the request (its answer is then discarded). If the client
/// is gone before answering, it resolves with the call's generic failure code.
#[must_use = "the request is already on its way; await the answer to learn how it ended"]
pub struct Answer<T, E> {
    answer: Pin<Box<dyn Future<Output = Result<T, E>> + Send>>,
}

impl<T, E> Answer<T, E> {
    pub(crate) fn new(answer: impl Future<Output = Result<T, E>> + Send + 'static) -> Self {
        Answer {
            answer: Box::pin(answer),
        }
    }
}

impl<T, E> Future for Answer<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx)
    }
}

impl<T, E> fmt::Debug for Answer<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Answer")
    }
}

/// A call's borrowed arguments, made owned: the SDK takes `&str`s and `&ChannelId`s, but the
/// core runs the request on the client thread, after the method has returned.
pub(crate) trait Own {
    type Owned: Send + 'static;
    fn own(self) -> Self::Owned;
}

impl Own for () {
    type Owned = ();
    fn own(self) {}
}

impl Own for &str {
    type Owned = String;
    fn own(self) -> String {
        self.to_string()
    }
}

impl Own for Option<&str> {
    type Owned = Option<String>;
    fn own(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl Own for &ChannelId {
    type Owned = ChannelId;
    fn own(self) -> ChannelId {
        self.clone()
    }
}

/// A list of ids; the core takes it back as `&[&str]` through [`strs`].
impl Own for &[&str] {
    type Owned = Vec<String>;
    fn own(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}

impl<A: Own, B: Own> Own for (A, B) {
    type Owned = (A::Owned, B::Owned);
    fn own(self) -> Self::Owned {
        (self.0.own(), self.1.own())
    }
}

/// An owned list of ids as the core takes it.
pub(crate) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl RtmClient {
    /// Hands a request of kind `K` to the core now: `start` issues it with the call's
    /// arguments `args` (owned on the way). The answer resolves with the kind's own result,
    /// whether the core refused the call at once, the server answered, or the client is gone.
    pub(crate) fn request<K: Kind, A: Own>(
        &self,
        _kind: K,
        args: A,
        start: impl FnOnce(&mut Client, Timestamp, A::Owned) -> Result<RequestId, K::Error>
            + Send
            + 'static,
    ) -> Answer<K::Ok, K::Error> {
        let args = args.own();
        let answer = self.start(move |c, now| start(c, now, args).map_err(K::refused));
        Answer::new(async move {
            match answer.recv().await {
                Ok(r) => K::answer(r).unwrap_or_else(|| Err(K::gone())),
                Err(_) => Err(K::gone()),
            }
        })
    }
}
