//! Client IP keying: which address a request came from, and the key rate limits use for it.
//!
//! * [`ClientKey`] folds an IPv6 client to its /64 (one subscriber usually holds a whole /64,
//!   so keying single addresses would let it rotate through 2^64 identities) and treats an
//!   IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
//! * [`TrustedProxies`] reads `X-Forwarded-For` or `Forwarded` only when the TCP peer is one
//!   of the configured proxy networks, walking the chain right to left and skipping trusted
//!   proxies, so a client cannot choose its own address by sending the header itself.
//!
//! ```
//! use breeze_core::clientip::{ClientKey, ForwardedHeader, TrustedProxies};
//!
//! let proxies = TrustedProxies::parse(["10.0.0.0/8"], ForwardedHeader::XForwardedFor)?;
//! let peer = "10.0.0.5".parse()?;
//! // The client wrote 6.6.6.6 itself; our proxy appended the address it saw.
//! let ip = proxies.client_ip(peer, ["6.6.6.6, 2001:db8:1:2::99"]);
//! assert_eq!(ClientKey::from_ip(ip).to_string(), "v6:2001:db8:1:2::/64");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod forwarded;
mod key;

pub use forwarded::{ClientIpError, ForwardedHeader, TrustedProxies};
pub use key::{ClientKey, canonical_ip};
