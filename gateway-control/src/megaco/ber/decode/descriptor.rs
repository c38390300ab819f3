//! The descriptors' part of the decoder: Media (with the session descriptions of Local and
//! Remote), Events, EventBuffer, ObservedEvents, Signals, DigitMap, Statistics and
//! ServiceChange, and the properties, parameters and values they hold.

use super::super::MAX_LIST;
use super::super::names;
use super::super::tlv::{OCTET_STRING, Reader, SEQUENCE, Tlv, ctx, ctx_c};
use super::{Decoder, K, Result, fail, one};
use crate::megaco::packages::{Item, Scope};
use crate::megaco::{
    DigitMapDescriptor, DigitMapRef, EventParm, EventSpec, EventSpecParm, EventsDescriptor,
    LocalControlParm, MediaParm, NotifyReason, ObservedEvent, ObservedEventsDescriptor, ParmValue,
    Property, RequestId, RequestedEvent, ServiceChangeAddress, ServiceChangeMethod,
    ServiceChangeParm, ServiceState, Signal, SignalArg, SignalParm, SignalType, Statistic,
    StreamMode, TerminationStateParm,
};

impl<'a> Decoder<'a> {
    /// A `PkgdName`: four octets.
    pub(super) fn pkgd(
        &mut self,
        e: &Tlv<'a>,
        scope: Scope,
        what: &'static str,
    ) -> Result<(&'a str, u16, u16)> {
        let [a, b, c, d] = e.octets(what)? else {
            return fail(K::Range(what), e);
        };
        let (package, item) = (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]));
        let name = self.make(|s| names::pkgd_name(scope, package, item, s));
        Ok((name, package, item))
    }

    /// A value in text: a bare token if every character is a `SafeChar`, else quoted.
    pub(super) fn value_text(&mut self, e: &Tlv<'a>) -> Result<&'a str> {
        let octets = e.octets("value")?;
        if !octets.is_empty() && octets.iter().all(|&b| names::is_safe(b)) {
            // SafeChars are ASCII.
            return std::str::from_utf8(octets).or_else(|_| fail(K::NotText("value"), e));
        }
        let s = std::str::from_utf8(octets).or_else(|_| fail(K::NotText("value"), e))?;
        if !names::is_quotable(s) {
            return fail(K::NotText("value"), e);
        }
        Ok(self.make(|out| {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }))
    }

    /// `Value` (SEQUENCE OF OCTET STRING) and `extraInfo`.
    pub(super) fn parm_value(
        &mut self,
        value: Tlv<'a>,
        extra: Option<Tlv<'a>>,
    ) -> Result<ParmValue<'a>> {
        let values = self.list(value, "value", |d, v| {
            if v.tag != OCTET_STRING {
                return fail(K::Expected("OCTET STRING"), &v);
            }
            d.value_text(&v)
        })?;
        let extra = match extra {
            Some(x) => Some(one(x, "extraInfo")?),
            None => None,
        };
        let single = |values: &[&'a str], x: &Tlv<'a>| -> Result<&'a str> {
            match values {
                [v] => Ok(*v),
                _ => fail(K::Expected("one value with a relation"), x),
            }
        };
        Ok(match extra {
            None => match values.len() {
                0 => ParmValue::Equal("$"),
                1 => ParmValue::Equal(values[0]),
                _ => ParmValue::OneOf(values),
            },
            Some(x) if x.tag == ctx(0) => {
                let v = single(&values, &x)?;
                match x.unsigned("relation", 2)? {
                    0 => ParmValue::Greater(v),
                    1 => ParmValue::Less(v),
                    _ => ParmValue::NotEqual(v),
                }
            }
            Some(x) if x.tag == ctx(1) && x.boolean("range")? => match values.as_slice() {
                [a, b] => ParmValue::Range(a, b),
                _ => return fail(K::Expected("two values of a range"), &x),
            },
            Some(x) if x.tag == ctx(2) && x.boolean("sublist")? => ParmValue::AllOf(values),
            Some(x) if x.tag == ctx(1) || x.tag == ctx(2) => {
                // range or sublist FALSE: as without extraInfo, but a list stays a list.
                match values.len() {
                    0 => ParmValue::Equal("$"),
                    1 if x.tag == ctx(1) => ParmValue::Equal(values[0]),
                    _ => ParmValue::OneOf(values),
                }
            }
            Some(x) => return fail(K::Expected("relation, range or sublist"), &x),
        })
    }

    /// `PropertyParm`: name [0], value [1], extraInfo [2].
    pub(super) fn property_parm(&mut self, e: Tlv<'a>) -> Result<Property<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("PropertyParm"), &e);
        }
        let mut r = Reader::enter(e)?;
        let name = r.expect(ctx(0), "name")?;
        let (name, _, _) = self.pkgd(&name, Scope::Property, "name")?;
        let value = r.expect(ctx_c(1), "value")?;
        let extra = r.optional(ctx_c(2))?;
        let value = self.parm_value(value, extra)?;
        r.skip_extensions(3)?;
        Ok(Property { name, value })
    }

    /// `EventParameter` or `SigParameter` of `owner`: name [0], value [1], extraInfo [2].
    pub(super) fn parameter(
        &mut self,
        e: Tlv<'a>,
        owner: Option<&'static Item>,
    ) -> Result<Property<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("parameter"), &e);
        }
        let mut r = Reader::enter(e)?;
        let name = r.expect(ctx(0), "parameterName")?;
        let [a, b] = name.octets("parameterName")? else {
            return fail(K::Range("parameterName"), &name);
        };
        let id = u16::from_be_bytes([*a, *b]);
        let name = self.make(|s| names::param_name(owner, id, s));
        let value = r.expect(ctx_c(1), "value")?;
        let extra = r.optional(ctx_c(2))?;
        let value = self.parm_value(value, extra)?;
        r.skip_extensions(3)?;
        Ok(Property { name, value })
    }

    /// `MediaDescriptor`: termStateDescr [0], streams [1].
    pub(super) fn media(&mut self, e: Tlv<'a>) -> Result<Vec<MediaParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(s) = r.optional(ctx_c(0))? {
            parms.push(MediaParm::TerminationState(self.termination_state(s)?));
        }
        if let Some(streams) = r.optional(ctx_c(1))? {
            let s = one(streams, "streams")?;
            if s.tag == ctx_c(0) {
                self.stream_parms(s, &mut parms)?;
            } else if s.tag == ctx_c(1) {
                let streams = self.list(s, "multiStream", |d, sd| {
                    if sd.tag != SEQUENCE {
                        return fail(K::Expected("StreamDescriptor"), &sd);
                    }
                    let mut r = Reader::enter(sd)?;
                    let id = r.expect(ctx(0), "streamID")?.u16("streamID")?;
                    let p = r.expect(ctx_c(1), "streamParms")?;
                    let mut inner = Vec::new();
                    d.stream_parms(p, &mut inner)?;
                    r.end("StreamDescriptor")?;
                    Ok(MediaParm::Stream(id, inner))
                })?;
                parms.extend(streams);
            } else {
                return fail(K::Expected("oneStream or multiStream"), &s);
            }
        }
        r.skip_extensions(2)?;
        Ok(parms)
    }

    /// `TerminationStateDescriptor`: propertyParms [0], eventBufferControl [1],
    /// serviceState [2].
    pub(super) fn termination_state(
        &mut self,
        e: Tlv<'a>,
    ) -> Result<Vec<TerminationStateParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let props = r.expect(ctx_c(0), "propertyParms")?;
        let mut parms = self.list(props, "propertyParms", |d, p| {
            Ok(TerminationStateParm::Property(d.property_parm(p)?))
        })?;
        if let Some(b) = r.optional(ctx(1))? {
            parms.push(TerminationStateParm::LockStep(
                b.unsigned("eventBufferControl", 1)? == 1,
            ));
        }
        if let Some(s) = r.optional(ctx(2))? {
            parms.push(TerminationStateParm::ServiceStates(
                match s.unsigned("serviceState", 2)? {
                    0 => ServiceState::Test,
                    1 => ServiceState::OutOfService,
                    _ => ServiceState::InService,
                },
            ));
        }
        r.skip_extensions(3)?;
        Ok(parms)
    }

    /// `StreamParms`: localControlDescriptor [0], localDescriptor [1], remoteDescriptor [2].
    pub(super) fn stream_parms(&mut self, e: Tlv<'a>, out: &mut Vec<MediaParm<'a>>) -> Result<()> {
        let mut r = Reader::enter(e)?;
        if let Some(c) = r.optional(ctx_c(0))? {
            out.push(MediaParm::LocalControl(self.local_control(c)?));
        }
        if let Some(l) = r.optional(ctx_c(1))? {
            out.push(MediaParm::Local(self.local_remote(l)?));
        }
        if let Some(l) = r.optional(ctx_c(2))? {
            out.push(MediaParm::Remote(self.local_remote(l)?));
        }
        r.skip_extensions(3)
    }

    /// `LocalControlDescriptor`: streamMode [0], reserveValue [1], reserveGroup [2],
    /// propertyParms [3].
    pub(super) fn local_control(&mut self, e: Tlv<'a>) -> Result<Vec<LocalControlParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(m) = r.optional(ctx(0))? {
            parms.push(LocalControlParm::Mode(
                match m.unsigned("streamMode", 4)? {
                    0 => StreamMode::SendOnly,
                    1 => StreamMode::ReceiveOnly,
                    2 => StreamMode::SendReceive,
                    3 => StreamMode::Inactive,
                    _ => StreamMode::LoopBack,
                },
            ));
        }
        if let Some(b) = r.optional(ctx(1))? {
            parms.push(LocalControlParm::ReservedValue(b.boolean("reserveValue")?));
        }
        if let Some(b) = r.optional(ctx(2))? {
            parms.push(LocalControlParm::ReservedGroup(b.boolean("reserveGroup")?));
        }
        if let Some(props) = r.optional(ctx_c(3))? {
            let props = self.list(props, "propertyParms", |d, p| {
                Ok(LocalControlParm::Property(d.property_parm(p)?))
            })?;
            parms.extend(props);
        }
        r.skip_extensions(4)?;
        Ok(parms)
    }

    /// `LocalRemoteDescriptor` as the text of a session description.
    pub(super) fn local_remote(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let groups = r.expect(ctx_c(0), "propGrps")?;
        r.skip_extensions(1)?;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        text.push('\n');
        let result = sdp_groups(groups, &mut text);
        let s = self.arena.alloc(&text);
        self.scratch = text;
        result.map(|()| s)
    }

    /// `EventsDescriptor`: requestID [0], eventList [1].
    pub(super) fn events(&mut self, e: Tlv<'a>) -> Result<EventsDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let id = request_id(r.expect(ctx(0), "requestID")?)?;
        let list = r.expect(ctx_c(1), "eventList")?;
        let events = self.list(list, "eventList", Self::requested_event)?;
        r.skip_extensions(2)?;
        Ok(EventsDescriptor {
            request_id: (!events.is_empty()).then_some(id),
            events,
        })
    }

    /// `RequestedEvent`: pkgdName [0], streamID [1], eventAction [2], evParList [3].
    pub(super) fn requested_event(&mut self, e: Tlv<'a>) -> Result<RequestedEvent<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("RequestedEvent"), &e);
        }
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "pkgdName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Event, "pkgdName")?;
        let owner = names::pkgd_item(Scope::Event, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(EventParm::Stream(s.u16("streamID")?));
        }
        if let Some(a) = r.optional(ctx_c(2))? {
            let mut a = Reader::enter(a)?;
            if let Some(k) = a.optional(ctx(0))?
                && k.boolean("keepActive")?
            {
                params.push(EventParm::KeepActive);
            }
            if let Some(dm) = a.optional(ctx_c(1))? {
                let dm = one(dm, "eventDM")?;
                params.push(EventParm::DigitMap(if dm.tag == ctx(0) {
                    DigitMapRef::Name(self.digit_map_name(&dm)?)
                } else if dm.tag == ctx_c(1) {
                    DigitMapRef::Value(self.digit_map_value(dm)?)
                } else {
                    return fail(K::Expected("digitMapName or digitMapValue"), &dm);
                }));
            }
            if let Some(x) = a.optional(ctx_c(2))? {
                return fail(K::Unsupported("embedded events (secondEvent)"), &x);
            }
            if let Some(x) = a.optional(ctx_c(3))? {
                return fail(K::Unsupported("embedded signals"), &x);
            }
            a.skip_extensions(4)?;
        }
        if let Some(list) = r.optional(ctx_c(3))? {
            let others = self.list(list, "evParList", |d, p| {
                Ok(EventParm::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        r.skip_extensions(4)?;
        Ok(RequestedEvent { name, params })
    }

    /// The content of an `EventSpec` or `ObservedEvent`: eventName [0], streamID [1],
    /// eventParList [2], and timeNotation [3] of an ObservedEvent.
    pub(super) fn event_spec(
        &mut self,
        e: Tlv<'a>,
    ) -> Result<(&'a str, Vec<EventSpecParm<'a>>, Option<&'a str>)> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("event"), &e);
        }
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "eventName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Event, "eventName")?;
        let owner = names::pkgd_item(Scope::Event, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(EventSpecParm::Stream(s.u16("streamID")?));
        }
        if let Some(list) = r.optional(ctx_c(2))? {
            let others = self.list(list, "eventParList", |d, p| {
                Ok(EventSpecParm::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        let timestamp = match r.optional(ctx_c(3))? {
            Some(t) => Some(self.time_notation(t)?),
            None => None,
        };
        r.skip_extensions(4)?;
        Ok((name, params, timestamp))
    }

    pub(super) fn event_buffer(&mut self, e: Tlv<'a>) -> Result<Vec<EventSpec<'a>>> {
        self.list(e, "eventBufferDescriptor", |d, s| {
            let (name, params, time) = d.event_spec(s)?;
            if time.is_some() {
                return fail(K::Unexpected("EventSpec"), &s);
            }
            Ok(EventSpec { name, params })
        })
    }

    /// `ObservedEventsDescriptor`: requestId [0], observedEventLst [1].
    pub(super) fn observed_events(&mut self, e: Tlv<'a>) -> Result<ObservedEventsDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let request_id = request_id(r.expect(ctx(0), "requestId")?)?;
        let list = r.expect(ctx_c(1), "observedEventLst")?;
        let events = self.list(list, "observedEventLst", |d, o| {
            let (name, params, timestamp) = d.event_spec(o)?;
            Ok(ObservedEvent {
                timestamp,
                name,
                params,
            })
        })?;
        r.end("ObservedEventsDescriptor")?;
        Ok(ObservedEventsDescriptor { request_id, events })
    }

    /// `TimeNotation` as `yyyymmddThhmmsshh`.
    pub(super) fn time_notation(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let date = r.expect(ctx(0), "date")?;
        let time = r.expect(ctx(1), "time")?;
        r.end("TimeNotation")?;
        let digits = |t: &Tlv<'a>, what| -> Result<&'a str> {
            let s = t.ia5(what)?;
            if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(s)
            } else {
                fail(K::NotText(what), t)
            }
        };
        let (date, time) = (digits(&date, "date")?, digits(&time, "time")?);
        Ok(self.make(|s| {
            s.push_str(date);
            s.push('T');
            s.push_str(time);
        }))
    }

    /// `SignalsDescriptor`: SEQUENCE OF SignalRequest.
    pub(super) fn signals(&mut self, e: Tlv<'a>) -> Result<Vec<SignalParm<'a>>> {
        self.list(e, "signalsDescriptor", |d, s| {
            if s.tag == ctx_c(0) {
                Ok(SignalParm::Signal(d.signal(s)?))
            } else if s.tag == ctx_c(1) {
                let mut r = Reader::enter(s)?;
                let id = r.expect(ctx(0), "id")?.u16("id")?;
                let list = r.expect(ctx_c(1), "signalList")?;
                let signals = d.list(list, "signalList", |d, s| {
                    if s.tag != SEQUENCE {
                        return fail(K::Expected("Signal"), &s);
                    }
                    d.signal(s)
                })?;
                r.end("SeqSigList")?;
                Ok(SignalParm::List(id, signals))
            } else {
                fail(K::Unsupported("signalRequest alternative"), &s)
            }
        })
    }

    /// `Signal`: signalName [0], streamID [1], sigType [2], duration [3],
    /// notifyCompletion [4], keepActive [5], sigParList [6].
    pub(super) fn signal(&mut self, e: Tlv<'a>) -> Result<Signal<'a>> {
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "signalName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Signal, "signalName")?;
        let owner = names::pkgd_item(Scope::Signal, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(SignalArg::Stream(s.u16("streamID")?));
        }
        if let Some(t) = r.optional(ctx(2))? {
            params.push(SignalArg::Type(match t.unsigned("sigType", 2)? {
                0 => SignalType::Brief,
                1 => SignalType::OnOff,
                _ => SignalType::TimeOut,
            }));
        }
        if let Some(d) = r.optional(ctx(3))? {
            params.push(SignalArg::Duration(d.u16("duration")?));
        }
        if let Some(b) = r.optional(ctx(4))? {
            let bits = b.bits("notifyCompletion")?;
            let reasons = [
                NotifyReason::TimeOut,
                NotifyReason::InterruptedByEvent,
                NotifyReason::InterruptedByNewSignals,
                NotifyReason::Other,
            ];
            params.push(SignalArg::NotifyCompletion(
                reasons
                    .into_iter()
                    .filter(|&r| bits & super::super::encode::reason_bit(r) != 0)
                    .collect(),
            ));
        }
        if let Some(k) = r.optional(ctx(5))?
            && k.boolean("keepActive")?
        {
            params.push(SignalArg::KeepActive);
        }
        if let Some(list) = r.optional(ctx_c(6))? {
            let others = self.list(list, "sigParList", |d, p| {
                Ok(SignalArg::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        r.skip_extensions(7)?;
        Ok(Signal { name, params })
    }

    pub(super) fn digit_map_name(&mut self, e: &Tlv<'a>) -> Result<&'a str> {
        let [a, b] = e.octets("digitMapName")? else {
            return fail(K::Range("digitMapName"), e);
        };
        let id = [*a, *b];
        Ok(self.make(|s| names::dialplan_name(id, s)))
    }

    /// `DigitMapValue` as text: its timers, then its body.
    pub(super) fn digit_map_value(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let timer = |r: &mut Reader<'a>, tag, what| -> Result<Option<u8>> {
            r.optional(tag)?.map(|t| t.u8(what, 99)).transpose()
        };
        let start = timer(&mut r, ctx(0), "startTimer")?;
        let short = timer(&mut r, ctx(1), "shortTimer")?;
        let long = timer(&mut r, ctx(2), "longTimer")?;
        let b = r.expect(ctx(3), "digitMapBody")?;
        // White space around the body is not part of it (the encoder drops it).
        let body = b.ia5("digitMapBody")?.trim();
        // Nothing that would read back as a timer or end the braces of the text form.
        let control = |c: u8| c.is_ascii_control() && !matches!(c, b'\n' | b'\r' | b'\t');
        if body.contains([':', '}', '{']) || body.bytes().any(control) {
            return fail(K::NotText("digitMapBody"), &b);
        }
        r.skip_extensions(4)?;
        let v = names::DigitMapValue {
            start,
            short,
            long,
            body,
        };
        if start.is_none() && short.is_none() && long.is_none() {
            return Ok(body);
        }
        Ok(self.make(|s| names::digit_map_text(&v, s)))
    }

    /// `DigitMapDescriptor`: digitMapName [0], digitMapValue [1].
    pub(super) fn digit_map(&mut self, e: Tlv<'a>) -> Result<DigitMapDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let name = match r.optional(ctx(0))? {
            Some(n) => Some(self.digit_map_name(&n)?),
            None => None,
        };
        let value = match r.optional(ctx_c(1))? {
            Some(v) => Some(self.digit_map_value(v)?),
            None => None,
        };
        r.end("DigitMapDescriptor")?;
        Ok(DigitMapDescriptor { name, value })
    }

    /// `StatisticsDescriptor`: SEQUENCE OF StatisticsParameter (statName [0], statValue [1]).
    pub(super) fn statistics(&mut self, e: Tlv<'a>) -> Result<Vec<Statistic<'a>>> {
        self.list(e, "statisticsDescriptor", |d, s| {
            if s.tag != SEQUENCE {
                return fail(K::Expected("StatisticsParameter"), &s);
            }
            let mut r = Reader::enter(s)?;
            let n = r.expect(ctx(0), "statName")?;
            let (name, _, _) = d.pkgd(&n, Scope::Statistic, "statName")?;
            let value = match r.optional(ctx_c(1))? {
                Some(v) => d.single_value(v, "statValue")?,
                None => None,
            };
            r.end("StatisticsParameter")?;
            Ok(Statistic { name, value })
        })
    }

    /// A `Value` that the tree holds as one text: none for the empty sequence.
    pub(super) fn single_value(
        &mut self,
        e: Tlv<'a>,
        what: &'static str,
    ) -> Result<Option<&'a str>> {
        let mut r = Reader::enter(e)?;
        let Some(v) = r.next()? else {
            return Ok(None);
        };
        if v.tag != OCTET_STRING {
            return fail(K::Expected("OCTET STRING"), &v);
        }
        if let Some(more) = r.next()? {
            return fail(K::Unsupported(what), &more);
        }
        self.value_text(&v).map(Some)
    }

    pub(super) fn service_change_address(
        &mut self,
        e: Tlv<'a>,
    ) -> Result<ServiceChangeAddress<'a>> {
        let a = one(e, "serviceChangeAddress")?;
        if a.tag == ctx(0) {
            return Ok(ServiceChangeAddress::Port(a.u16("portNumber")?));
        }
        Ok(ServiceChangeAddress::Mid(self.mid(a, 1)?))
    }

    /// `ServiceChangeProfile` as name and version.
    pub(super) fn profile(&mut self, e: Tlv<'a>) -> Result<ServiceChangeParm<'a>> {
        let mut r = Reader::enter(e)?;
        let p = r.expect(ctx(0), "profileName")?;
        r.end("ServiceChangeProfile")?;
        let text = p.ia5("profileName")?;
        let parsed = text.rsplit_once('/').and_then(|(name, version)| {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && (1..=2).contains(&version.len());
            let version: u8 = version.parse().ok()?;
            (ok && version <= 99).then_some((name, version))
        });
        match parsed {
            Some((name, version)) => Ok(ServiceChangeParm::Profile(name, version)),
            None => fail(K::NotText("profileName"), &p),
        }
    }

    /// `ServiceChangeParm`: serviceChangeMethod [0], serviceChangeAddress [1],
    /// serviceChangeVersion [2], serviceChangeProfile [3], serviceChangeReason [4],
    /// serviceChangeDelay [5], serviceChangeMgcId [6], timeStamp [7], nonStandardData [8].
    pub(super) fn service_change_parm(&mut self, e: Tlv<'a>) -> Result<Vec<ServiceChangeParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let m = r.expect(ctx(0), "serviceChangeMethod")?;
        let method = match m.unsigned("serviceChangeMethod", u64::MAX)? {
            0 => ServiceChangeMethod::Failover,
            1 => ServiceChangeMethod::Forced,
            2 => ServiceChangeMethod::Graceful,
            3 => ServiceChangeMethod::Restart,
            4 => ServiceChangeMethod::Disconnected,
            5 => ServiceChangeMethod::HandOff,
            _ => return fail(K::Unsupported("serviceChangeMethod"), &m),
        };
        let mut parms = vec![ServiceChangeParm::Method(method)];
        if let Some(a) = r.optional(ctx_c(1))? {
            parms.push(ServiceChangeParm::Address(self.service_change_address(a)?));
        }
        if let Some(v) = r.optional(ctx(2))? {
            parms.push(ServiceChangeParm::Version(
                v.u8("serviceChangeVersion", 99)?,
            ));
        }
        if let Some(p) = r.optional(ctx_c(3))? {
            parms.push(self.profile(p)?);
        }
        let reason = r.expect(ctx_c(4), "serviceChangeReason")?;
        if let Some(reason) = self.single_value(reason, "several reasons")? {
            parms.push(ServiceChangeParm::Reason(reason));
        }
        if let Some(d) = r.optional(ctx(5))? {
            parms.push(ServiceChangeParm::Delay(d.u32("serviceChangeDelay")?));
        }
        if let Some(m) = r.optional(ctx_c(6))? {
            let m = one(m, "serviceChangeMgcId")?;
            parms.push(ServiceChangeParm::MgcIdToTry(self.mid(m, 0)?));
        }
        if let Some(t) = r.optional(ctx_c(7))? {
            parms.push(ServiceChangeParm::TimeStamp(self.time_notation(t)?));
        }
        if let Some(n) = r.optional(ctx_c(8))? {
            return fail(K::Unsupported("nonStandardData"), &n);
        }
        r.skip_extensions(9)?;
        Ok(parms)
    }

    /// `ServiceChangeResParm`: serviceChangeMgcId [0], serviceChangeAddress [1],
    /// serviceChangeVersion [2], serviceChangeProfile [3], timeStamp [4].
    pub(super) fn service_change_res_parm(
        &mut self,
        e: Tlv<'a>,
    ) -> Result<Vec<ServiceChangeParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(m) = r.optional(ctx_c(0))? {
            let m = one(m, "serviceChangeMgcId")?;
            parms.push(ServiceChangeParm::MgcIdToTry(self.mid(m, 0)?));
        }
        if let Some(a) = r.optional(ctx_c(1))? {
            parms.push(ServiceChangeParm::Address(self.service_change_address(a)?));
        }
        if let Some(v) = r.optional(ctx(2))? {
            parms.push(ServiceChangeParm::Version(
                v.u8("serviceChangeVersion", 99)?,
            ));
        }
        if let Some(p) = r.optional(ctx_c(3))? {
            parms.push(self.profile(p)?);
        }
        if let Some(t) = r.optional(ctx_c(4))? {
            parms.push(ServiceChangeParm::TimeStamp(self.time_notation(t)?));
        }
        r.skip_extensions(5)?;
        Ok(parms)
    }
}

pub(super) fn request_id(e: Tlv<'_>) -> Result<RequestId> {
    Ok(match e.u32("requestID")? {
        0xffff_ffff => RequestId::All,
        n => RequestId::Number(n),
    })
}

/// The property groups of a Local or Remote descriptor as SDP lines.
fn sdp_groups(groups: Tlv<'_>, out: &mut String) -> Result<()> {
    let mut gr = Reader::enter(groups)?;
    let mut count = 0;
    while let Some(group) = gr.next()? {
        if group.tag != SEQUENCE {
            return fail(K::Expected("PropertyGroup"), &group);
        }
        let mut pr = Reader::enter(group)?;
        while let Some(p) = pr.next()? {
            count += 1;
            if count > MAX_LIST {
                return fail(K::TooLarge("propGrps"), &p);
            }
            if p.tag != SEQUENCE {
                return fail(K::Expected("PropertyParm"), &p);
            }
            let mut r = Reader::enter(p)?;
            let n = r.expect(ctx(0), "name")?;
            let letter = match n.octets("name")? {
                [0, 0, a, b] => names::sdp_letter(u16::from_be_bytes([*a, *b])),
                _ => None,
            };
            let Some(letter) = letter else {
                return fail(
                    K::Unsupported("a property other than SDP in Local or Remote"),
                    &n,
                );
            };
            let v = r.expect(ctx_c(1), "value")?;
            if let Some(x) = r.optional(ctx_c(2))? {
                return fail(K::Unsupported("extraInfo in a session description"), &x);
            }
            r.skip_extensions(3)?;
            let mut vr = Reader::enter(v)?;
            let value = vr.expect(OCTET_STRING, "value")?;
            vr.end("value")?;
            let text = std::str::from_utf8(value.octets("value")?)
                .ok()
                .filter(|t| !t.contains(['\n', '\r']) && t.trim_end() == *t);
            let Some(text) = text else {
                return fail(K::NotText("SDP value"), &value);
            };
            out.push_str(letter);
            out.push('=');
            names::escape_braces(text, out);
            out.push('\n');
        }
    }
    Ok(())
}
