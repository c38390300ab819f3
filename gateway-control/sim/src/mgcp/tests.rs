//! Scenario tests of the gateway core in virtual time: a scripted call agent sends commands as
//! text, and the harness jumps time to each `poll_timeout`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::analog::*;
use crate::{Transmit, Via};
use gateway_control::mgcp::wire::{self, Message};

mod profiles;

const CA: &str = "127.0.0.1:2727";

struct Harness {
    gw: Gateway,
    now: Instant,
    ca: SocketAddr,
    /// Control-socket datagrams not yet looked at, as text.
    control: Vec<String>,
    rtp: Vec<Transmit>,
    outputs: Vec<Output>,
    next_tx: u32,
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Harness {
    fn new(lines: u16) -> Self {
        Self::with(Config::new(lines, CA.parse().unwrap()).unwrap())
    }

    /// A gateway whose restart has been acknowledged.
    fn with(mut config: Config) -> Self {
        config.seed(7);
        let now = epoch();
        let gw = Gateway::new(config, now);
        let mut h = Self {
            gw,
            now,
            ca: CA.parse().unwrap(),
            control: Vec::new(),
            rtp: Vec::new(),
            outputs: Vec::new(),
            next_tx: 1000,
        };
        h.drain();
        let rsip = h.take("RSIP");
        assert!(rsip.starts_with("RSIP "), "{rsip}");
        assert!(rsip.contains("*@[127.0.0.1]"), "{rsip}");
        assert!(rsip.contains("RM: restart"), "{rsip}");
        h.answer(&rsip, 200);
        assert!(h.gw.is_registered());
        h.outputs.clear();
        h
    }

    fn drain(&mut self) {
        while let Some(t) = self.gw.poll_transmit() {
            match t.via {
                Via::Control => {
                    assert_eq!(t.destination, self.ca);
                    self.control
                        .push(String::from_utf8(t.contents).expect("MGCP is text"));
                }
                Via::Rtp(_) => self.rtp.push(t),
            }
        }
        while let Some(o) = self.gw.poll_output() {
            self.outputs.push(o);
        }
    }

    /// Removes and returns the first control datagram starting with `prefix`.
    fn take(&mut self, prefix: &str) -> String {
        let i = self
            .control
            .iter()
            .position(|m| m.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {:?}", self.control));
        self.control.remove(i)
    }

    fn has(&self, prefix: &str) -> bool {
        self.control.iter().any(|m| m.starts_with(prefix))
    }

    /// Answers a command the gateway sent.
    fn answer(&mut self, command: &str, code: u16) {
        let tx = command.split_whitespace().nth(1).unwrap();
        let text = format!("{code} {tx} OK\r\n");
        self.gw.handle_datagram(self.now, self.ca, text.as_bytes());
        self.drain();
    }

    /// Sends a command (lines joined with CRLF, `{tx}` replaced) and returns the response.
    fn send(&mut self, text: &str) -> String {
        self.next_tx += 1;
        let text = text.replace("{tx}", &self.next_tx.to_string());
        self.gw.handle_datagram(self.now, self.ca, text.as_bytes());
        self.drain();
        let prefix_ok = |m: &String| {
            let mut w = m.split_whitespace();
            w.next()
                .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
                && w.next() == Some(&self.next_tx.to_string())
        };
        let i = self
            .control
            .iter()
            .position(prefix_ok)
            .unwrap_or_else(|| panic!("no response in {:?}", self.control));
        self.control.remove(i)
    }

    fn code(&mut self, text: &str) -> u16 {
        self.send(text)[..3].parse().unwrap()
    }

    fn line(&mut self, cmd: LineCommand) {
        self.gw.handle_line(self.now, cmd);
        self.drain();
    }

    /// Moves virtual time forward by `d`, handling every timeout on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.gw.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.gw.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    /// Takes the next NTFY, checks its X:, answers it 200, and returns its O: events.
    fn notified(&mut self, x: &str) -> String {
        let n = self.take("NTFY");
        assert!(n.contains(&format!("X: {x}\r\n")), "{n}");
        // Time may have passed since it was sent: drop its retransmissions.
        self.control.retain(|m| *m != n);
        self.answer(&n, 200);
        let o = n
            .lines()
            .find_map(|l| l.strip_prefix("O: "))
            .unwrap_or_else(|| panic!("no O: in {n}"));
        o.to_owned()
    }

    fn took_output(&mut self, want: &Output) -> bool {
        match self.outputs.iter().position(|o| o == want) {
            Some(i) => {
                self.outputs.remove(i);
                true
            }
            None => false,
        }
    }
}

fn rqnt(line: u16, x: &str, rest: &str) -> String {
    format!("RQNT {{tx}} aaln/{line}@[127.0.0.1] MGCP 1.0\r\nX: {x}\r\n{rest}")
}

#[test]
fn restart_is_retransmitted_until_answered() {
    let mut config = Config::new(2, CA.parse().unwrap()).unwrap();
    config.seed(1);
    let now = epoch();
    let mut gw = Gateway::new(config, now);
    let first = gw.poll_transmit().unwrap();
    assert_eq!(first.via, Via::Control);
    let text = String::from_utf8(first.contents.clone()).unwrap();
    assert!(text.starts_with("RSIP "));
    let t1 = gw.poll_timeout().unwrap();
    gw.handle_timeout(t1);
    let again = gw.poll_transmit().expect("retransmitted");
    assert_eq!(again.contents, first.contents, "same transaction");
    let tx = text.split_whitespace().nth(1).unwrap();
    gw.handle_datagram(
        t1,
        CA.parse().unwrap(),
        format!("200 {tx} OK\r\n").as_bytes(),
    );
    assert_eq!(
        gw.poll_output(),
        Some(Output::Restart {
            line: None,
            method: "restart",
            acknowledged: true,
            code: Some(200)
        })
    );
    assert!(gw.is_registered());
    // Nothing more is retransmitted.
    for _ in 0..10 {
        let Some(next) = gw.poll_timeout() else { break };
        gw.handle_timeout(next);
        assert!(
            gw.poll_transmit()
                .is_none_or(|x| !x.contents.starts_with(b"RSIP")),
            "RSIP after its answer"
        );
    }
}

#[test]
fn offhook_is_notified_then_quarantined_until_the_next_request() {
    let mut h = Harness::new(2);
    assert_eq!(h.code(&rqnt(1, "A1", "R: L/hd(N)\r\n")), 200);
    h.line(LineCommand::OffHook(1));
    assert_eq!(h.notified("A1"), "L/hd");
    // Events after the notification wait for the next request (step mode, §4.4.1).
    h.line(LineCommand::Digits(1, "5".into()));
    h.line(LineCommand::OnHook(1));
    assert!(!h.has("NTFY"));
    // The line is on-hook again, but the call agent does not know yet: asking for L/hu is
    // fine, and the quarantined on-hook is processed at once.
    assert_eq!(h.code(&rqnt(1, "A2", "R: L/hu(N), D/[0-9](N)\r\n")), 200);
    assert_eq!(h.notified("A2"), "D/5");
    assert_eq!(h.code(&rqnt(1, "A3", "R: L/hu(N)\r\n")), 200);
    assert_eq!(h.notified("A3"), "L/hu");
}

#[test]
fn unanswered_notification_makes_the_line_announce_itself_disconnected() {
    let mut h = Harness::new(2);
    assert_eq!(h.code(&rqnt(2, "D0", "R: L/hd(N)\r\n")), 200);
    h.line(LineCommand::OffHook(2));
    assert!(h.has("NTFY"));
    // Nobody answers: retransmissions, then the transaction is given up (by T-MAX, 20 s).
    for _ in 0..210 {
        if h.gw.stats().timeouts > 0 {
            break;
        }
        h.advance(ms(100));
    }
    assert_eq!(h.gw.stats().timeouts, 1);
    assert!(h.took_output(&Output::Error {
        line: Some(2),
        message: "NTFY timed out".into()
    }));
    let rsip = h.take("RSIP");
    assert!(rsip.contains("aaln/2@[127.0.0.1]"), "{rsip}");
    assert!(rsip.contains("RM: disconnected"), "{rsip}");
    h.control.retain(|m| *m != rsip);
    h.answer(&rsip, 200);
    assert!(h.took_output(&Output::Restart {
        line: Some(2),
        method: "disconnected",
        acknowledged: true,
        code: Some(200)
    }));
}

#[test]
fn quarantine_discard_drops_buffered_events() {
    let mut h = Harness::new(1);
    assert_eq!(h.code(&rqnt(1, "B1", "R: L/hd(N)\r\n")), 200);
    h.line(LineCommand::OffHook(1));
    assert_eq!(h.notified("B1"), "L/hd");
    h.line(LineCommand::Flash(1));
    assert_eq!(
        h.code(&rqnt(1, "B2", "Q: discard\r\nR: L/hf(N), L/hu(N)\r\n")),
        200
    );
    assert!(!h.has("NTFY"), "the quarantined flash was discarded");
    h.line(LineCommand::Flash(1));
    assert_eq!(h.notified("B2"), "L/hf");
}

#[test]
fn loop_mode_notifies_again_under_the_same_request() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    assert_eq!(
        h.code(&rqnt(1, "11", "Q: process,loop\r\nR: D/[0-9](N)\r\n")),
        200
    );
    h.line(LineCommand::Digits(1, "12".into()));
    assert_eq!(h.notified("11"), "D/1");
    assert_eq!(h.notified("11"), "D/2");
}

#[test]
fn digits_are_collected_against_the_digit_map() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    let req = "R: L/hu(N), D/[0-9#*T](D)\r\nD: (0T|xxxx|9xxxxxxx)\r\n";
    assert_eq!(h.code(&rqnt(1, "C1", req)), 200);
    h.line(LineCommand::Digits(1, "12".into()));
    assert!(!h.has("NTFY"));
    h.line(LineCommand::Digits(1, "34".into()));
    assert_eq!(h.notified("C1"), "D/1,D/2,D/3,D/4");
    // "0" completes only when the short timer T (4 s) runs out.
    assert_eq!(h.code(&rqnt(1, "C2", req)), 200);
    h.line(LineCommand::Digits(1, "0".into()));
    h.advance(ms(3900));
    assert!(!h.has("NTFY"));
    h.advance(ms(200));
    assert_eq!(h.notified("C2"), "D/0");
    // A dead end ("5" then "#") is reported at once, so the call agent can play reorder.
    assert_eq!(h.code(&rqnt(1, "C3", req)), 200);
    h.line(LineCommand::Digits(1, "5#".into()));
    assert_eq!(h.notified("C3"), "D/5,D/#");
    // A partial number times out after the long timer (16 s).
    assert_eq!(h.code(&rqnt(1, "C4", req)), 200);
    h.line(LineCommand::Digits(1, "91".into()));
    h.advance(ms(15_900));
    assert!(!h.has("NTFY"));
    h.advance(ms(200));
    assert_eq!(h.notified("C4"), "D/9,D/1");
}

#[test]
fn ringing_follows_the_cadence_and_stops_on_offhook() {
    let mut h = Harness::new(1);
    assert_eq!(h.code(&rqnt(1, "81", "R: L/hd(N)\r\nS: L/rg\r\n")), 200);
    assert!(h.took_output(&Output::Signal {
        line: 1,
        name: "L/rg".into(),
        params: None
    }));
    assert!(h.took_output(&Output::Ringing { line: 1, on: true }));
    h.outputs.clear();
    h.advance(ms(1999));
    assert!(h.outputs.is_empty());
    h.advance(ms(1));
    assert!(h.took_output(&Output::Ringing { line: 1, on: false }));
    h.advance(ms(3999));
    assert!(h.outputs.is_empty());
    h.advance(ms(1));
    assert!(h.took_output(&Output::Ringing { line: 1, on: true }));
    assert_eq!(h.gw.is_ringing(1), Some(true));
    h.line(LineCommand::OffHook(1));
    assert!(h.took_output(&Output::Ringing { line: 1, on: false }));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "L/rg".into(),
        reason: StopReason::Hook
    }));
    assert_eq!(h.gw.is_ringing(1), Some(false));
    assert_eq!(h.notified("81"), "L/hd");
    // Ringing an off-hook phone: 401, even with the phone's last change still quarantined.
    assert_eq!(h.code(&rqnt(1, "82", "S: L/rg\r\n")), 401);
    h.line(LineCommand::OnHook(1));
    h.line(LineCommand::OffHook(1));
    assert_eq!(h.code(&rqnt(1, "83", "R: L/hu(N)\r\nS: L/rg\r\n")), 401);
}

#[test]
fn distinctive_ring_follows_its_own_cadence() {
    let mut h = Harness::new(1);
    // r1: 0.8 s on, 0.4 s off, 0.8 s on, 4 s off.
    assert_eq!(h.code(&rqnt(1, "D1", "R: L/hd(N)\r\nS: L/r1\r\n")), 200);
    h.outputs.clear();
    let mut changes = Vec::new();
    let start = h.now;
    for _ in 0..70 {
        h.advance(ms(100));
        for o in h.outputs.drain(..) {
            if let Output::Ringing { on, .. } = o {
                changes.push(((h.now - start).as_millis(), on));
            }
        }
    }
    assert_eq!(
        changes,
        vec![
            (800, false),
            (1200, true),
            (2000, false),
            (6000, true),
            (6800, false)
        ]
    );
}

#[test]
fn ring_timeout_reports_operation_complete() {
    let mut h = Harness::new(1);
    assert_eq!(
        h.code(&rqnt(
            1,
            "71",
            "R: L/hd(N), L/oc(N)\r\nS: L/r2(to=10000)\r\n"
        )),
        200
    );
    h.advance(ms(9_999));
    assert!(!h.has("NTFY"));
    h.advance(ms(1));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "L/r2".into(),
        reason: StopReason::Timeout
    }));
    assert_eq!(h.notified("71"), "L/oc");
}

#[test]
fn autoanswer_picks_up_after_a_delay() {
    let mut h = Harness::new(2);
    h.line(LineCommand::AutoAnswer(2, true));
    assert_eq!(h.code(&rqnt(2, "AA", "R: L/hd(N)\r\nS: L/rg\r\n")), 200);
    h.advance(ms(999));
    assert_eq!(h.gw.is_off_hook(2), Some(false));
    h.advance(ms(1));
    assert_eq!(h.gw.is_off_hook(2), Some(true));
    assert!(h.took_output(&Output::Hook {
        line: 2,
        off_hook: true,
        auto: true
    }));
    assert_eq!(h.notified("AA"), "L/hd");
    // Switched on while the bell already rings, it still picks up.
    assert_eq!(h.code(&rqnt(1, "AB", "R: L/hd(N)\r\nS: L/rg\r\n")), 200);
    h.advance(ms(3000));
    h.line(LineCommand::AutoAnswer(1, true));
    h.advance(ms(999));
    assert_eq!(h.gw.is_off_hook(1), Some(false));
    h.advance(ms(1));
    assert_eq!(h.gw.is_off_hook(1), Some(true));
    assert_eq!(h.notified("AB"), "L/hd");
}

#[test]
fn embedded_request_takes_over_without_a_notification() {
    let mut h = Harness::new(1);
    let req = "R: L/hd(E(R(L/hu(N),D/[0-9#](D)),S(L/dl)))\r\nD: (xxx|#)\r\n";
    assert_eq!(h.code(&rqnt(1, "E1", req)), 200);
    h.line(LineCommand::OffHook(1));
    assert!(!h.has("NTFY"));
    assert!(h.took_output(&Output::Signal {
        line: 1,
        name: "L/dl".into(),
        params: None
    }));
    h.line(LineCommand::Digits(1, "4".into()));
    // Dial tone stops on the first requested event.
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "L/dl".into(),
        reason: StopReason::Event
    }));
    h.line(LineCommand::Digits(1, "56".into()));
    assert_eq!(h.notified("E1"), "D/4,D/5,D/6");
}

#[test]
fn refusals_use_the_rfc_3661_codes() {
    let mut h = Harness::new(2);
    assert_eq!(h.code(&rqnt(9, "F", "R: L/hd\r\n")), 500);
    assert_eq!(
        h.code("RQNT {tx} aaln/1@other.example MGCP 1.0\r\nX: 1\r\n"),
        500
    );
    assert_eq!(h.code(&rqnt(1, "F", "R: Q/hd\r\n")), 518);
    assert_eq!(h.code(&rqnt(1, "F", "R: L/zz\r\n")), 522);
    assert_eq!(h.code(&rqnt(1, "F", "S: L/zz\r\n")), 522);
    assert_eq!(h.code(&rqnt(1, "F", "R: L/ft\r\n")), 512);
    assert_eq!(h.code(&rqnt(1, "F", "R: L/hd(N,A)\r\n")), 523);
    // Embedded requests nest two deep, not three (a bound of the simulator's own).
    assert_eq!(
        h.code(&rqnt(1, "F", "R: L/hd(E(R(L/hu(E(R(L/hf))))))\r\n")),
        200
    );
    assert_eq!(
        h.code(&rqnt(
            1,
            "F",
            "R: L/hd(E(R(L/hu(E(R(L/hf(E(R(L/hu)))))))))\r\n"
        )),
        523
    );
    assert_eq!(h.code(&rqnt(1, "F", "R: D/[0-9](D)\r\n")), 519);
    assert_eq!(h.code(&rqnt(1, "F", "R: L/hu(N)\r\n")), 402);
    assert_eq!(h.code(&rqnt(1, "F", "Q: sometimes\r\n")), 539);
    assert_eq!(h.code("RQNT {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\n"), 510);
    // RFC 3435 §2.4: an unknown verb is "504 Unknown or unsupported command".
    assert_eq!(h.code("FROB {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\n"), 504);
    assert_eq!(
        h.code("NTFY {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nX: 1\r\nO: L/hd\r\n"),
        504
    );
    // A refused request changes nothing: the line still notifies under its old request.
    assert_eq!(h.code(&rqnt(1, "0C", "R: L/hd(N)\r\n")), 200);
    assert_eq!(h.code(&rqnt(1, "BAD", "R: L/hd(N)\r\nS: L/zz\r\n")), 522);
    h.line(LineCommand::OffHook(1));
    assert_eq!(h.notified("0C"), "L/hd");
    assert_eq!(h.gw.stats().refused, 14);
}

#[test]
fn duplicate_commands_execute_once() {
    let mut h = Harness::new(1);
    let text = "RQNT 4242 aaln/1@[127.0.0.1] MGCP 1.0\r\nX: D1\r\nS: L/rg\r\n";
    h.gw.handle_datagram(h.now, h.ca, text.as_bytes());
    h.gw.handle_datagram(h.now, h.ca, text.as_bytes());
    h.drain();
    let answers: Vec<_> = h
        .control
        .iter()
        .filter(|m| m.starts_with("200 4242"))
        .collect();
    assert_eq!(answers.len(), 2, "the duplicate gets the cached answer");
    let rung = h
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Signal { .. }))
        .count();
    assert_eq!(rung, 1, "executed once");
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 4000 RTP/AVP 8 0\r\na=ptime:20\r\n";

fn crcx(line: u16, mode: &str, sdp: bool) -> String {
    let mut s = format!(
        "CRCX {{tx}} aaln/{line}@[127.0.0.1] MGCP 1.0\r\nC: CA11\r\nL: p:20, a:PCMA;PCMU\r\nM: {mode}\r\n"
    );
    if sdp {
        s.push_str("\r\n");
        s.push_str(SDP);
    }
    s
}

fn connection_id(response: &str) -> String {
    response
        .lines()
        .find_map(|l| l.strip_prefix("I: "))
        .expect("I: in the answer")
        .to_owned()
}

#[test]
fn connections_answer_sdp_send_rtp_and_report_statistics() {
    let mut h = Harness::new(2);
    assert_eq!(h.code(&crcx(1, "sendrecv", true)), 403, "no RTP port yet");
    h.gw.add_rtp_port(16384);
    let r = h.send(&crcx(1, "sendrecv", true));
    assert!(r.starts_with("200 "), "{r}");
    assert!(r.contains("m=audio 16384 RTP/AVP 8"), "{r}");
    assert!(r.contains("c=IN IP4 127.0.0.1"), "{r}");
    let id = connection_id(&r);
    assert_eq!(
        h.gw.connections(1),
        vec!["127.0.0.1:16384".parse().unwrap()]
    );
    // 50 ms of audio: 3 packets, 20 ms apart, PCMA (the remote's first choice).
    h.line(LineCommand::Say {
        line: 1,
        samples: vec![800; 400],
    });
    assert_eq!(h.rtp.len(), 1);
    h.advance(ms(60));
    assert_eq!(h.rtp.len(), 3);
    assert!(h.took_output(&Output::SayDone {
        line: 1,
        packets: 3,
        complete: true
    }));
    for (i, p) in h.rtp.iter().enumerate() {
        assert_eq!(p.via, Via::Rtp(16384));
        assert_eq!(p.destination, "127.0.0.1:4000".parse().unwrap());
        let r = codecs::rtp::Repr::parse_bytes(&p.contents).unwrap();
        assert_eq!(r.payload_type, 8);
        assert_eq!(r.marker, i == 0);
    }
    // Modify: wrong id 515, wrong call 516, bad mode 517.
    let mdcx = |id: &str, call: &str, mode: &str| {
        format!("MDCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: {call}\r\nI: {id}\r\nM: {mode}\r\n")
    };
    assert_eq!(h.code(&mdcx("FFFF", "CA11", "recvonly")), 515);
    assert_eq!(h.code(&mdcx(&id, "ABC", "recvonly")), 516);
    assert_eq!(h.code(&mdcx(&id, "CA11", "netwloop")), 517);
    assert_eq!(h.code(&mdcx(&id, "CA11", "recvonly")), 200);
    // The second line has no port left.
    assert_eq!(h.code(&crcx(2, "recvonly", false)), 403);
    let dlcx = format!("DLCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: CA11\r\nI: {id}\r\n");
    let r = h.send(&dlcx);
    assert!(r.starts_with("250 "), "{r}");
    assert!(r.contains("P: PS=3, OS=480, PR=0, OR=0, PL=0"), "{r}");
    assert_eq!(h.code(&dlcx), 515, "already gone");
    // The port is free again.
    assert_eq!(h.code(&crcx(2, "recvonly", false)), 200);
}

#[test]
fn hear_delivers_received_audio_until_the_connection_goes() {
    let mut h = Harness::new(1);
    h.gw.add_rtp_port(20000);
    let r = h.send(&crcx(1, "recvonly", true));
    let id = connection_id(&r);
    h.line(LineCommand::Hear { line: 1, on: true });
    let mut pkt = vec![0u8; 12 + 160];
    codecs::rtp::Repr {
        marker: true,
        payload_type: 8,
        sequence_number: codecs::rtp::SequenceNumber(1),
        timestamp: codecs::rtp::Timestamp(0),
        ssrc: codecs::rtp::Ssrc(9),
        csrcs: Default::default(),
        extension: None,
        payload: &[0xD5; 160],
        padding: 0,
    }
    .emit(&mut pkt)
    .unwrap();
    let from = "127.0.0.1:4000".parse().unwrap();
    h.gw.handle_rtp(h.now, 20000, from, &pkt);
    h.gw.handle_rtp(h.now, 20002, from, &pkt);
    assert_eq!(h.gw.stats().rtp_dropped, 1, "no connection on 20002");
    h.drain();
    assert!(
        h.outputs
            .iter()
            .any(|o| matches!(o, Output::Audio { line: 1, samples } if samples.len() == 160))
    );
    let dlcx = format!("DLCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nI: {id}\r\n");
    assert_eq!(h.code(&dlcx), 250);
    assert!(h.took_output(&Output::HearEnded { line: 1 }));
}

/// `F: I` lists the connection ids an endpoint has (what the call agent checks a restart
/// claim against), and leaves the line out when there is none: an empty `I:` is outside the
/// grammar (Cisco IOS writes one anyway: the `cisco` profile does, and the call agent reads
/// around it).
#[test]
fn audits_list_connection_ids_and_omit_an_empty_list() {
    let mut h = Harness::new(2);
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nF: ES,I\r\n");
    assert!(r.starts_with("200 ") && r.contains("ES: L/hu"), "{r}");
    assert!(!r.contains("\nI:"), "{r}");
    assert!(wire::parse(r.as_bytes()).is_ok(), "{r}");
    h.gw.add_rtp_port(30000);
    h.gw.add_rtp_port(30002);
    for _ in 0..2 {
        assert_eq!(h.code(&crcx(1, "recvonly", false)), 200);
    }
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nF: ES,I\r\n");
    let ids = r
        .lines()
        .find_map(|l| l.strip_prefix("I: "))
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(ids.split(',').count(), 2, "{r}");
    assert!(wire::parse(r.as_bytes()).is_ok(), "{r}");
}

#[test]
fn audits_report_state() {
    let mut h = Harness::new(3);
    h.line(LineCommand::OffHook(2));
    assert_eq!(h.code(&rqnt(2, "99", "R: L/hu(N)\r\nD: (xx)\r\n")), 200);
    let r = h.send("AUEP {tx} aaln/2@[127.0.0.1] MGCP 1.0\r\nF: ES,X,R,D\r\n");
    assert!(r.starts_with("200 "), "{r}");
    assert!(r.contains("ES: L/hd"), "{r}");
    assert!(r.contains("X: 99"), "{r}");
    assert!(r.contains("R: L/hu"), "{r}");
    assert!(r.contains("D: (xx)"), "{r}");
    // RFC 3435 §2.3.10: `F: Q` gives the quarantine handling, by default `process,step`.
    let r = h.send("AUEP {tx} aaln/2@[127.0.0.1] MGCP 1.0\r\nF: Q\r\n");
    assert!(r.contains("Q: process,step"), "{r}");
    let r = h.send("AUEP {tx} aaln/*@[127.0.0.1] MGCP 1.0\r\n");
    assert_eq!(r.matches("Z: aaln/").count(), 3, "{r}");
    assert_eq!(
        h.code("EPCF {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nB: e:A\r\n"),
        200
    );
    assert_eq!(
        h.code("EPCF {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nB: e:xx\r\n"),
        539
    );
    // EPCF's A-law becomes the codec of a connection that names none.
    h.gw.add_rtp_port(16390);
    let r = h.send("CRCX {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: 1\r\nM: recvonly\r\n");
    assert!(r.contains("RTP/AVP 8"), "{r}");
    let id = connection_id(&r);
    let r = h.send(&format!(
        "AUCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nI: {id}\r\nF: C,M\r\n"
    ));
    assert!(r.contains("C: 1") && r.contains("M: recvonly"), "{r}");
}

#[test]
fn notification_goes_to_the_notified_entity() {
    let mut h = Harness::new(1);
    let rq = rqnt(1, "E1", "N: ca@[127.0.0.1]:2727\r\nR: L/hd(N)\r\n");
    assert_eq!(h.code(&rq), 200);
    h.line(LineCommand::OffHook(1));
    let n = h.take("NTFY");
    assert!(n.contains("N: ca@[127.0.0.1]:2727"), "{n}");
    let parsed = wire::parse(n.as_bytes()).unwrap();
    assert!(matches!(&parsed[0], Message::Command(c) if c.endpoint.local == "aaln/1"));
}

#[test]
fn line_commands_check_the_hook_state() {
    let mut h = Harness::new(1);
    h.line(LineCommand::Digits(1, "1".into()));
    h.line(LineCommand::OnHook(1));
    h.line(LineCommand::OffHook(5));
    h.line(LineCommand::Say {
        line: 1,
        samples: vec![0; 160],
    });
    let errors = h
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Error { .. }))
        .count();
    assert_eq!(errors, 4);
    assert_eq!(h.gw.stats().line_commands_refused, 4);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    const COMMANDS: [&str; 6] = [
        "RQNT 77 aaln/1@[127.0.0.1] MGCP 1.0\r\nX: 1\r\nR: L/hd(E(R(L/hu(N),D/[0-9#T](D)),S(L/dl))), L/hf(S)\r\nS: L/rg(to=5000)\r\nD: (1x.T|[2-4]xx|#)\r\nQ: process,loop\r\n",
        "CRCX 78 aaln/2@[127.0.0.1] MGCP 1.0\r\nC: 1\r\nL: p:20, a:PCMU\r\nM: sendrecv\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n",
        "MDCX 79 aaln/2@[127.0.0.1] MGCP 1.0\r\nC: 1\r\nI: 1\r\nM: recvonly\r\n",
        "DLCX 80 aaln/*@[127.0.0.1] MGCP 1.0\r\n",
        "AUEP 81 aaln/1@[127.0.0.1] MGCP 1.0\r\nF: R,S,X,N,D,I,ES,Q,A,RM\r\n",
        "EPCF 82 aaln/1@[127.0.0.1] MGCP 1.0\r\nB: e:A\r\n",
    ];

    proptest! {
        /// Mangled commands, line commands and time jumps never panic the core, whatever its
        /// profile.
        #[test]
        fn arbitrary_input_never_panics(
            profile in prop::sample::select(&[Profile::Rfc3435, Profile::Cisco, Profile::Ncs][..]),
            steps in prop::collection::vec(
                (0usize..6, prop::collection::vec(any::<(u16, u8)>(), 0..4), 0u8..8, 0u64..10_000),
                1..24,
            )
        ) {
            let mut config = Config::new(2, CA.parse().unwrap()).unwrap();
            config.profile(profile).keepalive(Duration::from_secs(1));
            let mut h = Harness::with(config);
            h.gw.add_rtp_port(30000);
            for (which, edits, line_cmd, wait) in steps {
                // In the version the profile takes, so that the commands are executed.
                let version = match profile {
                    Profile::Cisco => " MGCP 0.1\r\n",
                    Profile::Ncs => " MGCP 1.0 NCS 1.0\r\n",
                    _ => " MGCP 1.0\r\n",
                };
                let mut bytes = COMMANDS[which]
                    .replacen(" MGCP 1.0\r\n", version, 1)
                    .into_bytes();
                for (at, b) in edits {
                    let i = usize::from(at) % bytes.len();
                    bytes[i] = b;
                }
                h.gw.handle_datagram(h.now, h.ca, &bytes);
                let n = u16::from(line_cmd % 3);
                let cmd = match line_cmd {
                    0 => LineCommand::OffHook(n),
                    1 => LineCommand::OnHook(n),
                    2 => LineCommand::Digits(n, "1#".into()),
                    3 => LineCommand::Flash(n),
                    4 => LineCommand::AutoAnswer(n, true),
                    5 => LineCommand::Say { line: n, samples: vec![1; 500] },
                    6 => LineCommand::Hear { line: n, on: true },
                    _ => LineCommand::Hear { line: n, on: false },
                };
                h.gw.handle_line(h.now, cmd);
                h.gw.handle_rtp(h.now, 30000, h.ca, &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF]);
                h.control.clear();
                h.advance(ms(wait));
                h.control.clear();
            }
        }
    }
}
