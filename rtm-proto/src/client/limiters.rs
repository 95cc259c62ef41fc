//! The client-side rate limits of §9.2, one limiter per request family: a call over its
//! limit fails at once with TOO_OFTEN, without contacting the server (which enforces the
//! same limits).

use crate::ratelimit::{Rate, RateLimiter};

#[derive(Debug, Clone)]
pub(super) struct Limiters {
    pub login: RateLimiter,
    pub renew: RateLimiter,
    pub messages: RateLimiter,
    pub query_online: RateLimiter,
    pub subscribe: RateLimiter,
    pub unsubscribe: RateLimiter,
    pub query_subscribed: RateLimiter,
    pub join: RateLimiter,
    pub get_members: RateLimiter,
    pub member_count: RateLimiter,
    pub user_attr_write: RateLimiter,
    pub user_attr_read: RateLimiter,
    pub channel_attr_write: RateLimiter,
    pub channel_attr_read: RateLimiter,
}

impl Default for Limiters {
    fn default() -> Self {
        Limiters {
            login: RateLimiter::new(Rate::LOGIN),
            renew: RateLimiter::new(Rate::RENEW_TOKEN),
            messages: RateLimiter::new(Rate::MESSAGES),
            query_online: RateLimiter::new(Rate::QUERY_ONLINE),
            subscribe: RateLimiter::new(Rate::SUBSCRIBE),
            unsubscribe: RateLimiter::new(Rate::SUBSCRIBE),
            query_subscribed: RateLimiter::new(Rate::QUERY_SUBSCRIBED),
            join: RateLimiter::new(Rate::JOIN),
            get_members: RateLimiter::new(Rate::GET_MEMBERS),
            member_count: RateLimiter::new(Rate::MEMBER_COUNT),
            user_attr_write: RateLimiter::new(Rate::USER_ATTR_WRITE),
            user_attr_read: RateLimiter::new(Rate::USER_ATTR_READ),
            channel_attr_write: RateLimiter::new(Rate::CHANNEL_ATTR_WRITE),
            channel_attr_read: RateLimiter::new(Rate::CHANNEL_ATTR_READ),
        }
    }
}
