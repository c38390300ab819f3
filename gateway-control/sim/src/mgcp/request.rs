//! What a call agent may ask of an analog line, owned and validated: requested events with their
//! actions (RFC 3435 §2.3.3), signals (RFC 3660 line package `L`, DTMF package `D`, generic
//! package `G`), and embedded notification requests `E(R(…),S(…),D(…))`.
//!
//! Validation answers with the RFC 3661 codes a residential gateway uses: 518 unknown package,
//! 522 no such event or signal, 512/513 known but not detectable/generable here, 523 illegal
//! combination of actions, 538 bad parameter.

use std::time::Duration;

use gateway_control::mgcp::wire::{Action, EventName, EventRef, RequestedEvent, ReturnCode};

use super::Profile;
use super::digitmap::DigitMap;
use crate::analog::key_index;

/// At most this many requested events or signals in one list (embedded ones included).
pub(crate) const MAX_ITEMS: usize = 32;
/// Embedded requests nest at most this deep.
const MAX_NESTING: usize = 2;

/// An event an analog line can observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    /// `L/hd`.
    OffHook,
    /// `L/hu`.
    OnHook,
    /// `L/hf`.
    Flash,
    /// `D/0`…`D/#`.
    Digit(char),
    /// `L/oc`: a timeout signal completed (or, on an FXO port, the number was dialled).
    OperationComplete,
    /// `L/rg` on an FXO port: ringing voltage from the PBX, one event per ring burst.
    Ringing,
    /// `L/lsa` on an FXO port: line-side answer supervision, the polarity reversal.
    Reversal,
    /// `L/osi` on an FXO port: the open switch interval, a loop-current drop (CPC).
    LoopDrop,
}

impl Observed {
    /// The name as reported in `O:`: digits in the profile's digit package (`D/5`, NCS `L/5`).
    pub(crate) fn render(self, profile: Profile) -> String {
        match self {
            Self::OffHook => "L/hd".into(),
            Self::OnHook => "L/hu".into(),
            Self::Flash => "L/hf".into(),
            Self::Digit(d) => format!("{}/{d}", profile.digit_package()),
            Self::OperationComplete => "L/oc".into(),
            Self::Ringing => "L/rg".into(),
            Self::Reversal => "L/lsa".into(),
            Self::LoopDrop => "L/osi".into(),
        }
    }
}

/// Which observed events a requested-event entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventSpec {
    OffHook,
    OnHook,
    Flash,
    /// A set of keys, one bit per key as in [`key_index`](crate::analog::key_index); `timer` when `T` was listed.
    Digits {
        keys: u16,
        timer: bool,
    },
    OperationComplete,
    OperationFailure,
    /// FXO ports: `L/rg`, `L/lsa`, `L/osi` detected.
    Ringing,
    Reversal,
    LoopDrop,
}

impl EventSpec {
    pub(crate) fn covers(self, ev: Observed) -> bool {
        match (self, ev) {
            (Self::OffHook, Observed::OffHook)
            | (Self::OnHook, Observed::OnHook)
            | (Self::Flash, Observed::Flash)
            | (Self::OperationComplete, Observed::OperationComplete)
            | (Self::Ringing, Observed::Ringing)
            | (Self::Reversal, Observed::Reversal)
            | (Self::LoopDrop, Observed::LoopDrop) => true,
            (Self::Digits { keys, .. }, Observed::Digit(d)) => {
                key_index(d).is_some_and(|i| keys & (1 << i) != 0)
            }
            _ => false,
        }
    }
}

/// The actions of one requested event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Actions {
    pub(crate) notify: bool,
    pub(crate) accumulate: bool,
    pub(crate) digit_map: bool,
    pub(crate) swap: bool,
    pub(crate) ignore: bool,
    pub(crate) keep_signals: bool,
    pub(crate) embedded: Option<Box<Embedded>>,
}

/// One validated requested event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) spec: EventSpec,
    pub(crate) actions: Actions,
    /// As written, for audits.
    pub(crate) text: String,
}

/// An embedded notification request: what replaces the line's request when its event occurs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Embedded {
    pub(crate) requested: Option<Vec<Requested>>,
    pub(crate) signals: Option<Vec<Signal>>,
    pub(crate) digit_map: Option<DigitMap>,
}

/// How a signal behaves in time (RFC 3435 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalType {
    /// Brief: played once, nothing to stop.
    Brief,
    /// On/off: stays until turned off with `(-)`.
    OnOff,
    /// Timeout: plays until it times out, an event stops it, or a new request drops it.
    Timeout(Duration),
}

/// Ringing, for the cadence logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RingKind {
    /// Not a ring.
    None,
    /// `L/rg`: the configured cadence.
    Normal,
    /// `L/r0`…`L/r7`.
    Distinctive(u8),
}

impl RingKind {
    pub(crate) fn is_ring(self) -> bool {
        self != Self::None
    }
}

/// One validated signal request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signal {
    /// Canonical name, `L/rg`, `D/5`.
    pub(crate) name: String,
    /// Parameters as written, if any.
    pub(crate) params: Option<String>,
    pub(crate) kind: SignalType,
    pub(crate) ring: RingKind,
    /// For on/off signals: `(-)` turns it off.
    pub(crate) off: bool,
}

/// A request that cannot be honoured, with the code to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {why}")]
pub(crate) struct Refusal {
    pub(crate) code: ReturnCode,
    pub(crate) why: &'static str,
}

impl Refusal {
    pub(crate) fn new(code: ReturnCode, why: &'static str) -> Self {
        Self { code, why }
    }
}

/// The package an event or signal names (the line package `L` when none is given), if the
/// profile has it; otherwise 518 (RFC 3435 §2.4, RFC 3661; NCS has only `L`).
fn package_of(name: &EventName<'_>, profile: Profile) -> Result<char, Refusal> {
    let pkg = match name.package.map(str::to_ascii_uppercase).as_deref() {
        None | Some("L") => 'L',
        Some("D") => 'D',
        Some("G") => 'G',
        Some(_) => return Err(Refusal::new(ReturnCode::UNKNOWN_PACKAGE, "unknown package")),
    };
    if profile.has_package(pkg) {
        Ok(pkg)
    } else {
        Err(Refusal::new(
            ReturnCode::UNKNOWN_PACKAGE,
            "package not supported by this profile",
        ))
    }
}

/// Parses a digit event code: one key, `x`, or a bracketed set such as `[0-9#*T]`.
fn digit_spec(code: &str) -> Option<EventSpec> {
    let inner = code
        .strip_prefix('[')
        .and_then(|c| c.strip_suffix(']'))
        .unwrap_or(code);
    let mut keys = 0u16;
    let mut timer = false;
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == 'x' || c == 'X' {
            keys |= 0x3FF;
        } else if c == 'T' || c == 't' {
            timer = true;
        } else if i + 2 < chars.len() && chars[i + 1] == '-' {
            let (lo, hi) = (c, chars[i + 2]);
            if !lo.is_ascii_digit() || !hi.is_ascii_digit() || hi < lo {
                return None;
            }
            for k in lo..=hi {
                keys |= 1 << key_index(k)?;
            }
            i += 2;
        } else {
            keys |= 1 << key_index(c)?;
        }
        i += 1;
    }
    (keys != 0 || timer).then_some(EventSpec::Digits { keys, timer })
}

fn event_spec(name: &EventName<'_>, profile: Profile) -> Result<EventSpec, Refusal> {
    if name.connection.is_some() {
        return Err(Refusal::new(
            ReturnCode::CANNOT_DETECT,
            "connection events are not detected",
        ));
    }
    let pkg = package_of(name, profile)?;
    let code = name.event;
    let spec = match (pkg, code.to_ascii_lowercase().as_str()) {
        ('L', "hd") => Some(EventSpec::OffHook),
        ('L', "hu") => Some(EventSpec::OnHook),
        ('L', "hf") => Some(EventSpec::Flash),
        ('L' | 'G', "oc") => Some(EventSpec::OperationComplete),
        ('L' | 'G', "of") => Some(EventSpec::OperationFailure),
        // Detected only on FXO ports; an FXS line accepts the request and never sees them.
        ('L', "rg") => Some(EventSpec::Ringing),
        ('L', "lsa") => Some(EventSpec::Reversal),
        ('L', "osi") => Some(EventSpec::LoopDrop),
        ('L' | 'D', _) => digit_spec(code),
        _ => None,
    };
    match spec {
        Some(s) => Ok(s),
        // Known names of the line package this line cannot detect (fax tones, …).
        None if matches!(code, "ft" | "mt" | "ld" | "tdd" | "ma" | "ml") => Err(Refusal::new(
            ReturnCode::CANNOT_DETECT,
            "event not detectable here",
        )),
        None => Err(Refusal::new(ReturnCode::NO_SUCH_EVENT, "no such event")),
    }
}

/// Validates one requested event from an `R:` line.
pub(crate) fn requested(
    ev: &RequestedEvent<'_>,
    depth: usize,
    profile: Profile,
) -> Result<Requested, Refusal> {
    let spec = event_spec(&ev.name, profile)?;
    let mut actions = Actions::default();
    for a in &ev.actions {
        match a {
            Action::Notify => actions.notify = true,
            Action::Accumulate => actions.accumulate = true,
            Action::AccumulateDigitMap => actions.digit_map = true,
            Action::Swap => actions.swap = true,
            Action::Ignore => actions.ignore = true,
            Action::KeepSignals => actions.keep_signals = true,
            Action::Embedded(text) => {
                if depth >= MAX_NESTING {
                    return Err(Refusal::new(
                        ReturnCode::UNKNOWN_ACTION,
                        "embedded request nested too deep",
                    ));
                }
                actions.embedded = Some(Box::new(embedded(text, depth + 1, profile)?));
            }
            Action::Other(_) => {
                return Err(Refusal::new(ReturnCode::UNKNOWN_ACTION, "unknown action"));
            }
        }
    }
    let exclusive = [
        actions.notify,
        actions.accumulate,
        actions.digit_map,
        actions.swap,
        actions.ignore,
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if exclusive > 1 {
        return Err(Refusal::new(
            ReturnCode::UNKNOWN_ACTION,
            "illegal combination of actions",
        ));
    }
    if actions.digit_map && !matches!(spec, EventSpec::Digits { .. }) {
        return Err(Refusal::new(
            ReturnCode::UNKNOWN_ACTION,
            "D action on an event that is not a digit",
        ));
    }
    if exclusive == 0 && !actions.keep_signals && actions.embedded.is_none() {
        actions.notify = true;
    }
    Ok(Requested {
        spec,
        actions,
        text: render_name(&ev.name),
    })
}

fn render_name(name: &EventName<'_>) -> String {
    match name.package {
        Some(p) => format!("{p}/{}", name.event),
        None => name.event.to_owned(),
    }
}

/// Validates one signal from an `S:` line.
pub(crate) fn signal(sig: &EventRef<'_>, profile: Profile) -> Result<Signal, Refusal> {
    let name = &sig.name;
    let pkg = package_of(name, profile)?;
    let code = name.event;
    let lower = code.to_ascii_lowercase();
    let secs = |s: u64| SignalType::Timeout(Duration::from_secs(s));
    let (kind, ring) = match (pkg, lower.as_str()) {
        ('L', "rg") => (secs(180), RingKind::Normal),
        ('L', r)
            if r.len() == 2 && r.starts_with('r') && matches!(r.as_bytes()[1], b'0'..=b'7') =>
        {
            (secs(180), RingKind::Distinctive(r.as_bytes()[1] - b'0'))
        }
        ('L' | 'G', "dl" | "sl") => (secs(16), RingKind::None),
        ('L' | 'G', "bz" | "ro" | "cg") => (secs(30), RingKind::None),
        ('L' | 'G', "rt") => (secs(180), RingKind::None),
        ('L', "wt" | "ot" | "nbz") => (secs(12), RingKind::None),
        ('L' | 'G', "cf" | "it") => (SignalType::Brief, RingKind::None),
        ('L', "ci" | "bcr") => (SignalType::Brief, RingKind::None),
        ('L', "vmwi" | "lsa" | "osi") => (SignalType::OnOff, RingKind::None),
        ('L' | 'D', k) if k.len() == 1 && key_index(k.chars().next().unwrap_or(' ')).is_some() => {
            (SignalType::Brief, RingKind::None)
        }
        // The FXO port's hook switch (seize or answer, release); an FXS line refuses them.
        ('L', "hd" | "hu") => (SignalType::Brief, RingKind::None),
        ('L', "hf" | "oc" | "of") => {
            return Err(Refusal::new(ReturnCode::NO_SUCH_EVENT, "not a signal"));
        }
        ('L', "mwi" | "s0" | "s1" | "s2" | "s3" | "s4" | "s5" | "s6" | "s7") => {
            return Err(Refusal::new(
                ReturnCode::CANNOT_SIGNAL,
                "signal not generated here",
            ));
        }
        _ => return Err(Refusal::new(ReturnCode::NO_SUCH_EVENT, "no such signal")),
    };
    let mut kind = kind;
    let mut off = false;
    if let Some(p) = sig.params {
        let p = p.trim();
        match (kind, p) {
            (SignalType::OnOff, "-") => off = true,
            (SignalType::OnOff, "+") => {}
            (SignalType::Timeout(_), _) if p.starts_with("to=") => {
                let ms: u64 = p[3..]
                    .trim()
                    .parse()
                    .map_err(|_| Refusal::new(ReturnCode::PARAMETER_ERROR, "bad to= parameter"))?;
                kind = SignalType::Timeout(Duration::from_millis(ms));
            }
            (SignalType::Brief, _) => {}
            _ => {
                return Err(Refusal::new(
                    ReturnCode::PARAMETER_ERROR,
                    "unsupported signal parameter",
                ));
            }
        }
    }
    Ok(Signal {
        name: format!("{pkg}/{code}"),
        params: sig.params.map(str::to_owned),
        kind,
        ring,
        off,
    })
}

/// Splits `s` at top-level `sep`s (outside parentheses, brackets and quotes).
pub(crate) fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Splits `name(args)(args2)` into the name and up to two parenthesised groups.
fn split_groups(item: &str) -> Result<(&str, Vec<&str>), Refusal> {
    let bad = || Refusal::new(ReturnCode::PARAMETER_ERROR, "malformed embedded request");
    let item = item.trim();
    let Some(open) = item.find('(') else {
        return Ok((item, Vec::new()));
    };
    let name = &item[..open];
    let mut groups = Vec::new();
    let mut rest = &item[open..];
    while !rest.is_empty() {
        if !rest.starts_with('(') || groups.len() == 2 {
            return Err(bad());
        }
        let mut depth = 0;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(bad)?;
        groups.push(&rest[1..end]);
        rest = rest[end + 1..].trim_start();
    }
    Ok((name, groups))
}

fn event_name(text: &str) -> EventName<'_> {
    let (text, connection) = match text.split_once('@') {
        Some((t, c)) => (t, Some(c)),
        None => (text, None),
    };
    match text.split_once('/') {
        Some((p, e)) => EventName {
            package: Some(p),
            event: e,
            connection,
        },
        None => EventName {
            package: None,
            event: text,
            connection,
        },
    }
}

fn action_of(text: &str) -> Action<'_> {
    match text.trim() {
        "N" => Action::Notify,
        "A" => Action::Accumulate,
        "D" => Action::AccumulateDigitMap,
        "S" => Action::Swap,
        "I" => Action::Ignore,
        "K" => Action::KeepSignals,
        t => match t.strip_prefix("E(").and_then(|e| e.strip_suffix(')')) {
            Some(inner) => Action::Embedded(inner),
            None => Action::Other(t),
        },
    }
}

/// Parses the inside of an `E(…)` action: `R(…)`, `S(…)` and `D(…)` groups, comma-separated.
fn embedded(text: &str, depth: usize, profile: Profile) -> Result<Embedded, Refusal> {
    let mut out = Embedded::default();
    for part in split_top(text, ',') {
        let (key, groups) = split_groups(part)?;
        let [body] = groups[..] else {
            return Err(Refusal::new(
                ReturnCode::PARAMETER_ERROR,
                "malformed embedded request",
            ));
        };
        match key.trim() {
            "R" => {
                let mut list = Vec::new();
                for item in split_top(body, ',')
                    .into_iter()
                    .filter(|i| !i.trim().is_empty())
                {
                    if list.len() == MAX_ITEMS {
                        return Err(Refusal::new(ReturnCode::PARAMETER_ERROR, "too many events"));
                    }
                    let (name, groups) = split_groups(item)?;
                    let actions = groups
                        .first()
                        .map(|a| split_top(a, ',').into_iter().map(action_of).collect())
                        .unwrap_or_default();
                    let ev = RequestedEvent {
                        name: event_name(name.trim()),
                        actions,
                        params: groups.get(1).copied(),
                    };
                    list.push(requested(&ev, depth, profile)?);
                }
                out.requested = Some(list);
            }
            "S" => {
                let mut list = Vec::new();
                for item in split_top(body, ',')
                    .into_iter()
                    .filter(|i| !i.trim().is_empty())
                {
                    if list.len() == MAX_ITEMS {
                        return Err(Refusal::new(
                            ReturnCode::PARAMETER_ERROR,
                            "too many signals",
                        ));
                    }
                    let (name, groups) = split_groups(item)?;
                    list.push(signal(
                        &EventRef {
                            name: event_name(name.trim()),
                            params: groups.first().copied(),
                        },
                        profile,
                    )?);
                }
                out.signals = Some(list);
            }
            "D" => {
                out.digit_map = Some(DigitMap::parse(body).map_err(|_| {
                    Refusal::new(ReturnCode::PARAMETER_ERROR, "bad embedded digit map")
                })?);
            }
            _ => {
                return Err(Refusal::new(
                    ReturnCode::UNKNOWN_ACTION,
                    "unknown part of an embedded request",
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str, actions: &[Action<'_>]) -> Result<Requested, Refusal> {
        req_in(Profile::Rfc3435, text, actions)
    }

    fn req_in(profile: Profile, text: &str, actions: &[Action<'_>]) -> Result<Requested, Refusal> {
        requested(
            &RequestedEvent {
                name: event_name(text),
                actions: actions.to_vec(),
                params: None,
            },
            0,
            profile,
        )
    }

    fn sig_in(profile: Profile, text: &str) -> Result<Signal, Refusal> {
        signal(
            &EventRef {
                name: event_name(text),
                params: None,
            },
            profile,
        )
    }

    /// NCS has one event package for a line, `L` (ITU-T J.162 Annex A.1): digits are `L/5` or
    /// `[0-9#*T]` with no package, tones `L/dl`; RFC 3660's `D` and `G` packages are unknown,
    /// 518 (RFC 3435 §2.4, J.162 §6.5).
    #[test]
    fn ncs_knows_only_the_line_package() {
        let ncs = Profile::Ncs;
        for text in ["L/[0-9#*T]", "[0-9#*T]", "l/x"] {
            let d = req_in(ncs, text, &[Action::AccumulateDigitMap]).unwrap();
            assert!(d.spec.covers(Observed::Digit('7')), "{text}");
        }
        assert_eq!(req_in(ncs, "L/hd", &[]).unwrap().spec, EventSpec::OffHook);
        assert_eq!(
            req_in(ncs, "L/oc", &[]).unwrap().spec,
            EventSpec::OperationComplete
        );
        for text in ["D/[0-9#*T]", "D/5", "G/oc", "X/hd"] {
            assert_eq!(
                req_in(ncs, text, &[]).unwrap_err().code,
                ReturnCode::UNKNOWN_PACKAGE,
                "{text}"
            );
        }
        assert!(
            req_in(ncs, "L/hd", &[Action::Embedded("R(D/[0-9](D))")]).is_err(),
            "an embedded request is held to the profile too"
        );
        assert_eq!(sig_in(ncs, "L/dl").unwrap().name, "L/dl");
        assert_eq!(sig_in(ncs, "L/5").unwrap().name, "L/5");
        for text in ["G/rt", "D/5"] {
            assert_eq!(
                sig_in(ncs, text).unwrap_err().code,
                ReturnCode::UNKNOWN_PACKAGE,
                "{text}"
            );
        }
        // The other profiles keep RFC 3660's packages.
        for p in [Profile::Rfc3435, Profile::Cisco] {
            assert!(req_in(p, "D/[0-9#*T]", &[]).is_ok());
            assert!(sig_in(p, "G/rt").is_ok());
        }
        assert_eq!(Observed::Digit('5').render(Profile::Ncs), "L/5");
        assert_eq!(Observed::Digit('#').render(Profile::Rfc3435), "D/#");
        assert_eq!(Observed::OffHook.render(Profile::Ncs), "L/hd");
    }

    #[test]
    fn events_map_to_specs_and_codes() {
        assert_eq!(req("L/hd", &[]).unwrap().spec, EventSpec::OffHook);
        assert!(req("hu", &[]).unwrap().actions.notify);
        let d = req("D/[0-9#*T]", &[Action::AccumulateDigitMap]).unwrap();
        assert!(d.spec.covers(Observed::Digit('#')));
        assert!(!d.spec.covers(Observed::Digit('A')));
        assert_eq!(
            req("X/hd", &[]).unwrap_err().code,
            ReturnCode::UNKNOWN_PACKAGE
        );
        assert_eq!(
            req("L/zz", &[]).unwrap_err().code,
            ReturnCode::NO_SUCH_EVENT
        );
        assert_eq!(
            req("L/ft", &[]).unwrap_err().code,
            ReturnCode::CANNOT_DETECT
        );
        assert_eq!(
            req("L/hd", &[Action::Notify, Action::Accumulate])
                .unwrap_err()
                .code,
            ReturnCode::UNKNOWN_ACTION
        );
        assert_eq!(
            req("L/hd", &[Action::AccumulateDigitMap]).unwrap_err().code,
            ReturnCode::UNKNOWN_ACTION
        );
    }

    #[test]
    fn embedded_request_parses_r_s_d() {
        let r = req(
            "L/hd",
            &[Action::Embedded(
                "R(L/hu(N),D/[0-9](D)),S(L/dl),D((1xx|2xx))",
            )],
        )
        .unwrap();
        let e = r.actions.embedded.unwrap();
        let reqs = e.requested.unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].spec, EventSpec::OnHook);
        assert!(reqs[1].actions.digit_map);
        assert_eq!(e.signals.unwrap()[0].name, "L/dl");
        assert!(e.digit_map.is_some());
        assert!(!r.actions.notify);
        assert!(
            req("L/hd", &[Action::Embedded("R(L/zz)")]).is_err(),
            "embedded events are validated too"
        );
    }

    #[test]
    fn signals_validate_with_types_and_params() {
        let s = |n: &str, p: Option<&str>| {
            signal(
                &EventRef {
                    name: event_name(n),
                    params: p,
                },
                Profile::Rfc3435,
            )
        };
        let rg = s("L/rg", None).unwrap();
        assert_eq!(rg.ring, RingKind::Normal);
        assert_eq!(s("L/r5", None).unwrap().ring, RingKind::Distinctive(5));
        assert_eq!(s("L/r8", None).unwrap_err().code, ReturnCode::NO_SUCH_EVENT);
        assert_eq!(rg.kind, SignalType::Timeout(Duration::from_secs(180)));
        let short = s("rg", Some("to=6000")).unwrap();
        assert_eq!(short.kind, SignalType::Timeout(Duration::from_secs(6)));
        assert!(s("L/vmwi", Some("-")).unwrap().off);
        assert_eq!(s("L/hf", None).unwrap_err().code, ReturnCode::NO_SUCH_EVENT);
        // The hook switch of an FXO port; an FXS line refuses it (`Line::check_trunk_signals`).
        assert_eq!(s("L/hd", None).unwrap().kind, SignalType::Brief);
        assert_eq!(s("L/zz", None).unwrap_err().code, ReturnCode::NO_SUCH_EVENT);
        assert_eq!(
            s("Q/rg", None).unwrap_err().code,
            ReturnCode::UNKNOWN_PACKAGE
        );
        assert_eq!(
            s("L/rg", Some("to=abc")).unwrap_err().code,
            ReturnCode::PARAMETER_ERROR
        );
    }
}
