//! Trunks in the station task: the `[[trunk]]` groups given to the station manager, and the
//! voice-messaging core's answers for callers who dial in (who they are, whom a number
//! reaches). The answers are looked up off the station task and come back to it as
//! [`Input`]s on a channel.

use gateway_control::model::{GatewayId, LineId};
use offhook_domain::VoiceMessaging;
use station_manager::trunk::TrunkGroup;
use station_manager::{Input, MessageId, Output};
use tokio::sync::mpsc;
use tracing::warn;

use super::user_id;
use crate::config::Config;

/// The station manager's trunk groups for the `[[trunk]]` entries (checked when the config
/// was read: a group refused here is logged and left out).
pub(super) fn groups(config: &Config) -> Vec<TrunkGroup> {
    let mut out = Vec::new();
    for t in &config.trunks {
        let gateway = GatewayId::new(&t.gateway);
        let ports = t
            .endpoints
            .iter()
            .map(|e| LineId::new(gateway.clone(), e))
            .collect();
        let group = TrunkGroup::new(&t.name, ports).and_then(|g| {
            g.dial_in(t.dial_in)
                .selection(t.select)
                .method(t.dialing)
                .answer_timeout(t.answer_timeout)
        });
        match group {
            Ok(g) => out.push(g),
            Err(e) => warn!(trunk = %t.name, error = %e, "trunk left out"),
        }
    }
    out
}

/// Looks up what a dial-in output asks for, on a task of `tasks`, and sends the answer to
/// `answers`. Returns the output back if it is not a dial-in one.
pub(super) fn answer(
    core: &VoiceMessaging,
    output: Output,
    answers: &mpsc::UnboundedSender<Input>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Option<Output> {
    let (core, answers) = (core.clone(), answers.clone());
    match output {
        Output::Identify { line, number, pin } => {
            tasks.spawn(async move {
                let user = match core.identify(number, pin).await {
                    Ok(u) => u,
                    Err(e) => {
                        warn!(error = %e, "cannot check a dial-in caller");
                        None
                    }
                };
                let waiting = match user {
                    Some(u) => core.waiting_for(u).await.unwrap_or_else(|e| {
                        warn!(error = %e, "cannot read a dial-in caller's messages");
                        Vec::new()
                    }),
                    None => Vec::new(),
                };
                let _ = answers.send(Input::Identified {
                    line,
                    user: user.map(user_id),
                    waiting: waiting
                        .into_iter()
                        .map(|(m, from)| (MessageId(m.into_bytes()), user_id(from)))
                        .collect(),
                });
            });
            None
        }
        Output::LookUp { line, number } => {
            tasks.spawn(async move {
                let user = core.user_by_number(number).await.unwrap_or_else(|e| {
                    warn!(error = %e, "cannot look a dial-in number up");
                    None
                });
                let _ = answers.send(Input::Recipient {
                    line,
                    user: user.map(user_id),
                });
            });
            None
        }
        other => Some(other),
    }
}

/// The trunks' counters as `/metrics` shows them (`offhook_trunk_total{kind=…}`).
pub(super) fn counters(all: &station_manager::manager::Stats) -> Vec<(&'static str, u64)> {
    let s = &all.trunks;
    vec![
        ("seized", s.seized),
        ("all_busy", s.all_busy),
        ("glare", s.glare),
        ("busy", s.busy),
        ("answered_by_line", s.answered_by_line),
        ("answered_by_voice", s.answered_by_voice),
        ("unanswered", s.unanswered),
        ("far_end_gone", s.far_end_gone),
        ("dial_ins", s.dial_ins),
        ("incoming_ignored", s.incoming_ignored),
        ("identified", s.identified),
        ("wrong_pins", s.wrong_pins),
        ("dial_strings", s.dial_strings),
        ("collect_refused", s.collect_refused),
        ("message_retries", all.stations.retries),
        ("dropped", s.dropped),
    ]
}
