//! The descriptors of the MEGACO text grammar (H.248.1 Annex B `ammParameter`,
//! `auditReturnParameter` and what they hold): the second half of [`super::parse`].

use super::MAX_LIST;
use super::parse::{Cursor, ParseErrorKind, Result, is_extension, is_timestamp};
use super::tokens::{self as t, Tok};
use crate::megaco::{
    AuditItem, Descriptor, DigitMapDescriptor, DigitMapRef, ErrorCode, ErrorDescriptor, EventParm,
    EventSpec, EventSpecParm, EventsDescriptor, LocalControlParm, MediaParm, NotifyReason,
    ObservedEvent, ObservedEventsDescriptor, ParmValue, Property, RequestId, RequestedEvent,
    ServiceChangeAddress, ServiceChangeMethod, ServiceChangeParm, ServiceState, Signal, SignalArg,
    SignalParm, SignalType, Statistic, StreamMode, TerminationStateParm,
};

impl<'a> Cursor<'a> {
    pub(super) fn descriptor(&mut self) -> Result<Descriptor<'a>> {
        let (w, at) = self.name("descriptor")?;
        let is = |tok: Tok| tok.is(w);
        Ok(if is(t::MEDIA) {
            Descriptor::Media(self.braced("media item", false, |c| c.media_parm(true))?)
        } else if is(t::EVENTS) {
            let (request_id, events) = if self.eat(b'=') {
                let id = self.request_id()?;
                (
                    Some(id),
                    self.braced("event", false, Self::requested_event)?,
                )
            } else {
                (None, Vec::new())
            };
            Descriptor::Events(EventsDescriptor { request_id, events })
        } else if is(t::SIGNALS) {
            let signals = if self.at_open() {
                self.braced("signal", true, Self::signal_parm)?
            } else {
                Vec::new()
            };
            Descriptor::Signals(signals)
        } else if is(t::OBSERVED_EVENTS) {
            self.equal()?;
            let request_id = self.request_id()?;
            let events = self.braced("observed event", false, Self::observed_event)?;
            Descriptor::ObservedEvents(ObservedEventsDescriptor { request_id, events })
        } else if is(t::DIGIT_MAP) {
            // `DigitMap = name`, `DigitMap = name {value}` and `DigitMap = {value}` (Annex B);
            // RFC 3015's `DigitMap {value}` is read too.
            let name = if self.eat(b'=') && !self.at_open() {
                Some(self.name("digit map name")?.0)
            } else {
                None
            };
            let value = if name.is_none() || self.at_open() {
                Some(self.raw("digit map", false)?)
            } else {
                None
            };
            Descriptor::DigitMap(DigitMapDescriptor { name, value })
        } else if is(t::EVENT_BUFFER) {
            let specs = if self.at_open() {
                self.braced("event", true, |c| {
                    let (name, _) = c.name("event name")?;
                    let params = c.event_spec_parms()?;
                    Ok(EventSpec { name, params })
                })?
            } else {
                Vec::new()
            };
            Descriptor::EventBuffer(specs)
        } else if is(t::SERVICES) {
            Descriptor::ServiceChange(self.braced(
                "ServiceChange parameter",
                false,
                Self::service_change_parm,
            )?)
        } else if is(t::AUDIT) {
            Descriptor::Audit(self.braced("audit item", true, Self::audit_item)?)
        } else if is(t::STATS) {
            Descriptor::Statistics(self.braced("statistic", true, |c| {
                let (name, _) = c.name("statistic")?;
                let value = if c.eat(b'=') { Some(c.value()?) } else { None };
                Ok(Statistic { name, value })
            })?)
        } else if is(t::ERROR) {
            Descriptor::Error(self.error_descriptor()?)
        } else if is(t::MODEM) || is(t::MUX) || is(t::PACKAGES) || is(t::TOPOLOGY) {
            return Err(self.fail_at(ParseErrorKind::Unsupported("descriptor"), at));
        } else {
            return Err(self.fail_at(ParseErrorKind::UnknownDescriptor, at));
        })
    }

    fn media_parm(&mut self, top: bool) -> Result<MediaParm<'a>> {
        let (w, at) = self.name("media item")?;
        Ok(if t::LOCAL_CONTROL.is(w) {
            MediaParm::LocalControl(self.braced("LocalControl item", false, Self::local_parm)?)
        } else if t::LOCAL.is(w) {
            MediaParm::Local(self.raw("Local", false)?)
        } else if t::REMOTE.is(w) {
            MediaParm::Remote(self.raw("Remote", false)?)
        } else if top && t::STREAM.is(w) {
            self.equal()?;
            let id = self.u16("stream id")?;
            MediaParm::Stream(
                id,
                self.braced("stream item", false, |c| c.media_parm(false))?,
            )
        } else if top && t::TERMINATION_STATE.is(w) {
            MediaParm::TerminationState(self.braced(
                "TerminationState item",
                false,
                Self::termination_state_parm,
            )?)
        } else {
            return Err(self.fail_at(ParseErrorKind::Unknown("media item"), at));
        })
    }

    /// One of `toks` after `=`.
    fn choice<T: Copy>(&mut self, what: &'static str, toks: &[(Tok, T)]) -> Result<T> {
        self.equal()?;
        let (w, at) = self.word();
        toks.iter()
            .find_map(|&(tok, v)| tok.is(w).then_some(v))
            .ok_or_else(|| self.fail_at(ParseErrorKind::Unknown(what), at))
    }

    fn on_off(&mut self) -> Result<bool> {
        const ON: Tok = Tok("ON", "ON");
        const OFF: Tok = Tok("OFF", "OFF");
        self.choice("ON or OFF", &[(ON, true), (OFF, false)])
    }

    fn termination_state_parm(&mut self) -> Result<TerminationStateParm<'a>> {
        let (w, _) = self.name("TerminationState item")?;
        Ok(if t::SERVICE_STATES.is(w) {
            TerminationStateParm::ServiceStates(self.choice(
                "service state",
                &[
                    (t::TEST, ServiceState::Test),
                    (t::OUT_OF_SVC, ServiceState::OutOfService),
                    (t::IN_SVC, ServiceState::InService),
                ],
            )?)
        } else if t::BUFFER.is(w) {
            const OFF: Tok = Tok("OFF", "OFF");
            TerminationStateParm::LockStep(self.choice(
                "event buffer control",
                &[(OFF, false), (t::LOCK_STEP, true)],
            )?)
        } else {
            TerminationStateParm::Property(self.property(w)?)
        })
    }

    fn local_parm(&mut self) -> Result<LocalControlParm<'a>> {
        let (w, _) = self.name("LocalControl item")?;
        Ok(if t::MODE.is(w) {
            LocalControlParm::Mode(self.choice(
                "stream mode",
                &[
                    (t::SEND_ONLY, StreamMode::SendOnly),
                    (t::RECV_ONLY, StreamMode::ReceiveOnly),
                    (t::SEND_RECV, StreamMode::SendReceive),
                    (t::INACTIVE, StreamMode::Inactive),
                    (t::LOOPBACK, StreamMode::LoopBack),
                ],
            )?)
        } else if t::RESERVED_VALUE.is(w) {
            LocalControlParm::ReservedValue(self.on_off()?)
        } else if t::RESERVED_GROUP.is(w) {
            LocalControlParm::ReservedGroup(self.on_off()?)
        } else {
            LocalControlParm::Property(self.property(w)?)
        })
    }

    /// `name parmValue`, the name already read.
    fn property(&mut self, name: &'a str) -> Result<Property<'a>> {
        self.lwsp();
        let value = match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                if self.eat(b'[') {
                    let first = self.value()?;
                    if self.eat(b':') {
                        let last = self.value()?;
                        self.expect(b']', "`]`")?;
                        ParmValue::Range(first, last)
                    } else {
                        let mut values = vec![first];
                        while self.eat(b',') {
                            if values.len() >= MAX_LIST {
                                return Err(self.fail(ParseErrorKind::TooLarge("values")));
                            }
                            values.push(self.value()?);
                        }
                        self.expect(b']', "`,` or `]`")?;
                        ParmValue::OneOf(values)
                    }
                } else if self.at_open() {
                    ParmValue::AllOf(self.braced("value", false, Self::value)?)
                } else {
                    ParmValue::Equal(self.value()?)
                }
            }
            Some(b'>') => {
                self.pos += 1;
                ParmValue::Greater(self.value()?)
            }
            Some(b'<') => {
                self.pos += 1;
                ParmValue::Less(self.value()?)
            }
            Some(b'#') => {
                self.pos += 1;
                ParmValue::NotEqual(self.value()?)
            }
            _ => return Err(self.fail(ParseErrorKind::Expected("`=`, `>`, `<` or `#`"))),
        };
        Ok(Property { name, value })
    }

    fn request_id(&mut self) -> Result<RequestId> {
        self.lwsp();
        if self.peek() == Some(b'*') {
            self.pos += 1;
            return Ok(RequestId::All);
        }
        Ok(RequestId::Number(self.u32("request id")?))
    }

    fn requested_event(&mut self) -> Result<RequestedEvent<'a>> {
        let (name, _) = self.name("event name")?;
        let params = if self.at_open() {
            self.braced("event parameter", false, |c| {
                let (w, _) = c.name("event parameter")?;
                Ok(if t::KEEP_ACTIVE.is(w) {
                    EventParm::KeepActive
                } else if t::DIGIT_MAP.is(w) {
                    // `DigitMap = {value}` in Annex B; Erlang/OTP writes `DigitMap {value}`.
                    let equal = c.eat(b'=');
                    if c.at_open() {
                        EventParm::DigitMap(DigitMapRef::Value(c.raw("digit map", false)?))
                    } else if equal {
                        EventParm::DigitMap(DigitMapRef::Name(c.name("digit map name")?.0))
                    } else {
                        return Err(c.fail(ParseErrorKind::Expected("`=`")));
                    }
                } else if t::STREAM.is(w) {
                    c.equal()?;
                    EventParm::Stream(c.u16("stream id")?)
                } else if t::EMBED.is(w) {
                    EventParm::Embed(c.raw("Embed", true)?)
                } else {
                    EventParm::Other(c.property(w)?)
                })
            })?
        } else {
            Vec::new()
        };
        Ok(RequestedEvent { name, params })
    }

    fn event_spec_parms(&mut self) -> Result<Vec<EventSpecParm<'a>>> {
        if !self.at_open() {
            return Ok(Vec::new());
        }
        self.braced("event parameter", false, |c| {
            let (w, _) = c.name("event parameter")?;
            Ok(if t::STREAM.is(w) {
                c.equal()?;
                EventSpecParm::Stream(c.u16("stream id")?)
            } else {
                EventSpecParm::Other(c.property(w)?)
            })
        })
    }

    fn observed_event(&mut self) -> Result<ObservedEvent<'a>> {
        let (w, at) = self.name("observed event")?;
        let (timestamp, name) = if self.eat(b':') {
            if !is_timestamp(w) {
                return Err(self.fail_at(ParseErrorKind::Expected("time stamp"), at));
            }
            (Some(w), self.name("event name")?.0)
        } else {
            (None, w)
        };
        let params = self.event_spec_parms()?;
        Ok(ObservedEvent {
            timestamp,
            name,
            params,
        })
    }

    fn signal_parm(&mut self) -> Result<SignalParm<'a>> {
        let (w, _) = self.name("signal")?;
        if t::SIGNAL_LIST.is(w) {
            self.equal()?;
            let id = self.u16("signal list id")?;
            let signals = self.braced("signal", false, |c| {
                let (name, _) = c.name("signal")?;
                c.signal(name)
            })?;
            return Ok(SignalParm::List(id, signals));
        }
        Ok(SignalParm::Signal(self.signal(w)?))
    }

    fn signal(&mut self, name: &'a str) -> Result<Signal<'a>> {
        let params = if self.at_open() {
            self.braced("signal parameter", false, |c| {
                let (w, _) = c.name("signal parameter")?;
                Ok(if t::STREAM.is(w) {
                    c.equal()?;
                    SignalArg::Stream(c.u16("stream id")?)
                } else if t::SIGNAL_TYPE.is(w) {
                    SignalArg::Type(c.choice(
                        "signal type",
                        &[
                            (t::ON_OFF, SignalType::OnOff),
                            (t::TIME_OUT, SignalType::TimeOut),
                            (t::BRIEF, SignalType::Brief),
                        ],
                    )?)
                } else if t::DURATION.is(w) {
                    c.equal()?;
                    SignalArg::Duration(c.u16("duration")?)
                } else if t::NOTIFY_COMPLETION.is(w) {
                    c.equal()?;
                    SignalArg::NotifyCompletion(c.braced("reason", false, |c| {
                        let (w, at) = c.word();
                        [
                            (t::TIME_OUT, NotifyReason::TimeOut),
                            (t::INT_BY_EVENT, NotifyReason::InterruptedByEvent),
                            (t::INT_BY_SIG_DESCR, NotifyReason::InterruptedByNewSignals),
                            (t::OTHER_REASON, NotifyReason::Other),
                        ]
                        .into_iter()
                        .find_map(|(tok, r)| tok.is(w).then_some(r))
                        .ok_or_else(|| c.fail_at(ParseErrorKind::Unknown("completion reason"), at))
                    })?)
                } else if t::KEEP_ACTIVE.is(w) {
                    SignalArg::KeepActive
                } else {
                    SignalArg::Other(c.property(w)?)
                })
            })?
        } else {
            Vec::new()
        };
        Ok(Signal { name, params })
    }

    fn service_change_parm(&mut self) -> Result<ServiceChangeParm<'a>> {
        let (w, at) = self.name("ServiceChange parameter")?;
        Ok(if t::METHOD.is(w) {
            self.equal()?;
            let (m, at) = self.word();
            let method = [
                (t::FAILOVER, ServiceChangeMethod::Failover),
                (t::FORCED, ServiceChangeMethod::Forced),
                (t::GRACEFUL, ServiceChangeMethod::Graceful),
                (t::RESTART, ServiceChangeMethod::Restart),
                (t::DISCONNECTED, ServiceChangeMethod::Disconnected),
                (t::HANDOFF, ServiceChangeMethod::HandOff),
            ]
            .into_iter()
            .find_map(|(tok, method)| tok.is(m).then_some(method));
            match method {
                Some(method) => ServiceChangeParm::Method(method),
                None if is_extension(m) => {
                    ServiceChangeParm::Method(ServiceChangeMethod::Extension(m))
                }
                None => return Err(self.fail_at(ParseErrorKind::Unknown("method"), at)),
            }
        } else if t::REASON.is(w) {
            self.equal()?;
            ServiceChangeParm::Reason(self.value()?)
        } else if t::DELAY.is(w) {
            self.equal()?;
            ServiceChangeParm::Delay(self.u32("delay")?)
        } else if t::SERVICE_CHANGE_ADDRESS.is(w) {
            self.equal()?;
            self.lwsp();
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                ServiceChangeParm::Address(ServiceChangeAddress::Port(self.u16("port")?))
            } else {
                ServiceChangeParm::Address(ServiceChangeAddress::Mid(self.mid()?))
            }
        } else if t::PROFILE.is(w) {
            self.equal()?;
            let (p, at) = self.name("profile")?;
            let bad = || self.fail_at(ParseErrorKind::Expected("profile name/version"), at);
            let (name, version) = p.rsplit_once('/').ok_or_else(bad)?;
            let digits = !version.is_empty()
                && version.len() <= 2
                && version.bytes().all(|b| b.is_ascii_digit());
            if name.is_empty() || !digits {
                return Err(bad());
            }
            ServiceChangeParm::Profile(name, version.parse().map_err(|_| bad())?)
        } else if t::VERSION.is(w) {
            self.equal()?;
            ServiceChangeParm::Version(self.version()?)
        } else if t::MGC_ID.is(w) {
            self.equal()?;
            ServiceChangeParm::MgcIdToTry(self.mid()?)
        } else if is_timestamp(w) {
            ServiceChangeParm::TimeStamp(w)
        } else if is_extension(w) {
            ServiceChangeParm::Extension(self.property(w)?)
        } else {
            return Err(self.fail_at(ParseErrorKind::Unknown("ServiceChange parameter"), at));
        })
    }

    fn audit_item(&mut self) -> Result<AuditItem> {
        let (w, at) = self.word();
        [
            (t::MUX, AuditItem::Mux),
            (t::MODEM, AuditItem::Modem),
            (t::MEDIA, AuditItem::Media),
            (t::SIGNALS, AuditItem::Signals),
            (t::EVENT_BUFFER, AuditItem::EventBuffer),
            (t::DIGIT_MAP, AuditItem::DigitMap),
            (t::STATS, AuditItem::Statistics),
            (t::EVENTS, AuditItem::Events),
            (t::OBSERVED_EVENTS, AuditItem::ObservedEvents),
            (t::PACKAGES, AuditItem::Packages),
        ]
        .into_iter()
        .find_map(|(tok, item)| tok.is(w).then_some(item))
        .ok_or_else(|| self.fail_at(ParseErrorKind::Unknown("audit item"), at))
    }

    /// `= code { ["text"] }`, the `Error` token already read.
    pub(super) fn error_descriptor(&mut self) -> Result<ErrorDescriptor<'a>> {
        self.equal()?;
        let (w, at) = self.word();
        if w.is_empty() || w.len() > 4 || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.fail_at(ParseErrorKind::Expected("error code"), at));
        }
        let code = ErrorCode(
            w.parse()
                .map_err(|_| self.fail_at(ParseErrorKind::Range("error code"), at))?,
        );
        self.open()?;
        self.lwsp();
        let text = if self.peek() == Some(b'"') {
            let quoted = self.value()?;
            Some(&quoted[1..quoted.len() - 1])
        } else {
            None
        };
        self.expect(b'}', "`}`")?;
        self.depth -= 1;
        Ok(ErrorDescriptor { code, text })
    }
}
