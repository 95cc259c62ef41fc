//! Error families with the numeric codes of §8.
//!
//! One enum per API surface, as in the Agora SDKs: the discriminant *is* the documented code,
//! so `err.code()` is what an application ported from Agora compares against, and the same
//! number travels in `error` frames on the wire (PROTOCOL.md).

/// What every §8 error family has: its documented number and its SDK name. Lets a driver
/// report any family's error (the web SDK rejects with `{code, name, message}`) without a
/// table of names of its own.
pub trait ErrorFamily: core::fmt::Display + Copy {
    /// The documented numeric code (§8).
    fn code(self) -> u32;
    /// The family's name in the SDKs (`"PeerMessageError"`).
    fn family(self) -> &'static str;
}

macro_rules! error_family {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $var:ident = $code:literal => $msg:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* #[error($msg)] $var = $code,)*
        }

        impl $name {
            /// The documented numeric code (§8).
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// The member with numeric code `code`, if any.
            pub fn from_code(code: u32) -> Option<Self> {
                match code {
                    $($code => Some(Self::$var),)*
                    _ => None,
                }
            }
        }

        impl ErrorFamily for $name {
            fn code(self) -> u32 {
                $name::code(self)
            }

            fn family(self) -> &'static str {
                stringify!($name)
            }
        }
    };
}

error_family!(
    /// `LoginError` (§8.1).
    LoginError {
        Unknown = 1 => "login failed for an unknown reason",
        Rejected = 2 => "login rejected by the server",
        InvalidArgument = 3 => "invalid login argument (user id)",
        InvalidAppId = 4 => "invalid app id",
        InvalidToken = 5 => "invalid token",
        TokenExpired = 6 => "token expired",
        NotAuthorized = 7 => "not authorized",
        AlreadyLogin = 8 => "already logged in, logging in, or aborted (log out first)",
        Timeout = 9 => "login timed out",
        TooOften = 10 => "login called too often (more than 2 per second)",
    }
);

error_family!(
    /// `LogoutError` (§8.2).
    LogoutError {
        Rejected = 1 => "logout rejected",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `RenewTokenError` (§8.3).
    RenewTokenError {
        Failure = 1 => "token renewal failed",
        InvalidArgument = 2 => "invalid token argument",
        Rejected = 3 => "token renewal rejected",
        TooOften = 4 => "renewToken called too often (more than 2 per second)",
        TokenExpired = 5 => "the new token has expired",
        InvalidToken = 6 => "the new token is invalid",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `PeerMessageError` (§8.4). The soft outcomes 0, 3 and 4 are not errors: see
    /// [`crate::PeerMessageOutcome`].
    PeerMessageError {
        Failure = 1 => "peer message failed",
        Timeout = 2 => "peer message timed out",
        TooOften = 5 => "messages sent too often (more than 180 per 3 s)",
        InvalidUserId = 6 => "invalid peer user id",
        InvalidMessage = 7 => "invalid message (empty or larger than 32 KB)",
        IncompatibleMessage = 8 => "the receiver cannot decode this message type",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `QueryPeersOnlineStatusError` (§8.9).
    QueryPeersOnlineStatusError {
        Failure = 1 => "online status query failed",
        InvalidArgument = 2 => "invalid argument (empty list, more than 256 ids, or an invalid id)",
        Rejected = 3 => "online status query rejected",
        Timeout = 4 => "online status query timed out",
        TooOften = 5 => "online status queried too often (more than 10 per 5 s)",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `PeerSubscriptionStatusError` (§8.10).
    PeerSubscriptionStatusError {
        Failure = 1 => "subscription request failed",
        InvalidArgument = 2 => "invalid argument (empty list or an invalid id)",
        Rejected = 3 => "subscription request rejected",
        Timeout = 4 => "subscription request timed out",
        TooOften = 5 => "subscription calls too often (more than 10 per 5 s)",
        Overflow = 6 => "more than 512 subscribed peers",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `QueryPeersBySubscriptionOptionError` (§8.11).
    QueryPeersBySubscriptionOptionError {
        Failure = 1 => "query failed",
        Timeout = 2 => "query timed out",
        TooOften = 3 => "queried too often (more than 10 per 5 s)",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `CreateChannelError` (§8.15).
    CreateChannelError {
        InvalidArgument = 1 => "invalid channel id",
    }
);

error_family!(
    /// `JoinChannelError` (§8.6).
    JoinChannelError {
        Failure = 1 => "join failed",
        Rejected = 2 => "join rejected",
        InvalidArgument = 3 => "invalid channel id",
        Timeout = 4 => "join timed out",
        ExceedLimit = 5 => "more than 20 joined channels",
        AlreadyJoined = 6 => "already joined or joining this channel",
        TooOften = 7 => "joins too often (more than 50 per 3 s)",
        JoinSameChannelTooOften = 8 => "the same channel joined too often (more than 2 per 5 s)",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `LeaveChannelError` (§8.7).
    LeaveChannelError {
        Failure = 1 => "leave failed",
        Rejected = 2 => "leave rejected",
        NotInChannel = 3 => "not in the channel",
        Kicked = 4 => "kicked from the channel",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `ChannelMessageError` (§8.5).
    ChannelMessageError {
        Failure = 1 => "channel message failed",
        Timeout = 2 => "channel message timed out",
        TooOften = 3 => "messages sent too often (more than 180 per 3 s)",
        InvalidMessage = 4 => "invalid message (empty or larger than 32 KB)",
        NotInChannel = 5 => "not in the channel",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `GetMembersError` (§8.8).
    GetMembersError {
        Failure = 1 => "getMembers failed",
        Rejected = 2 => "getMembers rejected",
        Timeout = 3 => "getMembers timed out",
        TooOften = 4 => "getMembers called too often (more than 5 per 2 s)",
        NotInChannel = 5 => "not in the channel",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `AttributeOperationError` (§8.12), for user and channel attributes.
    AttributeOperationError {
        NotReady = 1 => "not ready",
        Failure = 2 => "attribute operation failed",
        InvalidArgument = 3 => "invalid attribute argument (key or value empty, key too long or not visible characters)",
        SizeOverflow = 4 => "attributes too large (value > 8 KB, too many keys, or total too large)",
        TooOften = 5 => "attribute operations too often",
        UserNotFound = 6 => "the user is not online",
        Timeout = 7 => "attribute operation timed out",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `GetChannelMemberCountErrCode` (§8.13).
    GetChannelMemberCountError {
        Failure = 1 => "member count query failed",
        InvalidArgument = 2 => "invalid channel id",
        TooOften = 3 => "member counts queried too often (more than 1 per second)",
        Timeout = 4 => "member count query timed out",
        ExceedLimit = 5 => "more than 32 channels",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `InvitationApiCallError` (§8.16): misuse of an invitation object.
    InvitationApiCallError {
        InvalidArgument = 1 => "invalid invitation argument (content or response > 8 KB, channel id > 64 bytes, bad callee id)",
        NotStarted = 2 => "the invitation was not sent",
        AlreadyEnd = 3 => "the invitation has ended",
        AlreadyAccept = 4 => "the invitation was already accepted",
        AlreadySent = 5 => "the invitation was already sent",
        /// Not in Agora's family: the server's budget for invitation requests (PROTOCOL.md).
        TooOften = 6 => "invitation requests too often (more than 40 invitations, or 120 answers, cancels and syncs, per 10 s)",
    }
);

error_family!(
    /// `UploadMediaError` (§8.14): creating a file or image message by uploading.
    UploadMediaError {
        Failure = 1 => "upload failed",
        InvalidArgument = 2 => "invalid upload argument (empty file, thumbnail, file name and description over 32 KB, or image fields on a file)",
        Timeout = 3 => "upload timed out (120 s without progress)",
        SizeOverflow = 4 => "the file is larger than 30 MB",
        ConcurrencyLimitExceeded = 5 => "more than 9 uploads and downloads at once",
        Interrupted = 6 => "upload interrupted (cancelled, logged out or aborted)",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `DownloadMediaError` (§8.14).
    DownloadMediaError {
        Failure = 1 => "download failed",
        InvalidArgument = 2 => "invalid media id",
        Timeout = 3 => "download timed out (120 s without progress)",
        NotExist = 4 => "no such media (wrong or expired media id)",
        ConcurrencyLimitExceeded = 5 => "more than 9 uploads and downloads at once",
        Interrupted = 6 => "download interrupted (cancelled, logged out or aborted)",
        NotLoggedIn = 102 => "not logged in",
    }
);

error_family!(
    /// `CancelMediaError` (§8.14, native `cancelMediaUpload`/`cancelMediaDownload`).
    CancelMediaError {
        Failure = 1 => "cancel failed",
        NotExist = 2 => "no such transfer (unknown or already finished)",
        NotLoggedIn = 102 => "not logged in",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        assert_eq!(LoginError::AlreadyLogin.code(), 8);
        assert_eq!(LoginError::TooOften.code(), 10);
        assert_eq!(PeerMessageError::NotLoggedIn.code(), 102);
        assert_eq!(PeerSubscriptionStatusError::Overflow.code(), 6);
        assert_eq!(RenewTokenError::InvalidToken.code(), 6);
        assert_eq!(
            QueryPeersOnlineStatusError::from_code(4),
            Some(QueryPeersOnlineStatusError::Timeout)
        );
        assert_eq!(LoginError::from_code(0), None);
    }
}
