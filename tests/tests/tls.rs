//! HTTPS on the `offhook` binary, on loopback with `[http] tls = "on"`, written as what a
//! browser on the LAN and an attacker on it would do:
//!
//! - a client that trusts exactly the certificate the appliance made logs in, uses the API and
//!   opens a `wss://` WebSocket; the fingerprint the log and `GET /api/v1/tls` give is the
//!   SHA-256 of the DER the server presents, and a restart presents the same certificate;
//! - the session cookie is `Secure` over HTTPS and not over plain loopback HTTP;
//! - plain HTTP to the HTTPS port, and a client that does not trust the certificate, are refused
//!   and counted; connections that start a handshake and never finish it are cut by the header
//!   timeout while `/api/v1/health` still answers;
//! - the owner's certificate and key, from the config, are served instead;
//! - the CLI sends over `https://` and listens over `wss://` when told to trust the appliance's
//!   certificate (`--cacert`), and without it refuses, saying why.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::TcpStream;

use offhook_tests::tls::{self, https_client};
use offhook_tests::{DEADLINE, PASSWORD, Server, http, tone_wav, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn login(
    client: &reqwest::blocking::Client,
    base: &str,
    user: &str,
) -> reqwest::blocking::Response {
    client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .expect("login")
}

/// The fingerprints the server logged at its starts, in order.
fn logged_fingerprints(server: &Server) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains("HTTPS certificate"))
        .filter_map(|l| l.split("fingerprint_sha256=").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn a_client_trusting_the_generated_certificate_uses_the_api_and_wss_and_it_survives_a_restart() {
    let mut server = Server::start_tls("", "");
    server.add_admin("root");
    server.add_user("alice");
    server.add_user("bob");
    let cert = server.generated_cert();
    let https = https_client(&cert);
    let base = server.https_url().to_owned();

    // Logs in over HTTPS; the cookie is Secure.
    let r = login(&https, &base, "alice");
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.ends_with("; Secure"), "over HTTPS: {cookie}");
    let alice: Value = r.json().unwrap();
    let alice = alice["token"].as_str().unwrap().to_owned();
    // Over plain loopback HTTP the same login's cookie is not Secure (a browser would not send
    // it back over http://).
    let r = login(&http(), &server.url, "alice");
    let plain_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!plain_cookie.contains("Secure"), "{plain_cookie}");

    // The API over HTTPS: bob listens on wss, alice sends, bob's socket gets the arrival.
    let bob = login(&https, &base, "bob").json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = tls::websocket(&server, &cert, &bob);
    let contacts: Vec<Value> = https
        .get(format!("{base}/api/v1/contacts"))
        .bearer_auth(&alice)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        contacts.iter().any(|c| c["username"] == "bob"),
        "{contacts:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 400);
    let form = reqwest::blocking::multipart::Form::new()
        .text("to", "bob")
        .part(
            "audio",
            reqwest::blocking::multipart::Part::bytes(wav)
                .file_name("t.wav")
                .mime_str("audio/wav")
                .unwrap(),
        );
    let sent: Value = https
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = sent["id"].as_str().expect("id").to_owned();
    let arrival = loop {
        let m = ws.read().expect("a frame over wss");
        let v: Value = serde_json::from_str(m.to_text().unwrap_or("{}")).unwrap_or_default();
        if v["action"] == "post" {
            break v;
        }
    };
    assert!(arrival.to_string().contains(&id), "{arrival}");

    // The fingerprint: logged, given to admins, and the SHA-256 of the DER served.
    let served = tls::served_fingerprint(&server.https_addr(), &cert);
    assert_eq!(logged_fingerprints(&server), vec![served.clone()]);
    let root = login(&https, &base, "root").json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let info: Value = https
        .get(format!("{base}/api/v1/tls"))
        .bearer_auth(&root)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["enabled"], true);
    assert_eq!(info["fingerprint_sha256"], served.as_str());
    assert_eq!(info["self_signed"], true);
    assert!(info["not_after"].as_str().is_some(), "{info}");
    let r = https
        .get(format!("{base}/api/v1/tls"))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "admins only");
    // The key is the owner's only.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data.join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key.pem mode {mode:o}");
    }

    // A restart serves the same certificate (a browser told to trust it keeps trusting it).
    drop(ws);
    server.terminate();
    server.restart();
    let again = tls::served_fingerprint(&server.https_addr(), &cert);
    assert_eq!(again, served);
    assert_eq!(logged_fingerprints(&server), vec![served.clone(), served]);
    assert_eq!(login(&https, &base, "alice").status(), StatusCode::OK);
}

#[test]
fn plain_http_and_untrusting_clients_are_refused_and_counted() {
    let server = Server::start_tls("", "");
    let addr = server.https_addr();
    let metric = |kind: &str| server.metric(&format!("offhook_http_total{{kind=\"{kind}\"}}"));

    // Plain HTTP to the HTTPS port: a plain 400 naming https://, no API.
    let answer = tls::raw_exchange(
        &addr,
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains("https://") && !answer.contains("gateways"),
        "{answer}"
    );
    assert_eq!(metric("plain_http_on_tls"), 1);

    // A client that trusts only the web's authorities (as a browser before the owner accepts
    // the certificate) refuses it; the server counts the failed handshake.
    let r = reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap()
        .get(format!("{}/api/v1/health", server.https_url()))
        .send();
    assert!(r.is_err(), "an untrusted certificate was accepted");
    // Garbage that is no TLS record.
    let _ = tls::raw_exchange(&addr, &[0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    wait_for("two failed handshakes counted", || {
        (metric("tls_handshake_failed") >= 2).then_some(())
    });
    assert_eq!(metric("tls_handshake_timeout"), 0);
}

#[test]
fn handshakes_that_never_finish_are_cut_by_the_header_timeout() {
    let server = Server::start_tls("header_timeout = \"1s\"", "");
    let cert = server.generated_cert();
    let https = https_client(&cert);
    let addr = server.https_addr();
    // 40 connections that send the start of a TLS record (a ClientHello's header) and stall.
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            s
        })
        .collect();
    // Meanwhile the API answers over HTTPS.
    let r = https
        .get(format!("{}/api/v1/health", server.https_url()))
        .send()
        .expect("health while handshakes stall");
    assert_eq!(r.status(), StatusCode::OK);
    // Each stalled connection is closed by the server (end of stream or a reset), well before
    // the read deadline.
    for s in &mut stalled {
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("the server sent {n} bytes to a half handshake"),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a stalled handshake was left open: {e}"
            ),
        }
    }
    // The server counts a timeout just after closing its socket: wait for the last count.
    wait_for("the 40 handshake timeouts counted", || {
        (server.metric("offhook_http_total{kind=\"tls_handshake_timeout\"}") == 40).then_some(())
    });
    assert_eq!(
        server.metric("offhook_http_total{kind=\"idle_evicted\"}"),
        0,
        "the timeout cut them, not the idle bound"
    );
}

#[test]
fn the_owners_certificate_from_the_config_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "offhook.test".into()]).unwrap();
    let made = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("owner.crt"), dir.path().join("owner.key"));
    std::fs::write(&cert_path, made.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let owner = tls::fingerprint(made.der());

    let server = Server::start_tls(
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            cert_path.display(),
            key_path.display()
        ),
        "",
    );
    server.add_admin("root");
    assert_eq!(
        tls::served_fingerprint(&server.https_addr(), &cert_path),
        owner
    );
    assert_eq!(logged_fingerprints(&server), vec![owner.clone()]);
    assert!(
        !server.data.join("tls").exists(),
        "no certificate is made when the owner gives one"
    );
    let https = https_client(&cert_path);
    let base = server.https_url();
    let root = login(&https, base, "root").json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let info: Value = https
        .get(format!("{base}/api/v1/tls"))
        .bearer_auth(&root)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["fingerprint_sha256"], owner.as_str());
    assert_eq!(info["self_signed"], false);
    // The plain server says it serves no certificate.
    let plain = Server::start("");
    plain.add_admin("root");
    let t = plain.login("root");
    let info: Value = http()
        .get(format!("{}/api/v1/tls", plain.url))
        .bearer_auth(&t)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info, json!({"enabled": false}));
}

#[test]
fn the_cli_sends_and_listens_over_https_with_cacert_and_refuses_without() {
    let server = Server::start_tls("", "");
    server.add_user("alice");
    server.add_user("bob");
    let (https, cert) = (server.https_url().to_owned(), server.generated_cert());
    let cert = cert.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("t.wav");
    tone_wav(&wav, 1500);
    let wav = wav.to_str().unwrap();

    // The appliance's own certificate is no public root: not trusted unless named.
    let out = server.client_at(&https, "bob", &["inbox"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&https) && err.contains("TLS handshake failed") && err.contains("--cacert"),
        "{err}"
    );
    let out = server.client_at(&https, "bob", &["inbox", "--cacert", wav]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--cacert"), "{err}");

    // bob listens over wss://, alice sends over https://; bob is pushed her message.
    let mut bob = server.listen_at(&https, "bob", &["--cacert", cert]);
    let out = server.client_at(
        &https,
        "alice",
        &["send", "--to", "bob", wav, "--cacert", cert],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let got = bob.messages_until(&id);
    assert!(got.iter().any(|m| m["id"] == id.as_str()), "{got:?}");
    // Live, too: intercom buffers over wss://.
    let out = server.client_at(
        &https,
        "alice",
        &["send", "--live", "--to", "bob", wav, "--cacert", cert],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
