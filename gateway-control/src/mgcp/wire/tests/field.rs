//! What gateways in the field send (issue 15): piggy-backed datagrams with one bad message,
//! responses slightly outside the grammar, long lists. Message texts are written from RFC 3435
//! and the vendors' documented traces, cited case by case.

use super::*;

fn each(bytes: &[u8]) -> Vec<Result<Message<'_>, ParseError>> {
    parse_each(bytes).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

/// RFC 3435 §3.5.5: the messages of a piggy-backed datagram are processed as if received one by
/// one. A valid NTFY followed by a malformed response still stands; the response alone fails.
#[test]
fn a_bad_message_in_a_piggybacked_datagram_fails_alone() {
    let datagram = b"NTFY 2001 aaln/1@gw MGCP 1.0\r\nX: 1A\r\nO: L/hd\r\n.\r\n\
                     20 1999 OK\r\n.\r\n\
                     RQNT 2002 aaln/2@gw MGCP 1.0\r\nX: not-hex\r\n.\r\n\
                     200 1998 OK\r\n";
    let messages = each(datagram);
    assert_eq!(messages.len(), 4);
    let Ok(Message::Command(ntfy)) = &messages[0] else {
        panic!("{:?}", messages[0])
    };
    assert_eq!(
        (ntfy.verb, ntfy.transaction),
        (Verb::Ntfy, TransactionId(2001))
    );
    // The malformed response: nobody to answer.
    let bad = messages[1].as_ref().unwrap_err();
    assert_eq!(bad.kind, ParseErrorKind::FirstLine("response code"));
    assert_eq!(bad.answer(), None);
    // The command with a bad parameter: its own 510, naming its own transaction and offset.
    let bad = messages[2].as_ref().unwrap_err();
    assert_eq!(bad.kind, ParseErrorKind::Param("X"));
    assert_eq!(
        bad.answer(),
        Some((TransactionId(2002), ReturnCode::PROTOCOL_ERROR))
    );
    let at = datagram.windows(7).position(|w| w == b"not-hex").unwrap();
    assert_eq!(bad.offset, at);
    assert!(
        matches!(&messages[3], Ok(Message::Response(r)) if r.transaction == TransactionId(1998))
    );
    // All or nothing: `parse` reports the first failure.
    assert_eq!(
        parse(datagram).unwrap_err(),
        messages[1].clone().unwrap_err()
    );
}

/// A control character inside one message fails that message only; a trailing separator with
/// nothing after it is an empty message of its own.
#[test]
fn skipping_a_bad_message_finds_the_next_separator() {
    let messages = each(b"200 1 O\x01K\r\nI: 1\r\n.\r\n200 2 OK\r\n.\r\n");
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0].as_ref().unwrap_err().kind,
        ParseErrorKind::ControlCharacter(1)
    );
    assert!(matches!(&messages[1], Ok(Message::Response(r)) if r.transaction == TransactionId(2)));
    assert_eq!(
        messages[2].as_ref().unwrap_err().kind,
        ParseErrorKind::Empty
    );
    // A bad line after the failure, before the separator, is skipped too.
    let messages = each(b"NTFY 3 a@b MGCP 9.0\r\nX: \x02\r\n.\r\nNTFY 4 a@b MGCP 1.0\r\n");
    assert_eq!(
        messages[0].as_ref().unwrap_err().kind,
        ParseErrorKind::Version
    );
    assert!(matches!(&messages[1], Ok(Message::Command(c)) if c.transaction == TransactionId(4)));
    // Datagram-level faults stay whole.
    assert_eq!(
        parse_each(b"200 1 OK\xff").unwrap_err().kind,
        ParseErrorKind::NotText
    );
    let many = "200 1 OK\r\n.\r\n".repeat(MAX_MESSAGES) + "200 1 OK\r\n";
    assert_eq!(
        parse_each(many.as_bytes()).unwrap_err().kind,
        ParseErrorKind::TooLarge("messages")
    );
}

/// Issue 15 point 3, as seen from gateways: an AUEP answer with an empty `I:` (no connection;
/// Cisco IOS `debug mgcp packets` traces show `I:` alone), an `M:` listing the modes the
/// endpoint supports in the capability format (RFC 3435 §3.2.2.6 grammar allows one mode; the
/// list is what `A:`'s `m:` holds), and a vendor `X-` line. What is understood is kept.
#[test]
fn a_response_keeps_what_it_understands() {
    let r = response(
        b"200 1203 OK\r\n\
          I:\r\n\
          M: sendonly, recvonly, sendrecv, inactive\r\n\
          X-CISCO-TAG: 7\r\n\
          ES: L/hu\r\n\
          A: a:PCMU;PCMA, p:10-20, e:on, s:on, v:L;G;D, m:sendonly;recvonly;sendrecv\r\n\
          no colon here\r\n",
    );
    assert_eq!(
        r.params,
        [
            Param::Unread("I:"),
            Param::Unread("M: sendonly, recvonly, sendrecv, inactive"),
            Param::Other("X-CISCO-TAG", "7"),
            Param::EventStates(vec![EventRef {
                name: EventName {
                    package: Some("L"),
                    event: "hu",
                    connection: None,
                },
                params: None,
            }]),
            Param::Capabilities(
                "a:PCMU;PCMA, p:10-20, e:on, s:on, v:L;G;D, m:sendonly;recvonly;sendrecv"
            ),
            Param::Unread("no colon here"),
        ]
    );
    assert_eq!(r.params[1].name(), "M");
    assert_eq!(r.params[5].name(), "no colon here");
    // Written back as read.
    round_trip(&Message::Response(r.clone()));
    // The same lines in a command are errors, answered 510.
    for line in ["I:", "M: sendonly, recvonly", "no colon here"] {
        let e = parse(format!("MDCX 5 aaln/1@gw MGCP 1.0\r\n{line}\r\n").as_bytes()).unwrap_err();
        assert_eq!(
            e.answer(),
            Some((TransactionId(5), ReturnCode::PROTOCOL_ERROR)),
            "{line}"
        );
    }
}

/// Issue 15 point 6: a dial string collected under a digit map is reported one event per digit
/// (RFC 3435 §2.1.5, `O: D/9,D/1,D/1`…); 70 digits, refused when lists held 64, are read.
#[test]
fn long_observed_lists_are_read() {
    let digits = vec!["D/5"; 70].join(",");
    let text = format!("NTFY 9 aaln/1@gw MGCP 1.0\r\nX: 1\r\nO: {digits}\r\n");
    let c = command(text.as_bytes());
    let Some(Param::ObservedEvents(observed)) = c.params.get(1) else {
        panic!("{:?}", c.params)
    };
    assert_eq!(observed.len(), 70);
    // Still bounded: one more than MAX_LIST is refused, in a command...
    let too_many = vec!["5"; MAX_LIST + 1].join(",");
    let e =
        parse(format!("NTFY 9 aaln/1@gw MGCP 1.0\r\nO: {too_many}\r\n").as_bytes()).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooLarge("list items"));
    // ... and kept unread in a response.
    let text = format!("200 9 OK\r\nES: {too_many}\r\n");
    let r = response(text.as_bytes());
    assert!(matches!(r.params[..], [Param::Unread(_)]));
}
