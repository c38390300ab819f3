//! The vendor profiles ([`Profile`]) in virtual time: the version each writes and accepts, the
//! packages it knows, its audit answers and its keep-alives. Sources are cited per test; the
//! profile module's documentation lists them.

use super::*;

fn with_profile(profile: Profile, keepalive: Option<Duration>) -> Harness {
    let mut config = Config::new(2, CA.parse().unwrap()).unwrap();
    config.profile(profile);
    if let Some(d) = keepalive {
        config.keepalive(d);
    }
    Harness::with(config)
}

/// The first line of a datagram.
fn head(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// A notification request for line 1 in version `version` (`1.0`, `0.1`, `1.0 NCS 1.0`).
fn rqnt_v(version: &str, x: &str, rest: &str) -> String {
    format!("RQNT {{tx}} aaln/1@[127.0.0.1] MGCP {version}\r\nX: {x}\r\n{rest}")
}

/// Index of the first keep-alive (`NTFY … *@…`) among the control datagrams not yet looked at.
fn keepalive_at(h: &Harness) -> Option<usize> {
    h.control
        .iter()
        .position(|m| m.starts_with("NTFY ") && head(m).contains(" *@[127.0.0.1] "))
}

/// Cisco IOS speaks RFC 2705's `MGCP 0.1` by default ("The default service type and version is
/// mgcp 0.1": *MGCP 1.0 Including NCS 1.0 and TGCP 1.0 Profiles*, Cisco IOS 12.2(2)XA, command
/// `call-agent`; its NTFY read `NTFY 41 aaln/…@… MGCP 0.1`, Cisco document 42104): the RSIP and
/// the NTFY it sends carry `MGCP 0.1`, and it takes commands in 0.1 or 1.0 alike. A profile name
/// it does not have is refused 528 (RFC 3435 §2.4).
#[test]
fn cisco_sends_mgcp_0_1_and_accepts_0_1_and_1_0() {
    let mut config = Config::new(1, CA.parse().unwrap()).unwrap();
    config.profile(Profile::Cisco).seed(3);
    let mut gw = Gateway::new(config, epoch());
    let rsip = String::from_utf8(gw.poll_transmit().unwrap().contents).unwrap();
    assert!(rsip.starts_with("RSIP "), "{rsip}");
    assert!(head(&rsip).ends_with(" *@[127.0.0.1] MGCP 0.1"), "{rsip}");
    assert!(rsip.contains("\r\nRM: restart\r\n"), "{rsip}");

    let mut h = with_profile(Profile::Cisco, None);
    assert_eq!(h.code(&rqnt_v("0.1", "A1", "R: L/hd(N)\r\n")), 200);
    h.line(LineCommand::OffHook(1));
    let n = h.take("NTFY");
    assert_eq!(
        head(&n),
        format!(
            "NTFY {} aaln/1@[127.0.0.1] MGCP 0.1",
            n.split_whitespace().nth(1).unwrap()
        )
    );
    let Message::Command(c) = &wire::parse(n.as_bytes()).unwrap()[0] else {
        panic!("{n}")
    };
    assert_eq!(c.version, wire::Version::V0_1);
    h.answer(&n, 200);
    assert_eq!(h.code(&rqnt_v("1.0", "A2", "R: L/hu(N)\r\n")), 200);
    assert_eq!(h.code(&rqnt_v("1.0 NCS 1.0", "A3", "R: L/hu(N)\r\n")), 528);
    assert_eq!(h.code(&rqnt_v("1.1", "A4", "R: L/hu(N)\r\n")), 528);
    assert_eq!(h.gw.stats().refused, 1, "the NCS one; 1.1 does not parse");
    assert!(h.took_output(&Output::Command {
        line: None,
        verb: "RQNT",
        transaction: h.next_tx - 1,
        code: 528
    }));
}

/// RFC 3435 §2.3.10 lists the connections of an endpoint in `I:` and its grammar has no empty
/// ConnectionId; IOS nevertheless answers `F: I` with an empty `I:` line when there is none,
/// and `F: A` with its capabilities in the `A:` form of RFC 3435 §3.2.2.17 plus a vendor `X-`
/// extension line (§3.2.2), which a call agent must ignore.
#[test]
fn cisco_audits_answer_an_empty_i_and_capabilities_with_a_vendor_line() {
    let mut h = with_profile(Profile::Cisco, None);
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 0.1\r\nF: I,ES\r\n");
    assert!(r.starts_with("200 "), "{r}");
    assert!(r.contains("\r\nI:\r\n"), "an empty I: line: {r:?}");
    assert!(r.contains("\r\nES: L/hu\r\n"), "{r:?}");
    h.gw.add_rtp_port(30000);
    let id = connection_id(&h.send(&crcx(1, "recvonly", false)));
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nF: I\r\n");
    assert!(r.contains(&format!("\r\nI: {id}\r\n")), "{r:?}");
    let r = h.send("AUEP {tx} aaln/2@[127.0.0.1] MGCP 0.1\r\nF: A\r\n");
    assert!(
        r.contains(
            "\r\nA: a:PCMU;PCMA, p:10-20, e:on, s:on, v:L;G;D, \
             m:sendonly;recvonly;sendrecv;inactive;loopback\r\n"
        ),
        "{r:?}"
    );
    assert!(r.contains("\r\nX-ServiceType: mgcp 0.1\r\n"), "{r:?}");
    // RFC 3435's own profile keeps its strict answers.
    let mut h = Harness::new(1);
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nF: I,A\r\n");
    assert!(!r.contains("\nI:") && !r.contains("\nX-"), "{r:?}");
    assert!(r.contains("v:L;D;G"), "{r:?}");
}

/// IOS keeps its call agent told it is there with "empty MGCP Notify (NTFY) keepalive
/// messages" (Cisco's CallManager documentation of IOS MGCP gateways): `NTFY` for the whole
/// gateway (RFC 3435 §2.1.2's `*`), an empty `O:`, no `X:`, once nothing else was sent for the
/// interval (10 s here by default). Answered 200 it is reported; anything sent meanwhile puts
/// the next one off; one at a time; unanswered, reported and sent again.
#[test]
fn cisco_keepalive_goes_out_after_a_quiet_interval() {
    let mut h = with_profile(Profile::Cisco, None);
    h.advance(ms(9_999));
    assert_eq!(keepalive_at(&h), None, "{:?}", h.control);
    h.advance(ms(1));
    let i = keepalive_at(&h).unwrap_or_else(|| panic!("{:?}", h.control));
    let k = h.control.remove(i);
    let tx = k.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(k, format!("NTFY {tx} *@[127.0.0.1] MGCP 0.1\r\nO:\r\n"));
    h.answer(&k, 200);
    assert!(h.took_output(&Output::KeepAlive { code: Some(200) }));
    assert_eq!(
        Output::KeepAlive { code: Some(200) }.to_json().as_deref(),
        Some(r#"{"event":"keepalive","code":200}"#)
    );
    assert_eq!(h.gw.stats().keepalives, 1);

    // A command answered 4 s later (the answer goes to the call agent): the next keep-alive
    // is 10 s after that answer, not after the last keep-alive.
    h.advance(ms(4_000));
    assert_eq!(h.code(&rqnt_v("0.1", "B1", "R: L/hd(N)\r\n")), 200);
    h.advance(ms(9_999));
    assert_eq!(keepalive_at(&h), None, "put off by the answer");
    h.advance(ms(1));
    let i = keepalive_at(&h).expect("the second keep-alive");
    let k = h.control.remove(i);

    // Unanswered: retransmitted, and no second one while it waits (past the next interval),
    // until it is given up and reported.
    let mut waited = Duration::ZERO;
    while !h.outputs.contains(&Output::KeepAlive { code: None }) {
        assert_eq!(h.gw.stats().keepalives, 2, "one at a time");
        assert!(h.control.iter().all(|m| *m == k), "only retransmissions");
        assert!(waited < ms(30_000), "never given up");
        h.advance(ms(100));
        waited += ms(100);
    }
    assert!(waited > ms(10_000), "given up after {waited:?}");
    assert!(h.took_output(&Output::KeepAlive { code: None }));
    h.control.clear();
    h.advance(ms(10_000));
    assert!(keepalive_at(&h).is_some(), "sent again after the silence");
    assert!(h.gw.stats().keepalives >= 3);
}

/// `--keepalive 0` turns them off, and the other profiles send none unless asked; asked, they
/// write their own version.
#[test]
fn keepalives_are_cisco_only_unless_configured() {
    for (profile, keepalive) in [
        (Profile::Cisco, Some(Duration::ZERO)),
        (Profile::Rfc3435, None),
        (Profile::Ncs, None),
    ] {
        let mut h = with_profile(profile, keepalive);
        h.advance(ms(60_000));
        assert_eq!(keepalive_at(&h), None, "{profile}");
        assert_eq!(h.gw.stats().keepalives, 0, "{profile}");
    }
    let mut h = with_profile(Profile::Ncs, Some(ms(1_000)));
    h.advance(ms(1_000));
    let k = &h.control[keepalive_at(&h).expect("asked for")];
    assert!(head(k).ends_with(" *@[127.0.0.1] MGCP 1.0 NCS 1.0"), "{k}");
}

/// PacketCable NCS 1.0 (ITU-T J.162 §7.2, the command header) writes its profile after the
/// version, `MGCP 1.0 NCS 1.0`, on every command, and an MTA answers a command in a version it
/// does not support with 528, "incompatible protocol version" (RFC 3435 §2.4, whose codes J.162
/// §6.5 keeps): plain `MGCP 1.0`, RFC 2705's `0.1`, another profile.
#[test]
fn ncs_writes_and_requires_the_ncs_1_0_profile() {
    let mut config = Config::new(1, CA.parse().unwrap()).unwrap();
    config.profile(Profile::Ncs);
    let mut gw = Gateway::new(config, epoch());
    let rsip = String::from_utf8(gw.poll_transmit().unwrap().contents).unwrap();
    assert!(
        head(&rsip).ends_with(" *@[127.0.0.1] MGCP 1.0 NCS 1.0"),
        "{rsip}"
    );

    let mut h = with_profile(Profile::Ncs, None);
    for version in ["1.0", "0.1", "1.0 TGCP 1.0", "1.0 NCS 1.5"] {
        let r = h.send(&rqnt_v(version, "C1", "R: L/hd(N)\r\n"));
        assert!(
            r.starts_with(&format!("528 {} ", h.next_tx)),
            "{version}: {r:?}"
        );
    }
    assert_eq!(h.code(&rqnt_v("1.0 NCS 1.0", "C2", "R: L/hd(N)\r\n")), 200);
    assert_eq!(h.code(&rqnt_v("1.0 ncs 1.0", "C3", "R: L/hd(N)\r\n")), 200);
    h.line(LineCommand::OffHook(1));
    let n = h.take("NTFY");
    assert!(
        head(&n).ends_with(" aaln/1@[127.0.0.1] MGCP 1.0 NCS 1.0"),
        "{n}"
    );
    let Message::Command(c) = &wire::parse(n.as_bytes()).unwrap()[0] else {
        panic!("{n}")
    };
    assert!(c.version.is_ncs());
    h.answer(&n, 200);
}

/// NCS has a single event package for an MTA's lines, `L` (J.162 Annex A.1), which holds the
/// DTMF digits: a call agent asks `L/[0-9#*T]` (or `[0-9#*T]`, `L` being the default package)
/// and gets `O: L/1,L/2`. RFC 3660's `D` and `G` do not exist there: 518, "unsupported or
/// unknown package" (RFC 3435 §2.4, J.162 §6.5). Its lines are still `aaln/N`.
#[test]
fn ncs_digits_are_line_package_events_and_other_packages_are_refused() {
    let mut h = with_profile(Profile::Ncs, None);
    h.line(LineCommand::OffHook(1));
    let v = "1.0 NCS 1.0";
    for (rest, code) in [
        ("R: L/hu(N), D/[0-9#*T](D)\r\nD: (xx)\r\n", 518),
        ("R: L/hu(N)\r\nS: G/rt\r\n", 518),
        ("R: L/hu(N)\r\nS: D/5\r\n", 518),
        ("R: L/hu(N), L/hd(E(R(D/[0-9](N))))\r\n", 518),
    ] {
        assert_eq!(h.code(&rqnt_v(v, "D0", rest)), code, "{rest}");
    }
    let req = "R: L/hu(N), L/[0-9#*T](D)\r\nD: (xx|#)\r\nS: L/dl\r\n";
    assert_eq!(h.code(&rqnt_v(v, "D1", req)), 200);
    h.line(LineCommand::Digits(1, "12".into()));
    assert_eq!(h.notified("D1"), "L/1,L/2");
    assert!(h.took_output(&Output::Notify {
        line: 1,
        request: "D1".into(),
        observed: vec!["L/1".into(), "L/2".into()],
    }));
    let req = "R: L/hu(N), [0-9#*T](D)\r\nD: (xx|#)\r\n";
    assert_eq!(h.code(&rqnt_v(v, "D2", req)), 200);
    h.line(LineCommand::Digits(1, "#".into()));
    assert_eq!(h.notified("D2"), "L/#");
    let r = h.send("AUEP {tx} aaln/1@[127.0.0.1] MGCP 1.0 NCS 1.0\r\nF: A,I\r\n");
    assert!(r.contains(", v:L, "), "only the line package: {r:?}");
    assert!(!r.contains("\nI:"), "{r:?}");
}

/// The default profile, RFC 3435, did not parse RFC 2705's `MGCP 0.1` before the parser learnt
/// it: such a command is still dropped as malformed and answered 528 with the standard text,
/// byte for byte, and reported as no command.
#[test]
fn rfc3435_still_refuses_mgcp_0_1_as_malformed() {
    let mut h = Harness::new(1);
    let r = h.send(&rqnt_v("0.1", "E1", "R: L/hd(N)\r\nS: L/rg\r\n"));
    assert_eq!(
        r,
        format!("528 {} Incompatible protocol version\r\n", h.next_tx)
    );
    assert_eq!(h.gw.stats().malformed, 1);
    assert_eq!(h.gw.stats().commands, 0);
    assert_eq!(h.gw.is_ringing(1), Some(false), "not executed");
    assert!(h.outputs.is_empty(), "{:?}", h.outputs);
    // A profile name is ignored, as it always was.
    assert_eq!(h.code(&rqnt_v("1.0 NCS 1.0", "E2", "R: L/hd(N)\r\n")), 200);
}
