//! A server that speaks HTTPS, and clients that trust exactly its certificate.
//!
//! [`Server::start_tls`] forces TLS on its loopback port (`[http] tls = "on"`) and keeps plain
//! HTTP on a second loopback port (`loopback_listen`) for the harness: [`Server::url`] is that
//! one (health checks, `/metrics`, the CLI), [`Server::https`] the TLS one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::{DEADLINE, Server, free_port, media_table, rtp_ports};

/// A TLS client connection over TCP.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

impl Server {
    /// Starts a server on a fresh data dir whose port speaks HTTPS only; `http_keys` are added to
    /// its `[http]` table (such as `tls_cert`/`tls_key`), `extra` to the file.
    pub fn start_tls(http_keys: &str, extra: &str) -> Self {
        let (port, plain) = (free_port(), free_port());
        let http = format!(
            "listen = \"127.0.0.1:{port}\"\ntls = \"on\"\nloopback_listen = \"127.0.0.1:{plain}\"\n{http_keys}\n"
        );
        Self::launch(
            &media_table(&rtp_ports()),
            &http,
            extra,
            Vec::new(),
            plain,
            Some(format!("https://127.0.0.1:{port}")),
            None,
        )
    }

    /// `https://127.0.0.1:PORT`.
    pub fn https_url(&self) -> &str {
        self.https
            .as_deref()
            .expect("a server started with start_tls")
    }

    /// The TLS port's `127.0.0.1:PORT`.
    pub fn https_addr(&self) -> String {
        self.https_url().trim_start_matches("https://").to_owned()
    }

    /// The self-signed certificate the server made, `DATA/tls/cert.pem`.
    pub fn generated_cert(&self) -> PathBuf {
        self.data.join("tls/cert.pem")
    }
}

/// An HTTP client that trusts exactly the certificate(s) in the PEM file `cert` and no
/// authority.
pub fn https_client(cert: &std::path::Path) -> reqwest::blocking::Client {
    let pem = std::fs::read(cert).unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM certificate"))
        .build()
        .expect("client")
}

/// Opens a TLS connection to `addr` (`127.0.0.1:PORT`) trusting exactly `cert`, with ALPN
/// `http/1.1`, and completes the handshake.
pub fn connect(addr: &str, cert: &std::path::Path) -> TlsStream {
    let pem = std::fs::read(cert).unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.expect("PEM certificate")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let name = ServerName::try_from(host.to_owned()).expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .expect("TLS handshake with the server");
    }
    s
}

/// SHA-256 of the certificate the server at `addr` presents, as `AB:CD:…`; also checks that it
/// chose ALPN `http/1.1`.
pub fn served_fingerprint(addr: &str, cert: &std::path::Path) -> String {
    let s = connect(addr, cert);
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]), "ALPN");
    let chain = s
        .conn
        .peer_certificates()
        .expect("the server's certificate");
    fingerprint(&chain[0])
}

/// SHA-256 of `der`, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = d.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// A `wss://` WebSocket to `/api/v1/ws` as the holder of `token`, trusting exactly `cert`,
/// after the server's `connect` greeting.
pub fn websocket(
    server: &Server,
    cert: &std::path::Path,
    token: &str,
) -> tungstenite::WebSocket<TlsStream> {
    use tungstenite::client::IntoClientRequest;
    let url = server.https_url().replace("https://", "wss://") + "/api/v1/ws";
    let mut req = url.into_client_request().expect("ws request");
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let stream = connect(&server.https_addr(), cert);
    let (mut ws, _) = tungstenite::client::client(req, stream).expect("wss upgrade");
    let hello = ws.read().expect("greeting");
    assert!(
        hello.to_text().expect("text").contains("\"connect\""),
        "{hello}"
    );
    ws
}

/// Sends raw `bytes` to `addr` over plain TCP and reads the answer until the server closes.
pub fn raw_exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    tcp.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    out
}
