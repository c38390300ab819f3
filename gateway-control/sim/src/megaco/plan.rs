//! Reading the descriptors of a command into what the gateway will do, before it does any of it:
//! a command that fails leaves its termination as it was. Each refusal carries its H.248.8
//! code.

use std::time::Duration;

use gateway_control::megaco::{
    Descriptor, DigitMapRef, ErrorCode, EventParm, EventsDescriptor, LocalControlParm, MediaParm,
    RequestId, SignalArg, SignalParm, SignalType, StreamMode,
};

use super::Config;
use super::digits::Map;
use super::line::{Armed, Kind, Line, NewSignal, Watch};
use super::sdp::{Description, SdpError};

/// A command that cannot be carried out: the H.248.8 code and a text for the Error descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) text: String,
}

pub(crate) fn refuse(code: u16, text: impl Into<String>) -> Refusal {
    Refusal {
        code: ErrorCode(code),
        text: text.into(),
    }
}

/// H.248.8 codes the message tree has no constant for.
pub(crate) mod code {
    pub(crate) const TERMINATION_IN_CONTEXT: u16 = 433;
    pub(crate) const TOO_MANY_TERMINATIONS: u16 = 434;
    pub(crate) const NOT_IN_CONTEXT: u16 = 435;
    pub(crate) const NO_WILDCARD_MATCH: u16 = 431;
    pub(crate) const BAD_PARAMETER_VALUE: u16 = 449;
    pub(crate) const NO_SUCH_EVENT: u16 = 451;
    pub(crate) const NO_SUCH_SIGNAL: u16 = 452;
    pub(crate) const CANNOT_DETECT: u16 = 512;
    pub(crate) const CANNOT_GENERATE: u16 = 513;
    pub(crate) const UNSUPPORTED_MEDIA: u16 = 515;
    pub(crate) const NO_DIGIT_MAP: u16 = 520;
    pub(crate) const HOOK_STATE: u16 = 540;
}

/// What a command does to a physical termination.
#[derive(Debug, Default)]
pub(crate) struct LinePlan {
    /// `Some(None)`: the bare `Events` that clears; `Some(Some(..))`: a new descriptor.
    pub(crate) events: Option<(Option<u32>, Vec<Armed>)>,
    pub(crate) signals: Option<Vec<NewSignal>>,
    /// Digit maps defined: name (`""` unnamed), map, text.
    pub(crate) maps: Vec<(String, Map, String)>,
    /// What an FXO line's port is to do (seize, answer, release, dial).
    pub(crate) trunk: Option<super::trunk::Action>,
}

/// What a command does to an RTP termination's stream.
#[derive(Debug, Default)]
pub(crate) struct MediaPlan {
    /// The stream id used (`Stream = 1 { … }`), to answer in the same shape.
    pub(crate) stream: Option<u16>,
    pub(crate) mode: Option<StreamMode>,
    pub(crate) local: Option<Description>,
    pub(crate) remote: Option<Description>,
}

impl MediaPlan {
    /// Whether Local or Remote were given (the answer then carries Local).
    pub(crate) fn has_sdp(&self) -> bool {
        self.local.is_some() || self.remote.is_some()
    }
}

fn sdp(text: &str) -> Result<Description, Refusal> {
    Description::parse(text).map_err(|e| match e {
        SdpError::Unsupported => refuse(code::UNSUPPORTED_MEDIA, "only RTP/AVP audio"),
        SdpError::Malformed(what) => refuse(
            ErrorCode::SYNTAX_ERROR_IN_COMMAND.0,
            format!("session description: {what}"),
        ),
    })
}

/// Reads the Media descriptors of a command for an RTP termination.
pub(crate) fn media(descriptors: &[Descriptor<'_>]) -> Result<MediaPlan, Refusal> {
    let mut plan = MediaPlan::default();
    for d in descriptors {
        if let Descriptor::Media(parms) = d {
            media_parms(parms, &mut plan)?;
        }
    }
    Ok(plan)
}

fn media_parms(parms: &[MediaParm<'_>], plan: &mut MediaPlan) -> Result<(), Refusal> {
    for p in parms {
        match p {
            MediaParm::TerminationState(_) => {}
            MediaParm::Stream(id, inner) => {
                if plan.stream.is_some_and(|s| s != *id) {
                    return Err(refuse(
                        ErrorCode::NOT_IMPLEMENTED.0,
                        "one audio stream per termination",
                    ));
                }
                plan.stream = Some(*id);
                media_parms(inner, plan)?;
            }
            MediaParm::LocalControl(lc) => {
                for item in lc {
                    if let LocalControlParm::Mode(m) = item {
                        plan.mode = Some(*m);
                    }
                }
            }
            MediaParm::Local(text) => plan.local = Some(sdp(text)?),
            MediaParm::Remote(text) => plan.remote = Some(sdp(text)?),
        }
    }
    Ok(())
}

/// Reads one signal: `al/ri` and the tones of `cg` (Annex E.7); TimeOut ones last the
/// configured time unless `Duration` says otherwise.
pub(crate) fn signal(
    s: &gateway_control::megaco::Signal<'_>,
    config: &Config,
) -> Result<NewSignal, Refusal> {
    let name = s.name.to_ascii_lowercase();
    let (package, item) = name.split_once('/').unwrap_or((name.as_str(), ""));
    let mut kind = match (package, item) {
        ("al", "ri") => Kind::TimeOut(config.ring_timeout),
        ("cg", "rt") => Kind::TimeOut(config.ring_timeout),
        ("cg", "dt" | "bt" | "ct") => Kind::TimeOut(config.tone_timeout),
        ("cg", "sit" | "wt" | "pt" | "cw" | "cr") => Kind::Brief,
        ("al" | "cg", _) => {
            return Err(refuse(
                code::NO_SUCH_SIGNAL,
                format!("no signal {} in this package", s.name),
            ));
        }
        _ => {
            return Err(refuse(
                code::CANNOT_GENERATE,
                format!("cannot generate {}", s.name),
            ));
        }
    };
    let mut written = Vec::new();
    for a in &s.params {
        match a {
            SignalArg::Type(SignalType::OnOff) => {
                kind = Kind::OnOff;
                written.push("SignalType=OnOff".to_owned());
            }
            SignalArg::Type(SignalType::Brief) => {
                kind = Kind::Brief;
                written.push("SignalType=Brief".to_owned());
            }
            SignalArg::Type(SignalType::TimeOut) => {
                if !matches!(kind, Kind::TimeOut(_)) {
                    kind = Kind::TimeOut(config.tone_timeout);
                }
                written.push("SignalType=TimeOut".to_owned());
            }
            SignalArg::Duration(ms) => {
                if *ms == 0 {
                    return Err(refuse(code::BAD_PARAMETER_VALUE, "Duration 0"));
                }
                written.push(format!("Duration={ms}"));
                if matches!(kind, Kind::TimeOut(_)) {
                    kind = Kind::TimeOut(Duration::from_millis(u64::from(*ms)));
                }
            }
            SignalArg::Other(p) => {
                written.push(p.name.to_owned());
            }
            SignalArg::Stream(_) | SignalArg::NotifyCompletion(_) | SignalArg::KeepActive => {}
        }
    }
    Ok(NewSignal {
        name,
        kind,
        params: (!written.is_empty()).then(|| written.join(",")),
    })
}

/// Reads a Signals descriptor for a physical termination.
pub(crate) fn signals(list: &[SignalParm<'_>], config: &Config) -> Result<Vec<NewSignal>, Refusal> {
    let mut out = Vec::new();
    for p in list {
        match p {
            SignalParm::Signal(s) => out.push(signal(s, config)?),
            SignalParm::List(..) => {
                return Err(refuse(
                    ErrorCode::NOT_IMPLEMENTED.0,
                    "signal lists are not played",
                ));
            }
        }
    }
    Ok(out)
}

/// Reads the descriptors of a command for physical termination `line` (DigitMap first, so that
/// `dd/ce` finds a map defined by the same command).
pub(crate) fn line(
    line: &Line,
    descriptors: &[Descriptor<'_>],
    config: &Config,
) -> Result<LinePlan, Refusal> {
    let mut plan = LinePlan::default();
    for d in descriptors {
        if let Descriptor::DigitMap(dm) = d {
            match (dm.name, dm.value) {
                (name, Some(value)) => {
                    let map = Map::parse(value).map_err(|e| {
                        refuse(
                            ErrorCode::SYNTAX_ERROR_IN_COMMAND.0,
                            format!("digit map: {}", e.0),
                        )
                    })?;
                    plan.maps
                        .push((name.unwrap_or("").to_owned(), map, value.to_owned()));
                }
                (Some(name), None) => {
                    if line.map(Some(name)).is_none() {
                        return Err(refuse(
                            code::NO_DIGIT_MAP,
                            format!("digit map {name} undefined"),
                        ));
                    }
                }
                (None, None) => {}
            }
        }
    }
    for d in descriptors {
        match d {
            Descriptor::Events(e) => plan.events = Some(events(line, e, &plan.maps)?),
            Descriptor::Signals(list) => match &line.fxo {
                Some(fxo) => {
                    let (action, others) = super::trunk::signals(list, &fxo.port, config)?;
                    plan.trunk = action;
                    plan.signals = Some(others);
                }
                None => plan.signals = Some(signals(list, config)?),
            },
            Descriptor::ServiceChange(_) | Descriptor::ObservedEvents(_) => {
                return Err(refuse(447, "descriptor not legal in this command"));
            }
            _ => {}
        }
    }
    let rings = plan
        .signals
        .iter()
        .flatten()
        .any(|s| s.name == "al/ri" && s.kind != Kind::Brief);
    if rings && line.phone.is_off_hook() {
        return Err(refuse(code::HOOK_STATE, "cannot ring: off-hook"));
    }
    Ok(plan)
}

fn events(
    line: &Line,
    e: &EventsDescriptor<'_>,
    maps: &[(String, Map, String)],
) -> Result<(Option<u32>, Vec<Armed>), Refusal> {
    let request_id = match e.request_id {
        None => return Ok((None, Vec::new())),
        Some(RequestId::Number(n)) => n,
        Some(RequestId::All) => {
            return Err(refuse(
                ErrorCode::SYNTAX_ERROR_IN_COMMAND.0,
                "RequestID * in a request",
            ));
        }
    };
    let mut armed = Vec::new();
    for ev in &e.events {
        let name = ev.name.to_ascii_lowercase();
        let (package, item) = name.split_once('/').unwrap_or((name.as_str(), ""));
        let mut keep_active = false;
        let mut map_ref = None;
        for p in &ev.params {
            match p {
                EventParm::KeepActive => keep_active = true,
                EventParm::DigitMap(r) => map_ref = Some(*r),
                EventParm::Embed(_) => {
                    return Err(refuse(
                        ErrorCode::NOT_IMPLEMENTED.0,
                        "embedded events and signals",
                    ));
                }
                EventParm::Stream(_) | EventParm::Other(_) => {}
            }
        }
        let watch = match (package, item) {
            ("al", "of") => Watch::OffHook,
            ("al", "on") => Watch::OnHook,
            ("al", "fl") => Watch::Flash,
            ("dd", "*") => Watch::AnyKey,
            ("dd", "ce") => {
                let map = match map_ref {
                    Some(DigitMapRef::Value(v)) => Map::parse(v).map_err(|e| {
                        refuse(
                            ErrorCode::SYNTAX_ERROR_IN_COMMAND.0,
                            format!("digit map: {}", e.0),
                        )
                    })?,
                    Some(DigitMapRef::Name(n)) => maps
                        .iter()
                        .rev()
                        .find(|(m, ..)| m.eq_ignore_ascii_case(n))
                        .map(|(_, m, _)| m)
                        .or_else(|| line.map(Some(n)))
                        .cloned()
                        .ok_or_else(|| {
                            refuse(code::NO_DIGIT_MAP, format!("digit map {n} undefined"))
                        })?,
                    None => maps
                        .last()
                        .map(|(_, m, _)| m)
                        .or_else(|| line.map(None))
                        .cloned()
                        .ok_or_else(|| refuse(code::NO_DIGIT_MAP, "no digit map for dd/ce"))?,
                };
                Watch::Completion(Box::new(map))
            }
            ("dd", item) => match super::digits::key(item) {
                Some(k) => Watch::Key(k),
                None if matches!(item, "std" | "etd" | "ltd") => {
                    return Err(refuse(code::CANNOT_DETECT, format!("cannot detect {name}")));
                }
                None => {
                    return Err(refuse(
                        code::NO_SUCH_EVENT,
                        format!("no event {name} in this package"),
                    ));
                }
            },
            (package, item) if line.fxo.is_some() && super::trunk::is_event(package, item) => {
                Watch::Named(name.clone())
            }
            ("al", _) => {
                return Err(refuse(
                    code::NO_SUCH_EVENT,
                    format!("no event {name} in this package"),
                ));
            }
            _ => {
                return Err(refuse(code::CANNOT_DETECT, format!("cannot detect {name}")));
            }
        };
        armed.push(Armed {
            watch,
            name: ev.name.to_owned(),
            keep_active,
        });
    }
    Ok((Some(request_id), armed))
}

/// Checks the descriptors of a command for an RTP termination: events only of the network and
/// RTP packages (accepted, never reported: the simulated network does not fail), no signals.
pub(crate) fn rtp(descriptors: &[Descriptor<'_>]) -> Result<MediaPlan, Refusal> {
    for d in descriptors {
        match d {
            Descriptor::Events(e) => {
                for ev in &e.events {
                    let n = ev.name.to_ascii_lowercase();
                    if !(n.starts_with("nt/") || n.starts_with("rtp/")) {
                        return Err(refuse(
                            code::CANNOT_DETECT,
                            format!("cannot detect {} on an RTP termination", ev.name),
                        ));
                    }
                }
            }
            Descriptor::Signals(list) if !list.is_empty() => {
                return Err(refuse(
                    code::CANNOT_GENERATE,
                    "no signals on an RTP termination",
                ));
            }
            Descriptor::ServiceChange(_) | Descriptor::ObservedEvents(_) => {
                return Err(refuse(447, "descriptor not legal in this command"));
            }
            _ => {}
        }
    }
    media(descriptors)
}
