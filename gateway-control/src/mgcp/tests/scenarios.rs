//! RFC 3435-shaped exchanges between the call agent and a scripted gateway: start-up, events,
//! signals and connections.

use std::time::Duration;

use super::*;
use crate::model::{Cadence, CallId, CallerId, Codec, Command, ConnectionMode, Digit, Event, Tone};

#[test]
fn start_up_audits_then_arms_every_line() {
    let mut h = Harness::new(Harness::config(2));
    let a1 = h.recv();
    let a2 = h.recv();
    assert_eq!(a1.verb(), "AUEP");
    assert_eq!(a1.endpoint(), "aaln/1@gw1.example.net");
    assert_eq!(a1.param("F"), Some("ES"));
    assert_eq!(a2.endpoint(), "aaln/2@gw1.example.net");
    assert!(h.inbox.is_empty());
    h.send(&format!("200 {} OK\nES: L/hu\n", a1.txid()));
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    let r1 = h.recv();
    on_hook_request(&r1);
    assert_eq!(r1.param("N"), Some("ca@[192.0.2.100]:2727"));
    assert!(r1.param("X").is_some());
    h.send(&format!("200 {} OK\nES: L/hd\n", a2.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(2),
            off_hook: true
        }
    );
    let r2 = h.recv();
    off_hook_request(&r2);
    assert_ne!(r1.param("X"), r2.param("X"));
    h.send(&ok(&r1));
    h.send(&ok(&r2));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.is_armed(&line(2)), Some(true));
    assert!(h.events.is_empty());
}

#[test]
fn pacing_keeps_at_most_max_outstanding_in_flight() {
    let mut c = Harness::config(100);
    c.max_outstanding(8).unwrap();
    let mut h = Harness::new(c);
    assert_eq!(h.inbox.len(), 8);
    assert_eq!(h.agent.backlog(&GatewayId::new(GW)), Some((92, 8)));
    let first = h.recv();
    h.send(&format!("200 {} OK\nES: L/hu\n", first.txid()));
    // One answered: one more audit, and the first line's RQNT queued behind the audits.
    assert_eq!(h.inbox.len(), 8);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    for n in 1..=100 {
        assert_eq!(h.agent.is_armed(&line(n)), Some(true), "line {n}");
    }
    let stats = h.agent.stats();
    assert_eq!(stats.audits_sent, 100);
    assert_eq!(stats.rqnts_sent, 100);
    assert_eq!(stats.transaction.retransmissions, 0);
}

#[test]
fn notify_reports_events_in_order_answers_and_re_arms() {
    let mut h = Harness::armed(1);
    h.send("NTFY 500 aaln/1@gw1.example.net MGCP 1.0\nN: ca@[192.0.2.100]:2727\nX: 1\nO: L/hd,D/5,D/#\n");
    let resp = h.recv();
    assert!(resp.text.starts_with("200 500"), "{}", resp.text);
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    assert_eq!(
        h.event(),
        Event::Digit {
            line: line(1),
            digit: Digit::new('5').unwrap()
        }
    );
    assert_eq!(
        h.event(),
        Event::Digit {
            line: line(1),
            digit: Digit::new('#').unwrap()
        }
    );
    let rearm = h.recv();
    off_hook_request(&rearm);
    assert_eq!(rearm.param("X"), Some("2"));
    assert_eq!(h.agent.stats().notifications, 1);
    assert_eq!(h.agent.stats().stale_notifications, 0);
    // The gateway retransmits the NTFY (our 200 was lost): the same answer, no new events.
    h.send("NTFY 500 aaln/1@gw1.example.net MGCP 1.0\nN: ca@[192.0.2.100]:2727\nX: 1\nO: L/hd,D/5,D/#\n");
    assert!(h.recv().text.starts_with("200 500"));
    assert!(h.events.is_empty());
    assert!(h.inbox.is_empty());
}

#[test]
fn stale_request_id_is_answered_200_and_resynchronised() {
    let mut h = Harness::armed(1);
    h.send("NTFY 501 aaln/1@gw1.example.net MGCP 1.0\nX: 7777\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 501"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    off_hook_request(&h.recv());
    assert_eq!(h.agent.stats().stale_notifications, 1);
    // A redundant hook event is not reported twice.
    h.send("NTFY 502 aaln/1@gw1.example.net MGCP 1.0\nX: 7777\nO: L/hd,X/zz\n");
    assert!(h.recv().text.starts_with("200 502"));
    assert!(h.events.is_empty());
    assert_eq!(h.agent.stats().redundant_events, 1);
    assert_eq!(h.agent.stats().unrecognised_events, 1);
}

#[test]
fn ring_with_caller_id_then_stop() {
    let mut h = Harness::armed(1);
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Distinctive(2),
        caller_id: Some(CallerId {
            number: Some("5551212".into()),
            name: Some("Alice".into()),
        }),
    });
    let r = h.recv();
    on_hook_request(&r);
    assert_eq!(r.param("S"), Some("L/r2,L/ci(,\"5551212\",\"Alice\")"));
    h.send(&ok(&r));
    h.command(Command::StopRing { line: line(1) });
    let s = h.recv();
    on_hook_request(&s);
    assert_eq!(s.param("S"), Some(""));
    h.send(&ok(&s));
    assert!(h.events.is_empty());
}

#[test]
fn tones_and_the_lamp() {
    let mut h = Harness::armed(1);
    h.command(Command::PlayTone {
        line: line(1),
        tone: Tone::MessageWaitingLamp,
    });
    let r = h.recv();
    assert_eq!(r.param("S"), Some("L/vmwi(+)"));
    h.send(&ok(&r));
    h.command(Command::PlayTone {
        line: line(1),
        tone: Tone::StutterDial,
    });
    let r = h.recv();
    assert_eq!(r.param("S"), Some("L/sl"));
    h.send(&ok(&r));
    h.command(Command::StopTone { line: line(1) });
    let r = h.recv();
    assert_eq!(r.param("S"), Some("L/vmwi(-)"));
    h.send(&ok(&r));
}

#[test]
fn ring_refused_401_fails_then_audit_and_re_arm_off_hook() {
    let mut h = Harness::armed(1);
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    let r = h.recv();
    assert_eq!(r.param("S"), Some("L/rg"));
    h.send(&format!("401 {} already off hook\n", r.txid()));
    match h.event() {
        Event::CommandFailed { line: l, code, .. } => {
            assert_eq!(l, line(1));
            assert_eq!(code, 401);
        }
        e => panic!("{e:?}"),
    }
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    let rearm = h.recv();
    off_hook_request(&rearm);
    assert_eq!(rearm.param("S"), Some(""));
    h.send(&ok(&rearm));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    // Ringing an off-hook phone now fails locally.
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 401, .. }));
    assert!(h.inbox.is_empty());
}

#[test]
fn re_arm_failures_are_bounded() {
    let mut h = Harness::armed(1);
    h.send("NTFY 9 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    h.recv();
    h.event();
    // The gateway refuses every request and every audit.
    h.answer_until_quiet(|s| format!("518 {} unknown package\n", s.txid()));
    let st = h.agent.stats();
    assert_eq!(st.lines_unarmed, 1);
    assert_eq!(st.arm_failures, 4);
    assert_eq!(h.agent.is_armed(&line(1)), Some(false));
    // A minute later it is tried again, and this time the gateway takes it.
    h.advance(Duration::from_secs(59));
    assert!(h.inbox.is_empty());
    h.advance(Duration::from_secs(1));
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hd\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}

#[test]
fn connection_create_modify_delete() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(0xA3),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: Some(media(40000)),
    });
    // Modify while the create is in flight waits for it.
    h.command(Command::ModifyConnection {
        line: line(1),
        call: CallId(0xA3),
        mode: Some(ConnectionMode::RecvOnly),
        remote: None,
    });
    let c = h.recv();
    assert!(h.inbox.is_empty());
    assert_eq!(c.verb(), "CRCX");
    assert_eq!(c.param("C"), Some("A3"));
    assert_eq!(c.param("L"), Some("p:20, a:PCMU"));
    assert_eq!(c.param("M"), Some("sendrecv"));
    assert!(c.text.contains("m=audio 40000 RTP/AVP 0 101"), "{}", c.text);
    assert!(c.text.contains("c=IN IP4 192.0.2.100"));
    h.send(&format!("200 {} OK\nI: 1F\n\n{GW_SDP}", c.txid()));
    match h.event() {
        Event::ConnectionCreated {
            line: l,
            call,
            local,
        } => {
            assert_eq!(l, line(1));
            assert_eq!(call, CallId(0xA3));
            assert_eq!(local.address, "192.0.2.1:16384".parse().unwrap());
            assert_eq!(local.codec, Codec::Pcmu);
            assert_eq!(local.telephone_event, Some(101));
        }
        e => panic!("{e:?}"),
    }
    let m = h.recv();
    assert_eq!(m.verb(), "MDCX");
    assert_eq!(m.param("I"), Some("1F"));
    assert_eq!(m.param("M"), Some("recvonly"));
    h.send(&ok(&m));
    assert_eq!(
        h.event(),
        Event::ConnectionModified {
            line: line(1),
            call: CallId(0xA3)
        }
    );
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(0xA3),
    });
    let d = h.recv();
    assert_eq!(d.verb(), "DLCX");
    assert_eq!(d.param("C"), Some("A3"));
    assert_eq!(d.param("I"), Some("1F"));
    h.send(&format!(
        "250 {} OK\nP: PS=10, OS=1600, PR=9, OR=1440, PL=1, JI=0, LA=0\n",
        d.txid()
    ));
    assert_eq!(
        h.event(),
        Event::ConnectionDeleted {
            line: line(1),
            call: CallId(0xA3)
        }
    );
    // Unknown now.
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(0xA3),
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 515, .. }));
}

#[test]
fn wildcard_create_names_the_specific_line() {
    let mut h = Harness::armed(2);
    h.command(Command::CreateConnection {
        line: LineId::new(GatewayId::new(GW), "aaln/$"),
        call: CallId(7),
        mode: ConnectionMode::SendOnly,
        codec: Codec::Pcma,
        ptime: ms(30),
        remote: None,
    });
    let c = h.recv();
    assert_eq!(c.endpoint(), "aaln/$@gw1.example.net");
    assert_eq!(c.param("L"), Some("p:30, a:PCMA"));
    let sdp = GW_SDP.replace("RTP/AVP 0 101", "RTP/AVP 8");
    h.send(&format!(
        "200 {} OK\nI: 2\nZ: aaln/2@gw1.example.net\n\n{sdp}",
        c.txid()
    ));
    match h.event() {
        Event::ConnectionCreated { line: l, local, .. } => {
            assert_eq!(l, line(2));
            assert_eq!(local.codec, Codec::Pcma);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn crcx_refused_reports_the_code() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("403 {} no resources\n", c.txid()));
    match h.event() {
        Event::CommandFailed { call, code, .. } => {
            assert_eq!(call, Some(CallId(1)));
            assert_eq!(code, 403);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn gateway_initiated_delete_is_connection_lost() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(0x10),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 5\n\n{GW_SDP}", c.txid()));
    h.event();
    h.send("DLCX 77 aaln/1@gw1.example.net MGCP 1.0\nC: 10\nI: 5\nE: 902 loss of connectivity\n");
    assert!(h.recv().text.starts_with("250 77"));
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(0x10),
            reason: "902 loss of connectivity".into()
        }
    );
}

#[test]
fn audit_command_reports_line_status() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    assert_eq!(a.verb(), "AUEP");
    h.send(&format!("200 {} OK\nES: L/hu\n", a.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    assert!(h.inbox.is_empty());
}
