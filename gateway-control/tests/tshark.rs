//! Wire check against an independent decoder: a realistic call-agent/gateway exchange covering
//! every verb and the usual responses is encoded with our MGCP encoder, written to a pcap with
//! our writer, and read back with Wireshark's dissector (`tshark`). Every field tshark reports
//! must equal what we encoded, and tshark must flag nothing as malformed or suspicious.
//!
//! tshark is required: without it the test fails (CI installs it).

mod support;

use std::net::SocketAddrV4;
use std::process::Command as Process;
use std::time::Duration;

use gateway_control::mgcp::wire::{
    AckRange, Action, AudioDescription, Command, EndpointName, EventName, EventRef, Message, Mode,
    Pair, Param, Reason, RequestedEvent, Response, RestartMethod, ReturnCode, Sdp, TransactionId,
    Verb, Version, encode_piggybacked, parse,
};
use gateway_control::pcap::PcapWriter;

const GATEWAY: &str = "192.0.2.2:2427";
const AGENT: &str = "192.0.2.1:2727";

fn addr(s: &str) -> SocketAddrV4 {
    s.parse().expect("address")
}

fn line(n: &'static str) -> EndpointName<'static> {
    EndpointName {
        local: n,
        domain: "[192.0.2.2]",
    }
}

fn ev(package: &'static str, event: &'static str) -> EventName<'static> {
    EventName {
        package: Some(package),
        event,
        connection: None,
    }
}

fn sig(
    package: &'static str,
    event: &'static str,
    params: Option<&'static str>,
) -> EventRef<'static> {
    EventRef {
        name: ev(package, event),
        params,
    }
}

fn cmd<'a>(
    verb: Verb,
    tx: u32,
    endpoint: EndpointName<'a>,
    params: Vec<Param<'a>>,
    sdp: Option<Sdp<'a>>,
) -> Message<'a> {
    Message::Command(Command {
        verb,
        transaction: TransactionId(tx),
        endpoint,
        version: Version::V1_0,
        params,
        sdp,
    })
}

/// `m`, a command, written in `version` instead.
fn in_version<'a>(mut m: Message<'a>, version: Version<'a>) -> Message<'a> {
    if let Message::Command(c) = &mut m {
        c.version = version;
    }
    m
}

fn rsp<'a>(code: ReturnCode, tx: u32, params: Vec<Param<'a>>, sdp: Option<Sdp<'a>>) -> Message<'a> {
    Message::Response(Response {
        code,
        transaction: TransactionId(tx),
        package: None,
        comment: code.reason(),
        params,
        sdp,
    })
}

/// Where a datagram goes.
#[derive(Clone, Copy)]
enum Dir {
    ToAgent,
    ToGateway,
}

/// The tshark field carrying each parameter's value.
fn field_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "K" => "mgcp.param.rspack",
        "B" => "mgcp.param.bearerinfo",
        "C" => "mgcp.param.callid",
        "I" => "mgcp.param.connectionid",
        "N" => "mgcp.param.notifiedentity",
        "X" => "mgcp.param.requestid",
        "L" => "mgcp.param.localconnectionoptions",
        "M" => "mgcp.param.connectionmode",
        "R" => "mgcp.param.reqevents",
        "S" => "mgcp.param.signalreq",
        "D" => "mgcp.param.digitmap",
        "O" => "mgcp.param.observedevents",
        "P" => "mgcp.param.connectionparam",
        "E" => "mgcp.param.reasoncode",
        "ES" => "mgcp.param.eventstates",
        "Z" => "mgcp.param.specificendpointid",
        "F" => "mgcp.param.reqinfo",
        "Q" => "mgcp.param.quarantinehandling",
        "T" => "mgcp.param.detectedevents",
        "RM" => "mgcp.param.restartmethod",
        "RD" => "mgcp.param.restartdelay",
        "A" => "mgcp.param.capabilities",
        "MD" => "mgcp.param.maxmgcpdatagram",
        "PL" => "mgcp.param.packagelist",
        _ => return None,
    })
}

const FIELDS: &[&str] = &[
    "mgcp.req.verb",
    "mgcp.transid",
    "mgcp.req.endpoint",
    "mgcp.version",
    "mgcp.rsp.rspcode",
    "mgcp.rsp.rspstring",
    "mgcp.param.rspack",
    "mgcp.param.bearerinfo",
    "mgcp.param.callid",
    "mgcp.param.connectionid",
    "mgcp.param.notifiedentity",
    "mgcp.param.requestid",
    "mgcp.param.localconnectionoptions",
    "mgcp.param.connectionmode",
    "mgcp.param.reqevents",
    "mgcp.param.signalreq",
    "mgcp.param.digitmap",
    "mgcp.param.observedevents",
    "mgcp.param.connectionparam",
    "mgcp.param.reasoncode",
    "mgcp.param.eventstates",
    "mgcp.param.specificendpointid",
    "mgcp.param.reqinfo",
    "mgcp.param.quarantinehandling",
    "mgcp.param.detectedevents",
    "mgcp.param.restartmethod",
    "mgcp.param.restartdelay",
    "mgcp.param.capabilities",
    "mgcp.param.maxmgcpdatagram",
    "mgcp.param.packagelist",
    "mgcp.param.localconnectionoptions.p",
    "mgcp.param.localconnectionoptions.a",
    "mgcp.param.connectionparam.ps",
    "mgcp.param.connectionparam.or",
    "mgcp.param.connectionparam.la",
    "sdp.connection_info.address",
    "sdp.media.port",
];

/// What tshark should report for one datagram, field by field (occurrences joined with `~`).
fn expected(messages: &[Message<'_>]) -> Vec<String> {
    let mut values: Vec<Vec<String>> = vec![Vec::new(); FIELDS.len()];
    let mut put = |field: &str, value: String| {
        let i = FIELDS
            .iter()
            .position(|f| *f == field)
            .expect("known field");
        values[i].push(value);
    };
    for m in messages {
        let sdp = match m {
            Message::Command(c) => {
                put("mgcp.req.verb", c.verb.as_str().to_owned());
                put("mgcp.transid", c.transaction.to_string());
                put("mgcp.req.endpoint", c.endpoint.to_string());
                let v = c.version;
                let profile = v.profile.map(|p| format!(" {p}")).unwrap_or_default();
                put(
                    "mgcp.version",
                    format!("MGCP {}.{}{profile}", v.major, v.minor),
                );
                (&c.params, &c.sdp)
            }
            Message::Response(r) => {
                put("mgcp.transid", r.transaction.to_string());
                put("mgcp.rsp.rspcode", r.code.0.to_string());
                put("mgcp.rsp.rspstring", r.comment.to_owned());
                (&r.params, &r.sdp)
            }
        };
        let (params, sdp) = sdp;
        for p in params {
            let mut out = Vec::new();
            p.encode(&mut out);
            let text = String::from_utf8(out).expect("text");
            let text = text.trim_end();
            let value = if p.name() == "L" || p.name() == "P" {
                // Wireshark's LocalConnectionOptions and ConnectionParameters fields hold the
                // whole line; their items are checked through the sub-fields.
                text.to_owned()
            } else {
                text.split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
                    .expect("name: value")
            };
            put(
                field_of(p.name()).expect("a field for every parameter used"),
                value,
            );
            match p {
                Param::LocalConnectionOptions(pairs) => {
                    for pair in pairs.iter().filter(|q| q.key == "p") {
                        put("mgcp.param.localconnectionoptions.p", pair.value.to_owned());
                    }
                    for pair in pairs.iter().filter(|q| q.key == "a") {
                        put("mgcp.param.localconnectionoptions.a", pair.value.to_owned());
                    }
                }
                Param::ConnectionParameters(pairs) => {
                    for (key, field) in [
                        ("PS", "mgcp.param.connectionparam.ps"),
                        ("OR", "mgcp.param.connectionparam.or"),
                        ("LA", "mgcp.param.connectionparam.la"),
                    ] {
                        for pair in pairs.iter().filter(|q| q.key == key) {
                            put(field, pair.value.to_owned());
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(sdp) = sdp {
            let audio = AudioDescription::from_sdp(sdp).expect("audio");
            put(
                "sdp.connection_info.address",
                audio.address.ip().to_string(),
            );
            put("sdp.media.port", audio.address.port().to_string());
        }
    }
    values.into_iter().map(|v| v.join("~")).collect()
}

#[test]
fn tshark_reads_back_what_we_encode() {
    let version = Process::new("tshark").arg("--version").output();
    let ok = version.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark is required for this test and could not be run ({version:?}); install it \
         (Debian: apt-get install tshark)"
    );

    // The session descriptions, written into buffers that outlive the messages.
    let mut offer_text = Vec::new();
    AudioDescription {
        address: "192.0.2.1:16384".parse().unwrap(),
        payload_types: vec![0, 8, 101],
        ptime: Some(20),
        telephone_event: Some(101),
    }
    .write(&mut offer_text, 4_242);
    let mut answer_text = Vec::new();
    AudioDescription {
        address: "192.0.2.2:4000".parse().unwrap(),
        payload_types: vec![0, 101],
        ptime: Some(20),
        telephone_event: Some(101),
    }
    .write(&mut answer_text, 777);
    let offer = Sdp::parse(&offer_text).unwrap();
    let answer = Sdp::parse(&answer_text).unwrap();

    let aaln1 = line("aaln/1");
    let all = line("aaln/*");
    let call = "A3C47F21456789F0";
    let conn = "FDE234C8";
    let exchange: Vec<(Dir, Vec<Message<'_>>)> = vec![
        (
            Dir::ToAgent,
            vec![cmd(
                Verb::Rsip,
                1000,
                all,
                vec![
                    Param::RestartMethod(RestartMethod::Restart),
                    Param::RestartDelay(0),
                ],
                None,
            )],
        ),
        (
            Dir::ToGateway,
            vec![rsp(ReturnCode::OK, 1000, vec![], None)],
        ),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Auep,
                1,
                aaln1,
                vec![Param::RequestedInfo(vec!["ES", "A", "PL"])],
                None,
            )],
        ),
        (
            Dir::ToAgent,
            vec![rsp(
                ReturnCode::OK,
                1,
                vec![
                    Param::EventStates(vec![sig("L", "hu", None)]),
                    Param::Capabilities(
                        "a:PCMU;PCMA, p:10-30, e:on, s:off, v:L;G;D, m:sendonly;recvonly;sendrecv;inactive",
                    ),
                    Param::PackageList("L:1,G:1,D:0"),
                ],
                None,
            )],
        ),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Epcf,
                2,
                aaln1,
                vec![Param::BearerInformation("e:mu")],
                None,
            )],
        ),
        (Dir::ToAgent, vec![rsp(ReturnCode::OK, 2, vec![], None)]),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Rqnt,
                3,
                aaln1,
                vec![
                    Param::NotifiedEntity("ca@[192.0.2.1]:2727"),
                    Param::RequestIdentifier("1A2B"),
                    Param::RequestedEvents(vec![
                        RequestedEvent {
                            name: ev("L", "hd"),
                            actions: vec![Action::Notify],
                            params: None,
                        },
                        RequestedEvent {
                            name: ev("D", "[0-9#*T]"),
                            actions: vec![Action::AccumulateDigitMap],
                            params: None,
                        },
                    ]),
                    Param::SignalRequests(vec![
                        sig("L", "rg", None),
                        sig(
                            "L",
                            "ci",
                            Some("10/14/17/26,\"555 1212\",\"Smith, J (sales)\""),
                        ),
                    ]),
                    Param::DigitMap("(xx|#)"),
                    Param::QuarantineHandling("process"),
                ],
                None,
            )],
        ),
        (Dir::ToAgent, vec![rsp(ReturnCode::OK, 3, vec![], None)]),
        (
            Dir::ToAgent,
            vec![cmd(
                Verb::Ntfy,
                2001,
                aaln1,
                vec![
                    Param::NotifiedEntity("ca@[192.0.2.1]:2727"),
                    Param::RequestIdentifier("1A2B"),
                    Param::ObservedEvents(vec![
                        sig("L", "hd", None),
                        sig("D", "4", None),
                        sig("D", "2", None),
                        sig("D", "#", None),
                    ]),
                ],
                None,
            )],
        ),
        (
            Dir::ToGateway,
            vec![rsp(ReturnCode::OK, 2001, vec![], None)],
        ),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Crcx,
                4,
                aaln1,
                vec![
                    Param::CallId(call),
                    Param::LocalConnectionOptions(vec![
                        Pair {
                            key: "p",
                            value: "20",
                        },
                        Pair {
                            key: "a",
                            value: "PCMU",
                        },
                    ]),
                    Param::ConnectionMode(Mode::SendRecv),
                ],
                Some(offer.clone()),
            )],
        ),
        (
            Dir::ToAgent,
            vec![rsp(
                ReturnCode::OK,
                4,
                vec![Param::ConnectionId(conn)],
                Some(answer.clone()),
            )],
        ),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Mdcx,
                5,
                aaln1,
                vec![
                    Param::CallId(call),
                    Param::ConnectionId(conn),
                    Param::ConnectionMode(Mode::RecvOnly),
                ],
                Some(offer.clone()),
            )],
        ),
        (Dir::ToAgent, vec![rsp(ReturnCode::OK, 5, vec![], None)]),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Aucx,
                6,
                aaln1,
                vec![
                    Param::ConnectionId(conn),
                    Param::RequestedInfo(vec!["C", "M", "LC"]),
                ],
                None,
            )],
        ),
        (
            Dir::ToAgent,
            vec![rsp(
                ReturnCode::OK,
                6,
                vec![Param::CallId(call), Param::ConnectionMode(Mode::RecvOnly)],
                Some(answer.clone()),
            )],
        ),
        (
            Dir::ToGateway,
            vec![cmd(
                Verb::Dlcx,
                7,
                aaln1,
                vec![Param::CallId(call), Param::ConnectionId(conn)],
                None,
            )],
        ),
        (
            Dir::ToAgent,
            vec![rsp(
                ReturnCode::DELETED,
                7,
                vec![Param::ConnectionParameters(vec![
                    Pair {
                        key: "PS",
                        value: "1245",
                    },
                    Pair {
                        key: "OS",
                        value: "62345",
                    },
                    Pair {
                        key: "PR",
                        value: "780",
                    },
                    Pair {
                        key: "OR",
                        value: "45123",
                    },
                    Pair {
                        key: "PL",
                        value: "10",
                    },
                    Pair {
                        key: "JI",
                        value: "27",
                    },
                    Pair {
                        key: "LA",
                        value: "48",
                    },
                ])],
                None,
            )],
        ),
        // The gateway answers and reports on-hook in one datagram (piggy-backing, §3.5.5).
        (
            Dir::ToAgent,
            vec![
                rsp(ReturnCode::OK, 8, vec![], None),
                cmd(
                    Verb::Ntfy,
                    2002,
                    aaln1,
                    vec![
                        Param::RequestIdentifier("1A2C"),
                        Param::ObservedEvents(vec![sig("L", "hu", None)]),
                    ],
                    None,
                ),
                cmd(
                    Verb::Dlcx,
                    2003,
                    aaln1,
                    vec![
                        Param::CallId(call),
                        Param::ReasonCode(Reason {
                            code: 902,
                            text: "Loss of connectivity",
                        }),
                    ],
                    None,
                ),
            ],
        ),
        // The call agent answers with a provisional then a final response, acknowledged by
        // the gateway with 000 and K: (§3.5.6).
        (
            Dir::ToGateway,
            vec![Message::Response(Response {
                code: ReturnCode::OK,
                transaction: TransactionId(2002),
                package: None,
                comment: "OK",
                params: vec![Param::ResponseAck(vec![AckRange {
                    first: TransactionId(2001),
                    last: TransactionId(2001),
                }])],
                sdp: None,
            })],
        ),
        (
            Dir::ToAgent,
            vec![Message::Response(Response {
                code: ReturnCode::ACK,
                transaction: TransactionId(2002),
                package: None,
                comment: "",
                params: vec![Param::ResponseAck(vec![
                    AckRange {
                        first: TransactionId(2002),
                        last: TransactionId(2003),
                    },
                    AckRange {
                        first: TransactionId(2005),
                        last: TransactionId(2005),
                    },
                ])],
                sdp: None,
            })],
        ),
        // Issue 15: a Cisco IOS gateway's RSIP in RFC 2705's version, an NCS MTA's
        // notification in its profile, and the call agent's request back in NCS.
        (
            Dir::ToAgent,
            vec![in_version(
                cmd(
                    Verb::Rsip,
                    3001,
                    line("*"),
                    vec![Param::RestartMethod(RestartMethod::Restart)],
                    None,
                ),
                Version::V0_1,
            )],
        ),
        (
            Dir::ToAgent,
            vec![in_version(
                cmd(
                    Verb::Ntfy,
                    3002,
                    aaln1,
                    vec![
                        Param::RequestIdentifier("1A2D"),
                        Param::ObservedEvents(vec![sig("L", "5", None)]),
                    ],
                    None,
                ),
                Version::NCS_1_0,
            )],
        ),
        (
            Dir::ToGateway,
            vec![in_version(
                cmd(
                    Verb::Rqnt,
                    11,
                    aaln1,
                    vec![
                        Param::RequestIdentifier("1A2E"),
                        Param::RequestedEvents(vec![RequestedEvent {
                            name: ev("L", "[0-9#*T]"),
                            actions: vec![Action::AccumulateDigitMap],
                            params: None,
                        }]),
                        Param::DigitMap("(0T|[1-7]xxx)"),
                    ],
                    None,
                ),
                Version::NCS_1_0,
            )],
        ),
    ];

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let mut pcap = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    let mut want = Vec::new();
    for (i, (direction, messages)) in exchange.iter().enumerate() {
        let mut datagram = Vec::new();
        encode_piggybacked(messages, &mut datagram);
        // Our own parser agrees before tshark is asked.
        assert_eq!(&parse(&datagram).unwrap(), messages);
        let (src, dst) = match direction {
            Dir::ToAgent => (addr(GATEWAY), addr(AGENT)),
            Dir::ToGateway => (addr(AGENT), addr(GATEWAY)),
        };
        let ts = Duration::from_millis(1_000 + 20 * i as u64);
        pcap.write_udp(ts, src, dst, &datagram).unwrap();
        want.push(expected(messages));
    }
    pcap.flush().unwrap();
    drop(pcap);

    let mut args = vec![
        "-r".to_owned(),
        path.display().to_string(),
        "-d".to_owned(),
        "udp.port==2727,mgcp".to_owned(),
        "-d".to_owned(),
        "udp.port==2427,mgcp".to_owned(),
        "-T".to_owned(),
        "fields".to_owned(),
        "-E".to_owned(),
        "separator=/t".to_owned(),
        "-E".to_owned(),
        "occurrence=a".to_owned(),
        "-E".to_owned(),
        "aggregator=~".to_owned(),
    ];
    for f in FIELDS {
        args.push("-e".to_owned());
        args.push((*f).to_owned());
    }
    let out = Process::new("tshark").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    assert_eq!(got.len(), want.len(), "one line per datagram:\n{text}");
    let mut mismatches = Vec::new();
    for (frame, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got.len(), FIELDS.len(), "frame {}: {got:?}", frame + 1);
        for ((field, g), w) in FIELDS.iter().zip(got).zip(want) {
            if g != w {
                mismatches.push(format!(
                    "frame {}, {field}: tshark {g:?}, encoded {w:?}",
                    frame + 1
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // Nothing malformed, no warnings or errors from any dissector, no parameter the MGCP
    // dissector could not place.
    support::assert_clean(&path);

    let report = support::tshark(&path, &["-q", "-z", "expert,warn"]);
    assert!(
        !report.contains("Warns") && !report.contains("Errors"),
        "tshark expert report:\n{report}"
    );
}
