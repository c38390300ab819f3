//! Spec vectors (RFC 3435 Appendix F example command encodings, RFC 3660 package examples), checked
//! field by field and round-tripped; bad input, each a specific error.

use super::*;

/// Parses a datagram that must hold exactly one message.
fn one(bytes: &[u8]) -> Message<'_> {
    let mut messages =
        parse(bytes).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)));
    assert_eq!(messages.len(), 1);
    messages.remove(0)
}

fn command(bytes: &[u8]) -> Command<'_> {
    match one(bytes) {
        Message::Command(c) => c,
        Message::Response(r) => panic!("expected a command, got {r:?}"),
    }
}

fn response(bytes: &[u8]) -> Response<'_> {
    match one(bytes) {
        Message::Response(r) => r,
        Message::Command(c) => panic!("expected a response, got {c:?}"),
    }
}

/// `parse(encode(m)) == [m]`, and encoding is stable.
fn round_trip(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    let again = parse(&out).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&out)));
    assert_eq!(
        again,
        vec![message.clone()],
        "{}",
        String::from_utf8_lossy(&out)
    );
    let mut twice = Vec::new();
    again[0].encode(&mut twice);
    assert_eq!(out, twice);
    out
}

fn name<'a>(package: &'a str, event: &'a str) -> EventName<'a> {
    EventName {
        package: Some(package),
        event,
        connection: None,
    }
}

fn sig<'a>(package: &'a str, event: &'a str) -> EventRef<'a> {
    EventRef {
        name: name(package, event),
        params: None,
    }
}

const ENDPOINT: EndpointName<'static> = EndpointName {
    local: "aaln/1",
    domain: "rgw-2567.whatever.net",
};

// RFC 3435 Appendix F.1: NotificationRequest that rings the phone and looks for off-hook.
#[test]
fn f1_rqnt_ring() {
    let bytes = b"RQNT 1201 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
                  N: ca@ca1.whatever.net:5678\r\n\
                  X: 0123456789AC\r\n\
                  R: L/hd(N)\r\n\
                  S: L/rg\r\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Rqnt);
    assert_eq!(c.transaction, TransactionId(1201));
    assert_eq!(c.endpoint, ENDPOINT);
    assert_eq!(c.version, Version::V1_0);
    assert_eq!(
        c.params,
        vec![
            Param::NotifiedEntity("ca@ca1.whatever.net:5678"),
            Param::RequestIdentifier("0123456789AC"),
            Param::RequestedEvents(vec![RequestedEvent {
                name: name("L", "hd"),
                actions: vec![Action::Notify],
                params: None,
            }]),
            Param::SignalRequests(vec![sig("L", "rg")]),
        ]
    );
    assert_eq!(c.sdp, None);
    // Canonical form: the input was already canonical, so the bytes come back unchanged.
    assert_eq!(round_trip(&Message::Command(c)), bytes);
    let ok = response(b"200 1201 OK\r\n");
    assert_eq!(ok.code, ReturnCode::OK);
    assert_eq!(ok.comment, "OK");
    assert_eq!(ok.package, None);
    round_trip(&Message::Response(ok));
}

// RFC 3435 Appendix F.1: accumulate off-hook, then dial tone and digits per the digit map,
// with an embedded request; LF line ends and an empty S: (stop all signals).
#[test]
fn f1_rqnt_embedded_digit_map() {
    let bytes = b"RQNT 1202 aaln/1@rgw-2567.whatever.net MGCP 1.0\n\
                  N: ca@ca1.whatever.net:5678\n\
                  X: 0123456789AC\n\
                  R: L/hd(A, E(S(L/dl),R(L/oc,L/hu,D/[0-9#*T](D))))\n\
                  D: (0T|00T|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)\n\
                  S:\n\
                  Q: process\n\
                  T: G/ft\n";
    let c = command(bytes);
    assert_eq!(
        c.params[2],
        Param::RequestedEvents(vec![RequestedEvent {
            name: name("L", "hd"),
            actions: vec![
                Action::Accumulate,
                Action::Embedded("S(L/dl),R(L/oc,L/hu,D/[0-9#*T](D))"),
            ],
            params: None,
        }])
    );
    assert_eq!(
        c.params[3],
        Param::DigitMap("(0T|00T|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)")
    );
    assert_eq!(c.params[4], Param::SignalRequests(vec![]));
    assert_eq!(c.params[5], Param::QuarantineHandling("process"));
    assert_eq!(
        c.params[6],
        Param::DetectEvents(vec![EventRef {
            name: name("G", "ft"),
            params: None
        }])
    );
    let out = round_trip(&Message::Command(c));
    assert!(
        out.windows(6).any(|w| w == b"S:\r\nQ:"),
        "empty S: has no trailing space"
    );
}

// RFC 3435 Appendix F.2: Notify with the dialled digits.
#[test]
fn f2_ntfy() {
    let bytes = b"NTFY 2002 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
                  N: ca@ca1.whatever.net:5678\r\n\
                  X: 0123456789AC\r\n\
                  O: L/hd,D/9,D/1,D/2,D/0,D/1,D/8,D/2,D/9,D/4,D/2,D/6,D/6\r\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Ntfy);
    let Param::ObservedEvents(events) = &c.params[2] else {
        panic!("{:?}", c.params[2]);
    };
    assert_eq!(events.len(), 13);
    assert_eq!(events[0], sig("L", "hd"));
    let digits: String = events[1..].iter().map(|e| e.name.event).collect();
    assert_eq!(digits, "912018294266");
    assert!(events[1..].iter().all(|e| e.name.package == Some("D")));
    assert_eq!(round_trip(&Message::Command(c)), bytes);
}

const SDP_1: &[u8] = b"v=0\r\n\
    o=- 25678 753849 IN IP4 128.96.41.1\r\n\
    s=-\r\n\
    c=IN IP4 128.96.41.1\r\n\
    t=0 0\r\n\
    m=audio 3456 RTP/AVP 0\r\n";

// RFC 3435 Appendix F.3: CreateConnection and its answer with the local descriptor.
#[test]
fn f3_crcx_and_200_with_sdp() {
    let bytes = b"CRCX 1204 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
                  C: A3C47F21456789F0\r\n\
                  L: p:10, a:PCMU\r\n\
                  M: recvonly\r\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Crcx);
    assert_eq!(
        c.params,
        vec![
            Param::CallId("A3C47F21456789F0"),
            Param::LocalConnectionOptions(vec![
                Pair {
                    key: "p",
                    value: "10"
                },
                Pair {
                    key: "a",
                    value: "PCMU"
                },
            ]),
            Param::ConnectionMode(Mode::RecvOnly),
        ]
    );
    assert_eq!(round_trip(&Message::Command(c)), bytes);

    let mut bytes = b"200 1204 OK\r\nI: FDE234C8\r\n\r\n".to_vec();
    bytes.extend_from_slice(SDP_1);
    let r = response(&bytes);
    assert_eq!(r.code, ReturnCode::OK);
    assert_eq!(r.params, vec![Param::ConnectionId("FDE234C8")]);
    let sdp = r.sdp.as_ref().unwrap();
    assert_eq!(sdp.lines.len(), 6);
    assert_eq!(
        sdp.lines[1],
        SdpLine {
            kind: b'o',
            value: "- 25678 753849 IN IP4 128.96.41.1"
        }
    );
    let audio = AudioDescription::from_sdp(sdp).unwrap();
    assert_eq!(audio.address, "128.96.41.1:3456".parse().unwrap());
    assert_eq!(audio.payload_types, vec![0]);
    assert_eq!(audio.ptime, None);
    assert_eq!(round_trip(&Message::Response(r)), bytes);
}

// RFC 3435 Appendix F.3: CreateConnection with a remote descriptor and an encapsulated
// notification request.
#[test]
fn f3_crcx_with_remote_sdp_and_rqnt() {
    let mut bytes = b"CRCX 1205 aaln/1@rgw-2569.whatever.net MGCP 1.0\r\n\
                      C: A3C47F21456789F0\r\n\
                      L: p:10, a:PCMU\r\n\
                      M: sendrecv\r\n\
                      X: 0123456789AD\r\n\
                      R: L/hd\r\n\
                      S: L/rg\r\n\r\n"
        .to_vec();
    bytes.extend_from_slice(SDP_1);
    let c = command(&bytes);
    assert_eq!(c.endpoint.domain, "rgw-2569.whatever.net");
    assert_eq!(c.params[2], Param::ConnectionMode(Mode::SendRecv));
    assert_eq!(
        c.params[4],
        Param::RequestedEvents(vec![RequestedEvent {
            name: name("L", "hd"),
            actions: vec![],
            params: None,
        }])
    );
    assert_eq!(c.sdp.as_ref().map(|s| s.lines.len()), Some(6));
    assert_eq!(round_trip(&Message::Command(c)), bytes);
}

// RFC 3435 Appendix F.4 and E.5: ModifyConnection, DeleteConnection and the 250 with stats,
// and a gateway-initiated DeleteConnection with a reason code.
#[test]
fn f4_f5_mdcx_dlcx() {
    let bytes = b"MDCX 1209 aaln/1@rgw-2567.whatever.net MGCP 1.0\n\
                  C: A3C47F21456789F0\n\
                  I: FDE234C8\n\
                  M: sendrecv\n\
                  \n\
                  v=0\n\
                  o=- 4723891 7428910 IN IP4 128.96.63.25\n\
                  s=-\n\
                  c=IN IP4 128.96.63.25\n\
                  t=0 0\n\
                  m=audio 1296 RTP/AVP 0\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Mdcx);
    assert_eq!(c.params[1], Param::ConnectionId("FDE234C8"));
    let audio = AudioDescription::from_sdp(c.sdp.as_ref().unwrap()).unwrap();
    assert_eq!(audio.address, "128.96.63.25:1296".parse().unwrap());
    round_trip(&Message::Command(c));

    let c = command(
        b"DLCX 1210 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
          C: A3C47F21456789F0\r\n\
          I: FDE234C8\r\n",
    );
    assert_eq!(c.verb, Verb::Dlcx);
    round_trip(&Message::Command(c));

    let r =
        response(b"250 1210 OK\r\nP: PS=1245, OS=62345, PR=780, OR=45123, PL=10, JI=27, LA=48\r\n");
    assert_eq!(r.code, ReturnCode::DELETED);
    let Param::ConnectionParameters(stats) = &r.params[0] else {
        panic!("{:?}", r.params);
    };
    assert_eq!(stats.len(), 7);
    assert_eq!(
        stats[0],
        Pair {
            key: "PS",
            value: "1245"
        }
    );
    assert_eq!(
        stats[6],
        Pair {
            key: "LA",
            value: "48"
        }
    );
    round_trip(&Message::Response(r));

    let c = command(
        b"DLCX 5210 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
          C: A3C47F21456789F0\r\n\
          I: FDE234C8\r\n\
          E: 900 Hardware error\r\n\
          P: PS=1245, OS=62345, PR=780, OR=45123, PL=10, JI=27, LA=48\r\n",
    );
    assert_eq!(
        c.params[2],
        Param::ReasonCode(Reason {
            code: 900,
            text: "Hardware error"
        })
    );
    round_trip(&Message::Command(c));
}

// RFC 3435 Appendix F.6: AuditEndpoint with F:, and its answer with repeated A: lines, an empty
// S:, event states; then a wildcard audit answered with Z: lines and no commentary.
#[test]
fn f6_auep() {
    let c =
        command(b"AUEP 1201 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\nF: A, R,D,S,X,N,I,T,O,ES\r\n");
    assert_eq!(
        c.params,
        vec![Param::RequestedInfo(vec![
            "A", "R", "D", "S", "X", "N", "I", "T", "O", "ES"
        ])]
    );
    round_trip(&Message::Command(c));

    let r = response(
        b"200 1201 OK\r\n\
          A: a:PCMU;G728, p:10-100, e:on, s:off, v:L;S, m:sendonly;recvonly;sendrecv;inactive\r\n\
          A: a:G729, p:30-90, e:on, s:on, v:L;S, m:sendonly;recvonly;sendrecv;inactive;confrnce\r\n\
          R: L/hu,L/oc,D/[0-9#*T]\r\n\
          D: (0T|00T|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)\r\n\
          S:\r\n\
          X: 0123456789AC\r\n\
          N: [128.96.41.12]\r\n\
          I: 32F345E2, 32F345E3\r\n\
          T: D/[0-9#*T]\r\n\
          O: L/hd,D/9,D/1,D/2\r\n\
          ES: L/hd\r\n",
    );
    assert_eq!(r.params.len(), 11);
    assert!(matches!(r.params[0], Param::Capabilities(a) if a.starts_with("a:PCMU;G728")));
    let Param::RequestedEvents(events) = &r.params[2] else {
        panic!()
    };
    assert_eq!(events[2].name, name("D", "[0-9#*T]"));
    assert_eq!(r.params[7], Param::ConnectionId("32F345E2, 32F345E3"));
    assert_eq!(r.params[8], Param::DetectEvents(vec![sig("D", "[0-9#*T]")]));
    assert_eq!(r.params[10], Param::EventStates(vec![sig("L", "hd")]));
    round_trip(&Message::Response(r));

    let c = command(b"AUEP 1200 *@rgw-2567.whatever.net MGCP 1.0\r\n");
    assert!(c.endpoint.is_wildcard());
    round_trip(&Message::Command(c));
    let r = response(
        b"200 1200\r\nZ: aaln/1@rgw-2567.whatever.net\r\nZ: aaln/2@rgw-2567.whatever.net\r\n",
    );
    assert_eq!(r.comment, "");
    assert_eq!(
        r.params[1],
        Param::SpecificEndpointId(EndpointName {
            local: "aaln/2",
            domain: "rgw-2567.whatever.net"
        })
    );
    round_trip(&Message::Response(r));
}

// RFC 3435 Appendix F.7: AuditConnection; the answer carries the local descriptor and, after an
// empty line, the remote one.
#[test]
fn f7_aucx_two_descriptors() {
    let c = command(
        b"AUCX 2003 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\nI: 32F345E2\r\nF: C,N,L,M,LC,P\r\n",
    );
    assert_eq!(c.verb, Verb::Aucx);
    round_trip(&Message::Command(c));
    let bytes = b"200 2003 OK\r\n\
                  C: A3C47F21456789F0\r\n\
                  N: [128.96.41.12]\r\n\
                  L: p:10, a:PCMU\r\n\
                  M: sendrecv\r\n\
                  P: PS=395, OS=22850, PR=615, OR=30937, PL=7, JI=26, LA=47\r\n\
                  \r\n\
                  v=0\r\n\
                  o=- 4723891 7428910 IN IP4 128.96.63.25\r\n\
                  s=-\r\n\
                  c=IN IP4 128.96.63.25\r\n\
                  t=0 0\r\n\
                  m=audio 1296 RTP/AVP 96\r\n\
                  a=rtpmap:96 G726-32/8000\r\n\
                  \r\n\
                  v=0\r\n\
                  o=- 25678 753849 IN IP4 128.96.41.1\r\n\
                  s=-\r\n\
                  c=IN IP4 128.96.41.1\r\n\
                  t=0 0\r\n\
                  m=audio 3456 RTP/AVP 96\r\n\
                  a=rtpmap:96 G726-32/8000\r\n";
    let r = response(bytes);
    assert_eq!(r.sdp.as_ref().unwrap().values(b'v').count(), 2);
    assert_eq!(round_trip(&Message::Response(r)), bytes);
}

// RFC 3435 Appendix F.8: RestartInProgress.
#[test]
fn f8_rsip() {
    let bytes = b"RSIP 1200 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\nRM: graceful\r\nRD: 300\r\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Rsip);
    assert_eq!(
        c.params,
        vec![
            Param::RestartMethod(RestartMethod::Graceful),
            Param::RestartDelay(300)
        ]
    );
    assert_eq!(round_trip(&Message::Command(c)), bytes);
}

// RFC 3435 §3.5.5 and §3.5.6: piggy-backed messages, and a response acknowledgement with
// ranges.
#[test]
fn piggyback_and_response_ack() {
    let bytes = b"200 2005 OK\r\n\
                  .\r\n\
                  DLCX 1244 aaln/2@rgw-2567.whatever.net MGCP 1.0\r\n\
                  C: A3C47F21456789F0\r\n\
                  I: FDE234C8\r\n\
                  .\r\n\
                  RQNT 1245 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n\
                  X: 0123456789AE\r\n\
                  R: L/hu\r\n\
                  S:\r\n";
    let messages = parse(bytes).unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].transaction(), TransactionId(2005));
    assert_eq!(messages[2].transaction(), TransactionId(1245));
    let mut out = Vec::new();
    encode_piggybacked(&messages, &mut out);
    assert_eq!(out, bytes);

    let r = response(b"000 1244\r\nK: 6234-6255, 6257, 19030-19044\r\n");
    assert_eq!(r.code, ReturnCode::ACK);
    assert_eq!(r.transaction, TransactionId(1244));
    let range = |a, b| AckRange {
        first: TransactionId(a),
        last: TransactionId(b),
    };
    assert_eq!(
        r.params,
        vec![Param::ResponseAck(vec![
            range(6234, 6255),
            range(6257, 6257),
            range(19030, 19044)
        ])]
    );
    round_trip(&Message::Response(r));
    // A command acknowledging earlier responses, with an empty K: too.
    let c = command(b"NTFY 9 aaln/1@gw MGCP 1.0\r\nK: 7\r\nK:\r\nO: L/hu\r\n");
    assert_eq!(c.params[0], Param::ResponseAck(vec![range(7, 7)]));
    assert_eq!(c.params[1], Param::ResponseAck(vec![]));
    round_trip(&Message::Command(c));
}

// RFC 3660 §2.11 (line package): caller id with quoted strings holding commas and parentheses,
// ringing with a parameter, and extension/vendor parameters.
#[test]
fn rfc3660_signal_parameters_and_extensions() {
    let bytes = b"rqnt 77 aaln/3@[192.0.2.9] MGCP 1.0 NCS 1.0\r\n\
                  x:  1A \r\n\
                  s: L/ci(10/14/17/26,\"555 1212\",\"Smith, J (sales)\"),L/rg(to=6000),L/vmwi(+)\r\n\
                  r: L/hd(N),L/hu(N),L/oc@FDE234C8(N),D/[0-9#*T](D)(mode=1),*/all@*(N)\r\n\
                  X-Vendor-Tag:  some value: with colon \r\n\
                  dq/qi: 42\r\n\
                  T: L/hd@$\r\n\
                  MD: 4096\r\n\
                  PL: L:1,G:1,D:0\r\n\
                  B: e:mu\r\n\
                  Z2: ds/ds1-1/1@tgw\r\n\
                  I2: 99\r\n\
                  RM: X-Reboot\r\n\
                  M: X/hold\r\n\
                  RD: 0\r\n";
    let c = command(bytes);
    assert_eq!(c.verb, Verb::Rqnt);
    assert_eq!(c.endpoint.domain, "[192.0.2.9]");
    assert_eq!(c.version.profile, Some("NCS 1.0"));
    assert_eq!(c.params[0], Param::RequestIdentifier("1A"));
    assert_eq!(
        c.params[1],
        Param::SignalRequests(vec![
            EventRef {
                name: name("L", "ci"),
                params: Some("10/14/17/26,\"555 1212\",\"Smith, J (sales)\""),
            },
            EventRef {
                name: name("L", "rg"),
                params: Some("to=6000"),
            },
            EventRef {
                name: name("L", "vmwi"),
                params: Some("+"),
            },
        ])
    );
    let Param::RequestedEvents(events) = &c.params[2] else {
        panic!()
    };
    assert_eq!(events.len(), 5);
    assert_eq!(events[2].name.connection, Some("FDE234C8"));
    assert_eq!(events[3].actions, vec![Action::AccumulateDigitMap]);
    assert_eq!(events[3].params, Some("mode=1"));
    assert_eq!(
        events[4].name,
        EventName {
            package: Some("*"),
            event: "all",
            connection: Some("*")
        }
    );
    assert_eq!(
        c.params[3],
        Param::Other("X-Vendor-Tag", "some value: with colon")
    );
    assert_eq!(c.params[4], Param::Other("dq/qi", "42"));
    assert_eq!(
        c.params[5],
        Param::DetectEvents(vec![EventRef {
            name: EventName {
                package: Some("L"),
                event: "hd",
                connection: Some("$")
            },
            params: None
        }])
    );
    assert_eq!(c.params[6], Param::MaxDatagram(4096));
    assert_eq!(c.params[7], Param::PackageList("L:1,G:1,D:0"));
    assert_eq!(c.params[8], Param::BearerInformation("e:mu"));
    assert!(matches!(c.params[9], Param::SecondEndpointId(e) if e.local == "ds/ds1-1/1"));
    assert_eq!(c.params[10], Param::SecondConnectionId("99"));
    assert_eq!(
        c.params[11],
        Param::RestartMethod(RestartMethod::Other("X-Reboot"))
    );
    assert_eq!(c.params[12], Param::ConnectionMode(Mode::Other("X/hold")));
    assert_eq!(c.params[13], Param::RestartDelay(0));
    let out = round_trip(&Message::Command(c));
    assert!(out.starts_with(b"RQNT 77 aaln/3@[192.0.2.9] MGCP 1.0 NCS 1.0\r\nX: 1A\r\n"));
}

// RFC 3435 §2.4 / RFC 3661: package-specific codes carry `/package` after the id.
#[test]
fn response_with_package_and_reason_phrases() {
    let r = response(b"801 42 /L no such tone\r\n");
    assert_eq!(r.package, Some("L"));
    assert_eq!(r.comment, "no such tone");
    round_trip(&Message::Response(r));
    assert_eq!(ReturnCode::OK.reason(), "OK");
    assert_eq!(
        ReturnCode::INCOMPATIBLE_VERSION.reason(),
        "Incompatible protocol version"
    );
    assert_eq!(
        ReturnCode::INVALID_OPTIONS.reason(),
        "Invalid or unsupported LocalConnectionOptions"
    );
    for code in [0, 100, 101, 200, 250]
        .into_iter()
        .chain(400..=407)
        .chain(409..=410)
        .chain(500..=541)
    {
        assert!(!ReturnCode(code).reason().is_empty(), "{code}");
    }
    assert_eq!(ReturnCode(299).reason(), "");
}

// RFC 3660 line package forms: caller id as the brief writes it (an unquoted name), operation
// complete naming the signal, hook flash with swap, and a wildcard connection on an event.
#[test]
fn rfc3660_line_package_forms() {
    let c = command(
        b"RQNT 1203 aaln/1@rgw MGCP 1.0\r\n\
          X: 0123456789AF\r\n\
          R: L/hu(N), L/hf(S,N), L/oc(N), D/[0-9#*T](D), L/hd@*(N)\r\n\
          S: L/rg, L/ci(10/14/17/26,\"555 1212\",CableLabs)\r\n",
    );
    let Param::RequestedEvents(r) = &c.params[1] else {
        panic!()
    };
    assert_eq!(r[1].actions, vec![Action::Swap, Action::Notify]);
    assert_eq!(r[4].name.connection, Some("*"));
    assert_eq!(r[4].name.to_string(), "L/hd@*");
    assert_eq!(
        c.params[2],
        Param::SignalRequests(vec![
            sig("L", "rg"),
            EventRef {
                name: name("L", "ci"),
                params: Some("10/14/17/26,\"555 1212\",CableLabs"),
            },
        ])
    );
    let out = round_trip(&Message::Command(c));
    assert!(
        out.windows(16).any(|w| w == b"R: L/hu(N),L/hf("),
        "lists are written without spaces"
    );

    let c = command(b"NTFY 3001 aaln/1@rgw MGCP 1.0\r\nX: 0123456789AF\r\nO: L/oc(L/rg),L/hf\r\n");
    assert_eq!(
        c.params[1],
        Param::ObservedEvents(vec![
            EventRef {
                name: name("L", "oc"),
                params: Some("L/rg"),
            },
            sig("L", "hf"),
        ])
    );
    if let Param::ObservedEvents(o) = &c.params[1] {
        assert_eq!(o[0].to_string(), "L/oc(L/rg)");
    }
    round_trip(&Message::Command(c));
}

// A media gateway of the osmo-mgw kind: wildcard endpoint in the CRCX, the chosen endpoint in
// Z:, a vendor parameter in the DLCX answer, CRLF everywhere.
#[test]
fn rtpbridge_wildcard_exchange() {
    let c = command(
        b"CRCX 1 rtpbridge/*@mgw MGCP 1.0\r\nC: 1234\r\nL: p:20, a:PCMU\r\nM: recvonly\r\n",
    );
    assert!(c.endpoint.is_wildcard());
    round_trip(&Message::Command(c));
    let r = response(
        b"200 1 OK\r\nI: 1\r\nZ: rtpbridge/1@mgw\r\n\r\nv=0\r\no=- 1 23 IN IP4 127.0.0.1\r\n\
          s=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16002 RTP/AVP 0\r\n\
          a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n",
    );
    assert_eq!(
        r.params[1],
        Param::SpecificEndpointId(EndpointName {
            local: "rtpbridge/1",
            domain: "mgw"
        })
    );
    let audio = AudioDescription::from_sdp(r.sdp.as_ref().unwrap()).unwrap();
    assert_eq!(audio.address, "127.0.0.1:16002".parse().unwrap());
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.telephone_event, None);
    round_trip(&Message::Response(r));
    let r = response(
        b"250 3 OK\r\nP: PS=0, OS=0, PR=0, OR=0, PL=0, JI=0\r\nX-Osmo-CP: EC TI=0, TO=0\r\n",
    );
    assert_eq!(r.params[1], Param::Other("X-Osmo-CP", "EC TI=0, TO=0"));
    round_trip(&Message::Response(r));
}

mod bad_input;
mod boundaries;
mod field;
