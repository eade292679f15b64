//! Client IP keying: which address a request came from, and the key rate limits use for it.
//!
//! * [`ClientKey`] folds an IPv6 client to its /64 (one subscriber usually holds a whole /64,
//!   so keying single addresses would let it rotate through 2^64 identities) and treats an
//!   IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
//! * [`TrustedProxies`] reads `X-Forwarded-For` or `Forwarded` only when the TCP peer is one
//!   of the configured proxy networks, walking the chain right to left and skipping trusted
//!   proxies, so a client cannot choose its own address by sending the header itself.

mod forwarded;
mod key;

pub use forwarded::{ClientIpError, ForwardedHeader, TrustedProxies};
pub use key::{ClientKey, canonical_ip};
