//! Executing the call agent's commands (RFC 3435 §2.3): RQNT, CRCX, MDCX, DLCX, AUEP, AUCX,
//! EPCF, answered with the RFC 3661 codes a residential gateway uses.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::debug;

use super::digitmap::DigitMap;
use super::gateway::{Gateway, notified_address};
use super::line::{Effects, Line, NewRequest, Quarantine};
use super::request::{self, EventSpec, Refusal, Requested, Signal};
use crate::analog::{Connection, ConnectionAction, Mode, Output};
use gateway_control::mgcp::wire::{self, AudioDescription, Command, Param, ReturnCode, Verb};
use gateway_control::model::Codec;

/// The answer to one command, owned until encoded.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) code: ReturnCode,
    pub(crate) why: &'static str,
    pub(crate) line: Option<u16>,
    /// Parameter lines, name and value.
    pub(crate) params: Vec<(&'static str, String)>,
    /// A session description to attach.
    pub(crate) sdp: Option<Vec<u8>>,
}

impl Reply {
    fn ok(code: ReturnCode, line: Option<u16>) -> Self {
        Self {
            code,
            why: "",
            line,
            params: Vec::new(),
            sdp: None,
        }
    }

    fn refused(r: Refusal, line: Option<u16>) -> Self {
        Self {
            code: r.code,
            why: r.why,
            line,
            params: Vec::new(),
            sdp: None,
        }
    }

    /// The commentary: the reason for a refusal, the standard text otherwise.
    pub(crate) fn comment(&self) -> &'static str {
        if self.why.is_empty() {
            self.code.reason()
        } else {
            self.why
        }
    }
}

fn refuse(code: ReturnCode, why: &'static str) -> Refusal {
    Refusal::new(code, why)
}

/// The lines a command names.
enum Target {
    One(usize),
    All,
    Any,
}

/// A notification request carried by a command, validated but not yet installed.
struct Request {
    id: Option<String>,
    requested: Option<Vec<Requested>>,
    signals: Option<Vec<Signal>>,
    digit_map: Option<(DigitMap, String)>,
    quarantine: Quarantine,
    notified: Option<String>,
}

/// Media options from `L:` and the remote description.
struct MediaOptions {
    codec: Option<Codec>,
    ptime: Option<Duration>,
    remote: Option<SocketAddr>,
}

fn codec_named(name: &str) -> Option<Codec> {
    match name.trim().to_ascii_uppercase().as_str() {
        "PCMU" | "G711U" | "G.711U" | "G711ULAW" => Some(Codec::Pcmu),
        "PCMA" | "G711A" | "G.711A" | "G711ALAW" => Some(Codec::Pcma),
        _ => None,
    }
}

fn mode_of(m: &wire::Mode<'_>) -> Result<Mode, Refusal> {
    Ok(match m {
        wire::Mode::SendOnly => Mode::SendOnly,
        wire::Mode::RecvOnly => Mode::RecvOnly,
        wire::Mode::SendRecv => Mode::SendRecv,
        wire::Mode::Conference => Mode::Conference,
        wire::Mode::Inactive => Mode::Inactive,
        wire::Mode::Loopback => Mode::Loopback,
        _ => return Err(refuse(ReturnCode::INVALID_MODE, "unsupported mode")),
    })
}

fn media_options(c: &Command<'_>) -> Result<MediaOptions, Refusal> {
    let mut o = MediaOptions {
        codec: None,
        ptime: None,
        remote: None,
    };
    let mut offered: Option<Vec<Codec>> = None;
    if let Some(pairs) = wire::find(&c.params, |p| match p {
        Param::LocalConnectionOptions(l) => Some(l),
        _ => None,
    }) {
        for pair in pairs {
            match pair.key.to_ascii_lowercase().as_str() {
                "a" => {
                    let list: Vec<Codec> = pair.value.split(';').filter_map(codec_named).collect();
                    if list.is_empty() {
                        return Err(refuse(
                            ReturnCode::UNSUPPORTED_OPTION_VALUE,
                            "no supported codec in a:",
                        ));
                    }
                    offered = Some(list);
                }
                "p" => {
                    let first = pair.value.split('-').next().unwrap_or("");
                    let ms: u64 = first.trim().parse().map_err(|_| {
                        refuse(
                            ReturnCode::UNSUPPORTED_OPTION_VALUE,
                            "bad packetisation period",
                        )
                    })?;
                    if !(10..=60).contains(&ms) || !ms.is_multiple_of(10) {
                        return Err(refuse(
                            ReturnCode::UNSUPPORTED_OPTION_VALUE,
                            "packetisation period not supported",
                        ));
                    }
                    o.ptime = Some(Duration::from_millis(ms));
                }
                _ => {}
            }
        }
    }
    if let Some(sdp) = &c.sdp {
        let audio = AudioDescription::from_sdp(sdp)
            .map_err(|_| refuse(ReturnCode::UNSUPPORTED_SDP, "unusable session description"))?;
        let pick = audio.payload_types.iter().find_map(|&pt| {
            let codec = match pt {
                0 => Codec::Pcmu,
                8 => Codec::Pcma,
                _ => return None,
            };
            offered
                .as_ref()
                .is_none_or(|l| l.contains(&codec))
                .then_some(codec)
        });
        let Some(codec) = pick else {
            return Err(refuse(ReturnCode::UNSUPPORTED_SDP, "no common codec"));
        };
        o.codec = Some(codec);
        if o.ptime.is_none()
            && let Some(ms) = audio
                .ptime
                .filter(|ms| (10..=60).contains(ms) && ms.is_multiple_of(10))
        {
            o.ptime = Some(Duration::from_millis(u64::from(ms)));
        }
        // Port 0 or an unspecified address means "not yet".
        if audio.address.port() != 0 && !audio.address.ip().is_unspecified() {
            o.remote = Some(audio.address);
        }
    } else if let Some(l) = offered {
        o.codec = l.first().copied();
    }
    Ok(o)
}

impl Gateway {
    fn target(&self, c: &Command<'_>) -> Result<Target, Refusal> {
        if !c.endpoint.domain.eq_ignore_ascii_case(&self.config.domain) {
            return Err(refuse(ReturnCode::UNKNOWN_ENDPOINT, "unknown domain"));
        }
        let local = c.endpoint.local.to_ascii_lowercase();
        match local.as_str() {
            "*" | "aaln/*" => return Ok(Target::All),
            "$" | "aaln/$" => return Ok(Target::Any),
            _ => {}
        }
        local
            .strip_prefix("aaln/")
            .and_then(|n| n.parse::<u16>().ok())
            .and_then(|n| usize::from(n).checked_sub(1))
            .filter(|&i| i < self.lines.len())
            .map(Target::One)
            .ok_or_else(|| refuse(ReturnCode::UNKNOWN_ENDPOINT, "unknown endpoint"))
    }

    /// Executes a new command from `from`.
    pub(crate) fn execute(&mut self, now: Instant, from: SocketAddr, c: &Command<'_>) -> Reply {
        // RFC 3435 §2.4 (and J.162 §6.5 for NCS): a version the endpoint does not speak.
        if !self.config.profile.accepts(&c.version) {
            let r = refuse(
                ReturnCode::INCOMPATIBLE_VERSION,
                "incompatible protocol version",
            );
            return Reply::refused(r, None);
        }
        let target = match self.target(c) {
            Ok(t) => t,
            Err(r) => return Reply::refused(r, None),
        };
        let line = match target {
            Target::One(i) => Some(self.lines[i].number),
            _ => None,
        };
        let result = match (c.verb, target) {
            (Verb::Rqnt, Target::One(i)) => self.rqnt(now, from, i, c),
            (Verb::Crcx, Target::One(i)) => self.crcx(now, from, i, c),
            (Verb::Crcx, Target::Any) => match self
                .lines
                .iter()
                .position(|l| !l.phone.is_off_hook() && l.connections.is_empty())
            {
                Some(i) => self.crcx(now, from, i, c).map(|mut r| {
                    let name = format!("{}@{}", self.lines[i].name, self.config.domain);
                    r.params.push(("Z", name));
                    r.line = Some(self.lines[i].number);
                    r
                }),
                None => Err(refuse(ReturnCode::NO_RESOURCES_NOW, "no free line")),
            },
            (Verb::Mdcx, Target::One(i)) => self.mdcx(now, from, i, c),
            (Verb::Dlcx, Target::One(i)) => self.dlcx(now, from, &[i], c),
            (Verb::Dlcx, Target::All) => {
                let all: Vec<usize> = (0..self.lines.len()).collect();
                self.dlcx(now, from, &all, c)
            }
            (Verb::Auep, Target::One(i)) => Ok(self.auep(i, c)),
            (Verb::Auep, Target::All) => {
                let mut r = Reply::ok(ReturnCode::OK, None);
                for l in &self.lines {
                    r.params
                        .push(("Z", format!("{}@{}", l.name, self.config.domain)));
                }
                Ok(r)
            }
            (Verb::Aucx, Target::One(i)) => self.aucx(i, c),
            (Verb::Epcf, Target::One(i)) => self.epcf(&[i], c),
            (Verb::Epcf, Target::All) => {
                let all: Vec<usize> = (0..self.lines.len()).collect();
                self.epcf(&all, c)
            }
            (Verb::Ntfy | Verb::Rsip, _) => Err(refuse(
                ReturnCode::UNSUPPORTED_COMMAND,
                "a gateway does not accept this command",
            )),
            (_, Target::All | Target::Any) => Err(refuse(
                ReturnCode::WILDCARD_TOO_COMPLICATED,
                "wildcard not supported for this command",
            )),
        };
        match result {
            Ok(mut r) => {
                r.line = r.line.or(line);
                r
            }
            Err(refusal) => Reply::refused(refusal, line),
        }
    }

    /// Validates the notification request parts of a command (X, R, S, D, Q, N).
    fn request(&self, i: usize, c: &Command<'_>) -> Result<Request, Refusal> {
        let line = &self.lines[i];
        let mut req = Request {
            id: None,
            requested: None,
            signals: None,
            digit_map: None,
            quarantine: Quarantine::default(),
            notified: None,
        };
        for p in &c.params {
            match p {
                Param::RequestIdentifier(x) => req.id = Some((*x).to_owned()),
                Param::RequestedEvents(list) => {
                    if list.len() > request::MAX_ITEMS {
                        return Err(refuse(ReturnCode::PARAMETER_ERROR, "too many events"));
                    }
                    let mut out = Vec::with_capacity(list.len());
                    for ev in list {
                        out.push(request::requested(ev, 0, self.config.profile)?);
                    }
                    req.requested = Some(out);
                }
                Param::SignalRequests(list) => {
                    if list.len() > request::MAX_ITEMS {
                        return Err(refuse(ReturnCode::PARAMETER_ERROR, "too many signals"));
                    }
                    let mut out = Vec::with_capacity(list.len());
                    for s in list {
                        out.push(request::signal(s, self.config.profile)?);
                    }
                    req.signals = Some(out);
                }
                Param::DigitMap(text) => {
                    let map = DigitMap::parse(text)
                        .map_err(|_| refuse(ReturnCode::PROTOCOL_ERROR, "malformed digit map"))?;
                    req.digit_map = Some((map, (*text).to_owned()));
                }
                Param::QuarantineHandling(q) => {
                    for word in q.split(',') {
                        match word.trim().to_ascii_lowercase().as_str() {
                            "process" => req.quarantine.discard = false,
                            "discard" => req.quarantine.discard = true,
                            "step" => req.quarantine.looping = false,
                            "loop" => req.quarantine.looping = true,
                            _ => {
                                return Err(refuse(
                                    ReturnCode::UNSUPPORTED_PARAMETER,
                                    "unknown quarantine handling",
                                ));
                            }
                        }
                    }
                }
                Param::NotifiedEntity(n) => req.notified = Some((*n).to_owned()),
                // DetectEvents: persistent detection is what this line does anyway.
                _ => {}
            }
        }
        let has_map = req.digit_map.is_some() || line.digit_map.is_some();
        let wants_map = req.requested.iter().flatten().any(|r| r.actions.digit_map);
        if wants_map && !has_map {
            return Err(refuse(ReturnCode::NO_DIGIT_MAP, "no digit map"));
        }
        let settled = !line.hook_change_pending();
        if let Some(r) = &req.requested
            && settled
        {
            let hd = Line::requests(r, EventSpec::OffHook);
            let hu = Line::requests(r, EventSpec::OnHook);
            if line.phone.is_off_hook() && hd && !hu {
                return Err(refuse(ReturnCode::ALREADY_OFF_HOOK, "already off-hook"));
            }
            if !line.phone.is_off_hook() && hu && !hd {
                return Err(refuse(ReturnCode::ALREADY_ON_HOOK, "already on-hook"));
            }
        }
        line.check_trunk_signals(
            req.signals.as_deref().unwrap_or_default(),
            req.requested.as_deref(),
        )?;
        let rings = req.signals.iter().flatten().any(|s| s.ring.is_ring());
        // A phone that is off-hook cannot ring, whatever is still quarantined.
        if rings && line.phone.is_off_hook() {
            return Err(refuse(
                ReturnCode::ALREADY_OFF_HOOK,
                "cannot ring: off-hook",
            ));
        }
        Ok(req)
    }

    /// Installs a validated request on line `i`, if it carries one.
    fn install(&mut self, now: Instant, from: SocketAddr, i: usize, req: Request) {
        let has_request = req.id.is_some() || req.requested.is_some() || req.signals.is_some();
        let mut fx = Effects::default();
        let line = &mut self.lines[i];
        if let Some(n) = &req.notified {
            line.notified = Some(notified_address(n).unwrap_or(from));
            line.notified_text = Some(n.clone());
        } else if line.notified.is_none() {
            line.notified = Some(from);
        }
        let map = req.digit_map.map(|(m, text)| {
            line.digit_map_text = Some(text);
            m
        });
        if has_request {
            let new = NewRequest {
                id: req.id.unwrap_or_else(|| "0".into()),
                requested: req.requested.unwrap_or_default(),
                signals: req.signals,
                digit_map: map,
                quarantine: req.quarantine,
            };
            line.install_request(now, &self.config, new, &mut fx);
        } else if let Some(m) = map {
            line.digit_map = Some(m);
        }
        self.apply(fx);
    }

    fn rqnt(
        &mut self,
        now: Instant,
        from: SocketAddr,
        i: usize,
        c: &Command<'_>,
    ) -> Result<Reply, Refusal> {
        let req = self.request(i, c)?;
        if req.id.is_none() {
            return Err(refuse(
                ReturnCode::PROTOCOL_ERROR,
                "RequestIdentifier missing",
            ));
        }
        self.install(now, from, i, req);
        Ok(Reply::ok(ReturnCode::OK, None))
    }

    fn crcx(
        &mut self,
        now: Instant,
        from: SocketAddr,
        i: usize,
        c: &Command<'_>,
    ) -> Result<Reply, Refusal> {
        let call = wire::find(&c.params, |p| match p {
            Param::CallId(x) => Some(*x),
            _ => None,
        })
        .ok_or_else(|| refuse(ReturnCode::UNKNOWN_CALL_ID, "CallId missing"))?;
        let mode = wire::find(&c.params, |p| match p {
            Param::ConnectionMode(m) => Some(m),
            _ => None,
        })
        .ok_or_else(|| refuse(ReturnCode::INVALID_MODE, "ConnectionMode missing"))
        .and_then(mode_of)?;
        let media = media_options(c)?;
        let req = self.request(i, c)?;
        if self.lines[i].connections.len() >= self.config.max_connections {
            return Err(refuse(ReturnCode::CONNECTION_LIMIT, "connection limit"));
        }
        let Some(port) = self.rtp_ports.pop_front() else {
            return Err(refuse(ReturnCode::NO_RESOURCES_NOW, "no RTP port free"));
        };
        self.next_connection = self.next_connection.wrapping_add(1);
        let id = format!("{:X}", self.next_connection);
        let codec = media.codec.unwrap_or(self.lines[i].bearer);
        let ptime = media.ptime.unwrap_or(Duration::from_millis(20));
        let random = self.rtp_random();
        let local = self.media_address(port);
        let conn = Connection::new(
            id.clone(),
            call.to_owned(),
            mode,
            codec,
            ptime,
            local,
            media.remote,
            random,
        );
        self.by_port.insert(port, (i, id.clone()));
        let sdp = self.local_sdp(&conn);
        let number = self.lines[i].number;
        self.outputs.push_back(Output::Connection {
            line: number,
            action: ConnectionAction::Created,
            id: id.clone(),
            call: call.to_owned(),
            mode: mode.as_str(),
            codec: codec.name(),
            local,
            remote: media.remote,
        });
        self.lines[i].connections.push(conn);
        self.install(now, from, i, req);
        debug!(line = number, connection = %id, port, "connection created");
        let mut r = Reply::ok(ReturnCode::OK, Some(number));
        r.params.push(("I", id));
        r.sdp = Some(sdp);
        Ok(r)
    }

    fn local_sdp(&self, conn: &Connection) -> Vec<u8> {
        let audio = AudioDescription {
            address: conn.local,
            payload_types: vec![conn.codec.payload_type()],
            ptime: Some(conn.ptime.as_millis() as u32),
            telephone_event: None,
        };
        let mut text = Vec::new();
        audio.write(&mut text, u64::from(conn.local.port()));
        text
    }

    fn connection_id<'c>(c: &'c Command<'_>) -> Option<&'c str> {
        wire::find(&c.params, |p| match p {
            Param::ConnectionId(x) => Some(*x),
            _ => None,
        })
    }

    /// The codes of the `F:` (RequestedInfo) line, if any.
    fn requested_info<'c>(c: &Command<'c>) -> Vec<&'c str> {
        wire::find(&c.params, |p| match p {
            Param::RequestedInfo(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap_or_default()
    }

    fn call_id<'c>(c: &'c Command<'_>) -> Option<&'c str> {
        wire::find(&c.params, |p| match p {
            Param::CallId(x) => Some(*x),
            _ => None,
        })
    }

    fn mdcx(
        &mut self,
        now: Instant,
        from: SocketAddr,
        i: usize,
        c: &Command<'_>,
    ) -> Result<Reply, Refusal> {
        let id = Self::connection_id(c)
            .ok_or_else(|| refuse(ReturnCode::INCORRECT_CONNECTION_ID, "ConnectionId missing"))?;
        let ci = self.lines[i]
            .connections
            .iter()
            .position(|k| k.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| refuse(ReturnCode::INCORRECT_CONNECTION_ID, "no such connection"))?;
        if let Some(call) = Self::call_id(c)
            && !self.lines[i].connections[ci]
                .call
                .eq_ignore_ascii_case(call)
        {
            return Err(refuse(ReturnCode::UNKNOWN_CALL_ID, "CallId does not match"));
        }
        let mode = match wire::find(&c.params, |p| match p {
            Param::ConnectionMode(m) => Some(m),
            _ => None,
        }) {
            Some(m) => Some(mode_of(m)?),
            None => None,
        };
        let media = media_options(c)?;
        let req = self.request(i, c)?;
        let random = self.rtp_random();
        let number = self.lines[i].number;
        let conn = &mut self.lines[i].connections[ci];
        if let Some(m) = mode {
            conn.set_mode(m);
        }
        if let Some(codec) = media.codec {
            conn.set_codec(codec, random);
        }
        if let Some(p) = media.ptime {
            conn.ptime = p;
        }
        if media.remote.is_some() {
            conn.remote = media.remote;
        }
        let out = Output::Connection {
            line: number,
            action: ConnectionAction::Modified,
            id: conn.id.clone(),
            call: conn.call.clone(),
            mode: conn.mode().as_str(),
            codec: conn.codec.name(),
            local: conn.local,
            remote: conn.remote,
        };
        self.outputs.push_back(out);
        let sdp = self.local_sdp(&self.lines[i].connections[ci]);
        self.install(now, from, i, req);
        let mut r = Reply::ok(ReturnCode::OK, Some(number));
        r.sdp = Some(sdp);
        Ok(r)
    }

    fn dlcx(
        &mut self,
        now: Instant,
        from: SocketAddr,
        lines: &[usize],
        c: &Command<'_>,
    ) -> Result<Reply, Refusal> {
        let id = Self::connection_id(c);
        let call = Self::call_id(c);
        let req = match lines {
            [i] => Some(self.request(*i, c)?),
            _ => None,
        };
        let mut deleted = Vec::new();
        for &i in lines {
            let mut k = 0;
            while k < self.lines[i].connections.len() {
                let conn = &self.lines[i].connections[k];
                let hit = id.is_none_or(|x| conn.id.eq_ignore_ascii_case(x))
                    && call.is_none_or(|x| conn.call.eq_ignore_ascii_case(x));
                if hit {
                    let conn = self.lines[i].connections.remove(k);
                    deleted.push(self.deleted(i, conn));
                } else {
                    k += 1;
                }
            }
        }
        if deleted.is_empty() && (id.is_some() || call.is_some()) {
            return Err(if id.is_some() {
                refuse(ReturnCode::INCORRECT_CONNECTION_ID, "no such connection")
            } else {
                refuse(
                    ReturnCode::UNKNOWN_CALL_ID,
                    "no connection with that CallId",
                )
            });
        }
        if let (Some(req), [i]) = (req, lines) {
            self.install(now, from, *i, req);
        }
        let mut r = Reply::ok(
            if deleted.is_empty() {
                ReturnCode::OK
            } else {
                ReturnCode::DELETED
            },
            None,
        );
        if let [params] = &deleted[..] {
            r.params.push(("P", params.clone()));
        }
        Ok(r)
    }

    /// Tidies up after a connection is removed from line `i`; returns its `P:` text.
    fn deleted(&mut self, i: usize, mut conn: Connection) -> String {
        let number = self.lines[i].number;
        if let Some(packets) = conn.stop_say() {
            self.outputs.push_back(Output::SayDone {
                line: number,
                packets,
                complete: false,
            });
        }
        let port = conn.local.port();
        self.by_port.remove(&port);
        self.rtp_ports.push_back(port);
        self.outputs.push_back(Output::Connection {
            line: number,
            action: ConnectionAction::Deleted,
            id: conn.id.clone(),
            call: conn.call.clone(),
            mode: conn.mode().as_str(),
            codec: conn.codec.name(),
            local: conn.local,
            remote: conn.remote,
        });
        let line = &mut self.lines[i];
        if line.connections.is_empty() && line.phone.hearing {
            line.phone.hearing = false;
            self.outputs.push_back(Output::HearEnded { line: number });
        }
        conn.parameters()
    }

    fn auep(&self, i: usize, c: &Command<'_>) -> Reply {
        let line = &self.lines[i];
        let mut r = Reply::ok(ReturnCode::OK, Some(line.number));
        let asked = Self::requested_info(c);
        for code in asked {
            let value = match code.to_ascii_uppercase().as_str() {
                "R" => ("R", join(line.requested.iter().map(|q| q.text.clone()))),
                "S" => (
                    "S",
                    join(line.signals.iter().map(|a| a.signal.name.clone())),
                ),
                "X" => ("X", line.request_id.clone().unwrap_or_default()),
                "N" => ("N", line.notified_text.clone().unwrap_or_default()),
                "D" => ("D", line.digit_map_text.clone().unwrap_or_default()),
                // No connection, no `I:` line: the grammar's ConnectionId is 1 to 32 hex
                // digits, and an empty list does not parse. Cisco IOS writes an empty one.
                "I" if line.connections.is_empty()
                    && self.config.profile.empty_connection_list() =>
                {
                    ("I", String::new())
                }
                "I" if line.connections.is_empty() => continue,
                "I" => ("I", join(line.connections.iter().map(|k| k.id.clone()))),
                "ES" => ("ES", line.event_state().to_owned()),
                "Q" => (
                    "Q",
                    format!(
                        "{},{}",
                        if line.quarantine_mode.discard {
                            "discard"
                        } else {
                            "process"
                        },
                        if line.quarantine_mode.looping {
                            "loop"
                        } else {
                            "step"
                        }
                    ),
                ),
                "A" => {
                    let profile = self.config.profile;
                    r.params.push(("A", profile.capabilities().to_owned()));
                    if let Some((name, value)) = profile.vendor_capability() {
                        r.params.push((name, value.to_owned()));
                    }
                    continue;
                }
                "RM" => ("RM", "restart".to_owned()),
                _ => continue,
            };
            r.params.push(value);
        }
        r
    }

    fn aucx(&self, i: usize, c: &Command<'_>) -> Result<Reply, Refusal> {
        let line = &self.lines[i];
        let id = Self::connection_id(c)
            .ok_or_else(|| refuse(ReturnCode::INCORRECT_CONNECTION_ID, "ConnectionId missing"))?;
        let conn = line
            .connections
            .iter()
            .find(|k| k.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| refuse(ReturnCode::INCORRECT_CONNECTION_ID, "no such connection"))?;
        let mut r = Reply::ok(ReturnCode::OK, Some(line.number));
        let asked = Self::requested_info(c);
        for code in asked {
            match code.to_ascii_uppercase().as_str() {
                "C" => r.params.push(("C", conn.call.clone())),
                "M" => r.params.push(("M", conn.mode().as_str().to_owned())),
                "N" => r
                    .params
                    .push(("N", line.notified_text.clone().unwrap_or_default())),
                "L" => r.params.push((
                    "L",
                    format!("p:{}, a:{}", conn.ptime.as_millis(), conn.codec.name()),
                )),
                "P" => r.params.push(("P", conn.parameters())),
                "LC" => r.sdp = Some(self.local_sdp(conn)),
                _ => {}
            }
        }
        Ok(r)
    }

    fn epcf(&mut self, lines: &[usize], c: &Command<'_>) -> Result<Reply, Refusal> {
        if let Some(b) = wire::find(&c.params, |p| match p {
            Param::BearerInformation(b) => Some(*b),
            _ => None,
        }) {
            let codec = match b.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("e", "mu")) => Codec::Pcmu,
                Some(("e", "A")) => Codec::Pcma,
                _ => {
                    return Err(refuse(
                        ReturnCode::UNSUPPORTED_PARAMETER,
                        "unsupported bearer information",
                    ));
                }
            };
            for &i in lines {
                self.lines[i].bearer = codec;
            }
        }
        Ok(Reply::ok(ReturnCode::OK, None))
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}
