//! HTTPS served by the server itself: rustls (ring provider), TLS 1.2 and 1.3 only, the
//! certificate and key re-read on `SIGHUP` without dropping a connection.
//!
//! The certificate lives in a [`CertStore`] that rustls asks for each handshake, so a reload
//! only changes what new handshakes present: established connections (HTTP keep-alive,
//! agent WebSockets, terminals) keep the session they negotiated. A reload that fails (file
//! missing, unparsable, key not matching the certificate) keeps the previous certificate and
//! says why in the log.
//!
//! [`TlsListener`] plugs into `axum::serve`: TCP connections are accepted in a task of their
//! own and each handshake runs in its own task with a deadline, so a client that never
//! finishes its handshake holds neither the accept loop nor the other clients.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;

/// Longest a client may take to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's accept queue.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;
/// Largest certificate chain or key file read (a PEM chain is a few KiB).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Why a certificate and key could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// The key file holds no usable PEM private key.
    #[error("{path} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey {
        /// The file.
        path: String,
    },
    /// The key does not belong to the certificate, or its algorithm is not supported.
    #[error("the private key does not match the certificate or is not supported: {0}")]
    KeyMismatch(String),
    /// rustls refused the configuration.
    #[error("tls configuration refused: {0}")]
    Config(String),
}

impl TlsError {
    /// A stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "tls_file_unreadable",
            Self::NoCertificate { .. } => "tls_no_certificate",
            Self::NoKey { .. } => "tls_no_key",
            Self::KeyMismatch(_) => "tls_key_mismatch",
            Self::Config(_) => "tls_config_refused",
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let read_err = |e: std::io::Error| TlsError::Read {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::Read {
            path: path.display().to_string(),
            reason: format!("larger than {MAX_PEM_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Reads the chain and key of `files` and checks that the key is the certificate's.
///
/// # Errors
/// [`TlsError`] naming the file and what is wrong with it (never its content).
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read_pem(&files.cert_file)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: files.cert_file.display().to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert_file.display().to_string(),
        });
    }
    let key_pem = zeroize::Zeroizing::new(read_pem(&files.key_file)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: files.key_file.display().to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch(e.to_string()),
        // the key provider's message names the algorithm problem, not the key
        other => TlsError::KeyMismatch(other.to_string()),
    })
}

/// The certificate new handshakes present; replaced by [`CertStore::reload`].
pub struct CertStore {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Loads `files` once.
    ///
    /// # Errors
    /// [`TlsError`] from [`load`].
    pub fn open(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let key = load(&files)?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Re-reads the files; on any error the previous certificate stays in use.
    ///
    /// # Errors
    /// [`TlsError`] from [`load`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Arc::new(load(&self.files)?);
        match self.current.write() {
            Ok(mut current) => *current = key,
            // a poisoned lock only means a panic elsewhere while swapping an Arc: the value
            // is whole, so replace it
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }

    fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The rustls server configuration: TLS 1.3 and 1.2 (rustls offers no older version and
/// only forward-secret AEAD suites), ALPN `h2` and `http/1.1`, certificates from `store`.
///
/// # Errors
/// [`TlsError::Config`].
pub fn server_config(store: Arc<CertStore>) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Handles `SIGHUP` until the process ends: re-reads the certificate when TLS is served,
/// otherwise only says there is nothing to reload (a `systemctl reload` must never stop
/// the server, which the signal's default action would).
pub fn reload_on_sighup(store: Option<Arc<CertStore>>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!("cannot listen for SIGHUP; the certificate reloads only at restart");
            return;
        };
        while hangups.recv().await.is_some() {
            let Some(store) = &store else {
                tracing::info!("SIGHUP: no TLS certificate to reload (BREEZE_TLS_CERT_FILE unset)");
                continue;
            };
            match store.reload() {
                Ok(()) => tracing::info!(
                    cert_file = %store.files.cert_file.display(),
                    "tls: certificate reloaded; new connections use it"
                ),
                Err(e) => tracing::error!(
                    code = e.code(),
                    error = %e,
                    "tls: reload refused; the previous certificate stays in use"
                ),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = store;
}

/// A listener whose connections are TLS sessions; see the module documentation.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TlsListener {
    /// Serves TLS with `config` on `tcp`.
    ///
    /// # Errors
    /// The I/O error of reading the listener's address.
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, ready) = mpsc::channel(64);
        let accept_task = tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(Self {
            local,
            ready,
            accept_task,
        })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: wait instead of spinning, like axum's own listener
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    // the server is shutting down when nobody receives any more
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // the accept task never ends while the listener lives: wait forever
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
