//! Client IP keying and forwarded headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code"
)]

use std::net::IpAddr;

use breeze_core::clientip::{
    ClientIpError, ClientKey, ForwardedHeader, TrustedProxies, canonical_ip,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv6_is_keyed_by_its_64() {
    let a = ClientKey::from_ip(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
    let b = ClientKey::from_ip(ip("2001:db8:1:2::1"));
    let c = ClientKey::from_ip(ip("2001:db8:1:3::1"));
    assert_eq!(a, b, "same /64, same key");
    assert_ne!(a, c, "other /64, other key");
    assert_eq!(a.to_string(), "v6:2001:db8:1:2::/64");
}

#[test]
fn ipv4_mapped_is_ipv4() {
    assert_eq!(
        ClientKey::from_ip(ip("::ffff:203.0.113.5")),
        ClientKey::from_ip(ip("203.0.113.5"))
    );
    assert_eq!(
        ClientKey::from_ip(ip("203.0.113.5")).to_string(),
        "v4:203.0.113.5"
    );
    assert_eq!(canonical_ip(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    // Two mapped clients in the same "/64" of ::ffff:0:0 are still different IPv4 clients.
    assert_ne!(
        ClientKey::from_ip(ip("::ffff:1.1.1.1")),
        ClientKey::from_ip(ip("::ffff:1.1.1.2"))
    );
}

fn proxies() -> TrustedProxies {
    TrustedProxies::parse(
        ["10.0.0.0/8", "fd00::/8", "192.0.2.10"],
        ForwardedHeader::XForwardedFor,
    )
    .unwrap()
}

#[test]
fn headers_from_an_untrusted_peer_are_ignored() {
    let p = proxies();
    assert_eq!(
        p.client_ip(ip("198.51.100.7"), ["1.2.3.4"]),
        ip("198.51.100.7")
    );
    assert_eq!(
        TrustedProxies::none().client_ip(ip("10.0.0.1"), ["1.2.3.4"]),
        ip("10.0.0.1")
    );
}

#[test]
fn walks_right_to_left_skipping_trusted_proxies() {
    let p = proxies();
    // The client spoofs 6.6.6.6 in front; the real client 203.0.113.9 was appended by proxies.
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["6.6.6.6, 203.0.113.9, 10.2.2.2"]),
        ip("203.0.113.9")
    );
    // Several header lines are one list, in order.
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["6.6.6.6", "203.0.113.9", "192.0.2.10"]),
        ip("203.0.113.9")
    );
    // Ports and brackets.
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["203.0.113.9:5555"]),
        ip("203.0.113.9")
    );
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["[2001:db8::5]:443"]),
        ip("2001:db8::5")
    );
    // Mapped peer and entries.
    assert_eq!(
        p.client_ip(ip("::ffff:10.1.1.1"), ["::ffff:203.0.113.9"]),
        ip("203.0.113.9")
    );
    // No header: the proxy itself.
    assert_eq!(p.client_ip(ip("10.1.1.1"), []), ip("10.1.1.1"));
    // Only trusted hops: the leftmost.
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["10.9.9.9, 10.8.8.8"]),
        ip("10.9.9.9")
    );
}

#[test]
fn garbage_stops_at_the_last_trusted_hop() {
    let p = proxies();
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["1.2.3.4, not-an-ip"]),
        ip("10.1.1.1")
    );
    assert_eq!(
        p.client_ip(ip("10.1.1.1"), ["1.2.3.4, unknown, 10.3.3.3"]),
        ip("10.3.3.3")
    );
    assert_eq!(p.client_ip(ip("10.1.1.1"), [""]), ip("10.1.1.1"));
    assert_eq!(p.client_ip(ip("10.1.1.1"), ["1.2.3.4,,"]), ip("10.1.1.1"));
}

#[test]
fn forwarded_header() {
    let p = TrustedProxies::parse(["10.0.0.0/8"], ForwardedHeader::Forwarded).unwrap();
    let peer = ip("10.0.0.2");
    assert_eq!(
        p.client_ip(peer, ["for=6.6.6.6, for=203.0.113.9;proto=https"]),
        ip("203.0.113.9")
    );
    assert_eq!(
        p.client_ip(peer, [r#"For="[2001:db8:cafe::17]:4711""#]),
        ip("2001:db8:cafe::17")
    );
    assert_eq!(
        p.client_ip(peer, ["for=198.51.100.17;by=10.0.0.1, for=10.0.0.5"]),
        ip("198.51.100.17")
    );
    assert_eq!(
        p.client_ip(peer, ["for=_hidden, for=10.0.0.5"]),
        ip("10.0.0.5")
    );
    assert_eq!(p.client_ip(peer, ["proto=https"]), peer);
    // The XFF header is not read when Forwarded is configured (and vice versa).
    let xff = proxies();
    assert_eq!(
        xff.client_ip(ip("10.0.0.2"), ["for=203.0.113.9"]),
        ip("10.0.0.2")
    );
}

#[test]
fn bad_cidrs_are_refused() {
    let err = TrustedProxies::parse(
        ["10.0.0.0/8", "10.0.0.0/33"],
        ForwardedHeader::XForwardedFor,
    )
    .unwrap_err();
    assert_eq!(err, ClientIpError::InvalidCidr("10.0.0.0/33".to_owned()));
    assert_eq!(err.code(), "invalid_proxy_cidr");
    assert!(TrustedProxies::parse(["example.com"], ForwardedHeader::XForwardedFor).is_err());
    assert!(TrustedProxies::parse([""], ForwardedHeader::XForwardedFor).is_err());
    // Host bits are truncated, single addresses accepted.
    let p = TrustedProxies::parse(["10.1.2.3/8", "::1"], ForwardedHeader::XForwardedFor).unwrap();
    assert!(p.is_trusted(ip("10.200.0.1")));
    assert!(p.is_trusted(ip("::1")));
    assert!(!p.is_trusted(ip("::2")));
}

mod props {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use breeze_core::clientip::{ClientKey, ForwardedHeader, TrustedProxies, canonical_ip};
    use proptest::prelude::*;

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
            any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        ]
    }

    proptest! {
        /// Whatever the headers say, an untrusted peer is the client.
        #[test]
        fn untrusted_peers_cannot_choose_their_address(
            peer in any_ip(),
            header in ".{0,200}",
            xff in proptest::collection::vec(any_ip(), 0..6),
        ) {
            let proxies = TrustedProxies::parse(["10.0.0.0/8"], ForwardedHeader::XForwardedFor).unwrap();
            prop_assume!(!proxies.is_trusted(peer));
            let list = xff.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(proxies.client_ip(peer, [header.as_str(), list.as_str()]), canonical_ip(peer));
        }

        /// The answer is the peer or an address that appears in the header, never anything else.
        #[test]
        fn the_answer_comes_from_the_chain(
            header in proptest::collection::vec(any_ip(), 0..6),
            peer_low in any::<u16>(),
        ) {
            let proxies = TrustedProxies::parse(["10.0.0.0/8", "2001:db8::/32"], ForwardedHeader::XForwardedFor).unwrap();
            let [hi, lo] = peer_low.to_be_bytes();
            let peer = IpAddr::V4(Ipv4Addr::new(10, 0, hi, lo));
            let list = header.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let got = proxies.client_ip(peer, [list.as_str()]);
            prop_assert!(got == peer || header.iter().any(|h| canonical_ip(*h) == got));
        }

        /// Keys fold exactly the low 64 bits of IPv6 and nothing of IPv4.
        #[test]
        fn keys_fold_to_64(a in any::<u128>(), b in any::<u64>()) {
            let base = Ipv6Addr::from(a);
            prop_assume!(base.to_ipv4_mapped().is_none());
            let same_net = Ipv6Addr::from((a & !u128::from(u64::MAX)) | u128::from(b));
            prop_assert_eq!(ClientKey::from_ip(IpAddr::V6(base)), ClientKey::from_ip(IpAddr::V6(same_net)));
        }
    }
}
