//! TLS for `https://` WebSub hubs.
//!
//! The public hubs (Google's, websubhub.com, Superfeedr) accept only https, so the notifier needs
//! a TLS client. rustls with the `ring` provider builds from crates alone (no cmake, nasm or
//! OpenSSL headers), and the trusted roots are Mozilla's, compiled in by `webpki-roots`: the
//! binary verifies hubs the same way on any host, including slim containers without a
//! ca-certificates package. `--websub-ca-file` adds CAs for private hubs (and for the tests).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::HubError;

/// Only HTTP/1.1 is spoken to hubs (hyper's http1 client), so that is all ALPN offers
/// (RFC 7301 §3.1).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A connector trusting Mozilla's roots plus every certificate in `ca_file`.
pub(super) fn connector(ca_file: Option<&Path>) -> Result<TlsConnector, HubError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        for cert in extra_cas(path)? {
            roots.add(cert).map_err(|e| ca_error(path, e.to_string()))?;
        }
    }
    // The provider is named rather than taken from the process default, so that another crate
    // enabling a second rustls provider cannot turn this into a run-time panic.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HubError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Every `CERTIFICATE` block in the PEM file at `path`; none at all is an error, since a CA file
/// that adds nothing is surely the wrong file.
fn extra_cas(path: &Path) -> Result<Vec<CertificateDer<'static>>, HubError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ca_error(path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error(
            path,
            "holds no PEM `CERTIFICATE` block; give a file of one or more PEM CA certificates".to_string(),
        ));
    }
    Ok(certs)
}

fn ca_error(path: &Path, reason: String) -> HubError {
    HubError::CaFile {
        path: path.to_path_buf(),
        reason,
    }
}

/// The name the hub's certificate must carry: its DNS name, or its IP address for a hub named
/// by address (RFC 6125 §6; rustls checks IP SANs for the latter).
pub(super) fn server_name(url: &url::Url) -> Result<ServerName<'static>, &'static str> {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            ServerName::try_from(d.to_string()).map_err(|_| "host is not a valid DNS name for TLS")
        }
        Some(url::Host::Ipv4(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V4(ip).into())),
        Some(url::Host::Ipv6(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V6(ip).into())),
        None => Err("no host"),
    }
}

/// Whether a failed TLS handshake was the hub's certificate being refused: that does not fix
/// itself within a retry's backoff, so retrying would only delay the failure being counted.
pub(super) fn is_certificate_refused(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        })
}
