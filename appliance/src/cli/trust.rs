//! What the client subcommands trust, and how a failed connection is told: the TLS settings for
//! an `https://` server (the public web's authorities, plus the certificates of `--cacert`),
//! shared by HTTP and the WebSocket, and the one-line cause of a connection that failed, the
//! TLS layer's (an untrusted certificate: name `--cacert`) told apart from the network's.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;

use super::Error;

/// The TLS client settings for an https:// server: the public web's roots (webpki-roots) and
/// the certificates of `cacert`.
pub(super) fn tls_config(cacert: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = cacert {
        let bad = |why: String| Error::Usage(format!("--cacert {}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad("no CERTIFICATE block".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Protocol(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The innermost cause of an error (what a TLS or socket layer said).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Whether a connection failure is the TLS layer's (a certificate not trusted, a handshake
/// refused) rather than the network's. The rustls error sits inside nested `io::Error`s, whose
/// `source` skips it: those are opened with `get_ref`.
fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        return is_tls_failure(inner);
    }
    e.source().is_some_and(is_tls_failure)
}

pub(super) fn unreachable(base: &str, e: &reqwest::Error) -> Error {
    if base.starts_with("https://") && is_tls_failure(e) {
        return Error::Tls {
            url: base.to_owned(),
            cause: root_cause(e),
        };
    }
    if e.is_connect() || e.is_timeout() {
        Error::Unreachable {
            url: base.to_owned(),
            cause: if e.is_timeout() {
                "timed out".into()
            } else {
                root_cause(e)
            },
        }
    } else {
        Error::Protocol(e.to_string())
    }
}

/// Opens the WebSocket `req` asks for at the server `base`, over TLS with `tls` (`wss://`) or
/// plain; a failure says which layer refused.
pub(super) fn websocket(
    base: &str,
    req: impl IntoClientRequest,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, Error> {
    let unreachable = |cause: String| Error::Unreachable {
        url: base.to_owned(),
        cause,
    };
    let req = req
        .into_client_request()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let host = req.uri().host().unwrap_or_default().to_owned();
    let port = req
        .uri()
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((host, port)).map_err(|e| unreachable(e.to_string()))?;
    let connector = tls.map_or(
        tungstenite::Connector::Plain,
        tungstenite::Connector::Rustls,
    );
    let (ws, _) = tungstenite::client_tls_with_config(req, tcp, None, Some(connector)).map_err(
        |e| match &e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Tls(t)) => Error::Tls {
                url: base.to_owned(),
                cause: t.to_string(),
            },
            _ => unreachable(e.to_string()),
        },
    )?;
    Ok(ws)
}
