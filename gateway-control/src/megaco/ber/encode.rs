//! The BER encoder: the message tree in the shape of Annex A's ASN.1 module. Each function
//! names the ASN.1 type it writes; tags are the automatic ones, `[n]` in the comments.

mod descriptor;

pub(super) use descriptor::reason_bit;
use descriptor::{
    digit_map, event_buffer, events, media, observed_events, signals, statistics, time_notation,
};

use super::names;
use super::termid;
use super::tlv::{OCTET_STRING, SEQUENCE, Writer, ctx, ctx_c};
use crate::megaco::{
    ActionReply, ActionRequest, AuditItem, Body, Command, CommandRequest, ContextId,
    ContextProperty, Descriptor, ErrorDescriptor, Message, MessageId, ReplyResult,
    ServiceChangeAddress, ServiceChangeMethod, ServiceChangeParm, TerminationId, Transaction, Verb,
};

/// Why a message could not be written in the binary encoding. These are the caller's
/// mistakes (or what Annex A cannot carry), never the peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A package, item or parameter name that [`crate::megaco::packages`] does not know in
    /// its scope (write unknown ids as `xHHHH`).
    #[error("{field}: unknown name {name:?}")]
    UnknownName {
        /// The field.
        field: &'static str,
        /// The name.
        name: String,
    },
    /// A text the binary encoding needs in a fixed form is not in it: a termination id that
    /// is not bit-string levels, a timestamp, an SDP line, digit map timers, an mtpAddress, a
    /// digit map name, a number over its ASN.1 range.
    #[error("{field}: {value:?} is not {expected}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// The text.
        value: String,
        /// The form it needs.
        expected: &'static str,
    },
    /// Annex A version 1 cannot carry it, or the command's ASN.1 type has no place for it.
    #[error("{field}: {what} has no binary form")]
    Unsupported {
        /// Where.
        field: &'static str,
        /// What.
        what: &'static str,
    },
}

type Result<T = ()> = std::result::Result<T, EncodeError>;

fn malformed(field: &'static str, value: &str, expected: &'static str) -> EncodeError {
    EncodeError::Malformed {
        field,
        value: value.to_owned(),
        expected,
    }
}

fn unsupported(field: &'static str, what: &'static str) -> EncodeError {
    EncodeError::Unsupported { field, what }
}

/// Appends `message` to `out` in the BER encoding of Annex A (`MegacoMessage`). On error,
/// `out` is left as it was.
pub fn encode(message: &Message<'_>, out: &mut Vec<u8>) -> Result {
    if message.version > 99 {
        return Err(malformed(
            "version",
            &message.version.to_string(),
            "0 to 99",
        ));
    }
    let start = out.len();
    let result = Writer { out }.constructed(SEQUENCE, |w| {
        // mess [1] Message
        w.constructed(ctx_c(1), |w| {
            w.unsigned(ctx(0), u64::from(message.version));
            w.constructed(ctx_c(1), |w| mid(w, &message.mid, "mId"))?;
            w.constructed(ctx_c(2), |w| match &message.body {
                Body::Error(e) => w.constructed(ctx_c(0), |w| error_descriptor(w, e)),
                Body::Transactions(ts) => {
                    w.constructed(ctx_c(1), |w| ts.iter().try_for_each(|t| transaction(w, t)))
                }
            })
        })
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// `MId` (a CHOICE) and the same alternatives of `ServiceChangeAddress`, whose tags are one
/// higher (`portNumber` comes first there).
fn mid(w: &mut Writer<'_>, m: &MessageId<'_>, field: &'static str) -> Result {
    mid_from(w, m, field, 0)
}

fn mid_from(w: &mut Writer<'_>, m: &MessageId<'_>, field: &'static str, first: u8) -> Result {
    let port = |w: &mut Writer<'_>, p: &Option<u16>| {
        if let Some(p) = p {
            w.unsigned(ctx(1), u64::from(*p));
        }
    };
    match m {
        MessageId::Ip4(a, p) => w.constructed(ctx_c(first), |w| {
            w.primitive(ctx(0), &a.octets());
            port(w, p);
            Ok(())
        }),
        MessageId::Ip6(a, p) => w.constructed(ctx_c(first + 1), |w| {
            w.primitive(ctx(0), &a.octets());
            port(w, p);
            Ok(())
        }),
        MessageId::Domain(name, p) => w.constructed(ctx_c(first + 2), |w| {
            w.primitive(ctx(0), name.as_bytes());
            port(w, p);
            Ok(())
        }),
        MessageId::Device(name) => {
            if name.is_empty() || name.len() > 64 {
                return Err(malformed(field, name, "a PathName of 1 to 64 characters"));
            }
            w.primitive(ctx(first + 3), name.as_bytes());
            Ok(())
        }
        MessageId::Mtp(hex) => {
            let mut octets = [0; 4];
            let n = names::mtp_octets(hex, &mut octets)
                .ok_or_else(|| malformed(field, hex, "2 to 4 octets in hex"))?;
            w.primitive(ctx(first + 4), &octets[..n]);
            Ok(())
        }
    }
}

fn transaction(w: &mut Writer<'_>, t: &Transaction<'_>) -> Result {
    match t {
        // transactionRequest [0] TransactionRequest
        Transaction::Request(r) => w.constructed(ctx_c(0), |w| {
            w.unsigned(ctx(0), u64::from(r.id.0));
            w.constructed(ctx_c(1), |w| {
                r.actions.iter().try_for_each(|a| action_request(w, a))
            })
        }),
        // transactionPending [1] TransactionPending
        Transaction::Pending(id) => w.constructed(ctx_c(1), |w| {
            w.unsigned(ctx(0), u64::from(id.0));
            Ok(())
        }),
        // transactionReply [2] TransactionReply
        Transaction::Reply(r) => w.constructed(ctx_c(2), |w| {
            w.unsigned(ctx(0), u64::from(r.id.0));
            if r.imm_ack_required {
                w.null(ctx(1));
            }
            w.constructed(ctx_c(2), |w| match &r.result {
                ReplyResult::Error(e) => w.constructed(ctx_c(0), |w| error_descriptor(w, e)),
                ReplyResult::Actions(actions) => w.constructed(ctx_c(1), |w| {
                    actions.iter().try_for_each(|a| action_reply(w, a))
                }),
            })
        }),
        // transactionResponseAck [3] SEQUENCE OF TransactionAck
        Transaction::ResponseAck(ranges) => w.constructed(ctx_c(3), |w| {
            for r in ranges {
                w.constructed(SEQUENCE, |w| {
                    w.unsigned(ctx(0), u64::from(r.first.0));
                    if r.last != r.first {
                        w.unsigned(ctx(1), u64::from(r.last.0));
                    }
                    Ok::<_, EncodeError>(())
                })?;
            }
            Ok(())
        }),
    }
}

fn error_descriptor(w: &mut Writer<'_>, e: &ErrorDescriptor<'_>) -> Result {
    w.unsigned(ctx(0), u64::from(e.code.0));
    if let Some(text) = e.text {
        if !text.is_ascii() {
            return Err(malformed("errorText", text, "IA5 (ASCII) text"));
        }
        w.primitive(ctx(1), text.as_bytes());
    }
    Ok(())
}

fn context_id(c: ContextId) -> u64 {
    u64::from(match c {
        ContextId::Null => 0,
        ContextId::Choose => 0xffff_fffe,
        ContextId::All => 0xffff_ffff,
        ContextId::Number(n) => n,
    })
}

/// `ContextRequest`: priority [0], emergency [1].
fn context_request(w: &mut Writer<'_>, tag: u8, props: &[ContextProperty]) -> Result {
    if props.is_empty() {
        return Ok(());
    }
    let mut priority = None;
    let mut emergency = false;
    for p in props {
        match *p {
            ContextProperty::Priority(n) if priority.is_none() && n <= 15 => priority = Some(n),
            ContextProperty::Priority(n) if n > 15 => {
                return Err(malformed("priority", &n.to_string(), "0 to 15"));
            }
            ContextProperty::Emergency if !emergency => emergency = true,
            _ => return Err(unsupported("contextRequest", "a repeated context property")),
        }
    }
    w.constructed(tag, |w| {
        if let Some(p) = priority {
            w.unsigned(ctx(0), u64::from(p));
        }
        if emergency {
            w.boolean(ctx(1), true);
        }
        Ok(())
    })
}

fn action_request(w: &mut Writer<'_>, a: &ActionRequest<'_>) -> Result {
    w.constructed(SEQUENCE, |w| {
        w.unsigned(ctx(0), context_id(a.context));
        context_request(w, ctx_c(1), &a.properties)?;
        // commandRequests [3] SEQUENCE OF CommandRequest
        w.constructed(ctx_c(3), |w| {
            a.commands.iter().try_for_each(|c| command_request(w, c))
        })
    })
}

fn action_reply(w: &mut Writer<'_>, a: &ActionReply<'_>) -> Result {
    w.constructed(SEQUENCE, |w| {
        w.unsigned(ctx(0), context_id(a.context));
        if let Some(e) = &a.error {
            w.constructed(ctx_c(1), |w| error_descriptor(w, e))?;
        }
        context_request(w, ctx_c(2), &a.properties)?;
        // commandReply [3] SEQUENCE OF CommandReply
        w.constructed(ctx_c(3), |w| {
            a.commands.iter().try_for_each(|c| command_reply(w, c))
        })
    })
}

fn command_request(w: &mut Writer<'_>, c: &CommandRequest<'_>) -> Result {
    w.constructed(SEQUENCE, |w| {
        // command [0] Command (a CHOICE: explicit)
        w.constructed(ctx_c(0), |w| command(w, &c.command))?;
        if c.optional {
            w.null(ctx(1));
        }
        if c.wildcard_reply {
            w.null(ctx(2));
        }
        Ok(())
    })
}

/// `TerminationIDList` [0] of one termination.
fn termination_list(w: &mut Writer<'_>, t: &TerminationId<'_>) -> Result {
    w.constructed(ctx_c(0), |w| {
        w.constructed(SEQUENCE, |w| termination_id(w, t))
    })
}

/// The content of a `TerminationID`: wildcard [0], id [1].
fn termination_id(w: &mut Writer<'_>, t: &TerminationId<'_>) -> Result {
    let b = termid::encode(t.0).ok_or_else(|| {
        malformed(
            "terminationID",
            t.0,
            "ROOT or levels of eight binary digits (OTP's default term-id config)",
        )
    })?;
    w.constructed(ctx_c(0), |w| {
        for &wildcard in b.wildcards() {
            w.primitive(OCTET_STRING, &[wildcard]);
        }
        Ok::<_, EncodeError>(())
    })?;
    w.primitive(ctx(1), b.id());
    Ok(())
}

/// The one descriptor of a kind a command's ASN.1 type holds, and nothing else.
fn only<'d, 'a, T>(
    descriptors: &'d [Descriptor<'a>],
    field: &'static str,
    pick: impl Fn(&'d Descriptor<'a>) -> Option<T>,
) -> Result<Option<T>> {
    match descriptors {
        [] => Ok(None),
        [d] => pick(d)
            .map(Some)
            .ok_or_else(|| unsupported(field, "this descriptor in this command")),
        _ => Err(unsupported(
            field,
            "more than one descriptor in this command",
        )),
    }
}

fn audit_of<'d>(d: &'d Descriptor<'_>) -> Option<&'d [AuditItem]> {
    match d {
        Descriptor::Audit(items) => Some(items),
        _ => None,
    }
}

/// `Command`: the request of each verb.
fn command(w: &mut Writer<'_>, c: &Command<'_>) -> Result {
    let amm = |w: &mut Writer<'_>, tag: u8| {
        // AmmRequest: terminationID [0], descriptors [1] SEQUENCE OF AmmDescriptor
        w.constructed(ctx_c(tag), |w| {
            termination_list(w, &c.termination)?;
            w.constructed(ctx_c(1), |w| {
                c.descriptors.iter().try_for_each(|d| amm_descriptor(w, d))
            })
        })
    };
    match c.verb {
        Verb::Add => amm(w, 0),
        Verb::Move => amm(w, 1),
        Verb::Modify => amm(w, 2),
        Verb::Subtract => w.constructed(ctx_c(3), |w| {
            termination_list(w, &c.termination)?;
            if let Some(items) = only(&c.descriptors, "subtractReq", audit_of)? {
                w.constructed(ctx_c(1), |w| audit_descriptor(w, items))?;
            }
            Ok(())
        }),
        Verb::AuditCapabilities | Verb::AuditValue => {
            let tag = if c.verb == Verb::AuditCapabilities {
                4
            } else {
                5
            };
            let items = only(&c.descriptors, "auditRequest", audit_of)?
                .ok_or_else(|| unsupported("auditRequest", "an audit without Audit descriptor"))?;
            w.constructed(ctx_c(tag), |w| {
                w.constructed(ctx_c(0), |w| termination_id(w, &c.termination))?;
                w.constructed(ctx_c(1), |w| audit_descriptor(w, items))
            })
        }
        Verb::Notify => {
            let mut observed = None;
            let mut error = None;
            for d in &c.descriptors {
                match d {
                    Descriptor::ObservedEvents(o) if observed.is_none() => observed = Some(o),
                    Descriptor::Error(e) if error.is_none() => error = Some(e),
                    _ => return Err(unsupported("notifyReq", "this descriptor in a Notify")),
                }
            }
            let observed = observed
                .ok_or_else(|| unsupported("notifyReq", "a Notify without ObservedEvents"))?;
            w.constructed(ctx_c(6), |w| {
                termination_list(w, &c.termination)?;
                w.constructed(ctx_c(1), |w| observed_events(w, observed))?;
                if let Some(e) = error {
                    w.constructed(ctx_c(2), |w| error_descriptor(w, e))?;
                }
                Ok(())
            })
        }
        Verb::ServiceChange => {
            let parms = only(&c.descriptors, "serviceChangeReq", |d| match d {
                Descriptor::ServiceChange(p) => Some(p),
                _ => None,
            })?
            .ok_or_else(|| unsupported("serviceChangeReq", "a ServiceChange without Services"))?;
            w.constructed(ctx_c(7), |w| {
                termination_list(w, &c.termination)?;
                w.constructed(ctx_c(1), |w| service_change_parm(w, parms))
            })
        }
    }
}

/// `AmmDescriptor`, a CHOICE.
fn amm_descriptor(w: &mut Writer<'_>, d: &Descriptor<'_>) -> Result {
    match d {
        Descriptor::Media(m) => w.constructed(ctx_c(0), |w| media(w, m)),
        Descriptor::Events(e) => w.constructed(ctx_c(3), |w| events(w, e)),
        Descriptor::EventBuffer(e) => w.constructed(ctx_c(4), |w| event_buffer(w, e)),
        Descriptor::Signals(s) => w.constructed(ctx_c(5), |w| signals(w, s)),
        Descriptor::DigitMap(d) => w.constructed(ctx_c(6), |w| digit_map(w, d)),
        Descriptor::Audit(a) => w.constructed(ctx_c(7), |w| audit_descriptor(w, a)),
        _ => Err(unsupported(
            "ammRequest",
            "this descriptor in an Add, Move or Modify",
        )),
    }
}

/// `CommandReply`: the reply of each verb.
fn command_reply(w: &mut Writer<'_>, c: &Command<'_>) -> Result {
    let amms = |w: &mut Writer<'_>, tag: u8| {
        // AmmsReply: terminationID [0], terminationAudit [1] OPTIONAL
        w.constructed(ctx_c(tag), |w| {
            termination_list(w, &c.termination)?;
            if !c.descriptors.is_empty() {
                w.constructed(ctx_c(1), |w| termination_audit(w, &c.descriptors))?;
            }
            Ok(())
        })
    };
    match c.verb {
        Verb::Add => amms(w, 0),
        Verb::Move => amms(w, 1),
        Verb::Modify => amms(w, 2),
        Verb::Subtract => amms(w, 3),
        Verb::AuditCapabilities | Verb::AuditValue => {
            let tag = if c.verb == Verb::AuditCapabilities {
                4
            } else {
                5
            };
            // AuditReply (a CHOICE: explicit) → auditResult [2] AuditResult
            w.constructed(ctx_c(tag), |w| {
                w.constructed(ctx_c(2), |w| {
                    w.constructed(ctx_c(0), |w| termination_id(w, &c.termination))?;
                    w.constructed(ctx_c(1), |w| termination_audit(w, &c.descriptors))
                })
            })
        }
        Verb::Notify => {
            let error = only(&c.descriptors, "notifyReply", |d| match d {
                Descriptor::Error(e) => Some(e),
                _ => None,
            })?;
            w.constructed(ctx_c(6), |w| {
                termination_list(w, &c.termination)?;
                if let Some(e) = error {
                    w.constructed(ctx_c(1), |w| error_descriptor(w, e))?;
                }
                Ok(())
            })
        }
        Verb::ServiceChange => w.constructed(ctx_c(7), |w| {
            termination_list(w, &c.termination)?;
            // serviceChangeResult [1] (a CHOICE: explicit)
            w.constructed(ctx_c(1), |w| match c.descriptors.as_slice() {
                [Descriptor::Error(e)] => w.constructed(ctx_c(0), |w| error_descriptor(w, e)),
                [] => w.constructed(ctx_c(1), |_| Ok(())),
                [Descriptor::ServiceChange(p)] => {
                    w.constructed(ctx_c(1), |w| service_change_res_parm(w, p))
                }
                _ => Err(unsupported(
                    "serviceChangeReply",
                    "this descriptor in a ServiceChange reply",
                )),
            })
        }),
    }
}

/// `TerminationAudit`: SEQUENCE OF AuditReturnParameter (a CHOICE per descriptor).
fn termination_audit(w: &mut Writer<'_>, descriptors: &[Descriptor<'_>]) -> Result {
    for d in descriptors {
        match d {
            Descriptor::Error(e) => w.constructed(ctx_c(0), |w| error_descriptor(w, e))?,
            Descriptor::Media(m) => w.constructed(ctx_c(1), |w| media(w, m))?,
            Descriptor::Events(e) => w.constructed(ctx_c(4), |w| events(w, e))?,
            Descriptor::EventBuffer(e) => w.constructed(ctx_c(5), |w| event_buffer(w, e))?,
            Descriptor::Signals(s) => w.constructed(ctx_c(6), |w| signals(w, s))?,
            Descriptor::DigitMap(d) => w.constructed(ctx_c(7), |w| digit_map(w, d))?,
            Descriptor::ObservedEvents(o) => w.constructed(ctx_c(8), |w| observed_events(w, o))?,
            Descriptor::Statistics(s) => w.constructed(ctx_c(9), |w| statistics(w, s))?,
            Descriptor::Audit(a) => w.constructed(ctx_c(11), |w| audit_descriptor(w, a))?,
            Descriptor::ServiceChange(_) => {
                return Err(unsupported("terminationAudit", "a Services descriptor"));
            }
        }
    }
    Ok(())
}

/// The bit of each audit token in `AuditDescriptor.auditToken`.
pub(super) fn audit_bit(item: AuditItem) -> u16 {
    let n = match item {
        AuditItem::Mux => 0,
        AuditItem::Modem => 1,
        AuditItem::Media => 2,
        AuditItem::Events => 3,
        AuditItem::Signals => 4,
        AuditItem::DigitMap => 5,
        AuditItem::Statistics => 6,
        AuditItem::ObservedEvents => 7,
        AuditItem::Packages => 8,
        AuditItem::EventBuffer => 9,
    };
    0x8000 >> n
}

/// `AuditDescriptor`: auditToken [0] BIT STRING OPTIONAL (absent when empty).
fn audit_descriptor(w: &mut Writer<'_>, items: &[AuditItem]) -> Result {
    let bits = items.iter().fold(0, |b, &i| b | audit_bit(i));
    if bits != 0 {
        w.bits(ctx(0), bits);
    }
    Ok(())
}

/// The fields of a ServiceChange descriptor, each at most once.
#[derive(Default)]
struct Services<'p, 'a> {
    method: Option<ServiceChangeMethod<'a>>,
    address: Option<&'p ServiceChangeAddress<'a>>,
    version: Option<u8>,
    profile: Option<(&'a str, u8)>,
    reason: Option<&'a str>,
    delay: Option<u32>,
    mgc: Option<&'p MessageId<'a>>,
    timestamp: Option<&'a str>,
}

fn services<'p, 'a>(parms: &'p [ServiceChangeParm<'a>]) -> Result<Services<'p, 'a>> {
    let mut s = Services::default();
    for p in parms {
        let repeated = match p {
            ServiceChangeParm::Method(m) => s.method.replace(*m).is_some(),
            ServiceChangeParm::Address(a) => s.address.replace(a).is_some(),
            ServiceChangeParm::Version(v) => s.version.replace(*v).is_some(),
            ServiceChangeParm::Profile(n, v) => s.profile.replace((n, *v)).is_some(),
            ServiceChangeParm::Reason(r) => s.reason.replace(r).is_some(),
            ServiceChangeParm::Delay(d) => s.delay.replace(*d).is_some(),
            ServiceChangeParm::MgcIdToTry(m) => s.mgc.replace(m).is_some(),
            ServiceChangeParm::TimeStamp(t) => s.timestamp.replace(t).is_some(),
            ServiceChangeParm::Extension(_) => {
                return Err(unsupported(
                    "serviceChangeParm",
                    "an X- extension parameter",
                ));
            }
        };
        if repeated {
            return Err(unsupported("serviceChangeParm", "a repeated parameter"));
        }
    }
    if s.version.is_some_and(|v| v > 99) {
        return Err(unsupported("serviceChangeVersion", "a version over 99"));
    }
    Ok(s)
}

fn service_change_address(w: &mut Writer<'_>, tag: u8, a: &ServiceChangeAddress<'_>) -> Result {
    w.constructed(tag, |w| match a {
        ServiceChangeAddress::Port(p) => {
            w.unsigned(ctx(0), u64::from(*p));
            Ok(())
        }
        ServiceChangeAddress::Mid(m) => mid_from(w, m, "serviceChangeAddress", 1),
    })
}

fn profile(w: &mut Writer<'_>, tag: u8, (name, version): (&str, u8)) -> Result {
    let text = format!("{name}/{version}");
    if text.len() > 67 || !text.is_ascii() {
        return Err(malformed(
            "serviceChangeProfile",
            &text,
            "name/version, 67 characters",
        ));
    }
    w.constructed(tag, |w| {
        w.primitive(ctx(0), text.as_bytes());
        Ok(())
    })
}

/// `ServiceChangeParm`: serviceChangeMethod [0], serviceChangeAddress [1],
/// serviceChangeVersion [2], serviceChangeProfile [3], serviceChangeReason [4],
/// serviceChangeDelay [5], serviceChangeMgcId [6], timeStamp [7].
fn service_change_parm(w: &mut Writer<'_>, parms: &[ServiceChangeParm<'_>]) -> Result {
    let s = services(parms)?;
    let method = match s.method {
        Some(ServiceChangeMethod::Failover) => 0,
        Some(ServiceChangeMethod::Forced) => 1,
        Some(ServiceChangeMethod::Graceful) => 2,
        Some(ServiceChangeMethod::Restart) => 3,
        Some(ServiceChangeMethod::Disconnected) => 4,
        Some(ServiceChangeMethod::HandOff) => 5,
        Some(ServiceChangeMethod::Extension(_)) => {
            return Err(unsupported("serviceChangeMethod", "an X- extension method"));
        }
        None => {
            return Err(unsupported(
                "serviceChangeParm",
                "Services without a Method",
            ));
        }
    };
    w.unsigned(ctx(0), method);
    if let Some(a) = s.address {
        service_change_address(w, ctx_c(1), a)?;
    }
    if let Some(v) = s.version {
        w.unsigned(ctx(2), u64::from(v));
    }
    if let Some(p) = s.profile {
        profile(w, ctx_c(3), p)?;
    }
    w.constructed(ctx_c(4), |w| {
        if let Some(r) = s.reason {
            w.primitive(OCTET_STRING, names::unquote(r).as_bytes());
        }
        Ok::<_, EncodeError>(())
    })?;
    if let Some(d) = s.delay {
        w.unsigned(ctx(5), u64::from(d));
    }
    if let Some(m) = s.mgc {
        w.constructed(ctx_c(6), |w| mid(w, m, "serviceChangeMgcId"))?;
    }
    if let Some(t) = s.timestamp {
        time_notation(w, ctx_c(7), t)?;
    }
    Ok(())
}

/// `ServiceChangeResParm`: serviceChangeMgcId [0], serviceChangeAddress [1],
/// serviceChangeVersion [2], serviceChangeProfile [3], timeStamp [4].
fn service_change_res_parm(w: &mut Writer<'_>, parms: &[ServiceChangeParm<'_>]) -> Result {
    let s = services(parms)?;
    if s.method.is_some() || s.reason.is_some() || s.delay.is_some() {
        return Err(unsupported(
            "serviceChangeResParms",
            "Method, Reason or Delay in a reply",
        ));
    }
    if let Some(m) = s.mgc {
        w.constructed(ctx_c(0), |w| mid(w, m, "serviceChangeMgcId"))?;
    }
    if let Some(a) = s.address {
        service_change_address(w, ctx_c(1), a)?;
    }
    if let Some(v) = s.version {
        w.unsigned(ctx(2), u64::from(v));
    }
    if let Some(p) = s.profile {
        profile(w, ctx_c(3), p)?;
    }
    if let Some(t) = s.timestamp {
        time_notation(w, ctx_c(4), t)?;
    }
    Ok(())
}
