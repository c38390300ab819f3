//! The appliance's MEGACO controller against Erlang/OTP's megaco stack (issue 16): `offhook
//! serve` and a media gateway written on OTP's `megaco` API
//! (`gateway-control/tests/otp/mg/`), as separate processes on loopback, in each of UDP pretty
//! text, UDP compact text, TCP pretty text and UDP binary (BER).
//!
//! In each, the MG registers (ServiceChange Restart) and shows up in `/api/v1/health`; its two
//! lines are audited and armed for off-hook. Alice records a message for carol: `offhook
//! record` rings her line 1 (`al/ri`); the MG's off-hook Notify makes the controller connect
//! the line (Add of the line and of `$` into a new context, with Remote SDP at Offhook's
//! media); the MG says the speech fixture as G.711 RTP (every 20 ms packet sent); the on-hook
//! Notify ends the recording, the connection goes (Subtract of both, the context deleted) and
//! the message is stored. Its delivery rings carol's line 2; picked up, the message plays to
//! it over RTP to its end (carol's inbox shows it played), the call ends, and what the line
//! heard is speech lasting as long as what alice said, within 200 ms.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use offhook_tests::sim::{GatewaySim, finish_recording, record_in_background};
use offhook_tests::{PASSWORD, Server, speech_8k, wait_for, wav_duration_ms};

fn mg_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gateway-control/tests/otp/mg/mg.escript")
}

/// Line `n`'s termination id. OTP's binary term ids in BER: the text ids of MGCP's kind cannot
/// be carried by its BER encoder.
fn line_of(encoding: &str, n: u16) -> String {
    if encoding == "ber" {
        format!("00000000/00000000/{n:08b}")
    } else {
        format!("aaln/{n}")
    }
}

fn flow(transport: &str, encoding: &str) {
    assert!(
        Command::new("escript").arg("-h").output().is_ok() || which_escript(),
        "escript (erlang-base) is not installed: scripts/deps --test installs it"
    );
    let mgc: SocketAddr = format!("127.0.0.1:{}", quiet_port()).parse().unwrap();
    let mg_port = quiet_port();
    let mut server = Server::start(&format!(
        "[megaco]\nlisten = \"{mgc}\"\nkeepalive = \"2s\"\n\
         [[gateway]]\nname = \"mg1\"\nprotocol = \"megaco\"\naddress = \"127.0.0.1:{mg_port}\"\n"
    ));
    for (user, n) in [("alice", 1), ("carol", 2)] {
        let line = format!("mg1/{}", line_of(encoding, n));
        let out = server.offhook(
            &["user", "add", user, "--password-stdin", "--line", &line],
            Some(PASSWORD),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Stations are read at start-up.
    server.terminate();
    server.restart();
    assert_eq!(
        server.gateway_up("mg1"),
        Some(false),
        "down until it registers"
    );

    let mut command = Command::new("escript");
    command
        .arg(mg_script())
        .args(["--mgc", &mgc.to_string(), "--transport", transport])
        .args(["--encoding", encoding, "--lines", "2"])
        .args(["--ip", "127.0.0.1", "--port", &mg_port.to_string()]);
    let mut mg = GatewaySim::spawn(command);
    mg.expect("the MG registered", |v| {
        (v["event"] == "registered").then_some(())
    });
    wait_for("the MG up in /api/v1/health", || {
        server.gateway_up("mg1").filter(|up| *up)
    });
    let h = server.health(None).expect("health");
    assert!(
        h["gateways"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "mg1" && g["protocol"] == "megaco" && g["up"] == true),
        "{h}"
    );
    // The MG prints what it answers in its own order: these may precede "registered".
    for n in [1, 2] {
        seen_or_expect(&mut mg, &format!("line {n} audited"), |v| {
            (v["event"] == "audit"
                && v["found"] == true
                && v["termination"] == line_of(encoding, n))
            .then_some(())
        });
        seen_or_expect(&mut mg, &format!("line {n} armed for off-hook"), |v| {
            let armed = v["event"] == "modify"
                && v["line"] == n
                && v["events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e == "al/of"));
            armed.then_some(())
        });
    }
    for user in ["alice", "carol"] {
        let token = server.login(user);
        wait_for(&format!("{user}'s phone available"), || {
            let h = server.health(Some(&token))?;
            (h["stations"][0]["available"] == true).then_some(())
        });
    }

    // `offhook record` rings alice's line; she picks up and says the speech fixture.
    let speech = speech_8k();
    let record = record_in_background(&server, "alice", "carol");
    let context = answer_ring(&mut mg, encoding, 1);
    mg.send(&format!("say 1 {}", speech.display()));
    // Hanging up ends the recording: the message is stored, and the connection goes.
    let id = finish_recording(&mut mg, 1, record);
    assert_eq!(
        id.len(),
        36,
        "record prints the stored message's id: {id:?}"
    );
    let said = mg
        .seen
        .iter()
        .find_map(|v| (v["event"] == "say_done" && v["line"] == 1).then(|| v["packets"].clone()))
        .and_then(|p| p.as_u64())
        .expect("say_done counts its packets");
    // 20 ms a packet, the last one padded.
    let samples = hound::WavReader::open(&speech).unwrap().duration();
    assert_eq!(said, u64::from(samples.div_ceil(160)), "every packet sent");
    hung_up(&mut mg, &line_of(encoding, 1));
    disconnected(&mut mg, &context);
    let sent = mg
        .seen
        .iter()
        .find_map(|v| {
            (v["event"] == "subtract" && v["context"] == context).then(|| v["rtp_sent"].clone())
        })
        .and_then(|p| p.as_u64());
    assert_eq!(
        sent,
        Some(said),
        "the RTP termination's statistics: {:#?}",
        mg.seen
    );

    // The message rings carol's line 2; picked up, it plays to its end over RTP.
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("heard.wav");
    // Rung while line 1's hang-up was being answered, perhaps.
    seen_or_expect(&mut mg, "al/ri on line 2", rung(2));
    mg.send(&format!("hear 2 {}", heard.display()));
    mg.send("offhook 2");
    let delivery = connected(&mut mg, encoding, 2);
    assert_ne!(delivery, context, "a new context for the delivery");
    wait_for("the message played on carol's phone", || {
        let out = server.client("carol", &["inbox", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        list.as_array()?
            .iter()
            .find(|m| m["id"] == id && m["played"] == true)
            .map(|_| ())
    });
    // Played to its end, the call ends (the connection goes, a confirmation tone); then
    // carol hangs up.
    let (packets, bytes) = seen_or_expect(&mut mg, "what line 2 heard", |v| {
        (v["event"] == "heard" && v["line"] == 2)
            .then(|| (v["packets"].as_u64(), v["bytes"].as_u64()))
    });
    disconnected(&mut mg, &delivery);
    mg.send("onhook 2");
    hung_up(&mut mg, &line_of(encoding, 2));
    assert!(
        packets.is_some_and(|p| p > 0) && bytes.is_some_and(|b| b > 0),
        "RTP arrived on line 2: {:#?}",
        mg.seen
    );
    let (spoken, got) = (wav_duration_ms(&speech), wav_duration_ms(&heard));
    assert!(
        got + 200 >= spoken && got <= spoken + 200,
        "line 2 heard {got} ms of {spoken} ms"
    );
    assert!(rms(&heard) > 100.0, "line 2 heard speech, not silence");

    let refused = refusals(&mg.seen);
    assert!(
        refused.is_empty(),
        "the MG refused {refused:#?} in {:#?}",
        mg.seen
    );
    assert!(server.metric("offhook_megaco_total{kind=\"registrations\"}") >= 1);
    mg.quit();
}

/// Rings line `n` (`al/ri` in a Modify of it).
fn rung(n: u16) -> impl Fn(&Value) -> Option<()> {
    move |v| {
        let rings = v["event"] == "modify"
            && v["line"] == n
            && v["signals"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == "al/ri"));
        rings.then_some(())
    }
}

/// Line `n` rings and is picked up: returns the context of the connection made to it.
fn answer_ring(mg: &mut GatewaySim, encoding: &str, n: u16) -> Value {
    seen_or_expect(mg, &format!("al/ri on line {n}"), rung(n));
    mg.send(&format!("offhook {n}"));
    connected(mg, encoding, n)
}

/// After line `n`'s off-hook: the Notify answered, the line and an RTP termination with
/// Offhook's media as its Remote added into a new context. Returns the context. The MG prints
/// the Notify's reply when it has it, which may be after the Add it answers.
fn connected(mg: &mut GatewaySim, encoding: &str, n: u16) -> Value {
    let line = line_of(encoding, n);
    let context = seen_or_expect(mg, &format!("line {n} added into a context"), |v| {
        (v["event"] == "add" && v["line"] == n && v["context"] != 0).then(|| v["context"].clone())
    });
    seen_or_expect(
        mg,
        &format!("an RTP termination for line {n} with Offhook's media"),
        |v| {
            let rtp = v["event"] == "add"
                && v["context"] == context
                && v["remote"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("127.0.0.1:"))
                && v["local"].is_string();
            rtp.then_some(())
        },
    );
    seen_or_expect(
        mg,
        &format!("the off-hook Notify of line {n} answered"),
        |v| {
            let answered = v["event"] == "notify_reply"
                && v["name"] == "al/of"
                && v["termination"] == line
                && v["ok"] == true;
            answered.then_some(())
        },
    );
    context
}

/// After the on-hook of the line `termination`: the Notify answered.
fn hung_up(mg: &mut GatewaySim, termination: &str) {
    seen_or_expect(
        mg,
        &format!("the on-hook Notify of {termination} answered"),
        |v| {
            let answered = v["event"] == "notify_reply"
                && v["name"] == "al/on"
                && v["termination"] == termination
                && v["ok"] == true;
            answered.then_some(())
        },
    );
}

/// The connection in `context` gone: both terminations subtracted, the context deleted.
fn disconnected(mg: &mut GatewaySim, context: &Value) {
    seen_or_expect(mg, "the context deleted", |v| {
        (v["event"] == "subtract" && v["context_deleted"] == true && v["context"] == *context)
            .then_some(())
    });
    assert!(
        mg.seen
            .iter()
            .any(|v| v["event"] == "subtract" && v["context"] == *context && v["line"].is_null()),
        "the RTP termination was subtracted: {:#?}",
        mg.seen
    );
}

/// The MG's error events, less its refusals of the controller's probes in text. Until a
/// gateway has spoken, the controller audits its ROOT in pretty text (it cannot know the
/// gateway's encoding); on a loaded machine such a probe, or its retransmission, can reach a
/// BER MG, which refuses it (a decode error with the bytes, then megaco's syntax error).
fn refusals(seen: &[Value]) -> Vec<&Value> {
    let probe = |v: &Value| {
        v["command"] == "decode"
            && v["bytes"].as_str().and_then(unhex).is_some_and(|m| {
                m.starts_with(b"MEGACO/1 ") && m.windows(17).any(|w| w == b"AuditValue = ROOT")
            })
    };
    let mut probes = seen.iter().filter(|v| probe(v)).count();
    seen.iter()
        .filter(|v| v["event"] == "error" && !probe(v))
        .filter(|v| {
            let forgiven = v["command"] == "syntax" && probes > 0;
            probes -= usize::from(forgiven);
            !forgiven
        })
        .collect()
}

/// Bytes from hex digits.
fn unhex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A port free on loopback for UDP and TCP, in 61000-65535: outside Linux's ephemeral range
/// (32768-60999), from which the port-0 sockets of tests running in parallel are drawn (the
/// MGs' RTP terminations, say), and outside [`offhook_tests::rtp_ports`], so that nothing takes
/// it between now and the server's start, nor while the server restarts.
fn quiet_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const BASE: u32 = 61_000;
    const SPAN: u32 = 4_536;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(BASE + (n * 5 + std::process::id() * 13) % SPAN).unwrap();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {BASE}-{}", BASE + SPAN - 1);
}

/// The root mean square of a WAV file's 16-bit samples.
fn rms(path: &Path) -> f64 {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (sum, n) = r
        .samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .fold((0.0, 0u64), |(sum, n), v| (sum + v * v, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

/// The first line already seen for which `f` gives `Some`, or the next one.
fn seen_or_expect<T>(mg: &mut GatewaySim, what: &str, f: impl Fn(&Value) -> Option<T>) -> T {
    match mg.seen.iter().find_map(&f) {
        Some(t) => t,
        None => mg.expect(what, f),
    }
}

fn which_escript() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("escript").is_file()))
}

#[test]
fn udp_pretty_text() {
    flow("udp", "pretty");
}

#[test]
fn udp_compact_text() {
    flow("udp", "compact");
}

#[test]
fn tcp_pretty_text() {
    flow("tcp", "pretty");
}

#[test]
fn udp_binary() {
    flow("udp", "ber");
}

#[test]
fn only_text_probes_are_forgiven() {
    let hex = |m: &str| m.bytes().map(|b| format!("{b:02X}")).collect::<String>();
    let error = |command: &str, bytes: Option<String>| serde_json::json!({"event": "error", "command": command, "bytes": bytes});
    let probe = "MEGACO/1 [127.0.0.1]:63129\nTransaction = 7 {\n    Context = - {\n        \
                 AuditValue = ROOT {\n            Audit {}\n        }\n    }\n}\n";
    let other = "MEGACO/1 [127.0.0.1]:63129\nTransaction = 8 { Context = 1 { Subtract = * } }";
    let seen = [
        error("decode", Some(hex(probe))),
        error("syntax", None),
        serde_json::json!({"event": "registered"}),
    ];
    assert!(refusals(&seen).is_empty());
    let seen = [
        error("decode", Some(hex(probe))),
        error("syntax", None),
        error("syntax", None),
        error("decode", Some(hex(other))),
    ];
    assert_eq!(refusals(&seen), [&seen[2], &seen[3]]);
    assert_eq!(unhex("4D4547"), Some(b"MEG".to_vec()));
    assert_eq!(unhex("4D4"), None);
}
