//! RFC 3435-shaped exchanges between the call agent and a scripted gateway: restarts,
//! reachability, hostile input and configuration.

use std::time::Duration;

use super::*;
use crate::model::{Cadence, CallId, Codec, Command, ConnectionMode, DownReason, Event};

#[test]
fn restart_wildcard_re_audits_and_re_arms_all_lines() {
    let mut h = Harness::armed(3);
    h.send("RSIP 900 *@gw1.example.net MGCP 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 900"));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: GatewayId::new(GW),
            reason: DownReason::Forced
        }
    );
    assert_eq!(h.inbox.len(), 3);
    assert!(h.inbox.iter().all(|s| s.verb() == "AUEP"));
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    for n in 1..=3 {
        assert_eq!(
            h.event(),
            Event::LineStatus {
                line: line(n),
                off_hook: false
            }
        );
        assert_eq!(h.agent.is_armed(&line(n)), Some(true));
    }
}

#[test]
fn restart_with_delay_waits_restart_delay() {
    let mut h = Harness::armed(1);
    h.send("RSIP 901 *@gw1.example.net MGCP 1.0\nRM: restart\nRD: 5\n");
    h.recv();
    h.event();
    assert!(h.inbox.is_empty());
    h.advance(ms(4999));
    assert!(h.inbox.is_empty());
    h.advance(ms(1));
    assert_eq!(h.recv().verb(), "AUEP");
}

#[test]
fn graceful_then_cancel_and_forced() {
    let mut h = Harness::armed(1);
    h.send("RSIP 910 *@gw1.example.net MGCP 1.0\nRM: graceful\nRD: 300\n");
    assert!(h.recv().text.starts_with("200 910"));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: GatewayId::new(GW),
            reason: DownReason::Graceful(Duration::from_secs(300))
        }
    );
    h.send("RSIP 911 *@gw1.example.net MGCP 1.0\nRM: cancel-graceful\n");
    h.recv();
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    h.send("RSIP 912 *@gw1.example.net MGCP 1.0\nRM: forced\n");
    h.recv();
    out_of_service(&mut h);
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: GatewayId::new(GW),
            reason: DownReason::Forced
        }
    );
    assert!(h.inbox.is_empty());
    // Then it comes back.
    h.send("RSIP 913 *@gw1.example.net MGCP 1.0\nRM: restart\n");
    h.recv();
    assert_eq!(h.recv().verb(), "AUEP");
}

#[test]
fn disconnected_re_audits_without_going_down() {
    let mut h = Harness::armed(2);
    h.send("RSIP 920 *@gw1.example.net MGCP 1.0\nRM: disconnected\n");
    h.recv();
    assert_eq!(h.recv().verb(), "AUEP");
    assert_eq!(h.recv().verb(), "AUEP");
    assert!(h.events.is_empty());
}

#[test]
fn unknown_endpoint_gets_500_and_unknown_peer_is_dropped() {
    let mut h = Harness::armed(1);
    h.send("NTFY 930 aaln/9@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("500 930"));
    h.send("RSIP 931 aaln/9@gw1.example.net MGCP 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("500 931"));
    let now = h.now;
    h.agent.handle_datagram(
        now,
        "198.51.100.7:2427".parse().unwrap(),
        b"RSIP 1 *@x MGCP 1.0\r\nRM: restart\r\n",
    );
    h.drain();
    assert!(h.inbox.is_empty());
    let st = h.agent.stats();
    assert_eq!(st.unknown_endpoint, 2);
    assert_eq!(st.unknown_peer, 1);
    assert!(h.events.is_empty());
}

#[test]
fn malformed_commands_get_510_or_528_unknown_verbs_504_and_garbage_is_dropped() {
    let mut h = Harness::armed(1);
    // RFC 3435 §2.4: 504 "unknown or unsupported command", for a verb we do not know as for
    // one a call agent does not take.
    h.send("FOOB 940 aaln/1@gw1.example.net MGCP 1.0\n");
    assert!(h.recv().text.starts_with("504 940"));
    h.send("NTFY 941 aaln/1@gw1.example.net MGCP 2.0\nX: 1\n");
    assert!(h.recv().text.starts_with("528 941"));
    h.send("NTFY 943 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd(\n");
    assert!(h.recv().text.starts_with("510 943"));
    h.send("\u{1}\u{2} garbage");
    assert!(h.inbox.is_empty());
    h.send("CRCX 942 aaln/1@gw1.example.net MGCP 1.0\nC: 1\n");
    assert!(h.recv().text.starts_with("504 942"));
    let st = h.agent.stats();
    assert_eq!(st.malformed_answered, 1);
    assert_eq!(st.version_answered, 1);
    assert_eq!(st.malformed_dropped, 1);
    assert_eq!(st.unsupported_commands, 2);
}

#[test]
fn final_after_provisional_is_acknowledged_in_the_next_command() {
    let mut h = Harness::armed(2);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("100 {} executing\n", a.txid()));
    h.advance(ms(2000));
    assert!(
        h.inbox.is_empty(),
        "no retransmission after a provisional response"
    );
    h.send(&format!("200 {} OK\nK:\nES: L/hu\n", a.txid()));
    h.event();
    h.command(Command::Audit { line: line(2) });
    let b = h.recv();
    assert_eq!(b.param("K"), Some(&*a.txid().to_string()));
    assert_eq!(b.acks(), 1);
    h.send(&format!("200 {} OK\nES: L/hu\n", b.txid()));
}

#[test]
fn unreachable_gateway_is_reported_once_probed_and_re_armed() {
    let mut h = Harness::armed(2);
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    let first = h.recv();
    // The estimate learnt from the start-up exchanges (answered at once): the 200 ms floor.
    let rto = h.agent.retransmit_timeout(&GatewayId::new(GW)).unwrap();
    assert_eq!(rto, ms(200));
    // The gateway is silent: retransmissions per RFC 3435 §4.3, then a timeout one capped
    // interval after the last (14.2 s + 4 s).
    h.advance(ms(18_199));
    assert!(h.events.is_empty());
    h.advance(ms(1));
    let times: Vec<Duration> = h.inbox.drain(..).map(|s| s.at - first.at).collect();
    assert_eq!(times, backoff(rto, Duration::from_secs(4), 7));
    match h.event() {
        Event::CommandFailed { code, .. } => assert_eq!(code, 0),
        e => panic!("{e:?}"),
    }
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: GatewayId::new(GW),
            reason: DownReason::Unreachable
        }
    );
    // Commands now fail at once.
    h.command(Command::StopRing { line: line(1) });
    assert!(matches!(h.event(), Event::CommandFailed { code: 0, .. }));
    // A probe follows after 1 s; it too goes unanswered, and the next one comes 2 s after.
    h.advance(ms(999));
    assert!(h.inbox.is_empty());
    h.advance(ms(1));
    let probe = h.recv();
    assert_eq!(probe.verb(), "AUEP");
    h.advance(Duration::from_secs(30));
    let later: Vec<Sent> = h.inbox.drain(..).collect();
    assert!(
        later
            .iter()
            .any(|s| s.verb() == "AUEP" && s.txid() != probe.txid())
    );
    assert!(h.events.is_empty(), "down is reported once: {:?}", h.events);
    // Eventually a probe is answered.
    let p = later.last().unwrap().clone();
    h.send(&format!("200 {} OK\nES: L/hu\n", p.txid()));
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.is_armed(&line(2)), Some(true));
    assert_eq!(h.agent.stats().gateway_down, 1);
}

#[test]
fn thousand_lines_are_armed_with_bounded_outstanding() {
    let mut c = Harness::config(1000);
    c.max_outstanding(32).unwrap();
    let mut h = Harness::new(c);
    let mut max_in_flight = 0;
    while let Some(s) = h.inbox.pop_front() {
        max_in_flight = max_in_flight.max(h.agent.backlog(&GatewayId::new(GW)).unwrap().1);
        let reply = match s.verb() {
            "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
            _ => ok(&s),
        };
        h.send(&reply);
    }
    assert_eq!(max_in_flight, 32);
    for n in [1, 500, 1000] {
        assert_eq!(h.agent.is_armed(&line(n)), Some(true));
    }
    assert_eq!(h.agent.stats().rqnts_sent, 1000);
}

#[test]
fn send_rate_limit_spaces_commands() {
    let mut c = Harness::config(4);
    c.max_send_rate(Some(10)).unwrap();
    let mut h = Harness::new(c);
    assert_eq!(h.inbox.len(), 1);
    h.advance(ms(350));
    // First sends only (the unanswered ones are also retransmitted after 200 ms).
    let mut seen = std::collections::HashSet::new();
    let at: Vec<Duration> = h
        .inbox
        .iter()
        .filter(|s| seen.insert(s.txid()))
        .map(|s| s.at)
        .collect();
    assert_eq!(at, vec![ms(0), ms(100), ms(200), ms(300)]);
}

#[test]
fn line_restart_loses_its_connections_and_re_audits_only_it() {
    let mut h = Harness::armed(2);
    h.command(Command::CreateConnection {
        line: line(2),
        call: CallId(0x22),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 9\n\n{GW_SDP}", c.txid()));
    h.event();
    h.send("RSIP 950 aaln/2@gw1.example.net MGCP 1.0\nRM: forced\n");
    assert!(h.recv().text.starts_with("200 950"));
    out_of_service(&mut h);
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(2),
            call: CallId(0x22),
            reason: "restart".into()
        }
    );
    let a = h.recv();
    assert_eq!(a.verb(), "AUEP");
    assert_eq!(a.endpoint(), "aaln/2@gw1.example.net");
    assert!(h.inbox.is_empty());
}

#[test]
fn gateway_delete_without_call_id_loses_every_connection_of_the_endpoint() {
    let mut h = Harness::armed(1);
    for call in [1, 2] {
        h.command(Command::CreateConnection {
            line: line(1),
            call: CallId(call),
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcmu,
            ptime: ms(20),
            remote: None,
        });
        let c = h.recv();
        h.send(&format!("200 {} OK\nI: {call}\n\n{GW_SDP}", c.txid()));
        h.event();
    }
    h.send("DLCX 960 aaln/1@gw1.example.net MGCP 1.0\nE: 901 endpoint malfunction\n");
    assert!(h.recv().text.starts_with("250 960"));
    let mut lost: Vec<CallId> = h
        .events
        .drain(..)
        .map(|e| match e {
            Event::ConnectionLost { call, .. } => call,
            e => panic!("{e:?}"),
        })
        .collect();
    lost.sort();
    assert_eq!(lost, vec![CallId(1), CallId(2)]);
    assert_eq!(h.agent.stats().connections_lost, 2);
}

#[test]
fn commands_for_unknown_lines_fail_with_500() {
    let mut h = Harness::armed(1);
    h.command(Command::Ring {
        line: line(9),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 500, .. }));
    h.command(Command::Audit {
        line: LineId::new(GatewayId::new("nope"), "aaln/1"),
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 500, .. }));
    assert!(h.inbox.is_empty());
    assert_eq!(h.agent.stats().unknown_line_commands, 2);
}

#[test]
fn delete_during_create_waits_then_deletes() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(5),
        mode: ConnectionMode::RecvOnly,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(5),
    });
    let c = h.recv();
    assert!(h.inbox.is_empty());
    h.send(&format!("200 {} OK\nI: 3\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
    let d = h.recv();
    assert_eq!(d.verb(), "DLCX");
    assert_eq!(d.param("I"), Some("3"));
    h.send(&format!("250 {} OK\n", d.txid()));
    assert_eq!(
        h.event(),
        Event::ConnectionDeleted {
            line: line(1),
            call: CallId(5)
        }
    );
}

#[test]
fn create_answer_without_sdp_fails_and_cleans_up() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(6),
        mode: ConnectionMode::RecvOnly,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 4\n", c.txid()));
    assert!(matches!(
        h.event(),
        Event::CommandFailed {
            call: Some(CallId(6)),
            ..
        }
    ));
    let d = h.recv();
    assert_eq!(d.verb(), "DLCX");
    assert_eq!(d.param("I"), Some("4"));
    h.send(&format!("250 {} OK\n", d.txid()));
    assert!(
        h.events.is_empty(),
        "the clean-up is not reported: {:?}",
        h.events
    );
}

#[test]
fn notify_crossing_a_ring_loses_no_hook_change() {
    let mut h = Harness::armed(1);
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    let ring = h.recv();
    // The phone was picked up under the previous request; its NTFY crosses the ring.
    h.send("NTFY 970 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 970"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    let rearm = h.recv();
    off_hook_request(&rearm);
    assert_eq!(rearm.param("S"), Some(""), "ringing stops once off hook");
    // The gateway refuses the ring (already off hook): reported, the line stays armed.
    h.send(&format!("401 {} off hook\n", ring.txid()));
    assert!(matches!(h.event(), Event::CommandFailed { code: 401, .. }));
    let audit = h.recv();
    h.send(&ok(&rearm));
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    let again = h.recv();
    off_hook_request(&again);
    h.send(&ok(&again));
    assert!(h.events.is_empty(), "{:?}", h.events);
    // A hang-up buffered by the gateway (quarantine) comes with the new request id.
    let x = again.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 971 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: L/hu\n"
    ));
    assert!(h.recv().text.starts_with("200 971"));
    assert_eq!(h.event(), Event::OnHook { line: line(1) });
    on_hook_request(&h.recv());
    assert_eq!(h.agent.stats().stale_notifications, 0);
}

#[test]
fn requested_ack_goes_as_000_when_no_command_follows() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("200 {} OK\nK:\nES: L/hu\n", a.txid()));
    h.event();
    h.advance(ms(99));
    assert!(h.inbox.is_empty());
    h.advance(ms(1));
    let ack = h.recv();
    assert!(
        ack.text.starts_with(&format!("000 {}", a.txid())),
        "{}",
        ack.text
    );
}

#[test]
fn config_is_validated() {
    use super::super::ConfigError;
    let gw = |name: &str, port: u16, lines: &[&str]| GatewayConfig {
        id: GatewayId::new(name),
        address: format!("192.0.2.1:{port}").parse().unwrap(),
        domain: "gw".into(),
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
    };
    let mut c = Config::default();
    c.gateway(gw("a", 1, &["aaln/1"])).unwrap();
    assert!(matches!(
        c.gateway(gw("a", 2, &[])),
        Err(ConfigError::DuplicateGateway(_))
    ));
    assert!(matches!(
        c.gateway(gw("b", 1, &[])),
        Err(ConfigError::DuplicateGateway(_))
    ));
    for bad in ["", "aaln/*", "a b", "x@y"] {
        assert!(matches!(
            c.gateway(gw("b", 2, &[bad])),
            Err(ConfigError::BadLine { .. })
        ));
    }
    assert!(matches!(
        c.gateway(gw("b", 2, &["aaln/1", "AALN/1"])),
        Err(ConfigError::BadLine { .. })
    ));
    assert_eq!(
        c.max_outstanding(0).unwrap_err(),
        ConfigError::Zero("max_outstanding")
    );
    assert_eq!(
        c.notified_entity("a b").unwrap_err(),
        ConfigError::BadNotifiedEntity
    );
    assert_eq!(c.gateways.len(), 1);
}

#[test]
fn forced_down_gateway_that_stops_answering_is_not_reported_twice() {
    let mut h = Harness::armed(1);
    h.send("RSIP 980 *@gw1.example.net MGCP 1.0\nRM: forced\n");
    h.recv();
    out_of_service(&mut h);
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    h.command(Command::Audit { line: line(1) });
    h.recv();
    h.advance(Duration::from_secs(20));
    assert!(matches!(h.event(), Event::CommandFailed { code: 0, .. }));
    assert!(h.events.is_empty(), "{:?}", h.events);
    // It is probed; when it answers, it is up and re-armed.
    h.inbox.clear();
    h.advance(Duration::from_secs(2));
    let probe = h.inbox.pop_back().unwrap();
    assert_eq!(probe.verb(), "AUEP");
    h.send(&format!("200 {} OK\nES: L/hu\n", probe.txid()));
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
}

#[test]
fn a_gateway_that_cannot_audit_is_still_armed() {
    let mut h = Harness::new(Harness::config(1));
    let a = h.recv();
    h.send(&format!("539 {} unsupported parameter\n", a.txid()));
    // Armed for the likeliest state; the phone is in fact off hook.
    let r = h.recv();
    on_hook_request(&r);
    h.send(&format!("401 {} already off hook\n", r.txid()));
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    h.send(&format!("539 {} unsupported parameter\n", audit.txid()));
    // The 401 told the hook state: reported and armed for it.
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    let again = h.recv();
    off_hook_request(&again);
    h.send(&ok(&again));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.stats().arm_failures, 3);
    assert_eq!(h.agent.stats().lines_unarmed, 0);
}

/// The gateway's session description is read by the codec's parser
/// (`wire::AudioDescription`): IPv6, the first G.711 type after others, `a=ptime`, the
/// telephone-event type; an out-of-range ptime falls back to the one asked for. Ours is written
/// by the codec too.
#[test]
fn session_descriptions_go_through_the_codec() {
    let mut h = Harness::armed(1);
    let create = |h: &mut Harness, call: u64, sdp: &str| {
        h.command(Command::CreateConnection {
            line: line(1),
            call: CallId(call),
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcma,
            ptime: ms(20),
            remote: Some(media(40000)),
        });
        let c = h.recv();
        assert!(c.text.contains("a=fmtp:101 0-15\r\n"), "{}", c.text);
        assert!(c.text.contains("a=ptime:20\r\n"), "{}", c.text);
        h.send(&format!("200 {} OK\nI: {call:X}\n\n{sdp}", c.txid()));
        match h.event() {
            Event::ConnectionCreated { local, .. } => local,
            e => panic!("{e:?}"),
        }
    };
    let v6 = "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\n\
              m=audio 5004 RTP/AVP 18 8 0 101\na=rtpmap:101 telephone-event/8000\na=ptime:30\n";
    let local = create(&mut h, 1, v6);
    assert_eq!(local.address, "[2001:db8::1]:5004".parse().unwrap());
    assert_eq!(local.codec, Codec::Pcma);
    assert_eq!(local.ptime, ms(30));
    assert_eq!(local.telephone_event, Some(101));
    let odd_ptime = GW_SDP.replace("a=ptime:20", "a=ptime:0");
    let local = create(&mut h, 2, &odd_ptime);
    assert_eq!(local.ptime, ms(20));
    assert_eq!(local.codec, Codec::Pcmu);
    // No G.711 offered: the answer is unusable, reported, and the connection deleted.
    let no_g711 = GW_SDP.replace("RTP/AVP 0 101", "RTP/AVP 18");
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(3),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 3\n\n{no_g711}", c.txid()));
    assert!(matches!(
        h.event(),
        Event::CommandFailed {
            call: Some(CallId(3)),
            ..
        }
    ));
    assert_eq!(h.recv().verb(), "DLCX");
}
