//! Carrying out the controller's transaction requests (H.248.1 §7.2, §8): actions in order,
//! commands in order; a failing command ends the transaction (its action answers the commands
//! done, then the error) unless it is optional (`O-`), whose error is then answered in its own
//! command reply. Contexts are made by the first Add into `$` and deleted when their last
//! termination is subtracted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::megaco::{
    ActionRequest, AuditItem, Command, ContextId, Descriptor, ErrorCode, MediaParm, StreamMode,
    TransactionId, TransactionRequest, Verb,
};
use gateway_control::model::Codec;
use tracing::debug;

use super::context::{self, Context, RtpTerm};
use super::line::Effects;
use super::mg::Mg;
use super::plan::{self, MediaPlan, Refusal, code, refuse};
use super::reply::{ActionOut, CommandOut, DescOut};
use super::sdp::{self, Description};
use crate::analog::{Connection, ConnectionAction, Output};

/// A termination a command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Root,
    Line(usize),
    Rtp(u32, String),
}

/// `*` matches any run of characters; names compare without case.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Add => "Add",
        Verb::Modify => "Modify",
        Verb::Subtract => "Subtract",
        Verb::Move => "Move",
        Verb::AuditValue => "AuditValue",
        Verb::AuditCapabilities => "AuditCapabilities",
        Verb::Notify => "Notify",
        Verb::ServiceChange => "ServiceChange",
    }
}

pub(super) fn no_context(verb: Verb) -> Refusal {
    refuse(
        ErrorCode::UNKNOWN_ACTION.0,
        format!("{} is not done in this context", verb_name(verb)),
    )
}

/// The codec for a stream: the first of Remote's payload types that Local (if it lists any)
/// allows and the gateway has; else Local's first; else the current one (PCMU for a new
/// stream).
fn choose_codec(
    local: Option<&Description>,
    remote: Option<&Description>,
    current: Option<Codec>,
) -> Result<Codec, Refusal> {
    let allowed = |pt: &u8| local.is_none_or(|l| l.payloads.is_empty() || l.payloads.contains(pt));
    let offered: Vec<u8> = match remote.filter(|r| !r.payloads.is_empty()) {
        Some(r) => r.payloads.iter().copied().filter(allowed).collect(),
        None => local.map(|l| l.payloads.clone()).unwrap_or_default(),
    };
    if offered.is_empty() {
        return Ok(current.unwrap_or(Codec::Pcmu));
    }
    offered
        .iter()
        .find_map(|&pt| sdp::codec(pt))
        .ok_or_else(|| refuse(code::UNSUPPORTED_MEDIA, "only PCMU (0) and PCMA (8)"))
}

fn ptime(plan: &MediaPlan) -> Option<u32> {
    plan.remote
        .as_ref()
        .and_then(|r| r.ptime)
        .or_else(|| plan.local.as_ref().and_then(|l| l.ptime))
        .filter(|p| (10..=60).contains(p))
}

impl Mg {
    /// Carries out a request; one answer per action carried out.
    pub(crate) fn execute(&mut self, now: Instant, r: &TransactionRequest<'_>) -> Vec<ActionOut> {
        let mut out = Vec::new();
        for a in &r.actions {
            let reply = self.action(now, r.id, a);
            let failed = reply.error.is_some();
            out.push(reply);
            if failed {
                break;
            }
        }
        out
    }

    fn action(&mut self, now: Instant, id: TransactionId, a: &ActionRequest<'_>) -> ActionOut {
        let mut ctx = a.context;
        let mut reply = ActionOut {
            context: ctx,
            commands: Vec::new(),
            error: None,
        };
        if let ContextId::Number(n) = ctx
            && !self.contexts.contains_key(&n)
        {
            self.stats.refused += 1;
            reply.error = Some(refuse(
                ErrorCode::UNKNOWN_CONTEXT.0,
                format!("no context {n}"),
            ));
            return reply;
        }
        let mut touched: Vec<(u32, String, ConnectionAction)> = Vec::new();
        for c in &a.commands {
            let cmd = &c.command;
            let at = self.outputs.len();
            let result = self.command(now, &mut ctx, cmd, &mut touched);
            let line = self
                .lines
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(cmd.termination.0))
                .map(|l| l.number);
            let code = match &result {
                Ok(_) => 200,
                Err(r) => r.code.0,
            };
            let at = at.min(self.outputs.len());
            self.outputs.insert(
                at,
                Output::Command {
                    line,
                    verb: verb_name(cmd.verb),
                    transaction: id.0,
                    code,
                },
            );
            match result {
                Ok(mut replies) => reply.commands.append(&mut replies),
                Err(refusal) => {
                    self.stats.refused += 1;
                    debug!(verb = verb_name(cmd.verb), termination = cmd.termination.0, code = refusal.code.0, why = %refusal.text, "refused");
                    if c.optional {
                        reply.commands.push(CommandOut {
                            verb: cmd.verb,
                            termination: cmd.termination.0.to_owned(),
                            descriptors: vec![DescOut::Error(refusal)],
                        });
                    } else {
                        reply.error = Some(refusal);
                        break;
                    }
                }
            }
        }
        reply.context = ctx;
        for (c, name, action) in touched {
            self.connection_output(c, &name, action);
        }
        reply
    }

    fn command(
        &mut self,
        now: Instant,
        ctx: &mut ContextId,
        cmd: &Command<'_>,
        touched: &mut Vec<(u32, String, ConnectionAction)>,
    ) -> Result<Vec<CommandOut>, Refusal> {
        match cmd.verb {
            Verb::Add => self.add(now, ctx, cmd, touched).map(|c| vec![c]),
            Verb::Modify => self.modify(now, *ctx, cmd, touched),
            Verb::Subtract => self.subtract(*ctx, cmd),
            Verb::AuditValue | Verb::AuditCapabilities => self.audit(*ctx, cmd),
            Verb::ServiceChange => self.controller_service_change(now, cmd).map(|c| vec![c]),
            Verb::Move | Verb::Notify => Err(refuse(
                ErrorCode::NOT_IMPLEMENTED.0,
                format!("{} is not implemented", verb_name(cmd.verb)),
            )),
        }
    }

    /// The terminations `tid` names in context `ctx`: 430 for no such termination, 431 for a
    /// wildcard matching none, 435 for one in another context.
    pub(super) fn targets(&self, ctx: ContextId, tid: &str) -> Result<Vec<Target>, Refusal> {
        if tid.eq_ignore_ascii_case("ROOT") {
            return Ok(vec![Target::Root]);
        }
        let in_scope = |c: Option<u32>| match ctx {
            ContextId::Null => c.is_none(),
            ContextId::Number(n) => c == Some(n),
            ContextId::All => c.is_some(),
            ContextId::Choose => false,
        };
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.as_str(), l.context, Target::Line(i)));
        let rtps = self.contexts.values().flat_map(|c| {
            c.rtp.iter().map(move |t| {
                (
                    t.name.as_str(),
                    Some(c.id),
                    Target::Rtp(c.id, t.name.clone()),
                )
            })
        });
        if tid.contains('*') {
            let found: Vec<Target> = lines
                .chain(rtps)
                .filter(|(name, c, _)| in_scope(*c) && glob(tid, name))
                .map(|(.., t)| t)
                .collect();
            if found.is_empty() {
                return Err(refuse(
                    code::NO_WILDCARD_MATCH,
                    format!("no termination matches {tid}"),
                ));
            }
            return Ok(found);
        }
        let Some((_, c, t)) = lines
            .chain(rtps)
            .find(|(name, ..)| name.eq_ignore_ascii_case(tid))
        else {
            return Err(refuse(
                ErrorCode::UNKNOWN_TERMINATION.0,
                format!("no termination {tid}"),
            ));
        };
        if !in_scope(c) && !(ctx == ContextId::All) {
            return Err(refuse(
                code::NOT_IN_CONTEXT,
                format!("{tid} is not in this context"),
            ));
        }
        Ok(vec![t])
    }

    fn new_context(&mut self) -> u32 {
        loop {
            let id = self.next_context;
            self.next_context = self.next_context.wrapping_add(1).max(1);
            // 0 and the all-ones value are reserved (§6.1; `-`, `$` and `*` in text).
            if id != 0 && id < 0xFFFF_FFFE && !self.contexts.contains_key(&id) {
                self.contexts.insert(id, Context::new(id));
                return id;
            }
        }
    }

    fn add(
        &mut self,
        now: Instant,
        ctx: &mut ContextId,
        cmd: &Command<'_>,
        touched: &mut Vec<(u32, String, ConnectionAction)>,
    ) -> Result<CommandOut, Refusal> {
        if matches!(*ctx, ContextId::Null | ContextId::All) {
            return Err(no_context(cmd.verb));
        }
        let tid = cmd.termination.0;
        // `$`, or a choose-wildcard under the RTP terminations' prefix (`rtp/$`, or in binary
        // `00000001/$`).
        let rtp_prefix = super::announce::rtp_name(self.config.encoding, 0);
        let rtp_prefix = &rtp_prefix[..rtp_prefix.find('/').map_or(0, |i| i + 1)];
        let under_rtp = tid
            .get(..rtp_prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(rtp_prefix));
        if tid == "$" || (tid.ends_with('$') && under_rtp) {
            return self.add_rtp(ctx, cmd, touched);
        }
        if tid.contains(['*', '$']) || tid.eq_ignore_ascii_case("ROOT") {
            return Err(refuse(
                ErrorCode::NOT_IMPLEMENTED.0,
                format!("Add of {tid}"),
            ));
        }
        let Some(li) = self
            .lines
            .iter()
            .position(|l| l.name.eq_ignore_ascii_case(tid))
        else {
            return Err(refuse(
                ErrorCode::UNKNOWN_TERMINATION.0,
                format!("no termination {tid}"),
            ));
        };
        if self.lines[li].context.is_some() {
            return Err(refuse(
                code::TERMINATION_IN_CONTEXT,
                format!("{tid} is already in a context"),
            ));
        }
        if let ContextId::Number(n) = *ctx
            && self.contexts.get(&n).is_some_and(|c| c.line.is_some())
        {
            return Err(refuse(
                code::TOO_MANY_TERMINATIONS,
                "one analog line per context",
            ));
        }
        let plan = plan::line(&self.lines[li], &cmd.descriptors, &self.config)?;
        let id = match *ctx {
            ContextId::Number(n) => n,
            _ => self.new_context(),
        };
        *ctx = ContextId::Number(id);
        let number = self.lines[li].number;
        if let Some(c) = self.contexts.get_mut(&id) {
            c.line = Some(li);
            c.last_line = number;
        }
        self.lines[li].context = Some(id);
        debug!(line = number, context = id, "line added");
        self.apply_line_plan(now, li, plan);
        Ok(CommandOut {
            verb: Verb::Add,
            termination: self.lines[li].name.clone(),
            descriptors: Vec::new(),
        })
    }

    fn add_rtp(
        &mut self,
        ctx: &mut ContextId,
        cmd: &Command<'_>,
        touched: &mut Vec<(u32, String, ConnectionAction)>,
    ) -> Result<CommandOut, Refusal> {
        let plan = plan::rtp(&cmd.descriptors)?;
        if let ContextId::Number(n) = *ctx
            && self
                .contexts
                .get(&n)
                .is_some_and(|c| c.rtp.len() >= self.config.max_connections)
        {
            return Err(refuse(
                code::TOO_MANY_TERMINATIONS,
                "no more RTP terminations in this context",
            ));
        }
        let codec = choose_codec(plan.local.as_ref(), plan.remote.as_ref(), None)?;
        let Some(port) = self.rtp_ports.pop_front() else {
            return Err(refuse(
                ErrorCode::INSUFFICIENT_RESOURCES.0,
                "no RTP port free",
            ));
        };
        let id = match *ctx {
            ContextId::Number(n) => n,
            _ => self.new_context(),
        };
        *ctx = ContextId::Number(id);
        let name = super::announce::rtp_name(self.config.encoding, self.next_rtp);
        self.next_rtp = self.next_rtp.wrapping_add(1).max(1);
        let mode = plan.mode.unwrap_or(StreamMode::Inactive);
        let ptime = ptime(&plan);
        let local = SocketAddr::new(self.config.media_address, port);
        let remote = plan.remote.as_ref().and_then(Description::socket);
        let random = self.rtp_random();
        let conn = Connection::new(
            name.clone(),
            id.to_string(),
            context::mode(mode),
            codec,
            Duration::from_millis(u64::from(ptime.unwrap_or(20))),
            local,
            remote,
            random,
        );
        let sdp = sdp::local(local, codec, ptime);
        self.by_port.insert(port, (id, name.clone()));
        if let Some(c) = self.contexts.get_mut(&id) {
            c.rtp.push(RtpTerm {
                name: name.clone(),
                conn,
                mode,
                ptime,
                remote: None,
            });
        }
        self.remember_remote(id, &name, cmd);
        touched.push((id, name.clone(), ConnectionAction::Created));
        debug!(context = id, termination = %name, port, "RTP termination added");
        Ok(CommandOut {
            verb: Verb::Add,
            termination: name,
            descriptors: vec![DescOut::Media {
                stream: plan.stream,
                mode: None,
                local: Some(sdp),
                remote: None,
            }],
        })
    }

    /// Keeps the Remote text of a command for audits.
    fn remember_remote(&mut self, ctx: u32, name: &str, cmd: &Command<'_>) {
        fn find<'a>(parms: &[MediaParm<'a>]) -> Option<&'a str> {
            parms.iter().find_map(|p| match p {
                MediaParm::Remote(r) => Some(*r),
                MediaParm::Stream(_, inner) => find(inner),
                _ => None,
            })
        }
        let remote = cmd.descriptors.iter().find_map(|d| match d {
            Descriptor::Media(parms) => find(parms),
            _ => None,
        });
        if let Some(r) = remote
            && let Some(t) = self
                .contexts
                .get_mut(&ctx)
                .and_then(|c| c.rtp.iter_mut().find(|t| t.name == name))
        {
            t.remote = Some(r.to_owned());
        }
    }

    fn apply_line_plan(&mut self, now: Instant, li: usize, plan: plan::LinePlan) {
        let mut fx = Effects::default();
        let line = &mut self.lines[li];
        for (name, map, text) in plan.maps {
            line.define_map(&name, map, &text);
        }
        if let Some((request_id, armed)) = plan.events {
            line.set_events(request_id, armed);
        }
        if let Some(signals) = plan.signals {
            line.apply_signals(now, &self.config, signals, &mut fx);
        }
        self.apply(fx);
        if let Some(action) = plan.trunk {
            self.trunk_act(now, li, action);
        }
    }

    fn modify(
        &mut self,
        now: Instant,
        ctx: ContextId,
        cmd: &Command<'_>,
        touched: &mut Vec<(u32, String, ConnectionAction)>,
    ) -> Result<Vec<CommandOut>, Refusal> {
        if ctx == ContextId::Choose {
            return Err(no_context(cmd.verb));
        }
        let targets = self.targets(ctx, cmd.termination.0)?;
        enum Plan {
            Root,
            Line(usize, plan::LinePlan),
            Rtp(u32, String, MediaPlan, Codec),
        }
        let mut plans = Vec::new();
        for t in targets {
            plans.push(match t {
                Target::Root => Plan::Root,
                Target::Line(li) => Plan::Line(
                    li,
                    plan::line(&self.lines[li], &cmd.descriptors, &self.config)?,
                ),
                Target::Rtp(c, name) => {
                    let media = plan::rtp(&cmd.descriptors)?;
                    let current = self
                        .contexts
                        .get(&c)
                        .and_then(|x| x.rtp.iter().find(|t| t.name == name))
                        .map(|t| t.conn.codec);
                    let codec = if media.has_sdp() {
                        choose_codec(media.local.as_ref(), media.remote.as_ref(), current)?
                    } else {
                        current.unwrap_or(Codec::Pcmu)
                    };
                    Plan::Rtp(c, name, media, codec)
                }
            });
        }
        let mut out = Vec::new();
        for p in plans {
            match p {
                Plan::Root => out.push(CommandOut {
                    verb: Verb::Modify,
                    termination: "ROOT".into(),
                    descriptors: Vec::new(),
                }),
                Plan::Line(li, plan) => {
                    self.apply_line_plan(now, li, plan);
                    out.push(CommandOut {
                        verb: Verb::Modify,
                        termination: self.lines[li].name.clone(),
                        descriptors: Vec::new(),
                    });
                }
                Plan::Rtp(c, name, media, codec) => {
                    let random = self.rtp_random();
                    let mut descriptors = Vec::new();
                    if let Some(t) = self
                        .contexts
                        .get_mut(&c)
                        .and_then(|x| x.rtp.iter_mut().find(|t| t.name == name))
                    {
                        if let Some(m) = media.mode {
                            t.mode = m;
                            t.conn.set_mode(context::mode(m));
                        }
                        t.conn.set_codec(codec, random);
                        if let Some(p) = ptime(&media) {
                            t.ptime = Some(p);
                            t.conn.ptime = Duration::from_millis(u64::from(p));
                        }
                        if let Some(r) = media.remote.as_ref().and_then(Description::socket) {
                            t.conn.remote = Some(r);
                        }
                        if media.has_sdp() {
                            descriptors.push(DescOut::Media {
                                stream: media.stream,
                                mode: None,
                                local: Some(sdp::local(t.conn.local, codec, t.ptime)),
                                remote: None,
                            });
                        }
                    }
                    self.remember_remote(c, &name, cmd);
                    touched.push((c, name.clone(), ConnectionAction::Modified));
                    out.push(CommandOut {
                        verb: Verb::Modify,
                        termination: name,
                        descriptors,
                    });
                }
            }
        }
        Ok(out)
    }

    fn subtract(&mut self, ctx: ContextId, cmd: &Command<'_>) -> Result<Vec<CommandOut>, Refusal> {
        if matches!(ctx, ContextId::Null | ContextId::Choose) {
            return Err(no_context(cmd.verb));
        }
        let targets = self.targets(ctx, cmd.termination.0)?;
        if targets.contains(&Target::Root) {
            return Err(refuse(
                ErrorCode::NOT_IMPLEMENTED.0,
                "ROOT is in no context",
            ));
        }
        // Statistics unless an Audit descriptor leaves them out (§7.2.3).
        let statistics = cmd
            .descriptors
            .iter()
            .find_map(|d| match d {
                Descriptor::Audit(items) => Some(items.contains(&AuditItem::Statistics)),
                _ => None,
            })
            .unwrap_or(true);
        let mut out = Vec::new();
        let mut emptied = Vec::new();
        for t in targets {
            match t {
                Target::Root => {}
                Target::Line(li) => {
                    let Some(c) = self.lines[li].context.take() else {
                        continue;
                    };
                    if let Some(x) = self.contexts.get_mut(&c) {
                        x.line = None;
                    }
                    let mut fx = Effects::default();
                    self.lines[li].reset(&mut fx);
                    self.apply(fx);
                    self.end_hearing(li);
                    debug!(line = self.lines[li].number, context = c, "line subtracted");
                    emptied.push(c);
                    out.push(CommandOut {
                        verb: Verb::Subtract,
                        termination: self.lines[li].name.clone(),
                        descriptors: Vec::new(),
                    });
                }
                Target::Rtp(c, name) => {
                    let Some(x) = self.contexts.get_mut(&c) else {
                        continue;
                    };
                    let Some(i) = x.rtp.iter().position(|t| t.name == name) else {
                        continue;
                    };
                    let mut term = x.rtp.remove(i);
                    let line = x.line;
                    let number = line.map_or(x.last_line, |li| self.lines[li].number);
                    if let Some(packets) = term.conn.stop_say() {
                        self.outputs.push_back(Output::SayDone {
                            line: number,
                            packets,
                            complete: false,
                        });
                    }
                    let port = term.conn.local.port();
                    self.by_port.remove(&port);
                    self.rtp_ports.push_back(port);
                    self.outputs.push_back(connection(
                        number,
                        ConnectionAction::Deleted,
                        &term.conn,
                    ));
                    if let Some(li) = line {
                        self.end_hearing(li);
                    }
                    emptied.push(c);
                    let descriptors = if statistics {
                        vec![DescOut::Statistics(stats(&term.conn))]
                    } else {
                        Vec::new()
                    };
                    debug!(context = c, termination = %name, "RTP termination subtracted");
                    out.push(CommandOut {
                        verb: Verb::Subtract,
                        termination: name,
                        descriptors,
                    });
                }
            }
        }
        for c in emptied {
            if self.contexts.get(&c).is_some_and(Context::is_empty) {
                self.contexts.remove(&c);
                debug!(context = c, "context deleted");
            }
        }
        Ok(out)
    }

    /// Ends `hear` on a line that no longer has a stream to hear.
    fn end_hearing(&mut self, li: usize) {
        let line = &self.lines[li];
        let has_stream = line
            .context
            .and_then(|c| self.contexts.get(&c))
            .is_some_and(|c| !c.rtp.is_empty());
        if line.phone.hearing && !has_stream {
            let number = line.number;
            self.lines[li].phone.hearing = false;
            self.outputs.push_back(Output::HearEnded { line: number });
        }
    }

    /// The Created/Modified output of an RTP termination, once its action is done (the line
    /// may be added after it).
    fn connection_output(&mut self, ctx: u32, name: &str, action: ConnectionAction) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        let Some(t) = c.rtp.iter().find(|t| t.name == name) else {
            return;
        };
        let number = c.line.map_or(c.last_line, |li| self.lines[li].number);
        let out = connection(number, action, &t.conn);
        self.outputs.push_back(out);
    }
}

fn connection(line: u16, action: ConnectionAction, c: &Connection) -> Output {
    Output::Connection {
        line,
        action,
        id: c.id.clone(),
        call: c.call.clone(),
        mode: c.mode().as_str(),
        codec: c.codec.name(),
        local: c.local,
        remote: c.remote,
    }
}

/// The Statistics of a Subtract (Annex E.11 `nt`, E.12 `rtp`): octets and packets each way,
/// packets lost and jitter in milliseconds.
pub(super) fn stats(c: &Connection) -> Vec<(&'static str, String)> {
    let s = &c.stats;
    vec![
        ("nt/os", s.octets_sent.to_string()),
        ("nt/or", s.octets_received.to_string()),
        ("rtp/ps", s.packets_sent.to_string()),
        ("rtp/pr", s.packets_received.to_string()),
        ("rtp/pl", s.lost().to_string()),
        ("rtp/jit", s.jitter_ms().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn wildcards_match_names() {
        assert!(glob("*", "aaln/1"));
        assert!(glob("aaln/*", "AALN/12"));
        assert!(glob("rtp/*", "rtp/7"));
        assert!(!glob("aaln/*", "rtp/7"));
        assert!(glob("a*/1*", "aaln/12"));
        assert!(!glob("aaln/1", "aaln/12"));
    }
}
