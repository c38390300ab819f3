//! What the simulator reports: one [`Output`] per event or signal, printed by the driver as one
//! JSON line each (the schema is documented on the [crate](crate)).

use std::fmt::Write as _;
use std::net::SocketAddr;

/// Why a signal stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its timeout ran out.
    Timeout,
    /// The handset was picked up (ringing) or put down.
    Hook,
    /// A requested event was detected (RFC 3435 §2.3.3: timeout signals stop then unless `K`).
    Event,
    /// A new request did not repeat it, or turned it off.
    Replaced,
}

impl StopReason {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Hook => "hook",
            Self::Event => "event",
            Self::Replaced => "replaced",
        }
    }
}

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionAction {
    /// CRCX.
    Created,
    /// MDCX.
    Modified,
    /// DLCX.
    Deleted,
}

impl ConnectionAction {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Modified => "modified",
            Self::Deleted => "deleted",
        }
    }
}

/// One thing the simulator reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// The restart announcement was answered (`acknowledged`, with the code) or abandoned and
    /// will be sent again.
    Restart {
        /// The line, for a `disconnected` announcement (§4.4.7); `None` for the gateway.
        line: Option<u16>,
        /// `restart` (at start) or `disconnected` (a notification went unanswered).
        method: &'static str,
        /// Whether a 2xx arrived.
        acknowledged: bool,
        /// The return code, or `None` when it timed out.
        code: Option<u16>,
    },
    /// A keep-alive was answered with `code`, or (`None`) never answered.
    KeepAlive {
        /// The return code, or `None` when it timed out.
        code: Option<u16>,
    },
    /// The handset of `line` went off-hook (`true`) or on-hook.
    Hook {
        /// Line number, from 1.
        line: u16,
        /// Off-hook.
        off_hook: bool,
        /// Taken by autoanswer rather than by a command.
        auto: bool,
    },
    /// A hook flash.
    Flash {
        /// Line number.
        line: u16,
    },
    /// A key pressed.
    Digit {
        /// Line number.
        line: u16,
        /// The key.
        digit: char,
    },
    /// The call agent sent a command about `line` (or the whole gateway) and got `code`.
    Command {
        /// Line number, if the command named one line.
        line: Option<u16>,
        /// `RQNT`, `CRCX`…
        verb: &'static str,
        /// The transaction id.
        transaction: u32,
        /// The return code answered.
        code: u16,
    },
    /// A NTFY was sent.
    Notify {
        /// Line number.
        line: u16,
        /// The RequestIdentifier (`X:`) it answers.
        request: String,
        /// The observed events (`L/hd`, `D/5`).
        observed: Vec<String>,
    },
    /// A signal was applied.
    Signal {
        /// Line number.
        line: u16,
        /// `L/rg`, `L/dl`, `D/5`…
        name: String,
        /// Its parameters as written, if any.
        params: Option<String>,
    },
    /// A signal stopped.
    SignalStopped {
        /// Line number.
        line: u16,
        /// The signal.
        name: String,
        /// Why.
        reason: StopReason,
    },
    /// The ring cadence turned the bell on or off.
    Ringing {
        /// Line number.
        line: u16,
        /// Bell on.
        on: bool,
    },
    /// A connection was created, modified or deleted.
    Connection {
        /// Line number.
        line: u16,
        /// What happened.
        action: ConnectionAction,
        /// The ConnectionId (hex).
        id: String,
        /// The CallId.
        call: String,
        /// The mode (`sendrecv`…).
        mode: &'static str,
        /// The codec in use (`PCMU`/`PCMA`).
        codec: &'static str,
        /// Our RTP address.
        local: SocketAddr,
        /// The call agent's side, once known.
        remote: Option<SocketAddr>,
    },
    /// Audio received on a line being heard: 8 kHz PCM. Not printed; the driver writes it.
    Audio {
        /// Line number.
        line: u16,
        /// Decoded samples.
        samples: Vec<i16>,
    },
    /// Hearing ended on `line` (connection gone or `hear` stopped). Printed by the driver as
    /// `hear_done` with the file and length.
    HearEnded {
        /// Line number.
        line: u16,
    },
    /// A `say` finished (or was cut short when the connection went away).
    SayDone {
        /// Line number.
        line: u16,
        /// RTP packets sent.
        packets: u64,
        /// Whether the whole file was sent.
        complete: bool,
    },
    /// A TPNCP host command and the board's answer: its sequence number, and the
    /// `acEV_ERROR` code it was refused with (0 when acknowledged).
    HostCommand {
        /// Line number (channel + 1), if the command named an existing line.
        line: Option<u16>,
        /// `acCMD_OPEN_CHANNEL`… (`unknown` for an id the board does not know).
        verb: &'static str,
        /// The command's sequence number.
        seq: u16,
        /// 0, or the error code answered.
        code: i32,
    },
    /// The controlling host (TPNCP) connected, went away or was refused.
    Host {
        /// `connected`, `disconnected` or `refused`.
        event: &'static str,
        /// The host's address.
        peer: SocketAddr,
        /// Why it went or was refused, when known.
        reason: Option<String>,
    },
    /// The controller dialled `number` on FXO port `line` and the PBX took it as complete.
    Dialed {
        /// Line number.
        line: u16,
        /// The digits, as dialled.
        number: String,
    },
    /// The controller answered the incoming call ringing FXO port `line`.
    Answered {
        /// Line number.
        line: u16,
    },
    /// A line command could not be done.
    Error {
        /// Line number, if the command named one.
        line: Option<u16>,
        /// Why.
        message: String,
    },
}

/// Writes `s` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Obj {
    s: String,
}

impl Obj {
    fn new() -> Self {
        Self {
            s: String::from("{"),
        }
    }
    fn key(&mut self, k: &str) {
        if self.s.len() > 1 {
            self.s.push(',');
        }
        json_str(&mut self.s, k);
        self.s.push(':');
    }
    fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        json_str(&mut self.s, v);
        self
    }
    fn num(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        let _ = write!(self.s, "{v}");
        self
    }
    fn int(mut self, k: &str, v: i64) -> Self {
        self.key(k);
        let _ = write!(self.s, "{v}");
        self
    }
    fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.s.push_str(if v { "true" } else { "false" });
        self
    }
    fn line(self, line: Option<u16>) -> Self {
        match line {
            Some(l) => self.num("line", u64::from(l)),
            None => self,
        }
    }
    fn opt_str(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }
    fn list(mut self, k: &str, v: &[String]) -> Self {
        self.key(k);
        self.s.push('[');
        for (i, item) in v.iter().enumerate() {
            if i > 0 {
                self.s.push(',');
            }
            json_str(&mut self.s, item);
        }
        self.s.push(']');
        self
    }
    fn done(mut self) -> String {
        self.s.push('}');
        self.s
    }
}

/// Renders a JSON line for a `say_done` or `hear_done` (which need the driver's file name).
pub fn file_done(event: &str, line: u16, file: &str, field: &str, value: u64) -> String {
    Obj::new()
        .num("line", u64::from(line))
        .str("event", event)
        .str("file", file)
        .num(field, value)
        .done()
}

/// Renders a `say_done` line; `"complete":false` is added when the `say` was cut short.
pub fn say_done(line: u16, file: &str, packets: u64, complete: bool) -> String {
    let o = Obj::new()
        .num("line", u64::from(line))
        .str("event", "say_done")
        .str("file", file)
        .num("packets", packets);
    if complete {
        o
    } else {
        o.bool("complete", false)
    }
    .done()
}

/// Renders an `{"error":…}` line.
pub fn error_line(line: Option<u16>, message: &str) -> String {
    Obj::new().line(line).str("error", message).done()
}

impl Output {
    /// The JSON line for this output (no newline), or `None` for [`Output::Audio`], which is
    /// not printed, and for [`Output::HearEnded`]/[`Output::SayDone`], which the driver prints
    /// with the file name (see [`file_done`]).
    pub fn to_json(&self) -> Option<String> {
        let o = Obj::new();
        Some(match self {
            Self::Restart {
                line,
                method,
                acknowledged,
                code,
            } => {
                let o = o
                    .line(*line)
                    .str("event", "rsip")
                    .str("method", method)
                    .bool("acknowledged", *acknowledged);
                match code {
                    Some(c) => o.num("code", u64::from(*c)),
                    None => o,
                }
                .done()
            }
            Self::KeepAlive { code } => {
                let o = o.str("event", "keepalive");
                match code {
                    Some(c) => o.num("code", u64::from(*c)),
                    None => o.bool("timeout", true),
                }
                .done()
            }
            Self::Hook {
                line,
                off_hook,
                auto,
            } => {
                let o = o
                    .num("line", u64::from(*line))
                    .str("event", if *off_hook { "offhook" } else { "onhook" });
                if *auto { o.bool("auto", true) } else { o }.done()
            }
            Self::Flash { line } => o.num("line", u64::from(*line)).str("event", "flash").done(),
            Self::Digit { line, digit } => o
                .num("line", u64::from(*line))
                .str("event", "digit")
                .str("digit", &digit.to_string())
                .done(),
            Self::Command {
                line,
                verb,
                transaction,
                code,
            } => o
                .line(*line)
                .str("event", "command")
                .str("verb", verb)
                .num("transaction", u64::from(*transaction))
                .num("code", u64::from(*code))
                .done(),
            Self::Notify {
                line,
                request,
                observed,
            } => o
                .num("line", u64::from(*line))
                .str("event", "notify")
                .str("request", request)
                .list("observed", observed)
                .done(),
            Self::Signal { line, name, params } => o
                .num("line", u64::from(*line))
                .str("signal", name)
                .opt_str("params", params.as_deref())
                .done(),
            Self::SignalStopped { line, name, reason } => o
                .num("line", u64::from(*line))
                .str("signal", name)
                .bool("stopped", true)
                .str("reason", reason.as_str())
                .done(),
            Self::Ringing { line, on } => o
                .num("line", u64::from(*line))
                .str("event", "ringing")
                .bool("on", *on)
                .done(),
            Self::Connection {
                line,
                action,
                id,
                call,
                mode,
                codec,
                local,
                remote,
            } => o
                .num("line", u64::from(*line))
                .str("event", "connection")
                .str("action", action.as_str())
                .str("id", id)
                .str("call", call)
                .str("mode", mode)
                .str("codec", codec)
                .str("local", &local.to_string())
                .opt_str("remote", remote.map(|r| r.to_string()).as_deref())
                .done(),
            Self::HostCommand {
                line,
                verb,
                seq,
                code,
            } => o
                .line(*line)
                .str("event", "command")
                .str("verb", verb)
                .num("seq", u64::from(*seq))
                .int("code", i64::from(*code))
                .done(),
            Self::Host {
                event,
                peer,
                reason,
            } => o
                .str("event", event)
                .str("peer", &peer.to_string())
                .opt_str("reason", reason.as_deref())
                .done(),
            Self::Dialed { line, number } => o
                .num("line", u64::from(*line))
                .str("event", "dialed")
                .str("number", number)
                .done(),
            Self::Answered { line } => o
                .num("line", u64::from(*line))
                .str("event", "answered")
                .done(),
            Self::Error { line, message } => return Some(error_line(*line, message)),
            Self::Audio { .. } | Self::HearEnded { .. } | Self::SayDone { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_stable() {
        let cases = [
            (
                Output::Hook {
                    line: 1,
                    off_hook: true,
                    auto: false,
                },
                r#"{"line":1,"event":"offhook"}"#,
            ),
            (
                Output::Signal {
                    line: 2,
                    name: "L/rg".into(),
                    params: None,
                },
                r#"{"line":2,"signal":"L/rg"}"#,
            ),
            (
                Output::Ringing { line: 1, on: true },
                r#"{"line":1,"event":"ringing","on":true}"#,
            ),
            (
                Output::Restart {
                    line: None,
                    method: "restart",
                    acknowledged: true,
                    code: Some(200),
                },
                r#"{"event":"rsip","method":"restart","acknowledged":true,"code":200}"#,
            ),
            (
                Output::KeepAlive { code: Some(200) },
                r#"{"event":"keepalive","code":200}"#,
            ),
            (
                Output::KeepAlive { code: None },
                r#"{"event":"keepalive","timeout":true}"#,
            ),
            (
                Output::HostCommand {
                    line: Some(1),
                    verb: "acCMD_OPEN_CHANNEL",
                    seq: 12,
                    code: 0,
                },
                r#"{"line":1,"event":"command","verb":"acCMD_OPEN_CHANNEL","seq":12,"code":0}"#,
            ),
            (
                Output::Host {
                    event: "connected",
                    peer: "127.0.0.1:40512".parse().unwrap(),
                    reason: None,
                },
                r#"{"event":"connected","peer":"127.0.0.1:40512"}"#,
            ),
            (
                Output::Dialed {
                    line: 3,
                    number: "2041".into(),
                },
                r#"{"line":3,"event":"dialed","number":"2041"}"#,
            ),
            (
                Output::Answered { line: 3 },
                r#"{"line":3,"event":"answered"}"#,
            ),
            (
                Output::Error {
                    line: None,
                    message: "bad \"x\"\n".into(),
                },
                r#"{"error":"bad \"x\"\n"}"#,
            ),
        ];
        for (o, want) in cases {
            assert_eq!(o.to_json().as_deref(), Some(want));
        }
        assert_eq!(
            file_done("say_done", 1, "a.wav", "packets", 50),
            r#"{"line":1,"event":"say_done","file":"a.wav","packets":50}"#
        );
        assert_eq!(
            say_done(2, "b.wav", 3, false),
            r#"{"line":2,"event":"say_done","file":"b.wav","packets":3,"complete":false}"#
        );
        assert!(
            Output::Audio {
                line: 1,
                samples: vec![]
            }
            .to_json()
            .is_none()
        );
    }
}
