//! Writing a job's request: the Events of a line's hook state and digit collection, the
//! signals and tones, the SDP of a new RTP termination, the context each goes to.

use std::time::Duration;

use super::{Arming, MediaGatewayController};
use crate::megaco::encoding;
use crate::megaco::{
    ActionRequest, AuditItem, Body, Command as MCommand, CommandRequest, ContextId, Descriptor,
    DigitMapDescriptor, EventParm, EventsDescriptor, LocalControlParm, MediaParm, Message,
    ParmValue, Property, RequestId, RequestedEvent, Signal, SignalParm, StreamMode, TerminationId,
    Transaction, TransactionId, TransactionRequest, Verb,
};
use crate::mgcp::wire::AudioDescription;
use crate::model::{Codec, ConnectionMode, Media, Tone};

use super::jobs::Job;

/// The keys of the DTMF detection package (H.248.1 Annex E.6) and their events: `ds` is `*`
/// and `do` is `#`.
const KEYS: [(&str, char); 16] = [
    ("dd/d0", '0'),
    ("dd/d1", '1'),
    ("dd/d2", '2'),
    ("dd/d3", '3'),
    ("dd/d4", '4'),
    ("dd/d5", '5'),
    ("dd/d6", '6'),
    ("dd/d7", '7'),
    ("dd/d8", '8'),
    ("dd/d9", '9'),
    ("dd/da", 'A'),
    ("dd/db", 'B'),
    ("dd/dc", 'C'),
    ("dd/dd", 'D'),
    ("dd/ds", '*'),
    ("dd/do", '#'),
];

/// The digit map an off-hook line is armed with when no number is being collected: every key
/// completes it, so each is reported at once as `dd/ce` (H.248.1 §7.1.14 spells `*` and `#` as
/// `E` and `F`). Annex E.6's events of single keys (`dd/d0`…) would do the same in text, but
/// Erlang/OTP's binary encoder knows only `dd/ce` of the package, and the digit map form is
/// the one every MG implements.
pub(super) const KEY_MAP: &str = "(x|E|F|A|B|C|D)";

/// A model digit map (MGCP's syntax, RFC 3435 §2.1.5) in H.248.1's (§7.1.14): `*` and `#` are
/// `E` and `F`, MGCP's timer `T` is the long inter-event timer `L`.
pub(super) fn h248_digit_map(mgcp: &str) -> String {
    mgcp.chars()
        .map(|c| match c {
            '*' => 'E',
            '#' => 'F',
            'T' | 't' => 'L',
            'X' => 'x',
            c => c,
        })
        .collect()
}

/// A key of an H.248 digit string (`ds` of `dd/ce`): `E` and `F` are `*` and `#`.
pub(super) fn key_of_digit(c: char) -> Option<crate::model::Digit> {
    match c {
        'E' | 'e' => crate::model::Digit::new('*'),
        'F' | 'f' => crate::model::Digit::new('#'),
        c => crate::model::Digit::new(c),
    }
}

/// The key an observed `dd` event stands for.
pub(super) fn key_of_event(name: &str) -> Option<char> {
    KEYS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
}

/// The cg (call progress tones, Annex E.7) signal for a model tone.
pub(super) fn tone_signal(tone: Tone) -> Option<&'static str> {
    Some(match tone {
        Tone::Dial | Tone::StutterDial => "cg/dt",
        Tone::Ringback => "cg/rt",
        Tone::Busy => "cg/bt",
        Tone::Reorder | Tone::OperationFailure => "cg/ct",
        Tone::CallWaiting => "cg/cw",
        Tone::Confirmation | Tone::OperationComplete => "cg/wt",
        Tone::MessageWaitingLamp => return None,
    })
}

fn stream_mode(mode: ConnectionMode) -> StreamMode {
    match mode {
        ConnectionMode::SendOnly => StreamMode::SendOnly,
        ConnectionMode::RecvOnly => StreamMode::ReceiveOnly,
        ConnectionMode::SendRecv => StreamMode::SendReceive,
        ConnectionMode::Inactive => StreamMode::Inactive,
        ConnectionMode::Loopback => StreamMode::LoopBack,
    }
}

/// The Local SDP of a new RTP termination: the gateway chooses address and port (`$`).
fn local_sdp(codec: Codec, ptime: Duration) -> String {
    format!(
        "v=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP {}\r\na=ptime:{}\r\n",
        codec.payload_type(),
        ptime.as_millis()
    )
}

/// The Remote SDP pointing at our media.
fn remote_sdp(media: &Media) -> String {
    let audio = AudioDescription {
        address: media.address,
        payload_types: std::iter::once(media.codec.payload_type())
            .chain(media.telephone_event)
            .collect(),
        ptime: u32::try_from(media.ptime.as_millis()).ok(),
        telephone_event: media.telephone_event,
    };
    let mut out = Vec::new();
    audio.write(&mut out, 1);
    String::from_utf8(out).unwrap_or_default()
}

/// A line's Events descriptor for `arming` under RequestID `rid`. Off-hook, `dd/ce` names a
/// digit map `dialplanNN` (the RequestID's last two digits), sent beside it: [`KEY_MAP`], or the
/// number being collected.
fn events<'a>(arming: &Arming, rid: u32, map_name: &'a str) -> EventsDescriptor<'a> {
    let strict = || {
        vec![EventParm::Other(Property {
            name: "strict",
            value: ParmValue::Equal("state"),
        })]
    };
    let plain = |name| RequestedEvent {
        name,
        params: Vec::new(),
    };
    let events = match arming {
        Arming::Trunk(phase) => super::trunk::events(*phase, map_name),
        Arming::OnHook => vec![RequestedEvent {
            name: "al/of",
            params: strict(),
        }],
        Arming::OffHook | Arming::Collecting(_) => vec![
            RequestedEvent {
                name: "al/on",
                params: strict(),
            },
            plain("al/fl"),
            RequestedEvent {
                name: "dd/ce",
                params: vec![EventParm::DigitMap(crate::megaco::DigitMapRef::Name(
                    map_name,
                ))],
            },
        ],
    };
    EventsDescriptor {
        request_id: Some(RequestId::Number(rid)),
        events,
    }
}

fn context_of(context: Option<u32>) -> ContextId {
    context.map_or(ContextId::Null, ContextId::Number)
}

fn plain_command<'a>(
    verb: Verb,
    termination: &'a str,
    descriptors: Vec<Descriptor<'a>>,
) -> CommandRequest<'a> {
    CommandRequest {
        optional: false,
        wildcard_reply: false,
        command: MCommand {
            verb,
            termination: TerminationId(termination),
            descriptors,
        },
    }
}

impl MediaGatewayController {
    /// The request message for a job. Arming jobs take the line's next RequestID here, so
    /// the ids grow in the order the requests go.
    pub(super) fn encode_job(
        &mut self,
        g: usize,
        l: Option<usize>,
        job: &Job,
        id: TransactionId,
        acks: Vec<crate::megaco::AckRange>,
    ) -> Result<Vec<u8>, String> {
        let rid = match (l, job) {
            (Some(l), Job::Arm | Job::Collect { .. } | Job::Connect { .. }) => {
                let line = &mut self.gateways[g].lines[l];
                line.request_id = line.request_id.wrapping_add(1).max(1);
                if let Job::Collect { map } = job {
                    line.collect = Some(map.clone());
                    line.collect_from = line.request_id;
                }
                line.request_id
            }
            (Some(l), Job::Trunk(op)) if op.target().is_some() => {
                let line = &mut self.gateways[g].lines[l];
                line.request_id = line.request_id.wrapping_add(1).max(1);
                line.request_id
            }
            _ => 0,
        };
        let gw = &self.gateways[g];
        let line = l.map(|l| &gw.lines[l]);
        let name = line.map_or("ROOT", |line| &line.name);
        let context = line.and_then(|line| line.context);
        // A trunk job arms the port for the phase it leads to.
        let target = match job {
            Job::Trunk(op) => op.target(),
            _ => None,
        };
        let arming = line.map(|line| match (line.trunk, &line.collect, line.off_hook) {
            (Some(trunk), ..) => Arming::Trunk(target.unwrap_or(trunk.phase)),
            (None, Some(map), true) => Arming::Collecting(map.clone()),
            (None, _, true) => Arming::OffHook,
            (None, _, false) => Arming::OnHook,
        });
        // `dialplanNN`: a name both encodings carry (Annex A names a digit map by two octets).
        let map_name = format!("dialplan{:02}", rid % 100);
        let map_text = match &arming {
            Some(Arming::Collecting(map)) => Some(h248_digit_map(map.as_str())),
            Some(Arming::OffHook) => Some(KEY_MAP.to_owned()),
            Some(Arming::Trunk(phase)) if phase.off_hook() => {
                Some(match line.and_then(|l| l.collect.as_ref()) {
                    Some(map) => h248_digit_map(map.as_str()),
                    None => KEY_MAP.to_owned(),
                })
            }
            _ => None,
        };
        let arm_descriptors = || {
            let mut d = vec![Descriptor::Events(events(
                arming.as_ref().unwrap_or(&Arming::OnHook),
                rid,
                &map_name,
            ))];
            if let Some(value) = &map_text {
                d.push(Descriptor::DigitMap(DigitMapDescriptor {
                    name: Some(&map_name),
                    value: Some(value),
                }));
            }
            d
        };
        let sdp_local: String;
        let mut sdp_remote = String::new();
        let mut rtp_name: &str = "$";
        let (context, commands) = match job {
            Job::AuditRoot => (
                ContextId::Null,
                vec![plain_command(
                    Verb::AuditValue,
                    "ROOT",
                    vec![Descriptor::Audit(Vec::<AuditItem>::new())],
                )],
            ),
            Job::AuditLine { .. } => (
                context_of(context),
                vec![plain_command(
                    Verb::AuditValue,
                    name,
                    vec![Descriptor::Audit(Vec::new())],
                )],
            ),
            Job::Arm | Job::Collect { .. } => (
                context_of(context),
                vec![plain_command(Verb::Modify, name, arm_descriptors())],
            ),
            Job::Signal { signal } => {
                let signals = signal
                    .map(|name| {
                        SignalParm::Signal(Signal {
                            name,
                            params: Vec::new(),
                        })
                    })
                    .into_iter()
                    .collect();
                (
                    context_of(context),
                    vec![plain_command(
                        Verb::Modify,
                        name,
                        vec![Descriptor::Signals(signals)],
                    )],
                )
            }
            Job::Connect {
                mode,
                codec,
                ptime,
                remote,
                ..
            } => {
                sdp_local = local_sdp(*codec, *ptime);
                if let Some(remote) = remote {
                    sdp_remote = remote_sdp(remote);
                }
                let mut stream = vec![
                    MediaParm::LocalControl(vec![LocalControlParm::Mode(stream_mode(*mode))]),
                    MediaParm::Local(&sdp_local),
                ];
                if remote.is_some() {
                    stream.push(MediaParm::Remote(&sdp_remote));
                }
                let rtp = plain_command(
                    Verb::Add,
                    rtp_name,
                    vec![Descriptor::Media(vec![MediaParm::Stream(1, stream)])],
                );
                match context {
                    // Already in a context: only the new RTP termination joins it.
                    Some(c) => (ContextId::Number(c), vec![rtp]),
                    None => (
                        ContextId::Choose,
                        vec![plain_command(Verb::Add, name, arm_descriptors()), rtp],
                    ),
                }
            }
            Job::Modify { call, mode, remote } => {
                let Some(conn) = gw.connections.get(call) else {
                    return Err("no such connection".into());
                };
                rtp_name = &conn.termination;
                if let Some(remote) = remote {
                    sdp_remote = remote_sdp(remote);
                }
                let mut stream = Vec::new();
                if let Some(mode) = mode {
                    stream.push(MediaParm::LocalControl(vec![LocalControlParm::Mode(
                        stream_mode(*mode),
                    )]));
                }
                if remote.is_some() {
                    stream.push(MediaParm::Remote(&sdp_remote));
                }
                (
                    ContextId::Number(conn.context),
                    vec![plain_command(
                        Verb::Modify,
                        rtp_name,
                        vec![Descriptor::Media(vec![MediaParm::Stream(1, stream)])],
                    )],
                )
            }
            Job::Trunk(op) => {
                let mut descriptors = Vec::new();
                if op.target().is_some() {
                    descriptors = arm_descriptors();
                }
                descriptors.push(Descriptor::Signals(super::trunk::signals(op)));
                (
                    context_of(context),
                    vec![plain_command(Verb::Modify, name, descriptors)],
                )
            }
            Job::Disconnect { call } => {
                let Some(conn) = gw.connections.get(call) else {
                    return Err("no such connection".into());
                };
                rtp_name = &conn.termination;
                let mut commands = vec![plain_command(Verb::Subtract, rtp_name, Vec::new())];
                let others = gw
                    .connections
                    .iter()
                    .any(|(c, other)| c != call && other.line == conn.line);
                if !others {
                    commands.push(plain_command(Verb::Subtract, name, Vec::new()));
                }
                (ContextId::Number(conn.context), commands)
            }
        };
        let mut transactions = vec![Transaction::Request(TransactionRequest {
            id,
            actions: vec![ActionRequest {
                context,
                properties: Vec::new(),
                commands,
            }],
        })];
        if !acks.is_empty() {
            transactions.push(Transaction::ResponseAck(acks));
        }
        let message = Message {
            version: 1,
            mid: self.own.message_id(),
            body: Body::Transactions(transactions),
        };
        let encoding = self.gateways[g]
            .peer
            .map_or(encoding::Encoding::Pretty, |p| p.encoding);
        let mut out = Vec::new();
        encoding::encode(&message, encoding, &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }
}
