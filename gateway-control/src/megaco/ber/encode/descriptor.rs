//! The descriptors' part of the encoder: Media (with the session descriptions of Local and
//! Remote), Events, EventBuffer, ObservedEvents, Signals, DigitMap and Statistics, and the
//! properties and parameters they hold.

use super::super::names::{self, NameError};
use super::super::tlv::{OCTET_STRING, SEQUENCE, Writer, ctx, ctx_c};
use super::{EncodeError, Result, malformed, unsupported};
use crate::megaco::packages::{Item, Scope};
use crate::megaco::{
    DigitMapDescriptor, DigitMapRef, EventParm, EventSpec, EventSpecParm, EventsDescriptor,
    LocalControlParm, MediaParm, NotifyReason, ObservedEventsDescriptor, ParmValue, Property,
    RequestId, RequestedEvent, ServiceState, Signal, SignalArg, SignalParm, SignalType, Statistic,
    StreamMode, TerminationStateParm,
};

/// `MediaDescriptor`: termStateDescr [0], streams [1] (oneStream [0] or multiStream [1]).
pub(super) fn media(w: &mut Writer<'_>, parms: &[MediaParm<'_>]) -> Result {
    let mut state = None;
    let mut one: Vec<&MediaParm<'_>> = Vec::new();
    let mut multi = Vec::new();
    for p in parms {
        match p {
            MediaParm::TerminationState(s) if state.is_none() => state = Some(s),
            MediaParm::TerminationState(_) => {
                return Err(unsupported("mediaDescriptor", "two TerminationState"));
            }
            MediaParm::Stream(id, s) => multi.push((*id, s.as_slice())),
            other => one.push(other),
        }
    }
    if !one.is_empty() && !multi.is_empty() {
        return Err(unsupported(
            "mediaDescriptor",
            "both Stream and stream parameters outside a Stream",
        ));
    }
    if let Some(s) = state {
        w.constructed(ctx_c(0), |w| termination_state(w, s))?;
    }
    if !one.is_empty() {
        w.constructed(ctx_c(1), |w| {
            w.constructed(ctx_c(0), |w| stream_parms(w, one.iter().copied()))
        })?;
    } else if !multi.is_empty() {
        w.constructed(ctx_c(1), |w| {
            w.constructed(ctx_c(1), |w| {
                for (id, parms) in &multi {
                    // StreamDescriptor: streamID [0], streamParms [1]
                    w.constructed(SEQUENCE, |w| {
                        w.unsigned(ctx(0), u64::from(*id));
                        w.constructed(ctx_c(1), |w| stream_parms(w, parms.iter()))
                    })?;
                }
                Ok(())
            })
        })?;
    }
    Ok(())
}

/// `TerminationStateDescriptor`: propertyParms [0], eventBufferControl [1], serviceState [2].
fn termination_state(w: &mut Writer<'_>, parms: &[TerminationStateParm<'_>]) -> Result {
    let mut buffer = None;
    let mut service = None;
    w.constructed(ctx_c(0), |w| {
        for p in parms {
            match p {
                TerminationStateParm::Property(p) => property_parm(w, p)?,
                TerminationStateParm::LockStep(b) if buffer.is_none() => buffer = Some(*b),
                TerminationStateParm::ServiceStates(s) if service.is_none() => service = Some(*s),
                _ => return Err(unsupported("terminationState", "a repeated parameter")),
            }
        }
        Ok(())
    })?;
    if let Some(lock_step) = buffer {
        w.unsigned(ctx(1), u64::from(lock_step));
    }
    if let Some(s) = service {
        let n = match s {
            ServiceState::Test => 0,
            ServiceState::OutOfService => 1,
            ServiceState::InService => 2,
        };
        w.unsigned(ctx(2), n);
    }
    Ok(())
}

/// `StreamParms`: localControlDescriptor [0], localDescriptor [1], remoteDescriptor [2].
fn stream_parms<'p, 'a: 'p>(
    w: &mut Writer<'_>,
    parms: impl Iterator<Item = &'p MediaParm<'a>>,
) -> Result {
    let (mut control, mut local, mut remote) = (None, None, None);
    for p in parms {
        let (slot, value) = match p {
            MediaParm::LocalControl(c) => {
                if control.replace(c).is_some() {
                    return Err(unsupported("streamParms", "two LocalControl"));
                }
                continue;
            }
            MediaParm::Local(sdp) => (&mut local, sdp),
            MediaParm::Remote(sdp) => (&mut remote, sdp),
            MediaParm::TerminationState(_) | MediaParm::Stream(..) => {
                return Err(unsupported(
                    "streamParms",
                    "TerminationState or Stream in a Stream",
                ));
            }
        };
        if slot.replace(*value).is_some() {
            return Err(unsupported("streamParms", "two Local or two Remote"));
        }
    }
    if let Some(c) = control {
        w.constructed(ctx_c(0), |w| local_control(w, c))?;
    }
    for (tag, sdp) in [(1, local), (2, remote)] {
        if let Some(sdp) = sdp {
            w.constructed(ctx_c(tag), |w| local_remote(w, sdp))?;
        }
    }
    Ok(())
}

/// `LocalControlDescriptor`: streamMode [0], reserveValue [1], reserveGroup [2],
/// propertyParms [3].
fn local_control(w: &mut Writer<'_>, parms: &[LocalControlParm<'_>]) -> Result {
    let (mut mode, mut value, mut group) = (None, None, None);
    let mut props = Vec::new();
    for p in parms {
        let repeated = match p {
            LocalControlParm::Mode(m) => mode.replace(*m).is_some(),
            LocalControlParm::ReservedValue(b) => value.replace(*b).is_some(),
            LocalControlParm::ReservedGroup(b) => group.replace(*b).is_some(),
            LocalControlParm::Property(p) => {
                props.push(p);
                false
            }
        };
        if repeated {
            return Err(unsupported(
                "localControlDescriptor",
                "a repeated parameter",
            ));
        }
    }
    if let Some(m) = mode {
        let n = match m {
            StreamMode::SendOnly => 0,
            StreamMode::ReceiveOnly => 1,
            StreamMode::SendReceive => 2,
            StreamMode::Inactive => 3,
            StreamMode::LoopBack => 4,
        };
        w.unsigned(ctx(0), n);
    }
    if let Some(b) = value {
        w.boolean(ctx(1), b);
    }
    if let Some(b) = group {
        w.boolean(ctx(2), b);
    }
    w.constructed(ctx_c(3), |w| {
        props.iter().try_for_each(|p| property_parm(w, p))
    })
}

/// `LocalRemoteDescriptor`: propGrps [0], one PropertyGroup per session description (each
/// `v=` line starts one).
fn local_remote(w: &mut Writer<'_>, sdp: &str) -> Result {
    let mut lines = names::sdp_lines(sdp).peekable();
    let bad = |l: names::BadLine<'_>| malformed("propGrps", l.0, "an SDP line x=value");
    let mut value = Vec::new();
    w.constructed(ctx_c(0), |w| {
        while lines.peek().is_some() {
            w.constructed(SEQUENCE, |w| {
                let mut first = true;
                while let Some(line) = lines.peek() {
                    let (id, text) = (*line).map_err(bad)?;
                    if id == 0xb001 && !first {
                        break;
                    }
                    first = false;
                    lines.next();
                    value.clear();
                    names::unescape_braces(text, &mut value);
                    // PropertyParm: name [0], value [1]
                    w.constructed(SEQUENCE, |w| {
                        w.primitive(ctx(0), &[0, 0, (id >> 8) as u8, id as u8]);
                        w.constructed(ctx_c(1), |w| {
                            w.primitive(OCTET_STRING, &value);
                            Ok::<_, EncodeError>(())
                        })
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// `PropertyParm`: name [0] PkgdName, value [1], extraInfo [2].
fn property_parm(w: &mut Writer<'_>, p: &Property<'_>) -> Result {
    let (package, item) = pkgd(Scope::Property, p.name, "propertyParm")?;
    w.constructed(SEQUENCE, |w| {
        pkgd_octets(w, package, item);
        value(w, &p.value)
    })
}

fn pkgd(scope: Scope, name: &str, field: &'static str) -> Result<(u16, u16)> {
    names::pkgd_id(scope, name).map_err(|e| match e {
        NameError::Unknown => EncodeError::UnknownName {
            field,
            name: name.to_owned(),
        },
        NameError::Form => malformed(field, name, "a package item pkg/item"),
    })
}

/// The `PkgdName` component [0].
fn pkgd_octets(w: &mut Writer<'_>, package: u16, item: u16) {
    let [a, b] = package.to_be_bytes();
    let [c, d] = item.to_be_bytes();
    w.primitive(ctx(0), &[a, b, c, d]);
}

/// `value [1] SEQUENCE OF OCTET STRING` and `extraInfo [2]` (relation [0], range [1],
/// sublist [2]) of a property or parameter.
fn value(w: &mut Writer<'_>, v: &ParmValue<'_>) -> Result {
    let octets = |w: &mut Writer<'_>, values: &[&str]| {
        w.constructed(ctx_c(1), |w| {
            for v in values {
                w.primitive(OCTET_STRING, names::unquote(v).as_bytes());
            }
            Ok::<_, EncodeError>(())
        })
    };
    let (values, extra): (&[&str], Option<(u8, u64)>) = match v {
        ParmValue::Equal(v) if *v == "$" => (&[], None),
        ParmValue::Equal(v) => (std::slice::from_ref(v), None),
        ParmValue::Greater(v) => (std::slice::from_ref(v), Some((0, 0))),
        ParmValue::Less(v) => (std::slice::from_ref(v), Some((0, 1))),
        ParmValue::NotEqual(v) => (std::slice::from_ref(v), Some((0, 2))),
        ParmValue::OneOf(vs) => (vs, Some((2, 0))),
        ParmValue::AllOf(vs) => (vs, Some((2, 1))),
        ParmValue::Range(a, b) => {
            octets(w, &[a, b])?;
            return w.constructed(ctx_c(2), |w| {
                w.boolean(ctx(1), true);
                Ok(())
            });
        }
    };
    octets(w, values)?;
    if let Some((choice, n)) = extra {
        w.constructed(ctx_c(2), |w| {
            if choice == 0 {
                w.unsigned(ctx(0), n);
            } else {
                w.boolean(ctx(2), n == 1);
            }
            Ok::<_, EncodeError>(())
        })?;
    }
    Ok(())
}

/// `EventParameter` or `SigParameter`: name [0] Name, value [1], extraInfo [2].
fn parameter(w: &mut Writer<'_>, owner: Option<&'static Item>, p: &Property<'_>) -> Result {
    let id = names::param_id(owner, p.name).ok_or_else(|| EncodeError::UnknownName {
        field: "parameter",
        name: p.name.to_owned(),
    })?;
    w.constructed(SEQUENCE, |w| {
        w.primitive(ctx(0), &id.to_be_bytes());
        value(w, &p.value)
    })
}

/// `EventsDescriptor`: requestID [0], eventList [1].
pub(super) fn events(w: &mut Writer<'_>, e: &EventsDescriptor<'_>) -> Result {
    w.unsigned(ctx(0), e.request_id.map_or(0, request_id));
    w.constructed(ctx_c(1), |w| {
        e.events.iter().try_for_each(|e| requested_event(w, e))
    })
}

fn request_id(id: RequestId) -> u64 {
    match id {
        RequestId::Number(n) => u64::from(n),
        RequestId::All => 0xffff_ffff,
    }
}

/// `RequestedEvent`: pkgdName [0], streamID [1], eventAction [2], evParList [3].
fn requested_event(w: &mut Writer<'_>, e: &RequestedEvent<'_>) -> Result {
    let (package, item) = pkgd(Scope::Event, e.name, "requestedEvent")?;
    let owner = names::pkgd_item(Scope::Event, package, item);
    let (mut stream, mut keep, mut dm) = (None, false, None);
    let mut others = Vec::new();
    for p in &e.params {
        match p {
            EventParm::Stream(s) if stream.is_none() => stream = Some(*s),
            EventParm::KeepActive if !keep => keep = true,
            EventParm::DigitMap(d) if dm.is_none() => dm = Some(*d),
            EventParm::Other(p) => others.push(p),
            EventParm::Embed(_) => {
                return Err(unsupported(
                    "requestedEvent",
                    "Embed (embedded events or signals)",
                ));
            }
            _ => return Err(unsupported("requestedEvent", "a repeated parameter")),
        }
    }
    w.constructed(SEQUENCE, |w| {
        pkgd_octets(w, package, item);
        if let Some(s) = stream {
            w.unsigned(ctx(1), u64::from(s));
        }
        if keep || dm.is_some() {
            // RequestedActions: keepActive [0], eventDM [1] (a CHOICE: explicit)
            w.constructed(ctx_c(2), |w| {
                if keep {
                    w.boolean(ctx(0), true);
                }
                if let Some(dm) = dm {
                    w.constructed(ctx_c(1), |w| match dm {
                        DigitMapRef::Name(n) => digit_map_name(w, ctx(0), n),
                        DigitMapRef::Value(v) => w.constructed(ctx_c(1), |w| digit_map_value(w, v)),
                    })?;
                }
                Ok(())
            })?;
        }
        w.constructed(ctx_c(3), |w| {
            others.iter().try_for_each(|p| parameter(w, owner, p))
        })
    })
}

fn digit_map_name(w: &mut Writer<'_>, tag: u8, name: &str) -> Result {
    let id = names::dialplan_id(name)
        .ok_or_else(|| malformed("digitMapName", name, "dialplanNN (two octets)"))?;
    w.primitive(tag, &id);
    Ok(())
}

/// `DigitMapValue`: startTimer [0], shortTimer [1], longTimer [2], digitMapBody [3].
fn digit_map_value(w: &mut Writer<'_>, text: &str) -> Result {
    let v = names::digit_map(text)
        .ok_or_else(|| malformed("digitMapValue", text, "timers T:, S:, L: of 0 to 99"))?;
    for (tag, timer) in [(0, v.start), (1, v.short), (2, v.long)] {
        if let Some(t) = timer {
            w.unsigned(ctx(tag), u64::from(t));
        }
    }
    if !v.body.is_ascii() {
        return Err(malformed("digitMapBody", v.body, "IA5 (ASCII) text"));
    }
    w.primitive(ctx(3), v.body.as_bytes());
    Ok(())
}

/// `DigitMapDescriptor`: digitMapName [0], digitMapValue [1].
pub(super) fn digit_map(w: &mut Writer<'_>, d: &DigitMapDescriptor<'_>) -> Result {
    if let Some(name) = d.name {
        digit_map_name(w, ctx(0), name)?;
    }
    if let Some(value) = d.value {
        w.constructed(ctx_c(1), |w| digit_map_value(w, value))?;
    }
    Ok(())
}

/// `EventBufferDescriptor`: SEQUENCE OF EventSpec (eventName [0], streamID [1],
/// eventParList [2]).
pub(super) fn event_buffer(w: &mut Writer<'_>, specs: &[EventSpec<'_>]) -> Result {
    for e in specs {
        w.constructed(SEQUENCE, |w| event_spec(w, e.name, &e.params, None))?;
    }
    Ok(())
}

/// The content of an EventSpec or ObservedEvent (which adds timeNotation [3]).
fn event_spec(
    w: &mut Writer<'_>,
    name: &str,
    params: &[EventSpecParm<'_>],
    timestamp: Option<&str>,
) -> Result {
    let (package, item) = pkgd(Scope::Event, name, "eventName")?;
    let owner = names::pkgd_item(Scope::Event, package, item);
    pkgd_octets(w, package, item);
    let mut stream = None;
    for p in params {
        if let EventSpecParm::Stream(s) = p
            && stream.replace(*s).is_some()
        {
            return Err(unsupported("eventSpec", "two Stream parameters"));
        }
    }
    if let Some(s) = stream {
        w.unsigned(ctx(1), u64::from(s));
    }
    w.constructed(ctx_c(2), |w| {
        for p in params {
            if let EventSpecParm::Other(p) = p {
                parameter(w, owner, p)?;
            }
        }
        Ok(())
    })?;
    if let Some(t) = timestamp {
        time_notation(w, ctx_c(3), t)?;
    }
    Ok(())
}

/// `TimeNotation`: date [0], time [1].
pub(super) fn time_notation(w: &mut Writer<'_>, tag: u8, t: &str) -> Result {
    let (date, time) =
        names::timestamp(t).ok_or_else(|| malformed("timeNotation", t, "yyyymmddThhmmsshh"))?;
    w.constructed(tag, |w| {
        w.primitive(ctx(0), date.as_bytes());
        w.primitive(ctx(1), time.as_bytes());
        Ok(())
    })
}

/// `ObservedEventsDescriptor`: requestId [0], observedEventLst [1].
pub(super) fn observed_events(w: &mut Writer<'_>, o: &ObservedEventsDescriptor<'_>) -> Result {
    w.unsigned(ctx(0), request_id(o.request_id));
    w.constructed(ctx_c(1), |w| {
        for e in &o.events {
            w.constructed(SEQUENCE, |w| event_spec(w, e.name, &e.params, e.timestamp))?;
        }
        Ok(())
    })
}

/// `SignalsDescriptor`: SEQUENCE OF SignalRequest (signal [0], seqSigList [1]).
pub(super) fn signals(w: &mut Writer<'_>, parms: &[SignalParm<'_>]) -> Result {
    for p in parms {
        match p {
            SignalParm::Signal(s) => w.constructed(ctx_c(0), |w| signal(w, s))?,
            SignalParm::List(id, list) => w.constructed(ctx_c(1), |w| {
                w.unsigned(ctx(0), u64::from(*id));
                w.constructed(ctx_c(1), |w| {
                    for s in list {
                        w.constructed(SEQUENCE, |w| signal(w, s))?;
                    }
                    Ok(())
                })
            })?,
        }
    }
    Ok(())
}

/// The bit of a reason in `NotifyCompletion`.
pub(in crate::megaco::ber) fn reason_bit(r: NotifyReason) -> u16 {
    0x8000
        >> match r {
            NotifyReason::TimeOut => 0,
            NotifyReason::InterruptedByEvent => 1,
            NotifyReason::InterruptedByNewSignals => 2,
            NotifyReason::Other => 3,
        }
}

/// `Signal`: signalName [0], streamID [1], sigType [2], duration [3], notifyCompletion [4],
/// keepActive [5], sigParList [6].
fn signal(w: &mut Writer<'_>, s: &Signal<'_>) -> Result {
    let (package, item) = pkgd(Scope::Signal, s.name, "signalName")?;
    let owner = names::pkgd_item(Scope::Signal, package, item);
    let (mut stream, mut kind, mut duration, mut completion, mut keep) =
        (None, None, None, None, false);
    let mut others = Vec::new();
    for a in &s.params {
        let repeated = match a {
            SignalArg::Stream(v) => stream.replace(*v).is_some(),
            SignalArg::Type(t) => kind.replace(*t).is_some(),
            SignalArg::Duration(d) => duration.replace(*d).is_some(),
            SignalArg::NotifyCompletion(r) => completion
                .replace(r.iter().fold(0, |b, &r| b | reason_bit(r)))
                .is_some(),
            SignalArg::KeepActive => std::mem::replace(&mut keep, true),
            SignalArg::Other(p) => {
                others.push(p);
                false
            }
        };
        if repeated {
            return Err(unsupported("signal", "a repeated parameter"));
        }
    }
    pkgd_octets(w, package, item);
    if let Some(v) = stream {
        w.unsigned(ctx(1), u64::from(v));
    }
    if let Some(t) = kind {
        let n = match t {
            SignalType::Brief => 0,
            SignalType::OnOff => 1,
            SignalType::TimeOut => 2,
        };
        w.unsigned(ctx(2), n);
    }
    if let Some(d) = duration {
        w.unsigned(ctx(3), u64::from(d));
    }
    if let Some(bits) = completion {
        w.bits(ctx(4), bits);
    }
    if keep {
        w.boolean(ctx(5), true);
    }
    w.constructed(ctx_c(6), |w| {
        others.iter().try_for_each(|p| parameter(w, owner, p))
    })
}

/// `StatisticsDescriptor`: SEQUENCE OF StatisticsParameter (statName [0], statValue [1]).
pub(super) fn statistics(w: &mut Writer<'_>, stats: &[Statistic<'_>]) -> Result {
    for s in stats {
        let (package, item) = pkgd(Scope::Statistic, s.name, "statName")?;
        w.constructed(SEQUENCE, |w| {
            pkgd_octets(w, package, item);
            if let Some(v) = s.value {
                w.constructed(ctx_c(1), |w| {
                    w.primitive(OCTET_STRING, names::unquote(v).as_bytes());
                    Ok::<_, EncodeError>(())
                })?;
            }
            Ok::<_, EncodeError>(())
        })?;
    }
    Ok(())
}
