//! tshark's SIP dissector reads what we encode: each message is one SIP packet with no
//! malformed item and no error-level expert info. Skipped, with a note, where tshark is absent.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::time::Duration;

use gateway_control::pcap::PcapWriter;

use super::super::*;
use super::rfc4475::{REGAUT01, WSINV};
use super::{BARESIP_INVITE, BARESIP_REGISTER, crlf};

#[test]
fn tshark_decodes_our_messages_as_sip_without_errors() {
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("note: tshark is not installed; the tshark check is skipped");
        return;
    }
    let register = parse(BARESIP_REGISTER).unwrap();
    let Message::Request(invite) = parse(BARESIP_INVITE).unwrap() else {
        panic!()
    };
    let mut ok = Response::to_request(&invite, 200, reason_phrase(200), Some("as83kd9"));
    ok.headers
        .push(HeaderName::Contact, "<sip:bob@127.0.0.1:5060>");
    ok.headers.push(HeaderName::ContentType, "application/sdp");
    ok.body = invite.body.clone();
    let Message::Request(reg) = parse(&crlf(REGAUT01)).unwrap() else {
        panic!()
    };
    let mut challenge = Response::to_request(&reg, 401, reason_phrase(401), Some("1"));
    challenge.headers.push(
        HeaderName::WwwAuthenticate,
        "Digest realm=\"offhook\", nonce=\"abc123\", algorithm=SHA-256, qop=\"auth\"",
    );
    let mut bye = Request::new(
        Method::Bye,
        "sip:alice-0x55d10b0c4a70@127.0.0.1:5071".parse().unwrap(),
    );
    bye.headers = ok.headers.clone();
    bye.headers.set(HeaderName::CSeq, "2 BYE");
    bye.headers.set(HeaderName::ContentLength, "0");
    bye.headers.remove(&HeaderName::ContentType);
    let messages = [
        register,
        Message::Request(invite),
        Message::Response(ok),
        Message::Response(challenge),
        Message::Request(bye),
        parse(&crlf(WSINV)).unwrap(),
    ];

    let path = std::env::temp_dir().join(format!("sip-wire-{}.pcap", std::process::id()));
    let mut pcap = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let (a, b) = (
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 5060),
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 5060),
    );
    for (i, m) in messages.iter().enumerate() {
        pcap.write_udp(Duration::from_millis(i as u64 * 10), a, b, &m.encode())
            .unwrap();
    }
    pcap.flush().unwrap();
    drop(pcap);
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .arg("-V")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Malformed") || l.contains("Expert Info (Error"))
        .collect();
    assert!(bad.is_empty(), "tshark complains: {bad:?}\n{text}");
    let sip = text
        .lines()
        .filter(|l| l.starts_with("Session Initiation Protocol"))
        .count();
    assert_eq!(sip, messages.len(), "{text}");
}
