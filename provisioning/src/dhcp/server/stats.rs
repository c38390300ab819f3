//! The server's counters (quinn-proto's `ConnectionStats`): one per outcome and per reason a
//! datagram is dropped.

macro_rules! stats {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// What the server did and dropped, counted. Every dropped datagram increments exactly
        /// one `dropped_*` counter (or `rate_limited`).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $($(#[doc = $doc])+ pub $name: u64,)+
        }

        /// How many counters [`Stats::counters`] lists.
        pub const STATS_COUNT: usize = [$(stringify!($name)),+].len();

        impl Stats {
            /// Every counter with its name, for metrics.
            pub fn counters(&self) -> [(&'static str, u64); STATS_COUNT] {
                [$((stringify!($name), self.$name)),+]
            }
        }
    };
}

stats! {
    /// Datagrams handed to the server.
    received,
    /// OFFERs sent.
    offers,
    /// ACKs sent for REQUESTs (leases granted or extended).
    acks,
    /// NAKs sent.
    naks,
    /// ACKs sent for INFORMs.
    informs,
    /// RELEASEs that released a lease.
    releases,
    /// DECLINEs that quarantined an address.
    declines,
    /// Bound leases that reached their expiry.
    expired,
    /// DISCOVERs from clients that hold nothing, refused by the new-client rate limit.
    rate_limited,
    /// Dropped: over the maximum datagram size.
    dropped_oversize,
    /// Dropped: shorter than the header and cookie, or an option running past its area.
    dropped_truncated,
    /// Dropped: no magic cookie.
    dropped_bad_cookie,
    /// Dropped: a BOOTREPLY, or a server's message type (OFFER, ACK, NAK, others).
    dropped_not_request,
    /// Dropped: not Ethernet (htype 1, hlen 6).
    dropped_hardware,
    /// Dropped: no message type (BOOTP), or a malformed one.
    dropped_no_message_type,
    /// Dropped: a bad option overload (repeated, misplaced, bad value).
    dropped_bad_overload,
    /// Dropped: too many options, or other malformed options.
    dropped_malformed,
    /// Dropped: addressed to another server (option 54); our offer, if any, is forgotten.
    dropped_other_server,
    /// Dropped: no configured subnet for the relay's or our link.
    dropped_no_subnet,
    /// Dropped: no free address in the pool.
    dropped_pool_exhausted,
    /// Dropped: a REQUEST from a client we have no record of (RFC 2131 §4.3.2: stay silent).
    dropped_unknown_client,
    /// Dropped: no address to act on (REQUEST, DECLINE or INFORM without one).
    dropped_no_address,
    /// Dropped: a RELEASE or DECLINE for a lease the client does not have.
    dropped_no_lease,
    /// Dropped: a reply that could not be encoded (cannot happen with valid configuration).
    dropped_unencodable,
}
