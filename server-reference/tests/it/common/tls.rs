//! A throwaway test CA and a leaf certificate for `127.0.0.1` (and `localhost`), written
//! as PEM files for loopback HTTPS peers (the webhook receivers).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files of a test CA and of a leaf it signed.
pub struct TestPki {
    /// The CA certificate (trust this).
    pub ca: PathBuf,
    /// The leaf certificate (serve this).
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

/// Makes a CA and a leaf for `127.0.0.1` / `localhost` in `dir`.
pub fn test_pki(dir: &Path) -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "breeze test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let pki = TestPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, leaf.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}
