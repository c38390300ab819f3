//! Scenario tests of the MG core in virtual time: a scripted controller sends H.248 text as the
//! dialogue of Offhook's MEGACO controller does, and the harness jumps time to each
//! `poll_timeout`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::analog::*;
use crate::{Transmit, Via};
use gateway_control::megaco::text;
use gateway_control::megaco::{Body, Transaction};

const MGC: &str = "127.0.0.1:2944";
const RTP_BASE: u16 = 40000;

struct Harness {
    mg: Mg,
    now: Instant,
    mgc: SocketAddr,
    /// Control messages not yet looked at, as text.
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

/// The text without white space, for matching whatever the layout.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The id of the first transaction request in a message.
fn request_id(message: &str) -> u32 {
    let m = text::parse(message.as_bytes()).expect("our message parses");
    let Body::Transactions(ts) = m.body else {
        panic!("no transactions in {message}")
    };
    ts.iter()
        .find_map(|t| match t {
            Transaction::Request(r) => Some(r.id.0),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no request in {message}"))
}

fn config(lines: u16) -> Config {
    let mut c = Config::new(lines, MGC.parse().unwrap()).unwrap();
    c.seed(7).local_port(2946);
    c
}

impl Harness {
    fn new(lines: u16) -> Self {
        Self::with(config(lines))
    }

    /// A gateway whose registration has been replied to.
    fn with(config: Config) -> Self {
        let mut h = Self::unregistered(config);
        let sc = h.take("ServiceChange=ROOT");
        let s = squash(&sc);
        assert!(s.starts_with("MEGACO/1[127.0.0.1]:2946"), "{sc}");
        assert!(s.contains("Method=Restart"), "{sc}");
        assert!(s.contains("Reason=\"901ColdBoot\""), "{sc}");
        assert!(s.contains("Profile=ResGW/1"), "{sc}");
        h.reply(&sc, "Context = - { ServiceChange = ROOT }");
        assert!(h.mg.is_registered());
        h.outputs.clear();
        h
    }

    fn unregistered(config: Config) -> Self {
        let now = epoch();
        let mut mg = Mg::new(config, now);
        for i in 0..8 {
            mg.add_rtp_port(RTP_BASE + 2 * i);
        }
        let mut h = Self {
            mg,
            now,
            mgc: MGC.parse().unwrap(),
            control: Vec::new(),
            rtp: Vec::new(),
            outputs: Vec::new(),
            next_tx: 1000,
        };
        h.drain();
        h
    }

    fn drain(&mut self) {
        while let Some(t) = self.mg.poll_transmit() {
            match t.via {
                Via::Control => {
                    assert_eq!(t.destination, self.mgc);
                    let text = String::from_utf8(t.contents).expect("MEGACO text");
                    text::parse(text.as_bytes())
                        .unwrap_or_else(|e| panic!("we sent what does not parse ({e}): {text}"));
                    self.control.push(text);
                }
                Via::Rtp(_) => self.rtp.push(t),
            }
        }
        while let Some(o) = self.mg.poll_output() {
            self.outputs.push(o);
        }
    }

    /// Removes and returns the first control message holding `needle` (white space ignored).
    fn take(&mut self, needle: &str) -> String {
        let i = self
            .control
            .iter()
            .position(|m| squash(m).contains(&squash(needle)))
            .unwrap_or_else(|| panic!("no {needle} in {:?}", self.control));
        self.control.remove(i)
    }

    fn has(&self, needle: &str) -> bool {
        self.control
            .iter()
            .any(|m| squash(m).contains(&squash(needle)))
    }

    /// Replies to a request the gateway sent.
    fn reply(&mut self, request: &str, body: &str) {
        let id = request_id(request);
        let text = format!("MEGACO/1 [127.0.0.1]:2944\nReply = {id} {{ {body} }}\n");
        self.mg.handle_datagram(self.now, self.mgc, text.as_bytes());
        self.drain();
    }

    /// Sends a request (`{tx}` replaced by a fresh id) and returns the reply, squashed.
    fn send(&mut self, actions: &str) -> String {
        self.next_tx += 1;
        let text = format!(
            "MEGACO/1 [127.0.0.1]:2944\nTransaction = {} {{ {actions} }}\n",
            self.next_tx
        );
        self.send_raw(&text)
    }

    fn send_raw(&mut self, text: &str) -> String {
        self.mg.handle_datagram(self.now, self.mgc, text.as_bytes());
        self.drain();
        let tx = self.next_tx;
        let i = self
            .control
            .iter()
            .position(|m| {
                let s = squash(m);
                s.contains(&format!("Reply={tx}{{")) || s.contains(&format!("P={tx}{{"))
            })
            .unwrap_or_else(|| panic!("no reply to {tx} in {:?}", self.control));
        squash(&self.control.remove(i))
    }

    fn line(&mut self, cmd: LineCommand) {
        self.mg.handle_line(self.now, cmd);
        self.drain();
    }

    /// Moves virtual time forward by `d`, handling every timeout on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.mg.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.mg.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    /// Takes the next Notify for `termination`, replies to it, and returns it squashed.
    fn notified(&mut self, termination: &str) -> String {
        let n = self.take(&format!("Notify={termination}"));
        self.control.retain(|m| *m != n);
        self.reply(&n, &format!("Context = - {{ Notify = {termination} }}"));
        squash(&n)
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

    /// The context number in a reply `Context = N { … }`.
    fn context_of(reply: &str) -> u32 {
        let at = reply.find("Context=").expect("a context") + "Context=".len();
        reply[at..]
            .split('{')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no context number in {reply}"))
    }
}

#[test]
fn registration_is_retransmitted_until_replied() {
    let mut h = Harness::unregistered(config(2));
    let first = h.take("ServiceChange=ROOT");
    // Lost: the transaction layer sends the same message again.
    h.advance(ms(300));
    let again = h.take("ServiceChange=ROOT");
    assert_eq!(again, first, "same transaction, same bytes");
    // The reply, in compact form with a Version.
    let id = request_id(&first);
    let reply = format!("!/1 [127.0.0.1]:2944 P={id}{{C=-{{SC=ROOT{{SV{{V=1}}}}}}}}");
    h.mg.handle_datagram(h.now, h.mgc, reply.as_bytes());
    h.drain();
    assert!(h.took_output(&Output::Restart {
        line: None,
        method: "restart",
        acknowledged: true,
        code: Some(200)
    }));
    assert!(h.mg.is_registered());
    // Nothing more is sent until something happens; the reply was acknowledged.
    h.advance(Duration::from_secs(10));
    assert!(!h.has("ServiceChange"), "{:?}", h.control);
}

#[test]
fn an_unanswered_or_refused_registration_is_sent_again() {
    let mut h = Harness::unregistered(config(1));
    // Nobody answers: the request is given up, then sent anew after the retry delay.
    h.advance(Duration::from_secs(21));
    assert!(h.took_output(&Output::Restart {
        line: None,
        method: "restart",
        acknowledged: false,
        code: None
    }));
    h.control.clear();
    h.advance(Duration::from_secs(5));
    let sc = h.take("ServiceChange=ROOT");
    // Refused: tried again later.
    h.reply(&sc, "Error = 505 { \"not now\" }");
    assert!(h.took_output(&Output::Restart {
        line: None,
        method: "restart",
        acknowledged: false,
        code: Some(505)
    }));
    assert!(!h.mg.is_registered());
    h.control.clear();
    h.advance(Duration::from_secs(5));
    let sc = h.take("Method=Restart");
    h.reply(&sc, "Context = - { ServiceChange = ROOT }");
    assert!(h.mg.is_registered());
}

#[test]
fn audit_and_arm_then_offhook_is_notified() {
    let mut h = Harness::new(2);
    let r = h.send("Context = - { AuditValue = ROOT { Audit { } } }");
    assert!(r.contains("Context=-{AuditValue=ROOT}"), "{r}");
    let r = h.send("Context = - { AuditValue = aaln/2 { Audit { } } }");
    assert!(r.contains("AuditValue=aaln/2}"), "{r}");
    let r = h.send("Context = - { Modify = aaln/1 { Events = 11 { al/of }, Signals { } } }");
    assert!(r.contains("Context=-{Modify=aaln/1}"), "{r}");
    assert!(h.took_output(&Output::Command {
        line: Some(1),
        verb: "Modify",
        transaction: h.next_tx,
        code: 200
    }));
    // Not armed on line 2: nothing sent.
    h.line(LineCommand::OffHook(2));
    assert!(!h.has("Notify"));
    h.line(LineCommand::OffHook(1));
    let n = h.notified("aaln/1");
    assert!(
        n.contains("Context=-{Notify=aaln/1{ObservedEvents=11{al/of}}}"),
        "{n}"
    );
    assert!(h.took_output(&Output::Notify {
        line: 1,
        request: "11".into(),
        observed: vec!["al/of".into()]
    }));
    // Events stay armed until replaced; al/on is not among them.
    h.line(LineCommand::OnHook(1));
    assert!(!h.has("Notify"));
    h.line(LineCommand::OffHook(1));
    assert!(h.notified("aaln/1").contains("al/of"));
    // Re-armed for on-hook and flash.
    let r = h.send("Context = - { Modify = aaln/1 { Events = 12 { al/on, al/fl } } }");
    assert!(r.contains("Modify=aaln/1"), "{r}");
    h.line(LineCommand::Flash(1));
    assert!(h.notified("aaln/1").contains("ObservedEvents=12{al/fl}"));
    h.line(LineCommand::OnHook(1));
    assert!(h.notified("aaln/1").contains("ObservedEvents=12{al/on}"));
    assert_eq!(h.mg.stats().notifications, 4);
}

#[test]
fn ring_until_answered_and_tones() {
    let mut h = Harness::new(1);
    let r = h.send("Context = - { Modify = aaln/1 { Signals { al/ri }, Events = 2 { al/of } } }");
    assert!(r.contains("Modify=aaln/1"), "{r}");
    assert!(h.took_output(&Output::Signal {
        line: 1,
        name: "al/ri".into(),
        params: None
    }));
    assert!(h.took_output(&Output::Ringing { line: 1, on: true }));
    h.advance(Duration::from_secs(2));
    assert!(h.took_output(&Output::Ringing { line: 1, on: false }));
    h.advance(Duration::from_secs(4));
    assert!(h.took_output(&Output::Ringing { line: 1, on: true }));
    h.line(LineCommand::OffHook(1));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "al/ri".into(),
        reason: StopReason::Hook
    }));
    assert!(h.took_output(&Output::Ringing { line: 1, on: false }));
    assert!(h.notified("aaln/1").contains("ObservedEvents=2{al/of}"));
    // Ringing an off-hook phone is refused (H.248.8 540).
    let r = h.send("Context = - { Modify = aaln/1 { Signals { al/ri } } }");
    assert!(r.contains("Error=540"), "{r}");
    // Tones: a new Signals descriptor replaces the old one; an empty one stops all.
    h.send("Context = - { Modify = aaln/1 { Signals { cg/dt } } }");
    assert!(h.took_output(&Output::Signal {
        line: 1,
        name: "cg/dt".into(),
        params: None
    }));
    h.send("Context = - { Modify = aaln/1 { Signals { cg/bt { Duration = 2000 } } } }");
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "cg/dt".into(),
        reason: StopReason::Replaced
    }));
    assert!(h.took_output(&Output::Signal {
        line: 1,
        name: "cg/bt".into(),
        params: Some("Duration=2000".into())
    }));
    h.advance(Duration::from_secs(2));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "cg/bt".into(),
        reason: StopReason::Timeout
    }));
    h.send("Context = - { Modify = aaln/1 { Signals { cg/rt } } }");
    h.send("Context = - { Modify = aaln/1 { Signals { } } }");
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "cg/rt".into(),
        reason: StopReason::Replaced
    }));
    // Autoanswer picks up a ringing phone.
    h.line(LineCommand::OnHook(1));
    h.line(LineCommand::AutoAnswer(1, true));
    h.send("Context = - { Modify = aaln/1 { Signals { al/ri }, Events = 3 { al/of } } }");
    h.advance(Duration::from_secs(1));
    assert!(h.took_output(&Output::Hook {
        line: 1,
        off_hook: true,
        auto: true
    }));
    assert!(h.notified("aaln/1").contains("ObservedEvents=3{al/of}"));
}

const ADD: &str = "Context = $ { Add = aaln/1 { Events = 5 { al/on, al/fl } }, \
    Add = $ { Media { Stream = 1 { LocalControl { Mode = SendReceive }, \
    Local { \nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0\n }, \
    Remote { \nv=0\nc=IN IP4 127.0.0.1\nm=audio 16400 RTP/AVP 0\n } } } } }";

#[test]
fn a_connection_is_added_sends_rtp_and_is_subtracted() {
    let mut h = Harness::new(2);
    h.line(LineCommand::OffHook(1));
    let r = h.send(ADD);
    let ctx = Harness::context_of(&r);
    assert!(r.contains(&format!("Context={ctx}{{Add=aaln/1,Add=rtp/1{{Media{{Stream=1{{Local{{v=0c=INIP4127.0.0.1m=audio40000RTP/AVP0}}}}}}}}}}")), "{r}");
    let remote: SocketAddr = "127.0.0.1:16400".parse().unwrap();
    let created = h
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Connection {
                line: 1,
                action: ConnectionAction::Created,
                id,
                call,
                mode,
                local,
                remote: r,
                ..
            } => Some((id.clone(), call.clone(), *mode, *local, *r)),
            _ => None,
        })
        .expect("connection created");
    assert_eq!(
        created,
        (
            "rtp/1".into(),
            ctx.to_string(),
            "sendrecv",
            "127.0.0.1:40000".parse().unwrap(),
            Some(remote)
        )
    );
    assert_eq!(h.mg.contexts().collect::<Vec<_>>(), vec![ctx]);
    // The phone talks: RTP goes to the Remote address from the context's port.
    h.line(LineCommand::Say {
        line: 1,
        samples: vec![100; 480],
    });
    h.advance(ms(60));
    assert_eq!(h.rtp.len(), 3);
    assert!(
        h.rtp
            .iter()
            .all(|t| t.via == Via::Rtp(RTP_BASE) && t.destination == remote)
    );
    // Hearing what arrives on the port.
    h.line(LineCommand::Hear { line: 1, on: true });
    let packet = h.rtp[0].contents.clone();
    h.mg.handle_rtp(h.now, RTP_BASE, remote, &packet);
    h.drain();
    assert!(
        h.outputs
            .iter()
            .any(|o| matches!(o, Output::Audio { line: 1, .. }))
    );
    // The mode changes: ReceiveOnly receives only.
    let r = h.send(&format!(
        "Context = {ctx} {{ Modify = rtp/1 {{ Media {{ Stream = 1 {{ LocalControl {{ Mode = ReceiveOnly }} }} }} }} }}"
    ));
    assert!(r.contains(&format!("Context={ctx}{{Modify=rtp/1}}")), "{r}");
    assert!(h.outputs.iter().any(|o| matches!(
        o,
        Output::Connection {
            action: ConnectionAction::Modified,
            mode: "recvonly",
            ..
        }
    )));
    // Ends: statistics, the context is gone, the line is back in the null context unarmed.
    let r = h.send(&format!(
        "Context = {ctx} {{ Subtract = rtp/1, Subtract = aaln/1 }}"
    ));
    assert!(
        r.contains("Subtract=rtp/1{Statistics{nt/os=480,nt/or=160,rtp/ps=3,rtp/pr=1"),
        "{r}"
    );
    assert!(r.contains("Subtract=aaln/1}"), "{r}");
    assert!(h.took_output(&Output::HearEnded { line: 1 }));
    assert!(h.outputs.iter().any(|o| matches!(
        o,
        Output::Connection {
            line: 1,
            action: ConnectionAction::Deleted,
            ..
        }
    )));
    assert_eq!(h.mg.contexts().count(), 0);
    let r = h.send(&format!("Context = {ctx} {{ Modify = aaln/1 }}"));
    assert!(r.contains("Error=411"), "{r}");
    h.line(LineCommand::OnHook(1));
    assert!(
        !h.has("Notify"),
        "events reset on return to the null context"
    );
    // The port is free again: a new call gets it back after the others.
    h.line(LineCommand::OffHook(2));
    let r = h.send(&ADD.replace("aaln/1", "aaln/2"));
    assert!(r.contains("m=audio40002"), "{r}");
}

#[test]
fn the_line_in_a_context_notifies_with_its_context_and_subtract_star_empties_it() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    let ctx = Harness::context_of(&h.send(ADD));
    h.line(LineCommand::OnHook(1));
    let n = h.notified("aaln/1");
    assert!(
        n.contains(&format!(
            "Context={ctx}{{Notify=aaln/1{{ObservedEvents=5{{al/on}}"
        )),
        "{n}"
    );
    // Modify of the line in the null context: it is in another one.
    let r = h.send("Context = - { Modify = aaln/1 { Signals { } } }");
    assert!(r.contains("Error=435"), "{r}");
    let r = h.send(&format!(
        "Context = {ctx} {{ Subtract = * {{ Audit {{ }} }} }}"
    ));
    assert!(r.contains("Subtract=aaln/1"), "{r}");
    assert!(r.contains("Subtract=rtp/1}"), "no statistics asked: {r}");
    assert_eq!(h.mg.contexts().count(), 0);
}

#[test]
fn digits_are_collected_against_a_digit_map() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    let r = h.send(
        "Context = - { Modify = aaln/1 { Signals { cg/dt }, \
         Events = 7 { al/on, dd/ce { DigitMap = dmap1 } }, \
         DigitMap = dmap1 { (xxxF|Exx|0S|9xxx) } } }",
    );
    assert!(r.contains("Modify=aaln/1"), "{r}");
    h.line(LineCommand::Digits(1, "123#".into()));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "cg/dt".into(),
        reason: StopReason::Event
    }));
    let n = h.notified("aaln/1");
    assert!(
        n.contains("ObservedEvents=7{dd/ce{ds=\"123F\",Meth=UM}}"),
        "{n}"
    );
    assert!(h.took_output(&Output::Notify {
        line: 1,
        request: "7".into(),
        observed: vec!["dd/ce{ds=\"123F\",Meth=UM}".into()]
    }));
    // A full match that a longer string could extend waits for the short timer.
    h.line(LineCommand::Digits(1, "0".into()));
    assert!(!h.has("Notify"));
    h.advance(Duration::from_secs(4));
    assert!(h.notified("aaln/1").contains("ds=\"0\",Meth=FM"));
    // A digit no pattern takes ends it at once, unmatched.
    h.line(LineCommand::Digits(1, "#".into()));
    assert!(h.notified("aaln/1").contains("ds=\"F\",Meth=PM"));
    // Incomplete, then the long timer.
    h.line(LineCommand::Digits(1, "*1".into()));
    h.advance(Duration::from_secs(16));
    assert!(h.notified("aaln/1").contains("ds=\"E1\",Meth=PM"));
    // An inline map, and single digits.
    h.send(
        "Context = - { Modify = aaln/1 { Events = 8 { dd/ce { DigitMap = { (xx) } }, dd/do } } }",
    );
    h.line(LineCommand::Digits(1, "#".into()));
    assert!(h.notified("aaln/1").contains("ObservedEvents=8{dd/do}"));
    // The key also went to the digit map, which no pattern of takes.
    assert!(h.notified("aaln/1").contains("ds=\"F\",Meth=PM"));
    h.line(LineCommand::Digits(1, "42".into()));
    assert!(h.notified("aaln/1").contains("ds=\"42\",Meth=UM"));
}

#[test]
fn single_digits_are_notified_only_when_armed() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    h.send("Context = - { Modify = aaln/1 { Events = 9 { dd/d1, dd/ds } } }");
    h.line(LineCommand::Digits(1, "12*".into()));
    assert!(h.notified("aaln/1").contains("ObservedEvents=9{dd/d1}"));
    assert!(h.notified("aaln/1").contains("ObservedEvents=9{dd/ds}"));
    assert!(!h.has("Notify"));
    h.send("Context = - { Modify = aaln/1 { Events = 10 { dd/* } } }");
    h.line(LineCommand::Digits(1, "7".into()));
    assert!(h.notified("aaln/1").contains("ObservedEvents=10{dd/d7}"));
}

#[test]
fn errors_are_answered_with_h248_8_codes() {
    let mut h = Harness::new(2);
    let cases = [
        ("Context = - { Modify = aaln/9 }", "Error=430"),
        (
            "Context = - { AuditValue = rtp/* { Audit { } } }",
            "Error=431",
        ),
        ("Context = 77 { Modify = aaln/1 }", "Error=411"),
        ("Context = - { Move = aaln/1 }", "Error=501"),
        (
            "Context = - { Modify = aaln/1 { Events = 1 { xx/yy } } }",
            "Error=512",
        ),
        (
            "Context = - { Modify = aaln/1 { Events = 1 { al/zz } } }",
            "Error=451",
        ),
        (
            "Context = - { Modify = aaln/1 { Signals { cg/zz } } }",
            "Error=452",
        ),
        (
            "Context = - { Modify = aaln/1 { Signals { dg/d1 } } }",
            "Error=513",
        ),
        (
            "Context = - { Modify = aaln/1 { Events = 1 { dd/ce } } }",
            "Error=520",
        ),
        ("Context = - { Add = aaln/1 }", "Error=421"),
        (
            "Context = $ { Add = $ { Media { Stream = 1 { Remote { \nv=0\nc=IN IP4 127.0.0.1\nm=audio 5 RTP/AVP 18\n } } } } }",
            "Error=515",
        ),
    ];
    for (request, code) in cases {
        let r = h.send(request);
        assert!(r.contains(code), "{request}: {r}");
    }
    // A line already in a context cannot be added to another.
    let ctx = Harness::context_of(&h.send(ADD));
    let r = h.send("Context = $ { Add = aaln/1 }");
    assert!(r.contains("Error=433"), "{r}");
    // The commands before a failing one are done and answered; the rest are not.
    let r = h.send(&format!(
        "Context = {ctx} {{ Modify = rtp/1, Modify = aaln/7, Subtract = rtp/1 }}"
    ));
    assert!(
        r.contains(&format!("Context={ctx}{{Modify=rtp/1,Error=430")),
        "{r}"
    );
    assert_eq!(h.mg.contexts().count(), 1);
    // An optional command's failure is answered in its reply and the action goes on.
    let r = h.send(&format!(
        "Context = {ctx} {{ O-Modify = aaln/7, Subtract = * }}"
    ));
    assert!(r.contains("Modify=aaln/7{Error=430"), "{r}");
    assert!(r.contains("Subtract=aaln/1"), "{r}");
    assert!(h.mg.stats().refused >= 13);
}

#[test]
fn bad_syntax_is_answered_400_or_401_and_noise_is_counted() {
    let mut h = Harness::new(1);
    h.next_tx += 1;
    let tx = h.next_tx;
    let r = h.send_raw(&format!(
        "MEGACO/1 [127.0.0.1]:2944\nTransaction = {tx} {{ Context = - {{ Modify = aaln/1 {{ Events = }} }} }}"
    ));
    assert!(r.contains(&format!("Reply={tx}{{Error=401")), "{r}");
    // Text with a broken header: a message-level error.
    h.mg.handle_datagram(
        h.now,
        h.mgc,
        b"MEGACO/1 [127.0.0.1:2944 Transaction = 1 { }",
    );
    h.drain();
    let e = h.take("Error=");
    assert!(
        squash(&e).starts_with("MEGACO/1[127.0.0.1]:2946Error=400"),
        "{e}"
    );
    // Noise: counted, not answered.
    h.mg.handle_datagram(h.now, h.mgc, &[0xff, 0x00, 0x13]);
    h.drain();
    assert!(h.control.is_empty(), "{:?}", h.control);
    assert_eq!(h.mg.stats().malformed, 3);
}

#[test]
fn duplicates_are_answered_from_the_cache_and_compact_requests_compactly() {
    let mut h = Harness::new(1);
    let request = "!/1 [127.0.0.1]:2944 T=4242{C=-{MF=aaln/1{E=3{al/of}}}}";
    h.mg.handle_datagram(h.now, h.mgc, request.as_bytes());
    h.drain();
    let first = h.take("P=4242");
    assert!(first.starts_with("!/1 [127.0.0.1]:2946"), "{first}");
    assert!(squash(&first).contains("P=4242{C=-{MF=aaln/1}}"), "{first}");
    h.mg.handle_datagram(h.now, h.mgc, request.as_bytes());
    h.drain();
    assert_eq!(h.take("P=4242"), first);
    assert_eq!(h.mg.stats().requests, 1);
    assert_eq!(h.mg.stats().duplicates, 1);
}

#[test]
fn a_silent_controller_makes_the_gateway_announce_itself_again() {
    let mut h = Harness::new(1);
    h.send("Context = - { Modify = aaln/1 { Events = 1 { al/of } } }");
    h.line(LineCommand::OffHook(1));
    assert!(h.has("Notify"));
    // Nobody answers the Notify: it is given up, and the gateway registers again.
    while h.mg.stats().timeouts == 0 {
        h.advance(ms(100));
    }
    assert!(h.took_output(&Output::Error {
        line: Some(1),
        message: "Notify timed out".into()
    }));
    assert!(!h.mg.is_registered());
    let sc = h.take("Method=Disconnected");
    assert!(
        squash(&sc).contains("Reason=\"900ServiceRestored\""),
        "{sc}"
    );
    h.control.retain(|m| *m != sc);
    h.reply(&sc, "Context = - { ServiceChange = ROOT }");
    assert!(h.mg.is_registered(), "{:?} {:?}", h.outputs, h.control);
    assert!(h.took_output(&Output::Restart {
        line: None,
        method: "disconnected",
        acknowledged: true,
        code: Some(200)
    }));
    // Silence alone (no keep-alive audit for 200 s) does the same.
    h.control.clear();
    h.advance(Duration::from_secs(150));
    h.send("Context = - { AuditValue = ROOT { Audit { } } }");
    h.advance(Duration::from_secs(150));
    assert!(!h.has("ServiceChange"), "audited 150 s ago");
    h.advance(Duration::from_secs(60));
    assert!(h.has("Method=Disconnected"));
    // A 5xx reply to a Notify (the controller forgot us) does too.
    let mut h = Harness::new(1);
    h.send("Context = - { Modify = aaln/1 { Events = 1 { al/of } } }");
    h.line(LineCommand::OffHook(1));
    let n = h.take("Notify");
    h.reply(&n, "Error = 504 { \"who are you\" }");
    assert!(h.has("Method=Disconnected"));
}

#[test]
fn the_registration_reply_can_move_the_controller() {
    let mut h = Harness::unregistered(config(1));
    let sc = h.take("ServiceChange");
    h.reply(
        &sc,
        "Context = - { ServiceChange = ROOT { Services { ServiceChangeAddress = 2950 } } }",
    );
    assert_eq!(h.mg.controller(), "127.0.0.1:2950".parse().unwrap());
}

#[test]
fn mid_and_transport_settings() {
    let mut c = config(1);
    c.mid("mg1").unwrap().encoding(Encoding::Compact);
    let mut h = Harness::unregistered(c);
    let sc = h.take("SC=ROOT");
    assert!(sc.starts_with("!/1 mg1"), "{sc}");
    assert!(
        squash(&sc).contains("AD=2946"),
        "a device name says where: {sc}"
    );
}

/// Text → BER, as a controller speaking binary would send it.
fn to_ber(text_message: &str) -> Vec<u8> {
    let m = text::parse(text_message.as_bytes()).expect("test message parses");
    let mut out = Vec::new();
    gateway_control::megaco::encoding::encode(&m, Encoding::Binary, &mut out).expect("BER");
    out
}

/// BER → pretty text, squashed, for assertions.
fn from_ber(data: &[u8]) -> String {
    use gateway_control::megaco::encoding;
    assert_eq!(encoding::detect(data), Some(Encoding::Binary));
    let decoded = encoding::decode(data, Encoding::Binary);
    let m = decoded.message().expect("our BER decodes");
    let mut out = Vec::new();
    text::encode(&m, text::Form::Pretty, &mut out);
    squash(&String::from_utf8(out).unwrap())
}

#[test]
fn binary_speaks_ber_with_bit_string_termination_ids() {
    let now = epoch();
    let mgc: SocketAddr = MGC.parse().unwrap();
    let mut c = config(2);
    c.mid("mg1").unwrap().encoding(Encoding::Binary);
    let mut mg = Mg::new(c, now);
    mg.add_rtp_port(RTP_BASE);
    let sent = |mg: &mut Mg| -> Vec<String> {
        let mut v = Vec::new();
        while let Some(t) = mg.poll_transmit() {
            if t.via == Via::Control {
                v.push(from_ber(&t.contents));
            }
        }
        v
    };
    let out = sent(&mut mg);
    let sc = &out[0];
    assert!(sc.starts_with("MEGACO/1mg1Transaction="), "{sc}");
    assert!(
        sc.contains("ServiceChange=ROOT{Services{Method=Restart"),
        "{sc}"
    );
    let id: u32 = sc["MEGACO/1mg1Transaction=".len()..]
        .split('{')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let reply = format!(
        "MEGACO/1 [127.0.0.1]:2944\nReply = {id} {{ Context = - {{ ServiceChange = ROOT }} }}\n"
    );
    mg.handle_datagram(now, mgc, &to_ber(&reply));
    assert!(mg.is_registered());
    let line1 = "00000000/00000000/00000001";
    let arm = format!(
        "MEGACO/1 [127.0.0.1]:2944\nTransaction = 7 {{ Context = - {{ Modify = {line1} {{ Events = 1 {{ al/of }} }} }} }}\n"
    );
    mg.handle_datagram(now, mgc, &to_ber(&arm));
    let out = sent(&mut mg);
    assert!(
        out.iter()
            .any(|m| m.contains(&format!("Reply=7{{Context=-{{Modify={line1}}}}}"))),
        "{out:?}"
    );
    mg.handle_line(now, LineCommand::OffHook(1));
    let out = sent(&mut mg);
    assert!(
        out.iter()
            .any(|m| m.contains(&format!("Notify={line1}{{ObservedEvents=1{{al/of}}}}"))),
        "{out:?}"
    );
    let add = format!(
        "MEGACO/1 [127.0.0.1]:2944\nTransaction = 8 {{ Context = $ {{ Add = {line1}, Add = $ {{ Media {{ Stream = 1 {{ LocalControl {{ Mode = SendReceive }}, Local {{\nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0\n}}, Remote {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 16400 RTP/AVP 0\n}} }} }} }} }} }}\n"
    );
    mg.handle_datagram(now, mgc, &to_ber(&add));
    let out = sent(&mut mg);
    let r = out
        .iter()
        .find(|m| m.contains("Reply=8{"))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        r.contains(&format!("Add={line1},Add=00000001/00000000/00000001{{Media{{Stream=1{{Local{{v=0c=INIP4127.0.0.1m=audio40000RTP/AVP0}}")),
        "{r}"
    );
    // Text still gets text.
    let audit = "MEGACO/1 [127.0.0.1]:2944\nTransaction = 9 { Context = - { AuditValue = ROOT { Audit { } } } }\n";
    mg.handle_datagram(now, mgc, audit.as_bytes());
    let t = mg.poll_transmit().unwrap();
    assert!(t.contents.starts_with(b"MEGACO/1 mg1\nReply = 9"));
}

#[test]
fn audits_return_what_is_in_force() {
    let mut h = Harness::new(2);
    h.send(
        "Context = - { Modify = aaln/1 { Signals { cg/dt }, Events = 4 { al/on, dd/ce { DigitMap = dialplan01 } }, \
         DigitMap = dialplan01 { (xx) } } }",
    );
    let r = h.send("Context = - { AuditValue = aaln/1 { Audit { Events, Signals, DigitMap } } }");
    assert!(
        r.contains(
            "AuditValue=aaln/1{Events=4{al/on,dd/ce},Signals{cg/dt},DigitMap=dialplan01{(xx)}}"
        ),
        "{r}"
    );
    // A wildcard answers one reply per termination.
    let r = h.send("Context = - { AuditValue = aaln/* { Audit { } } }");
    assert!(r.contains("AuditValue=aaln/1,AuditValue=aaln/2"), "{r}");
    let r = h.send("Context = - { AuditCapability = aaln/2 { Audit { Events } } }");
    assert!(r.contains("AuditCapability=aaln/2}"), "{r}");
    h.line(LineCommand::OffHook(2));
    let ctx = Harness::context_of(&h.send(&ADD.replace("aaln/1", "aaln/2")));
    let r = h.send(&format!(
        "Context = {ctx} {{ AuditValue = rtp/* {{ Audit {{ Media, Statistics }} }} }}"
    ));
    assert!(r.contains("AuditValue=rtp/1{Media{Stream=1{LocalControl{Mode=SendReceive},Local{v=0c=INIP4127.0.0.1m=audio40000RTP/AVP0},Remote{v=0c=INIP4127.0.0.1m=audio16400RTP/AVP0}}},Statistics{nt/os=0"), "{r}");
    // The context holds at most two RTP terminations.
    let more = format!(
        "Context = {ctx} {{ Add = $ {{ Media {{ LocalControl {{ Mode = Inactive }} }} }} }}"
    );
    assert!(h.send(&more).contains("Add=rtp/2{Media{Local{"));
    assert!(h.send(&more).contains("Error=434"));
    // ROOT takes a Modify (nothing to change) and an audit of it in any context is refused
    // only for `$`.
    assert!(
        h.send("Context = - { Modify = ROOT }")
            .contains("Modify=ROOT")
    );
    assert!(
        h.send("Context = $ { AuditValue = ROOT }")
            .contains("Error=421")
    );
}

#[test]
fn keep_active_keeps_the_tone_and_a_hand_off_moves_the_gateway() {
    let mut h = Harness::new(1);
    h.line(LineCommand::OffHook(1));
    h.send("Context = - { Modify = aaln/1 { Signals { cg/dt }, Events = 5 { al/fl { KeepActive }, dd/d1 } } }");
    h.line(LineCommand::Flash(1));
    assert!(h.notified("aaln/1").contains("al/fl"));
    assert!(
        !h.outputs
            .iter()
            .any(|o| matches!(o, Output::SignalStopped { .. })),
        "KeepActive: the tone plays on"
    );
    h.line(LineCommand::Digits(1, "1".into()));
    assert!(h.notified("aaln/1").contains("dd/d1"));
    assert!(h.took_output(&Output::SignalStopped {
        line: 1,
        name: "cg/dt".into(),
        reason: StopReason::Event
    }));
    // The controller hands the gateway to another one, which it then registers with.
    let r = h.send(
        "Context = - { ServiceChange = ROOT { Services { Method = HandOff, MgcIdToTry = [127.0.0.1]:2960, Reason = \"903\" } } }",
    );
    assert!(r.contains("ServiceChange=ROOT}"), "{r}");
    h.mgc = "127.0.0.1:2960".parse().unwrap();
    h.advance(ms(1));
    let sc = h.take("Method=HandOff");
    h.reply(&sc, "Context = - { ServiceChange = ROOT }");
    assert!(h.mg.is_registered());
    assert_eq!(h.mg.controller(), h.mgc);
}
