//! The replies the gateway answers with, owned while commands run and then lent to the
//! message tree for encoding (H.248.1 §8.2.2: an action's replies, then its error).

use gateway_control::megaco::{
    ActionReply, Command, ContextId, Descriptor, DigitMapDescriptor, ErrorDescriptor,
    EventsDescriptor, LocalControlParm, MediaParm, ReplyResult, RequestId, RequestedEvent, Signal,
    SignalParm, Statistic, StreamMode, Transaction, TransactionId, TransactionReply, Verb,
};

use super::plan::Refusal;

/// The answer to one action, owned until it is encoded.
#[derive(Debug)]
pub(crate) struct ActionOut {
    pub(crate) context: ContextId,
    pub(crate) commands: Vec<CommandOut>,
    pub(crate) error: Option<Refusal>,
}

/// The answer to one command for one termination.
#[derive(Debug)]
pub(crate) struct CommandOut {
    pub(crate) verb: Verb,
    pub(crate) termination: String,
    pub(crate) descriptors: Vec<DescOut>,
}

/// A descriptor of a command reply.
#[derive(Debug)]
pub(crate) enum DescOut {
    /// `Media { [Stream = id {] [LocalControl { Mode }] [Local {…}] [Remote {…}] [}] }`.
    Media {
        stream: Option<u16>,
        mode: Option<StreamMode>,
        local: Option<String>,
        remote: Option<String>,
    },
    Statistics(Vec<(&'static str, String)>),
    Events(Option<u32>, Vec<String>),
    Signals(Vec<String>),
    DigitMap(String, String),
    Error(Refusal),
}

/// The reply transaction for the answers of a request.
pub(crate) fn build_reply(id: TransactionId, actions: &[ActionOut]) -> Transaction<'_> {
    Transaction::Reply(TransactionReply {
        id,
        imm_ack_required: false,
        result: ReplyResult::Actions(actions.iter().map(action_reply).collect()),
    })
}

fn error(r: &Refusal) -> ErrorDescriptor<'_> {
    ErrorDescriptor {
        code: r.code,
        text: Some(&r.text),
    }
}

fn action_reply(a: &ActionOut) -> ActionReply<'_> {
    ActionReply {
        context: a.context,
        properties: Vec::new(),
        commands: a.commands.iter().map(command_reply).collect(),
        error: a.error.as_ref().map(error),
    }
}

fn command_reply(c: &CommandOut) -> Command<'_> {
    Command {
        verb: c.verb,
        termination: gateway_control::megaco::TerminationId(&c.termination),
        descriptors: c.descriptors.iter().map(descriptor).collect(),
    }
}

fn descriptor(d: &DescOut) -> Descriptor<'_> {
    match d {
        DescOut::Media {
            stream,
            mode,
            local,
            remote,
        } => {
            let mut inner = Vec::new();
            if let Some(m) = mode {
                inner.push(MediaParm::LocalControl(vec![LocalControlParm::Mode(*m)]));
            }
            if let Some(l) = local {
                inner.push(MediaParm::Local(l));
            }
            if let Some(r) = remote {
                inner.push(MediaParm::Remote(r));
            }
            match stream {
                Some(id) => Descriptor::Media(vec![MediaParm::Stream(*id, inner)]),
                None => Descriptor::Media(inner),
            }
        }
        DescOut::Statistics(list) => Descriptor::Statistics(
            list.iter()
                .map(|(name, value)| Statistic {
                    name,
                    value: Some(value),
                })
                .collect(),
        ),
        DescOut::Events(id, names) => Descriptor::Events(EventsDescriptor {
            request_id: id.map(RequestId::Number),
            events: names
                .iter()
                .map(|name| RequestedEvent {
                    name,
                    params: Vec::new(),
                })
                .collect(),
        }),
        DescOut::Signals(names) => Descriptor::Signals(
            names
                .iter()
                .map(|name| {
                    SignalParm::Signal(Signal {
                        name,
                        params: Vec::new(),
                    })
                })
                .collect(),
        ),
        DescOut::DigitMap(name, value) => Descriptor::DigitMap(DigitMapDescriptor {
            name: (!name.is_empty()).then_some(name.as_str()),
            value: Some(value),
        }),
        DescOut::Error(r) => Descriptor::Error(error(r)),
    }
}
