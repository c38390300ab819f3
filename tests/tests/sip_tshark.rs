//! tshark reads a live SIP session between the real `offhook serve` and baresip on loopback
//! without a malformed item, an expert warning or an error on any message Offhook sent:
//! - the registration, with its digest challenge;
//! - a message ringing the phone (our INVITE without SDP), declined by the phone, and our ACK;
//! - the phone dialling `*97` (its offer, our 200 with the SDP answer, our BYE when the
//!   message ends);
//! - a record ring the phone answers (its offer in its 200, our answer in the ACK, its BYE).
//!
//! Needs the Debian packages baresip and tshark (dumpcap captures: root, or its capability).
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use offhook_tests::sim::record_in_background;
use offhook_tests::sip_peers::{Baresip, BaresipConfig, Event, installed};
use offhook_tests::{Server, speech_8k, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// dumpcap on `lo` for one port, writing `file`; stopped with SIGTERM so the file is whole.
struct Capture(Child);

impl Capture {
    /// Starts capturing `port`, and returns once packets are really being captured: dumpcap
    /// says "Capturing on" before its filter is in place on a loaded machine, so datagrams to a
    /// probe port of our own (in the filter too, never SIP) are sent until it counts one.
    fn start(port: u16, file: &Path) -> Self {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let probe_port = probe.local_addr().unwrap().port();
        let mut child = Command::new("dumpcap")
            .args([
                "-i",
                "lo",
                "-f",
                &format!("udp port {port} or udp port {probe_port}"),
            ])
            .arg("-w")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dumpcap must be installed (Debian package tshark brings it)");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let mut stderr = stderr;
            // dumpcap's counter ("Packets: N") ends with a carriage return, not a newline.
            while let Ok(n) = stderr.read_until(b'\r', &mut rest) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&rest).into_owned();
                if text.contains("Packets: ") {
                    let _ = tx.send(());
                }
                eprintln!("dumpcap: {}", text.trim());
                rest.clear();
            }
        });
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            sender.send_to(b"probe", ("127.0.0.1", probe_port)).unwrap();
            if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "dumpcap never captured the probe"
            );
        }
        Self(child)
    }

    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tshark(pcap: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-n", "-d", &format!("udp.port=={port},sip")])
        .args(args)
        .output()
        .expect("tshark must be installed (Debian package tshark)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_reads_offhooks_side_of_live_baresip_calls_without_a_flaw() {
    for program in ["baresip", "tshark", "dumpcap"] {
        assert!(
            installed(program),
            "{program} is not installed (scripts/deps --test installs it)"
        );
    }
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sip.pcapng");
    let capture = Capture::start(sip.port(), &pcap);

    let speech = speech_8k();
    let (user, secret) = server.sip_credentials("alice");
    let mut config = BaresipConfig::new(&user, &secret, sip);
    config.source_wav = Some(speech.clone());
    let mut phone = Baresip::start(config).expect("baresip starts");
    phone.registered().expect("baresip registers");
    let bob = server.login("bob");
    wait_for("alice's phone is a station", || {
        let h = server.health(Some(&bob))?;
        (h["sip"]["registered_users"] == 1).then_some(())
    });

    // A message rings the phone, which declines; then it dials *97 and hears it.
    let r = server.post_message(&bob, &["alice"], std::fs::read(&speech).unwrap());
    assert!(r.status().is_success(), "{:?}", r.text());
    phone.wait_incoming().expect("the message rings the phone");
    phone.hangup().expect("decline");
    phone
        .wait_event("the ring ends", |e| matches!(e, Event::Closed(_)))
        .expect("the ring ends");
    phone.dial(&format!("sip:*97@{sip}")).expect("dial *97");
    phone.wait_established().expect("*97 answers");
    phone.wait_call_closed().expect("the message ends the call");

    // A record ring the phone answers; it says the file and hangs up.
    let record = record_in_background(&server, "alice", "bob");
    phone.wait_incoming().expect("the record ring");
    phone.accept().expect("answer");
    phone.wait_established().expect("established");
    phone.wait_call_closed().expect("the phone hangs up");
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "offhook record: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(phone);
    std::thread::sleep(Duration::from_millis(500));
    capture.stop();

    let port = sip.port();
    let ours = format!("udp.srcport == {port}");
    // Every message in the session, as tshark reads it.
    let lines = tshark(
        &pcap,
        port,
        &[
            "-Y",
            "sip",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "udp.srcport",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.CSeq.method",
        ],
    );
    eprintln!("{lines}");
    let seen = |from_us: bool, what: &str| {
        lines.lines().any(|l| {
            let f: Vec<&str> = l.split('|').collect();
            f.len() == 4
                && (f[0] == port.to_string()) == from_us
                && (f[1] == what || format!("{} {}", f[2], f[3]) == what)
        })
    };
    for (from_us, what) in [
        (false, "REGISTER"),
        (true, "401 REGISTER"),
        (true, "200 REGISTER"),
        (true, "INVITE"),
        (false, "486 INVITE"),
        (false, "INVITE"),
        (true, "200 INVITE"),
        (true, "BYE"),
        (false, "200 INVITE"),
        (true, "ACK"),
        (false, "BYE"),
        (true, "200 BYE"),
    ] {
        let what_ok = seen(from_us, what) || (what == "486 INVITE" && seen(from_us, "603 INVITE"));
        assert!(
            what_ok,
            "{} {what} in the capture:\n{lines}",
            if from_us { "Offhook's" } else { "the phone's" }
        );
    }
    // Our SDP: the answer in the 200 to *97 and in the ACK of the record ring.
    let sdp = tshark(
        &pcap,
        port,
        &[
            "-Y",
            &format!("{ours} && sdp"),
            "-T",
            "fields",
            "-e",
            "sdp.media",
        ],
    );
    assert!(
        sdp.lines().filter(|l| l.starts_with("audio ")).count() >= 2,
        "our SDP answers, as tshark reads them:\n{sdp}"
    );
    // Nothing we sent is malformed or draws a warning or an error.
    let flagged = tshark(
        &pcap,
        port,
        &[
            "-Y",
            &format!("{ours} && (_ws.malformed || _ws.expert.severity >= 0x00600000)"),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Info",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(flagged.trim().is_empty(), "tshark flagged:\n{flagged}");
}
