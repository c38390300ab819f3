//! What the controller asks of gateways: model commands turned into jobs, one request per job,
//! one job in flight per line, and what each reply means.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{Arming, MediaGatewayController, Peer, Service};
use crate::megaco::encoding;
use crate::megaco::transaction::{Event as TxEvent, ReplyOutcome};
use crate::megaco::{
    ActionReply, ActionRequest, AuditItem, Body, Command as MCommand, CommandRequest, ContextId,
    Descriptor, DigitMapDescriptor, ErrorCode, ErrorDescriptor, EventParm, EventsDescriptor,
    LocalControlParm, MediaParm, Message, ParmValue, Property, ReplyResult, RequestId,
    RequestedEvent, Signal, SignalParm, StreamMode, TerminationId, Transaction, TransactionId,
    TransactionReply, TransactionRequest, Verb,
};
use crate::mgcp::wire::{AudioDescription, Sdp};
use crate::model::{
    CallId, Codec, Command, ConnectionMode, DigitMap, DownReason, Event, GatewayId, Media, Tone,
};

/// A connection: an ephemeral RTP termination in the line's context.
#[derive(Debug, Clone)]
pub(super) struct Connection {
    pub(super) line: usize,
    /// The RTP termination's id, as the gateway named it.
    pub(super) termination: Box<str>,
    pub(super) context: u32,
}

/// One request to a gateway.
#[derive(Debug, Clone)]
pub(super) enum Job {
    /// `AuditValue` on ROOT: registration check, keep-alive or probe (not on a line queue).
    AuditRoot,
    /// `AuditValue` on the line; `report`: its answer is reported as [`Event::LineStatus`] once
    /// the line is armed.
    AuditLine { report: bool },
    /// `Modify` of the line's Events for its hook state (and digit collection).
    Arm,
    /// `Modify` of the line's Signals: one signal, or none to stop them.
    Signal { signal: Option<&'static str> },
    /// Digit collection with a map.
    Collect { map: DigitMap },
    /// A new connection.
    Connect {
        call: CallId,
        mode: ConnectionMode,
        codec: Codec,
        ptime: Duration,
        remote: Option<Media>,
    },
    /// A mode or remote change.
    Modify {
        call: CallId,
        mode: Option<ConnectionMode>,
        remote: Option<Media>,
    },
    /// The end of a connection.
    Disconnect { call: CallId },
}

impl Job {
    fn call(&self) -> Option<CallId> {
        match self {
            Self::Connect { call, .. } | Self::Modify { call, .. } | Self::Disconnect { call } => {
                Some(*call)
            }
            _ => None,
        }
    }
}

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
fn tone_signal(tone: Tone) -> Option<&'static str> {
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

/// What a reply said.
enum Outcome<'m, 'a> {
    Done(&'m [ActionReply<'a>]),
    Failed(ErrorDescriptor<'a>),
}

impl MediaGatewayController {
    /// A model command: checked, then queued as a job on its line.
    pub(super) fn command(&mut self, now: Instant, command: Command) {
        let Some(g) = self
            .gateways
            .iter()
            .position(|gw| &gw.id == command.gateway())
        else {
            self.stats.commands_failed += 1;
            if let Some(line) = command.line() {
                self.events.push_back(Event::CommandFailed {
                    line: line.clone(),
                    call: call_of(&command),
                    code: ErrorCode::UNKNOWN_TERMINATION.0,
                    reason: "no such media gateway is configured".into(),
                });
            }
            return;
        };
        let Some(line) = command.line() else {
            // GatewayAddress: an MG registers itself, from wherever it is.
            return;
        };
        let l = match &command {
            Command::AddLine { line } => match self.gateways[g].add_line(&line.endpoint) {
                Some(l) if super::valid_line_name(&line.endpoint) => l,
                _ => {
                    return self.refuse(
                        line.clone(),
                        None,
                        "too many lines or a bad termination id",
                    );
                }
            },
            _ => match self.find_line(g, &line.endpoint) {
                Some(l) if self.gateways[g].lines[l].watched => l,
                _ => {
                    return self.refuse(
                        line.clone(),
                        call_of(&command),
                        "the line is not configured",
                    );
                }
            },
        };
        let job = match command {
            Command::Ring { .. } => Job::Signal {
                signal: Some("al/ri"),
            },
            Command::StopRing { .. } | Command::StopTone { .. } => Job::Signal { signal: None },
            Command::PlayTone { line, tone, .. } => match tone_signal(tone) {
                Some(signal) => Job::Signal {
                    signal: Some(signal),
                },
                None => {
                    self.stats.commands_failed += 1;
                    self.events.push_back(Event::CommandFailed {
                        line,
                        call: None,
                        code: ErrorCode::NOT_IMPLEMENTED.0,
                        reason: format!("H.248.1 has no signal for {tone:?}"),
                    });
                    return;
                }
            },
            Command::CreateConnection {
                call,
                mode,
                codec,
                ptime,
                remote,
                ..
            } => Job::Connect {
                call,
                mode,
                codec,
                ptime,
                remote,
            },
            Command::ModifyConnection {
                call, mode, remote, ..
            } => Job::Modify { call, mode, remote },
            Command::DeleteConnection { call, .. } => Job::Disconnect { call },
            Command::Audit { .. } => {
                self.enqueue(now, g, l, Job::AuditLine { report: true });
                Job::Arm
            }
            Command::AddLine { .. } => {
                if self.gateways[g].service != Service::Up {
                    return; // audited and armed when it comes up
                }
                self.enqueue(now, g, l, Job::AuditLine { report: true });
                Job::Arm
            }
            Command::RemoveLine { .. } => {
                let line = &mut self.gateways[g].lines[l];
                line.watched = false;
                line.queue.clear();
                return;
            }
            Command::CollectDigits { map, .. } => Job::Collect { map },
            _ => return,
        };
        self.enqueue(now, g, l, job);
    }

    fn refuse(&mut self, line: crate::model::LineId, call: Option<CallId>, reason: &str) {
        self.stats.commands_failed += 1;
        self.events.push_back(Event::CommandFailed {
            line,
            call,
            code: ErrorCode::UNKNOWN_TERMINATION.0,
            reason: reason.into(),
        });
    }

    /// Queues a job on a line and sends it if the line is free.
    pub(super) fn enqueue(&mut self, now: Instant, g: usize, l: usize, job: Job) {
        let line = &mut self.gateways[g].lines[l];
        if line.queue.len() >= super::MAX_QUEUED_PER_LINE {
            self.stats.commands_failed += 1;
            self.job_failed(
                g,
                l,
                &job,
                ErrorCode::INSUFFICIENT_RESOURCES.0,
                "too many commands queued for the line",
            );
            return;
        }
        line.queue.push_back(job);
        self.next_job(now, g, l);
    }

    /// Sends the line's next job if none is in flight and the gateway can take it.
    pub(super) fn next_job(&mut self, now: Instant, g: usize, l: usize) {
        if self.hold {
            return;
        }
        loop {
            let gw = &self.gateways[g];
            if gw.lines[l].busy.is_some() {
                return;
            }
            let ready = matches!(gw.service, Service::Up) && gw.peer.is_some();
            let Some(job) = self.gateways[g].lines[l].queue.pop_front() else {
                return;
            };
            if !ready {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::NOT_READY.0,
                    "the media gateway is not in service",
                );
                continue;
            }
            if !self.gateways[g].lines[l].present && !matches!(job, Job::AuditLine { .. }) {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::UNKNOWN_TERMINATION.0,
                    "the media gateway has no such termination",
                );
                continue;
            }
            match self.send_job(now, g, Some(l), job) {
                Some(id) => {
                    self.gateways[g].lines[l].busy = Some(id);
                    return;
                }
                None => continue,
            }
        }
    }

    /// Audits ROOT (registration check, keep-alive, probe).
    pub(super) fn audit_root(&mut self, now: Instant, g: usize) {
        if self.gateways[g].auditing || self.gateways[g].peer.is_none() {
            return;
        }
        if self.hold {
            self.gateways[g].audit_wanted = true;
            return;
        }
        if self.send_job(now, g, None, Job::AuditRoot).is_some() {
            self.gateways[g].auditing = true;
        }
    }

    /// Encodes and sends one job; `None` (the job failed and was reported) if it could not go.
    fn send_job(
        &mut self,
        now: Instant,
        g: usize,
        l: Option<usize>,
        job: Job,
    ) -> Option<TransactionId> {
        let peer = self.gateways[g].peer?;
        let id = self.transactions.allocate_id();
        let acks = self.transactions.take_response_acks(peer.addr);
        let bytes = match self.encode_job(g, l, &job, id, acks) {
            Ok(bytes) => bytes,
            Err(why) => {
                self.stats.encode_failures += 1;
                if let Some(l) = l {
                    self.job_failed(g, l, &job, ErrorCode::INTERNAL_FAILURE.0, &why);
                }
                return None;
            }
        };
        if let Err(e) = self
            .transactions
            .send_request(now, peer.addr, peer.reliable, id, bytes)
        {
            if let Some(l) = l {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::INSUFFICIENT_RESOURCES.0,
                    &e.to_string(),
                );
            }
            return None;
        }
        self.stats.requests_sent += 1;
        self.jobs.insert(id, (g, job));
        Some(id)
    }

    /// The request message for a job. Arming jobs take the line's next RequestID here, so
    /// the ids grow in the order the requests go.
    fn encode_job(
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
                }
                line.request_id
            }
            _ => 0,
        };
        let gw = &self.gateways[g];
        let line = l.map(|l| &gw.lines[l]);
        let name = line.map_or("ROOT", |line| &line.name);
        let context = line.and_then(|line| line.context);
        let arming = line.map(|line| match (&line.collect, line.off_hook) {
            (Some(map), true) => Arming::Collecting(map.clone()),
            (_, true) => Arming::OffHook,
            (_, false) => Arming::OnHook,
        });
        // `dialplanNN`: a name both encodings carry (Annex A names a digit map by two octets).
        let map_name = format!("dialplan{:02}", rid % 100);
        let map_text = match &arming {
            Some(Arming::Collecting(map)) => Some(h248_digit_map(map.as_str())),
            Some(Arming::OffHook) => Some(KEY_MAP.to_owned()),
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

    /// A reply from a gateway.
    pub(super) fn on_reply(
        &mut self,
        now: Instant,
        g: usize,
        peer: Peer,
        reply: &TransactionReply<'_>,
    ) {
        if self.transactions.handle_reply(now, peer.addr, reply.id) != ReplyOutcome::Final {
            return;
        }
        let Some((owner, job)) = self.jobs.remove(&reply.id) else {
            self.stats.replies_unmatched += 1;
            return;
        };
        if owner != g {
            // The transaction layer matched it by address; the mId disagrees. Believe the
            // transaction's owner.
            debug!(transaction = %reply.id, "reply from another gateway's mId");
        }
        let g = owner;
        let outcome = match &reply.result {
            ReplyResult::Error(e) => Outcome::Failed(*e),
            ReplyResult::Actions(actions) => match actions.iter().find_map(|a| a.error) {
                Some(e) => Outcome::Failed(e),
                None => Outcome::Done(actions),
            },
        };
        if matches!(outcome, Outcome::Failed(_)) {
            self.stats.error_replies += 1;
        }
        if matches!(job, Job::AuditRoot) {
            self.gateways[g].auditing = false;
            // Any answer, even an error, shows it is there.
            match self.gateways[g].service {
                Service::Out(_) => {}
                _ => self.gateway_up(now, g),
            }
            return;
        }
        let Some(l) = self.gateways[g]
            .lines
            .iter()
            .position(|line| line.busy == Some(reply.id))
        else {
            return;
        };
        self.gateways[g].lines[l].busy = None;
        self.job_done(now, g, l, job, outcome);
        self.next_job(now, g, l);
    }

    fn job_done(&mut self, now: Instant, g: usize, l: usize, job: Job, outcome: Outcome<'_, '_>) {
        let line_id = self.line_id(g, l);
        let actions = match outcome {
            Outcome::Failed(e) => {
                let code = e.code;
                let text = e.text.unwrap_or("").trim_matches('"').to_owned();
                warn!(line = %line_id, code = code.0, text, "the media gateway refused a request");
                match &job {
                    Job::AuditLine { .. } if matches!(code.0, 430 | 431) => {
                        self.gateways[g].lines[l].present = false;
                    }
                    Job::Disconnect { call } => {
                        // It is gone either way.
                        self.forget_connection(now, g, *call);
                        self.events.push_back(Event::ConnectionDeleted {
                            line: line_id.clone(),
                            call: *call,
                        });
                        return;
                    }
                    Job::Collect { .. } => self.gateways[g].lines[l].collect = None,
                    _ => {}
                }
                self.events.push_back(Event::CommandFailed {
                    line: line_id,
                    call: job.call(),
                    code: code.0,
                    reason: if text.is_empty() {
                        format!("H.248 error {}", code.0)
                    } else {
                        text
                    },
                });
                return;
            }
            Outcome::Done(actions) => actions,
        };
        match job {
            Job::AuditRoot => {}
            Job::AuditLine { report } => {
                self.gateways[g].lines[l].present = true;
                if report {
                    self.events.push_back(Event::LineStatus {
                        line: line_id,
                        off_hook: self.gateways[g].lines[l].off_hook,
                    });
                }
            }
            Job::Arm | Job::Signal { .. } | Job::Collect { .. } => {}
            Job::Connect {
                call, codec, ptime, ..
            } => match connected(actions, &self.gateways[g].lines[l].name) {
                Ok((context, termination, local)) => {
                    let media = media_of(local, codec, ptime);
                    self.gateways[g].lines[l].context = Some(context);
                    match media {
                        Ok(local) => {
                            self.gateways[g].connections.insert(
                                call,
                                Connection {
                                    line: l,
                                    termination: termination.into(),
                                    context,
                                },
                            );
                            self.events.push_back(Event::ConnectionCreated {
                                line: line_id,
                                call,
                                local,
                            });
                        }
                        Err(why) => {
                            // Undo what the gateway made, then report.
                            self.gateways[g].connections.insert(
                                call,
                                Connection {
                                    line: l,
                                    termination: termination.into(),
                                    context,
                                },
                            );
                            self.gateways[g].lines[l]
                                .queue
                                .push_front(Job::Disconnect { call });
                            self.events.push_back(Event::CommandFailed {
                                line: line_id,
                                call: Some(call),
                                code: ErrorCode::INTERNAL_FAILURE.0,
                                reason: why,
                            });
                        }
                    }
                }
                Err(why) => {
                    self.stats.replies_unmatched += 1;
                    self.events.push_back(Event::CommandFailed {
                        line: line_id,
                        call: Some(call),
                        code: ErrorCode::INTERNAL_FAILURE.0,
                        reason: why,
                    });
                }
            },
            Job::Modify { call, .. } => {
                self.events.push_back(Event::ConnectionModified {
                    line: line_id,
                    call,
                });
            }
            Job::Disconnect { call } => {
                self.forget_connection(now, g, call);
                self.events.push_back(Event::ConnectionDeleted {
                    line: line_id,
                    call,
                });
            }
        }
    }

    /// Drops a connection; a line left in no connection is back in the null context, armed
    /// again there.
    fn forget_connection(&mut self, now: Instant, g: usize, call: CallId) {
        let Some(conn) = self.gateways[g].connections.remove(&call) else {
            return;
        };
        let still = self.gateways[g]
            .connections
            .values()
            .any(|c| c.line == conn.line);
        if !still {
            self.gateways[g].lines[conn.line].context = None;
            self.gateways[g].lines[conn.line].queue.push_front(Job::Arm);
            let _ = now;
        }
    }

    /// Forgets every request in flight to a gateway (the transaction layer stops retransmitting
    /// them); model jobs among them are reported failed.
    pub(super) fn cancel_in_flight(&mut self, g: usize) {
        let mut ids: Vec<TransactionId> = self
            .jobs
            .iter()
            .filter(|(_, (owner, _))| *owner == g)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            self.transactions.cancel(id);
            let Some((_, job)) = self.jobs.remove(&id) else {
                continue;
            };
            if let Some(l) = self.gateways[g]
                .lines
                .iter()
                .position(|x| x.busy == Some(id))
            {
                self.gateways[g].lines[l].busy = None;
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::NOT_READY.0,
                    "the media gateway registered again",
                );
            }
        }
        self.gateways[g].auditing = false;
    }

    /// Reports a job that will not be done (model jobs only; internal ones are logged).
    pub(super) fn job_failed(&mut self, g: usize, l: usize, job: &Job, code: u16, why: &str) {
        let line = self.line_id(g, l);
        match job {
            Job::AuditRoot | Job::Arm => debug!(%line, why, "internal request dropped"),
            Job::Disconnect { call } => {
                self.gateways[g].connections.remove(call);
                self.events
                    .push_back(Event::ConnectionDeleted { line, call: *call });
            }
            _ => self.events.push_back(Event::CommandFailed {
                line,
                call: job.call(),
                code,
                reason: why.into(),
            }),
        }
    }

    /// What the transaction layer reported: timeouts and acks due.
    pub(super) fn drain_transaction_events(&mut self, now: Instant) {
        while let Some(event) = self.transactions.poll_event() {
            match event {
                TxEvent::TimedOut { transaction, .. } => self.timed_out(now, transaction),
                TxEvent::AcksDue { peer, ranges } => {
                    self.send_raw_transaction(peer, Transaction::ResponseAck(ranges));
                }
                // The controller answers each request as it reads it, so a request of a
                // gateway is never still executing; should one be, the gateway hears so.
                TxEvent::PendingDue { peer, transaction } => {
                    self.send_raw_transaction(peer, Transaction::Pending(transaction));
                }
            }
        }
    }

    fn timed_out(&mut self, now: Instant, id: TransactionId) {
        self.stats.timeouts += 1;
        let Some((g, job)) = self.jobs.remove(&id) else {
            return;
        };
        if matches!(job, Job::AuditRoot) {
            self.gateways[g].auditing = false;
        } else if let Some(l) = self.gateways[g]
            .lines
            .iter()
            .position(|x| x.busy == Some(id))
        {
            self.gateways[g].lines[l].busy = None;
            self.job_failed(
                g,
                l,
                &job,
                ErrorCode::NOT_READY.0,
                "the media gateway did not answer",
            );
        }
        match self.gateways[g].service {
            Service::Out(_) => {}
            _ => self.gateway_down(now, g, Service::Unreachable, DownReason::Unreachable),
        }
    }

    /// A stand-alone message of one transaction (a ResponseAck or a Pending) to a peer, in the
    /// encoding of the gateway there.
    fn send_raw_transaction(&mut self, to: SocketAddr, transaction: Transaction<'_>) {
        let encoding = self
            .gateways
            .iter()
            .find_map(|g| g.peer.filter(|p| p.addr == to))
            .map_or(encoding::Encoding::Pretty, |p| p.encoding);
        let message = Message {
            version: 1,
            mid: self.own.message_id(),
            body: Body::Transactions(vec![transaction]),
        };
        let mut out = Vec::new();
        if encoding::encode(&message, encoding, &mut out).is_ok() {
            self.transactions.send_raw(to, out);
        }
    }

    /// The gateway's id, for logs.
    #[allow(dead_code)]
    fn gateway_id(&self, g: usize) -> &GatewayId {
        &self.gateways[g].id
    }
}

fn call_of(command: &Command) -> Option<CallId> {
    match command {
        Command::CreateConnection { call, .. }
        | Command::ModifyConnection { call, .. }
        | Command::DeleteConnection { call, .. } => Some(*call),
        _ => None,
    }
}

/// The context, RTP termination and its Local SDP from the reply to a connect.
fn connected<'a>(
    actions: &[ActionReply<'a>],
    line: &str,
) -> Result<(u32, &'a str, &'a str), String> {
    let action = actions.first().ok_or("the reply has no action")?;
    let ContextId::Number(context) = action.context else {
        return Err("the reply names no context".into());
    };
    for command in &action.commands {
        if command.verb != Verb::Add || command.termination.0.eq_ignore_ascii_case(line) {
            continue;
        }
        for d in &command.descriptors {
            if let Descriptor::Media(parms) = d
                && let Some(local) = find_local(parms)
            {
                return Ok((context, command.termination.0, local));
            }
        }
        return Err(format!(
            "the reply for {} has no Local description",
            command.termination.0
        ));
    }
    Err("the reply names no RTP termination".into())
}

fn find_local<'a>(parms: &[MediaParm<'a>]) -> Option<&'a str> {
    parms.iter().find_map(|p| match p {
        MediaParm::Local(sdp) => Some(*sdp),
        MediaParm::Stream(_, inner) => find_local(inner),
        _ => None,
    })
}

/// Our view of the gateway's RTP end from its Local SDP.
fn media_of(sdp: &str, codec: Codec, ptime: Duration) -> Result<Media, String> {
    let parsed = Sdp::parse(sdp.trim().as_bytes()).map_err(|e| format!("its Local SDP: {e}"))?;
    let audio = AudioDescription::from_sdp(&parsed).map_err(|e| format!("its Local SDP: {e}"))?;
    if audio.address.ip().is_unspecified() || audio.address.port() == 0 {
        return Err("its Local SDP has no address".into());
    }
    let codec = match audio.payload_types.first() {
        Some(0) => Codec::Pcmu,
        Some(8) => Codec::Pcma,
        _ => codec,
    };
    Ok(Media {
        address: audio.address,
        codec,
        ptime: audio
            .ptime
            .map_or(ptime, |ms| Duration::from_millis(ms.into())),
        telephone_event: audio.telephone_event,
    })
}
