//! The BER encoder: the message tree in the shape of Annex A's ASN.1 module. Each function
//! names the ASN.1 type it writes; tags are the automatic ones, `[n]` in the comments.

use super::names::{self, NameError};
use super::termid;
use super::tlv::{OCTET_STRING, SEQUENCE, Writer, ctx, ctx_c};
use crate::megaco::packages::{Item, Scope};
use crate::megaco::{
    ActionReply, ActionRequest, AuditItem, Body, Command, CommandRequest, ContextId,
    ContextProperty, Descriptor, DigitMapDescriptor, DigitMapRef, ErrorDescriptor, EventParm,
    EventSpec, EventSpecParm, EventsDescriptor, LocalControlParm, MediaParm, Message, MessageId,
    NotifyReason, ObservedEventsDescriptor, ParmValue, Property, ReplyResult, RequestId,
    RequestedEvent, ServiceChangeAddress, ServiceChangeMethod, ServiceChangeParm, ServiceState,
    Signal, SignalArg, SignalParm, SignalType, Statistic, StreamMode, TerminationId,
    TerminationStateParm, Transaction, Verb,
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

/// `MediaDescriptor`: termStateDescr [0], streams [1] (oneStream [0] or multiStream [1]).
fn media(w: &mut Writer<'_>, parms: &[MediaParm<'_>]) -> Result {
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
                    let (id, text) = line.clone().map_err(bad)?;
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
fn events(w: &mut Writer<'_>, e: &EventsDescriptor<'_>) -> Result {
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
fn digit_map(w: &mut Writer<'_>, d: &DigitMapDescriptor<'_>) -> Result {
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
fn event_buffer(w: &mut Writer<'_>, specs: &[EventSpec<'_>]) -> Result {
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
        if let EventSpecParm::Stream(s) = p {
            if stream.replace(*s).is_some() {
                return Err(unsupported("eventSpec", "two Stream parameters"));
            }
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
fn time_notation(w: &mut Writer<'_>, tag: u8, t: &str) -> Result {
    let (date, time) =
        names::timestamp(t).ok_or_else(|| malformed("timeNotation", t, "yyyymmddThhmmsshh"))?;
    w.constructed(tag, |w| {
        w.primitive(ctx(0), date.as_bytes());
        w.primitive(ctx(1), time.as_bytes());
        Ok(())
    })
}

/// `ObservedEventsDescriptor`: requestId [0], observedEventLst [1].
fn observed_events(w: &mut Writer<'_>, o: &ObservedEventsDescriptor<'_>) -> Result {
    w.unsigned(ctx(0), request_id(o.request_id));
    w.constructed(ctx_c(1), |w| {
        for e in &o.events {
            w.constructed(SEQUENCE, |w| event_spec(w, e.name, &e.params, e.timestamp))?;
        }
        Ok(())
    })
}

/// `SignalsDescriptor`: SEQUENCE OF SignalRequest (signal [0], seqSigList [1]).
fn signals(w: &mut Writer<'_>, parms: &[SignalParm<'_>]) -> Result {
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
pub(super) fn reason_bit(r: NotifyReason) -> u16 {
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
fn statistics(w: &mut Writer<'_>, stats: &[Statistic<'_>]) -> Result {
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
