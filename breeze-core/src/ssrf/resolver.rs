//! Name resolution for the guarded client: a resolver trait, hickory in production, and the
//! adapter that hands reqwest only addresses the policy accepted.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{SsrfError, SsrfPolicy};

/// A boxed lookup future.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, SsrfError>> + Send + 'a>>;

/// Resolves a host name to addresses. Production uses [`HickoryDnsResolver`]; tests inject
/// their own answers.
pub trait DnsResolver: Send + Sync + 'static {
    /// Every address of `host`.
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a>;
}

/// The system DNS configuration through hickory-resolver.
#[derive(Clone)]
pub struct HickoryDnsResolver {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryDnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HickoryDnsResolver")
    }
}

impl HickoryDnsResolver {
    /// A resolver from the system configuration (`/etc/resolv.conf`).
    ///
    /// # Errors
    /// [`SsrfError::Build`] when the configuration cannot be read.
    pub fn from_system() -> Result<Self, SsrfError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(hickory_resolver::ResolverBuilder::build)
            .map_err(|e| SsrfError::Build {
                reason: format!("dns resolver: {e}"),
            })?;
        Ok(Self { resolver })
    }
}

impl DnsResolver for HickoryDnsResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            let answer = self
                .resolver
                .lookup_ip(host)
                .await
                .map_err(|_| SsrfError::Resolve {
                    host: host.chars().take(253).collect(),
                })?;
            Ok(answer.iter().collect())
        })
    }
}

/// The reqwest resolver hook: resolves, checks every address, and returns only checked
/// addresses, so the connection goes to an address that passed the policy (no rebinding
/// window between check and connect).
pub(crate) struct GuardedResolver {
    pub(crate) inner: Arc<dyn DnsResolver>,
    pub(crate) policy: Arc<SsrfPolicy>,
}

impl GuardedResolver {
    pub(crate) async fn resolve_checked(
        inner: &dyn DnsResolver,
        policy: &SsrfPolicy,
        host: &str,
    ) -> Result<Vec<IpAddr>, SsrfError> {
        let addrs = inner.lookup(host).await?;
        policy.check_all(host, &addrs)?;
        Ok(addrs)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = Arc::clone(&self.inner);
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str();
            let addrs = Self::resolve_checked(inner.as_ref(), &policy, host).await?;
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
