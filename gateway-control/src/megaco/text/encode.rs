//! The MEGACO text encoder, in the two forms of H.248.1 Annex B.
//!
//! [`Form::Pretty`] follows the layout of RFC 3525 Appendix A: long tokens, `Token = value`,
//! one item per line, four spaces per level. [`Form::Compact`] uses the short tokens and no
//! optional whitespace at all. Both end the header line with LF and the message with LF.

use std::io::Write as _;

use super::tokens::{self as t, Tok};
use crate::megaco::{
    AckRange, ActionReply, ActionRequest, AuditItem, Body, Command, CommandRequest, ContextId,
    ContextProperty, Descriptor, DigitMapRef, ErrorDescriptor, EventParm, EventSpecParm,
    LocalControlParm, MediaParm, Message, MessageId, NotifyReason, ParmValue, Property,
    ReplyResult, RequestId, ServiceChangeAddress, ServiceChangeMethod, ServiceChangeParm,
    ServiceState, Signal, SignalArg, SignalParm, SignalType, StreamMode, TerminationStateParm,
    Transaction, Verb,
};

/// The layout of the text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// Long tokens, spaces and one item per line, for people.
    Pretty,
    /// Short tokens and no optional whitespace, for the wire.
    Compact,
}

/// Appends `message` to `out` in the given form.
pub fn encode(message: &Message<'_>, form: Form, out: &mut Vec<u8>) {
    let mut w = Writer {
        out,
        compact: form == Form::Compact,
        indent: 0,
    };
    w.message(message);
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
    compact: bool,
    indent: usize,
}

impl Writer<'_> {
    fn s(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn tok(&mut self, tok: Tok) {
        let s = tok.get(self.compact);
        self.s(s);
    }

    fn num(&mut self, n: impl Into<u64>) {
        // Writing to a Vec cannot fail.
        let _ = write!(self.out, "{}", n.into());
    }

    fn eq(&mut self) {
        self.s(if self.compact { "=" } else { " = " });
    }

    /// `Token = `.
    fn tok_eq(&mut self, tok: Tok) {
        self.tok(tok);
        self.eq();
    }

    fn newline(&mut self) {
        if !self.compact {
            self.out.push(b'\n');
            for _ in 0..self.indent {
                self.s("    ");
            }
        }
    }

    /// ` { item, item }`, one item per line when pretty.
    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.s(if self.compact { "{" } else { " {" });
        self.indent += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.newline();
            f(self, item);
        }
        self.indent -= 1;
        if !items.is_empty() {
            self.newline();
        }
        self.out.push(b'}');
    }

    /// ` {text}`, the text as it was read.
    fn raw(&mut self, text: &str) {
        if !self.compact {
            self.out.push(b' ');
        }
        self.braced_raw(text);
    }

    /// `{text}`, right after `= `.
    fn braced_raw(&mut self, text: &str) {
        self.out.push(b'{');
        self.s(text);
        self.out.push(b'}');
    }

    fn message(&mut self, m: &Message<'_>) {
        self.tok(t::MEGACO);
        self.out.push(b'/');
        self.num(m.version);
        self.out.push(b' ');
        self.mid(&m.mid);
        self.out.push(b'\n');
        match &m.body {
            Body::Error(e) => self.error(e),
            Body::Transactions(ts) => {
                for (i, tr) in ts.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b'\n');
                    }
                    self.transaction(tr);
                }
            }
        }
        self.out.push(b'\n');
    }

    fn mid(&mut self, mid: &MessageId<'_>) {
        let port = |w: &mut Self, port: &Option<u16>| {
            if let Some(p) = port {
                w.out.push(b':');
                w.num(*p);
            }
        };
        match mid {
            MessageId::Ip4(a, p) => {
                let _ = write!(self.out, "[{a}]");
                port(self, p);
            }
            MessageId::Ip6(a, p) => {
                let _ = write!(self.out, "[{a}]");
                port(self, p);
            }
            MessageId::Domain(d, p) => {
                self.out.push(b'<');
                self.s(d);
                self.out.push(b'>');
                port(self, p);
            }
            MessageId::Device(d) => self.s(d),
            MessageId::Mtp(hex) => {
                self.tok(t::MTP);
                self.raw(hex);
            }
        }
    }

    fn transaction(&mut self, tr: &Transaction<'_>) {
        match tr {
            Transaction::Request(r) => {
                self.tok_eq(t::TRANSACTION);
                self.num(r.id.0);
                self.list(&r.actions, Self::action_request);
            }
            Transaction::Reply(r) => {
                self.tok_eq(t::REPLY);
                self.num(r.id.0);
                self.s(if self.compact { "{" } else { " {" });
                self.indent += 1;
                let mut first = true;
                let mut item = |w: &mut Self| {
                    if !first {
                        w.out.push(b',');
                    }
                    first = false;
                    w.newline();
                };
                if r.imm_ack_required {
                    item(self);
                    self.tok(t::IMM_ACK_REQUIRED);
                }
                match &r.result {
                    ReplyResult::Error(e) => {
                        item(self);
                        self.error(e);
                    }
                    ReplyResult::Actions(actions) => {
                        for a in actions {
                            item(self);
                            self.action_reply(a);
                        }
                    }
                }
                self.indent -= 1;
                if !first {
                    self.newline();
                }
                self.out.push(b'}');
            }
            Transaction::Pending(id) => {
                self.tok_eq(t::PENDING);
                self.num(id.0);
                self.s(if self.compact { "{}" } else { " { }" });
            }
            Transaction::ResponseAck(ranges) => {
                self.tok(t::RESPONSE_ACK);
                self.list(ranges, |w, r: &AckRange| {
                    w.num(r.first.0);
                    if r.last != r.first {
                        w.out.push(b'-');
                        w.num(r.last.0);
                    }
                });
            }
        }
    }

    fn context(&mut self, id: ContextId) {
        self.tok_eq(t::CONTEXT);
        match id {
            ContextId::Number(n) => self.num(n),
            ContextId::Null => self.s("-"),
            ContextId::Choose => self.s("$"),
            ContextId::All => self.s("*"),
        }
    }

    fn context_property(&mut self, p: &ContextProperty) {
        match p {
            ContextProperty::Priority(n) => {
                self.tok_eq(t::PRIORITY);
                self.num(*n);
            }
            ContextProperty::Emergency => self.tok(t::EMERGENCY),
        }
    }

    fn action_request(&mut self, a: &ActionRequest<'_>) {
        self.context(a.context);
        enum Item<'r, 'a> {
            Property(&'r ContextProperty),
            Command(&'r CommandRequest<'a>),
        }
        let items: Vec<Item<'_, '_>> = (a.properties.iter().map(Item::Property))
            .chain(a.commands.iter().map(Item::Command))
            .collect();
        self.list(&items, |w, item| match item {
            Item::Property(p) => w.context_property(p),
            Item::Command(c) => {
                if c.optional {
                    w.s("O-");
                }
                if c.wildcard_reply {
                    w.s("W-");
                }
                w.command(&c.command);
            }
        });
    }

    fn action_reply(&mut self, a: &ActionReply<'_>) {
        self.context(a.context);
        enum Item<'r, 'a> {
            Property(&'r ContextProperty),
            Command(&'r Command<'a>),
            Error(&'r ErrorDescriptor<'a>),
        }
        let items: Vec<Item<'_, '_>> = (a.properties.iter().map(Item::Property))
            .chain(a.commands.iter().map(Item::Command))
            .chain(a.error.iter().map(Item::Error))
            .collect();
        self.list(&items, |w, item| match item {
            Item::Property(p) => w.context_property(p),
            Item::Command(c) => w.command(c),
            Item::Error(e) => w.error(e),
        });
    }

    fn command(&mut self, c: &Command<'_>) {
        self.tok_eq(match c.verb {
            Verb::Add => t::ADD,
            Verb::Modify => t::MODIFY,
            Verb::Subtract => t::SUBTRACT,
            Verb::Move => t::MOVE,
            Verb::AuditValue => t::AUDIT_VALUE,
            Verb::AuditCapabilities => t::AUDIT_CAP,
            Verb::Notify => t::NOTIFY,
            Verb::ServiceChange => t::SERVICE_CHANGE,
        });
        self.s(c.termination.0);
        if !c.descriptors.is_empty() {
            self.list(&c.descriptors, Self::descriptor);
        }
    }

    fn descriptor(&mut self, d: &Descriptor<'_>) {
        match d {
            Descriptor::Media(parms) => {
                self.tok(t::MEDIA);
                self.list(parms, Self::media_parm);
            }
            Descriptor::Events(e) => {
                self.tok(t::EVENTS);
                if let Some(id) = e.request_id {
                    self.eq();
                    self.request_id(id);
                    self.list(&e.events, |w, ev| {
                        w.s(ev.name);
                        if !ev.params.is_empty() {
                            w.list(&ev.params, Self::event_parm);
                        }
                    });
                }
            }
            Descriptor::Signals(signals) => {
                self.tok(t::SIGNALS);
                if !signals.is_empty() {
                    self.list(signals, |w, s| match s {
                        SignalParm::Signal(s) => w.signal(s),
                        SignalParm::List(id, signals) => {
                            w.tok_eq(t::SIGNAL_LIST);
                            w.num(*id);
                            w.list(signals, Self::signal);
                        }
                    });
                }
            }
            Descriptor::ObservedEvents(oe) => {
                self.tok_eq(t::OBSERVED_EVENTS);
                self.request_id(oe.request_id);
                self.list(&oe.events, |w, ev| {
                    if let Some(ts) = ev.timestamp {
                        w.s(ts);
                        w.out.push(b':');
                    }
                    w.s(ev.name);
                    w.event_spec_parms(&ev.params);
                });
            }
            Descriptor::DigitMap(dm) => {
                self.tok_eq(t::DIGIT_MAP);
                if let Some(name) = dm.name {
                    self.s(name);
                }
                match (dm.name, dm.value) {
                    (Some(_), Some(value)) => self.raw(value),
                    (None, Some(value)) => self.braced_raw(value),
                    (_, None) => {}
                }
            }
            Descriptor::EventBuffer(specs) => {
                self.tok(t::EVENT_BUFFER);
                if !specs.is_empty() {
                    self.list(specs, |w, spec| {
                        w.s(spec.name);
                        w.event_spec_parms(&spec.params);
                    });
                }
            }
            Descriptor::ServiceChange(parms) => {
                self.tok(t::SERVICES);
                self.list(parms, Self::service_change_parm);
            }
            Descriptor::Audit(items) => {
                self.tok(t::AUDIT);
                self.list(items, |w, item| {
                    w.tok(match item {
                        AuditItem::Mux => t::MUX,
                        AuditItem::Modem => t::MODEM,
                        AuditItem::Media => t::MEDIA,
                        AuditItem::Signals => t::SIGNALS,
                        AuditItem::EventBuffer => t::EVENT_BUFFER,
                        AuditItem::DigitMap => t::DIGIT_MAP,
                        AuditItem::Statistics => t::STATS,
                        AuditItem::Events => t::EVENTS,
                        AuditItem::ObservedEvents => t::OBSERVED_EVENTS,
                        AuditItem::Packages => t::PACKAGES,
                    })
                });
            }
            Descriptor::Statistics(stats) => {
                self.tok(t::STATS);
                self.list(stats, |w, s| {
                    w.s(s.name);
                    if let Some(v) = s.value {
                        w.eq();
                        w.s(v);
                    }
                });
            }
            Descriptor::Error(e) => self.error(e),
        }
    }

    fn request_id(&mut self, id: RequestId) {
        match id {
            RequestId::Number(n) => self.num(n),
            RequestId::All => self.s("*"),
        }
    }

    fn media_parm(&mut self, p: &MediaParm<'_>) {
        match p {
            MediaParm::TerminationState(parms) => {
                self.tok(t::TERMINATION_STATE);
                self.list(parms, |w, p| match p {
                    TerminationStateParm::ServiceStates(s) => {
                        w.tok_eq(t::SERVICE_STATES);
                        w.tok(match s {
                            ServiceState::Test => t::TEST,
                            ServiceState::OutOfService => t::OUT_OF_SVC,
                            ServiceState::InService => t::IN_SVC,
                        });
                    }
                    TerminationStateParm::LockStep(on) => {
                        w.tok_eq(t::BUFFER);
                        if *on {
                            w.tok(t::LOCK_STEP);
                        } else {
                            w.s("OFF");
                        }
                    }
                    TerminationStateParm::Property(p) => w.property(p),
                });
            }
            MediaParm::Stream(id, parms) => {
                self.tok_eq(t::STREAM);
                self.num(*id);
                self.list(parms, Self::media_parm);
            }
            MediaParm::LocalControl(parms) => {
                self.tok(t::LOCAL_CONTROL);
                self.list(parms, |w, p| match p {
                    LocalControlParm::Mode(m) => {
                        w.tok_eq(t::MODE);
                        w.tok(match m {
                            StreamMode::SendOnly => t::SEND_ONLY,
                            StreamMode::ReceiveOnly => t::RECV_ONLY,
                            StreamMode::SendReceive => t::SEND_RECV,
                            StreamMode::Inactive => t::INACTIVE,
                            StreamMode::LoopBack => t::LOOPBACK,
                        });
                    }
                    LocalControlParm::ReservedValue(on) => {
                        w.tok_eq(t::RESERVED_VALUE);
                        w.s(if *on { "ON" } else { "OFF" });
                    }
                    LocalControlParm::ReservedGroup(on) => {
                        w.tok_eq(t::RESERVED_GROUP);
                        w.s(if *on { "ON" } else { "OFF" });
                    }
                    LocalControlParm::Property(p) => w.property(p),
                });
            }
            MediaParm::Local(sdp) => {
                self.tok(t::LOCAL);
                self.raw(sdp);
            }
            MediaParm::Remote(sdp) => {
                self.tok(t::REMOTE);
                self.raw(sdp);
            }
        }
    }

    fn property(&mut self, p: &Property<'_>) {
        self.s(p.name);
        let values = |w: &mut Self, open: u8, values: &[&str], close: u8| {
            w.out.push(open);
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    w.out.push(b',');
                }
                w.s(v);
            }
            w.out.push(close);
        };
        match &p.value {
            ParmValue::Equal(v) => {
                self.out.push(b'=');
                self.s(v);
            }
            ParmValue::Greater(v) => {
                self.out.push(b'>');
                self.s(v);
            }
            ParmValue::Less(v) => {
                self.out.push(b'<');
                self.s(v);
            }
            ParmValue::NotEqual(v) => {
                self.out.push(b'#');
                self.s(v);
            }
            ParmValue::OneOf(vs) => {
                self.out.push(b'=');
                values(self, b'[', vs, b']');
            }
            ParmValue::Range(a, b) => {
                self.s("=[");
                self.s(a);
                self.out.push(b':');
                self.s(b);
                self.out.push(b']');
            }
            ParmValue::AllOf(vs) => {
                self.out.push(b'=');
                values(self, b'{', vs, b'}');
            }
        }
    }

    fn event_parm(&mut self, p: &EventParm<'_>) {
        match p {
            EventParm::KeepActive => self.tok(t::KEEP_ACTIVE),
            EventParm::DigitMap(DigitMapRef::Name(name)) => {
                self.tok_eq(t::DIGIT_MAP);
                self.s(name);
            }
            EventParm::DigitMap(DigitMapRef::Value(value)) => {
                self.tok_eq(t::DIGIT_MAP);
                self.braced_raw(value);
            }
            EventParm::Stream(id) => {
                self.tok_eq(t::STREAM);
                self.num(*id);
            }
            EventParm::Embed(text) => {
                self.tok(t::EMBED);
                self.raw(text);
            }
            EventParm::Other(p) => self.property(p),
        }
    }

    fn event_spec_parms(&mut self, params: &[EventSpecParm<'_>]) {
        if params.is_empty() {
            return;
        }
        self.list(params, |w, p| match p {
            EventSpecParm::Stream(id) => {
                w.tok_eq(t::STREAM);
                w.num(*id);
            }
            EventSpecParm::Other(p) => w.property(p),
        });
    }

    fn signal(&mut self, s: &Signal<'_>) {
        self.s(s.name);
        if s.params.is_empty() {
            return;
        }
        self.list(&s.params, |w, a| match a {
            SignalArg::Stream(id) => {
                w.tok_eq(t::STREAM);
                w.num(*id);
            }
            SignalArg::Type(ty) => {
                w.tok_eq(t::SIGNAL_TYPE);
                w.tok(match ty {
                    SignalType::OnOff => t::ON_OFF,
                    SignalType::TimeOut => t::TIME_OUT,
                    SignalType::Brief => t::BRIEF,
                });
            }
            SignalArg::Duration(ms) => {
                w.tok_eq(t::DURATION);
                w.num(*ms);
            }
            SignalArg::NotifyCompletion(reasons) => {
                w.tok_eq(t::NOTIFY_COMPLETION);
                w.list(reasons, |w, r| {
                    w.tok(match r {
                        NotifyReason::TimeOut => t::TIME_OUT,
                        NotifyReason::InterruptedByEvent => t::INT_BY_EVENT,
                        NotifyReason::InterruptedByNewSignals => t::INT_BY_SIG_DESCR,
                        NotifyReason::Other => t::OTHER_REASON,
                    })
                });
            }
            SignalArg::KeepActive => w.tok(t::KEEP_ACTIVE),
            SignalArg::Other(p) => w.property(p),
        });
    }

    fn service_change_parm(&mut self, p: &ServiceChangeParm<'_>) {
        match p {
            ServiceChangeParm::Method(m) => {
                self.tok_eq(t::METHOD);
                match m {
                    ServiceChangeMethod::Failover => self.tok(t::FAILOVER),
                    ServiceChangeMethod::Forced => self.tok(t::FORCED),
                    ServiceChangeMethod::Graceful => self.tok(t::GRACEFUL),
                    ServiceChangeMethod::Restart => self.tok(t::RESTART),
                    ServiceChangeMethod::Disconnected => self.tok(t::DISCONNECTED),
                    ServiceChangeMethod::HandOff => self.tok(t::HANDOFF),
                    ServiceChangeMethod::Extension(x) => self.s(x),
                }
            }
            ServiceChangeParm::Reason(v) => {
                self.tok_eq(t::REASON);
                self.s(v);
            }
            ServiceChangeParm::Delay(n) => {
                self.tok_eq(t::DELAY);
                self.num(*n);
            }
            ServiceChangeParm::Address(ServiceChangeAddress::Port(p)) => {
                self.tok_eq(t::SERVICE_CHANGE_ADDRESS);
                self.num(*p);
            }
            ServiceChangeParm::Address(ServiceChangeAddress::Mid(mid)) => {
                self.tok_eq(t::SERVICE_CHANGE_ADDRESS);
                self.mid(mid);
            }
            ServiceChangeParm::Profile(name, version) => {
                self.tok_eq(t::PROFILE);
                self.s(name);
                self.out.push(b'/');
                self.num(*version);
            }
            ServiceChangeParm::Version(v) => {
                self.tok_eq(t::VERSION);
                self.num(*v);
            }
            ServiceChangeParm::MgcIdToTry(mid) => {
                self.tok_eq(t::MGC_ID);
                self.mid(mid);
            }
            ServiceChangeParm::TimeStamp(ts) => self.s(ts),
            ServiceChangeParm::Extension(p) => self.property(p),
        }
    }

    fn error(&mut self, e: &ErrorDescriptor<'_>) {
        self.tok_eq(t::ERROR);
        self.num(e.code.0);
        match e.text {
            Some(text) => {
                self.s(if self.compact { "{\"" } else { " {\"" });
                self.s(text);
                self.s("\"}");
            }
            None => self.s(if self.compact { "{}" } else { " { }" }),
        }
    }
}
