//! The SSRF guard: classification, policy, and the guarded client against a local resolver
//! and a loopback test server (no outside traffic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code"
)]

use std::net::IpAddr;

use breeze_core::ssrf::{RefusedRange, SsrfError, SsrfPolicy, refused_range};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn refused_ranges() {
    let cases = [
        ("0.0.0.0", RefusedRange::Unspecified),
        ("0.1.2.3", RefusedRange::Unspecified),
        ("::", RefusedRange::Unspecified),
        ("127.0.0.1", RefusedRange::Loopback),
        ("127.255.255.254", RefusedRange::Loopback),
        ("::1", RefusedRange::Loopback),
        ("10.0.0.1", RefusedRange::Private),
        ("172.16.0.1", RefusedRange::Private),
        ("172.31.255.255", RefusedRange::Private),
        ("192.168.1.1", RefusedRange::Private),
        ("169.254.0.1", RefusedRange::LinkLocal),
        ("fe80::1", RefusedRange::LinkLocal),
        ("100.64.0.1", RefusedRange::SharedAddressSpace),
        ("100.127.255.255", RefusedRange::SharedAddressSpace),
        ("169.254.169.254", RefusedRange::CloudMetadata),
        ("fd00:ec2::254", RefusedRange::CloudMetadata),
        ("fc00::1", RefusedRange::UniqueLocal),
        ("fdff::1", RefusedRange::UniqueLocal),
        ("fec0::1", RefusedRange::UniqueLocal),
        ("224.0.0.1", RefusedRange::Multicast),
        ("239.255.255.250", RefusedRange::Multicast),
        ("ff02::1", RefusedRange::Multicast),
        ("255.255.255.255", RefusedRange::Broadcast),
        ("192.0.2.1", RefusedRange::Documentation),
        ("198.51.100.1", RefusedRange::Documentation),
        ("203.0.113.1", RefusedRange::Documentation),
        ("2001:db8::1", RefusedRange::Documentation),
        ("198.18.0.1", RefusedRange::Benchmarking),
        ("240.0.0.1", RefusedRange::Reserved),
        ("192.0.0.8", RefusedRange::Reserved),
        // IPv4-mapped forms judged by the IPv4 address.
        ("::ffff:127.0.0.1", RefusedRange::Loopback),
        ("::ffff:10.1.2.3", RefusedRange::Private),
        ("::ffff:169.254.169.254", RefusedRange::CloudMetadata),
        ("::ffff:100.64.1.1", RefusedRange::SharedAddressSpace),
        // NAT64 well-known prefix forms.
        ("64:ff9b::7f00:1", RefusedRange::Loopback),
        ("64:ff9b::a9fe:a9fe", RefusedRange::CloudMetadata),
        ("64:ff9b::a00:1", RefusedRange::Private),
        ("64:ff9b::6440:1", RefusedRange::SharedAddressSpace),
        // Other tunnels and translations.
        ("::127.0.0.1", RefusedRange::Tunnel),
        ("64:ff9b:1::1", RefusedRange::Tunnel),
        ("2002:7f00:1::1", RefusedRange::Tunnel),
        ("2001::1", RefusedRange::Tunnel),
        ("100::1", RefusedRange::Reserved),
        ("4000::1", RefusedRange::Reserved),
    ];
    for (addr, range) in cases {
        assert_eq!(refused_range(ip(addr)), Some(range), "{addr}");
    }
    for public in [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "64:ff9b::808:808",
        "::ffff:8.8.8.8",
    ] {
        assert_eq!(refused_range(ip(public)), None, "{public}");
    }
}

#[test]
fn allow_list_and_schemes() {
    let strict = SsrfPolicy::new();
    assert!(strict.check_ip("h", ip("10.1.2.3")).is_err());
    assert!(strict.check_scheme("https").is_ok());
    assert_eq!(
        strict.check_scheme("http").unwrap_err(),
        SsrfError::SchemeNotAllowed {
            scheme: "http".to_owned()
        }
    );
    assert!(strict.check_scheme("file").is_err());
    assert!(strict.check_scheme("gopher").is_err());
    let p = SsrfPolicy::new()
        .allow_entries(["10.1.2.0/24", "fd00:ec2::254"])
        .unwrap();
    assert!(p.check_ip("h", ip("10.1.2.3")).is_ok());
    assert!(
        p.check_ip("h", ip("::ffff:10.1.2.3")).is_ok(),
        "mapped form of an allowed address"
    );
    assert!(p.check_ip("h", ip("10.1.3.3")).is_err());
    assert!(p.check_ip("h", ip("fd00:ec2::254")).is_ok());
    assert_eq!(
        p.check_all("h", &[ip("10.1.2.3"), ip("10.9.9.9")])
            .unwrap_err()
            .code(),
        "address_refused",
        "one refused address refuses the host"
    );
    assert_eq!(p.check_all("h", &[]).unwrap_err().code(), "no_addresses");
    let err = SsrfPolicy::new()
        .allow_entries(["10.0.0.0/40"])
        .unwrap_err();
    assert_eq!(
        err,
        SsrfError::InvalidAllowEntry {
            entry: "10.0.0.0/40".to_owned()
        }
    );
}

#[cfg(feature = "http-client")]
mod client {
    use std::collections::{HashMap, VecDeque};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use breeze_core::ssrf::{
        DnsResolver, GuardedClient, Lookup, Method, RefusedRange, SsrfError, SsrfPolicy,
    };
    use parking_lot::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::ip;

    /// Answers from a table; a host may have a queue of answers (the last one repeats).
    #[derive(Default)]
    struct TestResolver {
        answers: Mutex<HashMap<String, VecDeque<Vec<IpAddr>>>>,
        lookups: AtomicUsize,
    }

    use std::net::IpAddr;

    impl TestResolver {
        fn with(entries: &[(&str, &[&str])]) -> Arc<Self> {
            let r = Self::default();
            for (host, addrs) in entries {
                r.push(host, addrs);
            }
            Arc::new(r)
        }
        fn push(&self, host: &str, addrs: &[&str]) {
            self.answers
                .lock()
                .entry(host.to_owned())
                .or_default()
                .push_back(addrs.iter().map(|a| ip(a)).collect());
        }
    }

    impl DnsResolver for TestResolver {
        fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let answer = {
                let mut answers = self.answers.lock();
                answers.get_mut(host).map(|q| {
                    if q.len() > 1 {
                        q.pop_front().unwrap()
                    } else {
                        q[0].clone()
                    }
                })
            };
            Box::pin(async move {
                answer.ok_or(SsrfError::Resolve {
                    host: host.to_owned(),
                })
            })
        }
    }

    /// A loopback HTTP/1.1 server; counts requests.
    struct TestServer {
        port: u16,
        requests: Arc<AtomicUsize>,
    }

    async fn server() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = sock.read(&mut chunk).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let redirect = |to: String| {
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                    };
                    let response = match path.as_str() {
                        "/ok" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned(),
                        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/".to_owned()),
                        "/to-mapped" => redirect(format!("http://[::ffff:10.0.0.1]:{port}/ok")),
                        "/to-evil-name" => redirect(format!("http://evil.test:{port}/ok")),
                        "/to-ok" => redirect("/ok".to_owned()),
                        "/to-file" => redirect("file:///etc/passwd".to_owned()),
                        "/loop" => redirect("/loop".to_owned()),
                        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                    };
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        TestServer { port, requests }
    }

    /// A client that may reach only the allow-listed loopback test server, over plain HTTP
    /// (the dangerous switch, tests only).
    fn client(resolver: Arc<TestResolver>, allow_loopback: bool) -> GuardedClient {
        let mut policy = SsrfPolicy::new()
            .dangerous_allow_plain_http()
            .max_redirects(3);
        if allow_loopback {
            policy = policy.allow_entries(["127.0.0.1/32"]).unwrap();
        }
        GuardedClient::builder()
            .policy(policy)
            .resolver(resolver)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    async fn get(c: &GuardedClient, url: &str) -> Result<String, SsrfError> {
        let resp = c.send(c.request(Method::GET, url)?).await?;
        Ok(resp.text().await.unwrap())
    }

    fn refused(err: &SsrfError) -> (IpAddr, RefusedRange) {
        match err {
            SsrfError::Refused { addr, range, .. } => (*addr, *range),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_refused_dns_answer_is_refused_before_connecting() {
        let srv = server().await;
        let answers: &[(&str, RefusedRange)] = &[
            ("10.0.0.1", RefusedRange::Private),
            ("192.168.0.10", RefusedRange::Private),
            ("127.0.0.1", RefusedRange::Loopback),
            ("::1", RefusedRange::Loopback),
            ("169.254.10.10", RefusedRange::LinkLocal),
            ("fe80::1", RefusedRange::LinkLocal),
            ("100.64.0.1", RefusedRange::SharedAddressSpace),
            ("169.254.169.254", RefusedRange::CloudMetadata),
            ("fd00:ec2::254", RefusedRange::CloudMetadata),
            ("::ffff:127.0.0.1", RefusedRange::Loopback),
            ("::ffff:169.254.169.254", RefusedRange::CloudMetadata),
            ("64:ff9b::7f00:1", RefusedRange::Loopback),
            ("64:ff9b::a9fe:a9fe", RefusedRange::CloudMetadata),
            ("fc00::5", RefusedRange::UniqueLocal),
            ("224.0.0.251", RefusedRange::Multicast),
            ("0.0.0.0", RefusedRange::Unspecified),
            ("255.255.255.255", RefusedRange::Broadcast),
            ("192.0.2.44", RefusedRange::Documentation),
        ];
        for (answer, range) in answers {
            let resolver = TestResolver::with(&[("target.test", &[answer])]);
            let c = client(resolver, false);
            for scheme in ["http", "https"] {
                let err = get(&c, &format!("{scheme}://target.test:{}/ok", srv.port))
                    .await
                    .unwrap_err();
                assert_eq!(
                    refused(&err),
                    (ip(answer), *range),
                    "{answer} over {scheme}"
                );
            }
        }
        // Mixed answer: an allowed address next to a refused one refuses the host.
        let resolver = TestResolver::with(&[("mixed.test", &["127.0.0.1", "10.0.0.7"])]);
        let err = get(
            &client(resolver, true),
            &format!("http://mixed.test:{}/ok", srv.port),
        )
        .await
        .unwrap_err();
        assert_eq!(refused(&err).0, ip("10.0.0.7"));
        assert_eq!(
            srv.requests.load(Ordering::SeqCst),
            0,
            "nothing reached the server"
        );
    }

    #[tokio::test]
    async fn an_allow_listed_address_is_reached() {
        let srv = server().await;
        let resolver = TestResolver::with(&[("allowed.test", &["127.0.0.1"])]);
        let c = client(Arc::clone(&resolver), true);
        assert_eq!(
            get(&c, &format!("http://allowed.test:{}/ok", srv.port))
                .await
                .unwrap(),
            "ok"
        );
        assert_eq!(srv.requests.load(Ordering::SeqCst), 1);
        assert_eq!(
            resolver.lookups.load(Ordering::SeqCst),
            1,
            "the connection used the checked answer"
        );
        // A redirect to an allowed target is followed.
        assert_eq!(
            get(&c, &format!("http://allowed.test:{}/to-ok", srv.port))
                .await
                .unwrap(),
            "ok"
        );
    }

    #[tokio::test]
    async fn ip_literal_urls_are_checked() {
        let srv = server().await;
        let c = client(TestResolver::with(&[]), false);
        let port = srv.port;
        for url in [
            format!("http://127.0.0.1:{port}/ok"),
            format!("http://[::1]:{port}/ok"),
            format!("http://[::ffff:127.0.0.1]:{port}/ok"),
            format!("http://[64:ff9b::7f00:1]:{port}/ok"),
            format!("http://2130706433:{port}/ok"),
            format!("http://0x7f.1:{port}/ok"),
            format!("http://0177.0.0.1:{port}/ok"),
            "https://169.254.169.254/latest/meta-data/".to_owned(),
            "https://[fd00:ec2::254]/".to_owned(),
            "https://100.100.100.200/".to_owned(),
        ] {
            let err = c.request(Method::GET, &url).unwrap_err();
            assert_eq!(err.code(), "address_refused", "{url}");
        }
        assert_eq!(srv.requests.load(Ordering::SeqCst), 0);
        // Allow-listed literal: reached.
        let c = client(TestResolver::with(&[]), true);
        assert_eq!(
            get(&c, &format!("http://127.0.0.1:{port}/ok"))
                .await
                .unwrap(),
            "ok"
        );
    }

    #[tokio::test]
    async fn dns_answer_changing_between_check_and_connect_is_refused() {
        let srv = server().await;
        let resolver = TestResolver::with(&[
            ("rebind.test", &["127.0.0.1"]),
            ("rebind.test", &["10.0.0.1"]),
        ]);
        let c = client(Arc::clone(&resolver), true);
        let url = format!("http://rebind.test:{}/ok", srv.port);
        // The up-front check sees the harmless answer...
        assert_eq!(c.preflight(&url).await.unwrap(), vec![ip("127.0.0.1")]);
        // ...the connection resolves again and is checked again: the new answer is refused.
        let err = get(&c, &url).await.unwrap_err();
        assert_eq!(refused(&err), (ip("10.0.0.1"), RefusedRange::Private));
        assert_eq!(
            srv.requests.load(Ordering::SeqCst),
            0,
            "never connected to the rebound address"
        );
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn redirects_to_refused_addresses_are_refused() {
        let srv = server().await;
        let resolver = TestResolver::with(&[
            ("allowed.test", &["127.0.0.1"]),
            ("evil.test", &["10.0.0.1"]),
        ]);
        let c = client(resolver, true);
        let port = srv.port;
        let err = get(&c, &format!("http://allowed.test:{port}/to-metadata"))
            .await
            .unwrap_err();
        assert_eq!(
            refused(&err),
            (ip("169.254.169.254"), RefusedRange::CloudMetadata)
        );
        let err = get(&c, &format!("http://allowed.test:{port}/to-mapped"))
            .await
            .unwrap_err();
        assert_eq!(
            refused(&err),
            (ip("::ffff:10.0.0.1"), RefusedRange::Private)
        );
        let err = get(&c, &format!("http://allowed.test:{port}/to-evil-name"))
            .await
            .unwrap_err();
        assert_eq!(refused(&err), (ip("10.0.0.1"), RefusedRange::Private));
        // A redirect to a non-HTTP scheme is never followed: the 302 comes back as is.
        let url = format!("http://allowed.test:{port}/to-file");
        let resp = c.send(c.request(Method::GET, &url).unwrap()).await.unwrap();
        assert_eq!(resp.status().as_u16(), 302);
        assert_eq!(
            srv.requests.load(Ordering::SeqCst),
            4,
            "only the first hops reached the server"
        );
    }

    #[tokio::test]
    async fn redirects_are_bounded() {
        let srv = server().await;
        let c = client(
            TestResolver::with(&[("allowed.test", &["127.0.0.1"])]),
            true,
        );
        let err = get(&c, &format!("http://allowed.test:{}/loop", srv.port))
            .await
            .unwrap_err();
        assert_eq!(err, SsrfError::TooManyRedirects { max: 3 });
        assert_eq!(
            srv.requests.load(Ordering::SeqCst),
            4,
            "the first request and 3 redirects"
        );
    }

    #[tokio::test]
    async fn plain_http_needs_the_dangerous_switch() {
        let c = GuardedClient::builder()
            .policy(SsrfPolicy::new().allow_entries(["127.0.0.1/32"]).unwrap())
            .resolver(TestResolver::with(&[]))
            .build()
            .unwrap();
        let err = c.request(Method::GET, "http://127.0.0.1:9/ok").unwrap_err();
        assert_eq!(
            err,
            SsrfError::SchemeNotAllowed {
                scheme: "http".to_owned()
            }
        );
        assert_eq!(
            c.request(Method::GET, "not a url").unwrap_err(),
            SsrfError::InvalidUrl
        );
        assert_eq!(
            c.request(Method::GET, "file:///etc/passwd")
                .unwrap_err()
                .code(),
            "scheme_not_allowed"
        );
    }

    #[tokio::test]
    async fn errors_never_echo_the_url() {
        let c = client(TestResolver::with(&[("target.test", &["10.0.0.1"])]), false);
        let err = get(&c, "http://target.test/hook?token=SUPERSECRET")
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("SUPERSECRET"), "{err}");
        assert!(!format!("{err:?}").contains("SUPERSECRET"));
        let c = client(TestResolver::with(&[]), false);
        let err = get(&c, "http://unknown.test/hook?token=SUPERSECRET")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "resolve_failed");
        assert!(!err.to_string().contains("SUPERSECRET"));
    }

    #[tokio::test]
    async fn production_builder_uses_the_system_resolver() {
        // Builds the hickory resolver and ring-backed TLS; sends nothing.
        let c = GuardedClient::builder().build().unwrap();
        assert!(!c.policy().plain_http_allowed());
        assert_eq!(
            c.request(Method::GET, "https://10.0.0.1/")
                .unwrap_err()
                .code(),
            "address_refused"
        );
    }
}
