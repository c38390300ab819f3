//! The commands that only read or redirect: AuditValue and AuditCapabilities (H.248.1
//! §7.2.5, §7.2.6) of terminations' current descriptors, and a ServiceChange from the
//! controller (§7.2.8), which may hand the gateway to another one.

use std::net::SocketAddr;
use std::time::Instant;

use gateway_control::megaco::{
    AuditItem, Command, ContextId, Descriptor, ErrorCode, MessageId, ServiceChangeMethod,
    ServiceChangeParm, Verb,
};
use tracing::debug;

use super::execute::{Target, no_context, stats};
use super::mg::{Method, Mg};
use super::plan::{Refusal, refuse};
use super::reply::{CommandOut, DescOut};
use super::sdp;

impl Mg {
    pub(super) fn audit(
        &mut self,
        ctx: ContextId,
        cmd: &Command<'_>,
    ) -> Result<Vec<CommandOut>, Refusal> {
        if ctx == ContextId::Choose {
            return Err(no_context(cmd.verb));
        }
        let targets = self.targets(ctx, cmd.termination.0)?;
        let items: &[AuditItem] = cmd
            .descriptors
            .iter()
            .find_map(|d| match d {
                Descriptor::Audit(items) => Some(items.as_slice()),
                _ => None,
            })
            .unwrap_or(&[]);
        let values = cmd.verb == Verb::AuditValue;
        let mut out = Vec::new();
        for t in targets {
            let mut descriptors = Vec::new();
            let termination = match &t {
                Target::Root => "ROOT".to_owned(),
                Target::Line(li) => self.lines[*li].name.clone(),
                Target::Rtp(_, name) => name.clone(),
            };
            for item in items.iter().filter(|_| values) {
                match (&t, item) {
                    (Target::Line(li), AuditItem::Events) => {
                        let l = &self.lines[*li];
                        descriptors.push(DescOut::Events(
                            l.request_id,
                            l.events.iter().map(|a| a.name.clone()).collect(),
                        ));
                    }
                    (Target::Line(li), AuditItem::Signals) => {
                        let l = &self.lines[*li];
                        descriptors.push(DescOut::Signals(
                            l.signals.iter().map(|a| a.name.clone()).collect(),
                        ));
                    }
                    (Target::Line(li), AuditItem::DigitMap) => {
                        for (name, _, text) in &self.lines[*li].maps {
                            descriptors.push(DescOut::DigitMap(name.clone(), text.clone()));
                        }
                    }
                    (Target::Rtp(c, name), AuditItem::Media | AuditItem::Statistics) => {
                        let Some(term) = self
                            .contexts
                            .get(c)
                            .and_then(|x| x.rtp.iter().find(|t| t.name == *name))
                        else {
                            continue;
                        };
                        descriptors.push(if *item == AuditItem::Media {
                            DescOut::Media {
                                stream: Some(1),
                                mode: Some(term.mode),
                                local: Some(sdp::local(
                                    term.conn.local,
                                    term.conn.codec,
                                    term.ptime,
                                )),
                                remote: term.remote.clone(),
                            }
                        } else {
                            DescOut::Statistics(stats(&term.conn))
                        });
                    }
                    _ => {}
                }
            }
            out.push(CommandOut {
                verb: cmd.verb,
                termination,
                descriptors,
            });
        }
        Ok(out)
    }

    /// A ServiceChange from the controller (§7.2.8): answered; a HandOff or Failover on ROOT
    /// naming another controller (`MgcIdToTry`) makes the gateway register there.
    pub(super) fn controller_service_change(
        &mut self,
        now: Instant,
        cmd: &Command<'_>,
    ) -> Result<CommandOut, Refusal> {
        if !cmd.termination.is_root() {
            self.targets(ContextId::Null, cmd.termination.0)?;
        }
        let params = cmd
            .descriptors
            .iter()
            .find_map(|d| match d {
                Descriptor::ServiceChange(p) => Some(p.as_slice()),
                _ => None,
            })
            .ok_or_else(|| {
                refuse(
                    ErrorCode::SYNTAX_ERROR_IN_COMMAND.0,
                    "ServiceChange without Services",
                )
            })?;
        let handoff = params.iter().any(|p| {
            matches!(
                p,
                ServiceChangeParm::Method(
                    ServiceChangeMethod::HandOff | ServiceChangeMethod::Failover
                )
            )
        });
        let to = params.iter().find_map(|p| match p {
            ServiceChangeParm::MgcIdToTry(MessageId::Ip4(a, port)) => {
                Some(SocketAddr::new((*a).into(), port.unwrap_or(2944)))
            }
            ServiceChangeParm::MgcIdToTry(MessageId::Ip6(a, port)) => {
                Some(SocketAddr::new((*a).into(), port.unwrap_or(2944)))
            }
            _ => None,
        });
        if cmd.termination.is_root()
            && handoff
            && let Some(to) = to
        {
            self.hand_off(now, to);
        }
        Ok(CommandOut {
            verb: Verb::ServiceChange,
            termination: cmd.termination.0.to_owned(),
            descriptors: Vec::new(),
        })
    }

    fn hand_off(&mut self, now: Instant, to: SocketAddr) {
        debug!(%to, "handed off to another controller");
        self.move_to(to);
        self.restart_later(now, Method::HandOff);
    }
}
