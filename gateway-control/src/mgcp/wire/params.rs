//! Parameter lines (RFC 3435 §3.2.2 and the Appendix A grammar): `Name: value`, the name
//! case-insensitive, whitespace around the value optional. Known names become typed [`Param`]
//! variants; anything else (`X-…` extensions, vendor and package parameters) is kept as
//! [`Param::Other`].
//!
//! List values are split at top-level commas: commas inside parentheses or inside a quoted
//! string (`"…"`, with `""` standing for a quote, RFC 3435 Appendix A `quotedString`) do not
//! separate items, so `L/ci(10/14/17/26,"555 1212",CableLabs)` stays one signal.

use super::parse::{Fault, is_wsp, parse_endpoint, parse_transaction, trim_wsp};
use super::{
    AckRange, Action, EventName, EventRef, MAX_LIST, Mode, Pair, Param, Reason, RequestedEvent,
    RestartMethod,
};

type Result<'a, T> = std::result::Result<T, Fault<'a>>;

/// Parses one parameter line (not empty, no line end).
pub(super) fn parse_param(line: &str) -> Result<'_, Param<'_>> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(Fault::param("name", line));
    };
    let name = trim_wsp(name);
    let value = trim_wsp(value);
    if name.is_empty() || name.contains(is_wsp) {
        return Err(Fault::param("name", line));
    }
    let upper = name.as_bytes();
    let key: [u8; 2] = match upper {
        [a] => [a.to_ascii_uppercase(), 0],
        [a, b] => [a.to_ascii_uppercase(), b.to_ascii_uppercase()],
        _ => [0, 0],
    };
    Ok(match &key {
        b"K\0" => Param::ResponseAck(ack_ranges(value)?),
        b"B\0" => Param::BearerInformation(value),
        b"C\0" => Param::CallId(hex_id("C", value)?),
        b"I\0" => Param::ConnectionId(connection_ids(value)?),
        b"N\0" => Param::NotifiedEntity(value),
        b"X\0" => Param::RequestIdentifier(hex_id("X", value)?),
        b"L\0" => Param::LocalConnectionOptions(pairs("L", value, ':')?),
        b"M\0" => Param::ConnectionMode(mode(value)?),
        b"R\0" => Param::RequestedEvents(list("R", value, requested_event)?),
        b"S\0" => Param::SignalRequests(list("S", value, |t| event_ref("S", t))?),
        b"D\0" => Param::DigitMap(value),
        b"O\0" => Param::ObservedEvents(list("O", value, |t| event_ref("O", t))?),
        b"P\0" => Param::ConnectionParameters(pairs("P", value, '=')?),
        b"E\0" => Param::ReasonCode(reason(value)?),
        b"Z\0" => Param::SpecificEndpointId(
            parse_endpoint(value).ok_or_else(|| Fault::param("Z", value))?,
        ),
        b"Z2" => {
            Param::SecondEndpointId(parse_endpoint(value).ok_or_else(|| Fault::param("Z2", value))?)
        }
        b"I2" => Param::SecondConnectionId(hex_id("I2", value)?),
        b"F\0" => Param::RequestedInfo(list("F", value, info_code)?),
        b"Q\0" => Param::QuarantineHandling(value),
        b"T\0" => Param::DetectEvents(list("T", value, |t| event_ref("T", t))?),
        b"RM" => Param::RestartMethod(restart_method(value)?),
        b"RD" => Param::RestartDelay(number("RD", value)?),
        b"A\0" => Param::Capabilities(value),
        b"ES" => Param::EventStates(list("ES", value, |t| event_ref("ES", t))?),
        b"MD" => Param::MaxDatagram(number("MD", value)?),
        b"PL" => Param::PackageList(value),
        _ => Param::Other(name, value),
    })
}

/// 1 to 32 hexadecimal digits: CallId, ConnectionId, RequestIdentifier (§3.2.2).
pub(super) fn is_hex_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_id<'a>(name: &'static str, value: &'a str) -> Result<'a, &'a str> {
    if is_hex_id(value) {
        Ok(value)
    } else {
        Err(Fault::param(name, value))
    }
}

/// One ConnectionId, or — in an AuditEndpoint response — a comma-separated list of them
/// (RFC 3435 §2.3.10); kept raw.
fn connection_ids(value: &str) -> Result<'_, &str> {
    let mut count = 0;
    for id in value.split(',') {
        count += 1;
        if count > MAX_LIST {
            return Err(Fault::too_large("list items", value));
        }
        let id = trim_wsp(id);
        if !is_hex_id(id) {
            return Err(Fault::param("I", id));
        }
    }
    Ok(value)
}

fn number<'a>(name: &'static str, value: &'a str) -> Result<'a, u32> {
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fault::param(name, value));
    }
    value.parse().map_err(|_| Fault::param(name, value))
}

/// Splits `value` at commas outside parentheses and quoted strings, trims each item and feeds
/// it to `item`. An empty value is an empty list; an empty item is an error.
fn list<'a, T>(
    name: &'static str,
    value: &'a str,
    mut item: impl FnMut(&'a str) -> Result<'a, T>,
) -> Result<'a, Vec<T>> {
    let mut out = Vec::new();
    if value.is_empty() {
        return Ok(out);
    }
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    let bytes = value.as_bytes();
    let mut push = |out: &mut Vec<T>, text: &'a str| -> Result<'a, ()> {
        if out.len() >= MAX_LIST {
            return Err(Fault::too_large("list items", text));
        }
        let text = trim_wsp(text);
        if text.is_empty() {
            return Err(Fault::param(name, text));
        }
        out.push(item(text)?);
        Ok(())
    };
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b'(' => depth += 1,
            b')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| Fault::param(name, &value[i..]))?;
            }
            b',' if depth == 0 => {
                push(&mut out, &value[start..i])?;
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return Err(Fault::param(name, value));
    }
    push(&mut out, &value[start..])?;
    Ok(out)
}

/// Given `s` starting with `(`, the text inside the balanced group and what follows it.
/// Quoted strings inside are skipped.
fn group(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// `[package/]event[@connection]` (§3.2.2.4).
pub(super) fn event_name(s: &str) -> Option<EventName<'_>> {
    let bad = |c: char| matches!(c, '/' | '@' | ',' | '(' | ')' | '"' | ' ' | '\t');
    let (rest, connection) = match s.split_once('@') {
        Some((rest, conn)) => (rest, Some(conn)),
        None => (s, None),
    };
    let (package, event) = match rest.split_once('/') {
        Some((pkg, event)) => (Some(pkg), event),
        None => (None, rest),
    };
    let ok = |part: &str| !part.is_empty() && !part.contains(bad);
    if !ok(event) || !package.is_none_or(ok) || !connection.is_none_or(ok) {
        return None;
    }
    Some(EventName {
        package,
        event,
        connection,
    })
}

/// A name with up to `max_groups` parenthesised groups after it.
fn name_and_groups<'a>(
    what: &'static str,
    text: &'a str,
    max_groups: usize,
) -> Result<'a, (EventName<'a>, [Option<&'a str>; 2])> {
    let (name_text, mut rest) = match text.find('(') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let name = event_name(trim_wsp(name_text)).ok_or_else(|| Fault::param(what, text))?;
    let mut groups = [None, None];
    for slot in groups.iter_mut().take(max_groups) {
        if rest.is_empty() {
            break;
        }
        let (inner, after) = group(rest).ok_or_else(|| Fault::param(what, rest))?;
        *slot = Some(inner);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(Fault::param(what, rest));
    }
    Ok((name, groups))
}

fn event_ref<'a>(what: &'static str, text: &'a str) -> Result<'a, EventRef<'a>> {
    let (name, [params, _]) = name_and_groups(what, text, 1)?;
    Ok(EventRef { name, params })
}

fn requested_event(text: &str) -> Result<'_, RequestedEvent<'_>> {
    let (name, [actions_text, params]) = name_and_groups("R", text, 2)?;
    let actions = match actions_text {
        Some(a) if !trim_wsp(a).is_empty() => list("R", a, action)?,
        _ => Vec::new(),
    };
    Ok(RequestedEvent {
        name,
        actions,
        params,
    })
}

fn action(text: &str) -> Result<'_, Action<'_>> {
    let simple = match text.as_bytes() {
        [b'N' | b'n'] => Some(Action::Notify),
        [b'A' | b'a'] => Some(Action::Accumulate),
        [b'D' | b'd'] => Some(Action::AccumulateDigitMap),
        [b'S' | b's'] => Some(Action::Swap),
        [b'I' | b'i'] => Some(Action::Ignore),
        [b'K' | b'k'] => Some(Action::KeepSignals),
        _ => None,
    };
    if let Some(a) = simple {
        return Ok(a);
    }
    if let Some(rest) = text.strip_prefix(['E', 'e'])
        && rest.starts_with('(')
        && let Some((inner, "")) = group(rest)
    {
        return Ok(Action::Embedded(inner));
    }
    if text.contains(is_wsp) {
        return Err(Fault::param("R", text));
    }
    Ok(Action::Other(text))
}

fn pairs<'a>(name: &'static str, value: &'a str, sep: char) -> Result<'a, Vec<Pair<'a>>> {
    list(name, value, |item| {
        let (key, value) = item.split_once(sep).unwrap_or((item, ""));
        let key = trim_wsp(key);
        if key.is_empty() {
            return Err(Fault::param(name, item));
        }
        Ok(Pair {
            key,
            value: trim_wsp(value),
        })
    })
}

fn ack_ranges(value: &str) -> Result<'_, Vec<AckRange>> {
    list("K", value, |item| {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        let first = parse_transaction(trim_wsp(first));
        let last = parse_transaction(trim_wsp(last));
        match (first, last) {
            (Some(first), Some(last)) if first <= last => Ok(AckRange { first, last }),
            _ => Err(Fault::param("K", item)),
        }
    })
}

fn info_code(item: &str) -> Result<'_, &str> {
    if item.contains(|c: char| is_wsp(c) || c == '(' || c == ')' || c == '"') {
        Err(Fault::param("F", item))
    } else {
        Ok(item)
    }
}

/// `E: 900 text`: three digits, then optional text.
fn reason(value: &str) -> Result<'_, Reason<'_>> {
    let digits = value
        .get(..3)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let rest = value.get(3..).unwrap_or("");
    match digits {
        Some(d) if rest.is_empty() || rest.starts_with(is_wsp) => Ok(Reason {
            code: d.parse().map_err(|_| Fault::param("E", value))?,
            text: trim_wsp(rest),
        }),
        _ => Err(Fault::param("E", value)),
    }
}

fn mode(value: &str) -> Result<'_, Mode<'_>> {
    const MODES: [(&str, Mode<'static>); 10] = [
        ("sendonly", Mode::SendOnly),
        ("recvonly", Mode::RecvOnly),
        ("sendrecv", Mode::SendRecv),
        ("confrnce", Mode::Conference),
        ("inactive", Mode::Inactive),
        ("loopback", Mode::Loopback),
        ("conttest", Mode::ContinuityTest),
        ("netwloop", Mode::NetworkLoop),
        ("netwtest", Mode::NetworkTest),
        ("data", Mode::Data),
    ];
    if let Some((_, m)) = MODES.iter().find(|(s, _)| s.eq_ignore_ascii_case(value)) {
        return Ok(*m);
    }
    if value.is_empty() || value.contains(|c: char| is_wsp(c) || c == ',') {
        return Err(Fault::param("M", value));
    }
    Ok(Mode::Other(value))
}

fn restart_method(value: &str) -> Result<'_, RestartMethod<'_>> {
    const METHODS: [(&str, RestartMethod<'static>); 5] = [
        ("graceful", RestartMethod::Graceful),
        ("forced", RestartMethod::Forced),
        ("restart", RestartMethod::Restart),
        ("disconnected", RestartMethod::Disconnected),
        ("cancel-graceful", RestartMethod::CancelGraceful),
    ];
    if let Some((_, m)) = METHODS.iter().find(|(s, _)| s.eq_ignore_ascii_case(value)) {
        return Ok(*m);
    }
    if value.is_empty() || value.contains(is_wsp) {
        return Err(Fault::param("RM", value));
    }
    Ok(RestartMethod::Other(value))
}
