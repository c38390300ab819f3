//! The wire format between sites: what `encode` seals opens to the same message at the site it
//! names and nowhere else; headers and body are checked in that order and every refusal has
//! its own [`Reject`]; no body, sealed or not, makes `decode` panic.

use codecs::seal::{self, Compression, Key};
use offhook_domain::accept::Attachment;
use offhook_domain::db::remote::{Outgoing, Person, valid_site};
use offhook_domain::federation::{Forward, Incoming, Reject};
use uuid::Uuid;

use super::{
    AttHead, Envelope, Head, Headers, MAGIC, MAX_HEADER, MAX_ITEMS, aad, decode, encode, envelope,
    header,
};

/// The sending site.
const HQ: &str = "hq";
/// The receiving site.
const BRANCH: &str = "branch";
/// The receiver's limit in most tests.
const MAX: u64 = 4 << 20;

fn key() -> Key {
    Key::from_bytes([7; 32])
}

fn person(name: &str) -> Person {
    Person {
        id: Uuid::from_u128(0xa11ce),
        name: name.to_owned(),
        display: format!("{name} at {HQ}"),
    }
}

fn attachment(name: &str, content_type: &str, data: &[u8]) -> Attachment {
    Attachment {
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        data: data.to_vec().into(),
    }
}

fn forward(id: Uuid, audio: &[u8], attachments: Vec<Attachment>) -> Forward {
    Forward {
        meta: Outgoing {
            id,
            sender: person("alice"),
            to: vec!["bob".to_owned(), "carol".to_owned()],
            created_ms: 1_700_000_000_123,
            duration_ms: 4_250,
            audio_file: Some(format!("{id}.audio")),
            attachments: Vec::new(),
        },
        audio: audio.to_vec(),
        attachments,
    }
}

/// A message with audio and two attachments.
fn message() -> Forward {
    forward(
        Uuid::from_u128(0x5eed),
        b"OggS\0\x02fake opus audio",
        vec![
            attachment("note.txt", "text/plain", b"call me back"),
            attachment("map.png", "image/png", &[0x89, b'P', b'N', b'G', 0, 0xff]),
        ],
    )
}

fn sealed(m: &Forward) -> (Headers, Vec<u8>) {
    encode(&key(), m, HQ, BRANCH).expect("encodes")
}

/// A header lookup over `h`, as the transport's over NATS headers.
fn lookup<'a>(h: &'a Headers) -> impl Fn(&str) -> Option<&'a str> {
    move |k| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
}

/// What site `me` makes of a message: its headers read, then its body opened.
fn receive(key: &Key, me: &str, h: &Headers, body: &[u8], max: u64) -> Result<Incoming, Reject> {
    let env = envelope(me, lookup(h))?;
    decode(key, me, &env, body, max)
}

fn with(h: &Headers, name: &str, value: &str) -> Headers {
    let mut h: Headers = h.iter().filter(|(n, _)| *n != name).cloned().collect();
    let name = [
        header::MSG_ID,
        header::ID,
        header::FROM,
        header::TO,
        header::OBJECT,
    ]
    .into_iter()
    .find(|n| *n == name)
    .expect("a known header");
    h.push((name, value.to_owned()));
    h
}

fn without(h: &Headers, name: &str) -> Headers {
    h.iter().filter(|(n, _)| *n != name).cloned().collect()
}

/// Checks that `got` is `sent`, from `from`.
fn assert_same(got: &Incoming, sent: &Forward, from: &str) {
    assert_eq!(got.id, sent.meta.id);
    assert_eq!(got.site, from);
    assert_eq!(got.sender, sent.meta.sender);
    assert_eq!(got.to, sent.meta.to);
    assert_eq!(got.created_ms, sent.meta.created_ms);
    assert_eq!(got.duration_ms, sent.meta.duration_ms);
    assert_eq!(got.audio[..], sent.audio[..]);
    let parts = |a: &[Attachment]| -> Vec<(String, String, Vec<u8>)> {
        a.iter()
            .map(|a| (a.name.clone(), a.content_type.clone(), a.data.to_vec()))
            .collect()
    };
    assert_eq!(parts(&got.attachments), parts(&sent.attachments));
}

/// A body sealed for `HQ` → `BRANCH` holding `plain` as is.
fn seal_plain(id: Uuid, plain: &[u8]) -> Vec<u8> {
    seal::seal(&key(), &aad(id, HQ, BRANCH), plain, Compression::None).unwrap()
}

/// `MAGIC | length | json | tail`.
fn plaintext(json: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut p = MAGIC.to_vec();
    p.extend_from_slice(&(json.len() as u32).to_be_bytes());
    p.extend_from_slice(json);
    p.extend_from_slice(tail);
    p
}

fn head(audio_len: u64, attachments: &[u64]) -> Head {
    Head {
        sender: person("alice"),
        to: vec!["bob".to_owned()],
        created_ms: 1,
        duration_ms: 2,
        audio_len,
        attachments: attachments
            .iter()
            .enumerate()
            .map(|(n, len)| AttHead {
                name: format!("a{n}"),
                content_type: "application/octet-stream".to_owned(),
                len: *len,
            })
            .collect(),
    }
}

/// What `BRANCH` makes of a body sealed properly around `plain`.
fn open_plain(plain: &[u8]) -> Result<Incoming, Reject> {
    let id = Uuid::from_u128(0xb0d7);
    let env = Envelope {
        id,
        from: HQ.to_owned(),
        object: None,
    };
    decode(&key(), BRANCH, &env, &seal_plain(id, plain), MAX)
}

// --- Round trips ---

#[test]
fn a_message_round_trips() {
    let m = message();
    let (h, body) = sealed(&m);
    let id = m.meta.id;
    assert_eq!(
        lookup(&h)(header::MSG_ID),
        Some(format!("{id}.{BRANCH}").as_str())
    );
    assert_eq!(lookup(&h)(header::ID), Some(id.to_string().as_str()));
    assert_eq!(lookup(&h)(header::FROM), Some(HQ));
    assert_eq!(lookup(&h)(header::TO), Some(BRANCH));
    assert_eq!(lookup(&h)(header::OBJECT), None);
    let env = envelope(BRANCH, lookup(&h)).unwrap();
    assert_eq!(
        env,
        Envelope {
            id,
            from: HQ.to_owned(),
            object: None
        }
    );
    let got = decode(&key(), BRANCH, &env, &body, MAX).unwrap();
    assert_same(&got, &m, HQ);
}

#[test]
fn a_message_with_nothing_in_it_round_trips() {
    let mut m = forward(Uuid::from_u128(1), b"", Vec::new());
    m.meta.to.clear();
    m.meta.sender.display.clear();
    m.meta.created_ms = i64::MIN;
    m.meta.duration_ms = u64::MAX;
    let (h, body) = sealed(&m);
    let got = receive(&key(), BRANCH, &h, &body, MAX).unwrap();
    assert_same(&got, &m, HQ);
}

#[test]
fn empty_attachments_between_others_keep_their_place() {
    let m = forward(
        Uuid::from_u128(2),
        b"",
        vec![
            attachment("", "", b""),
            attachment("x", "text/plain", b"x"),
            attachment("empty", "text/plain", b""),
        ],
    );
    let (h, body) = sealed(&m);
    assert_same(&receive(&key(), BRANCH, &h, &body, MAX).unwrap(), &m, HQ);
}

#[test]
fn the_object_header_is_passed_on() {
    let (h, _) = sealed(&message());
    let h = with(&h, header::OBJECT, "0000.branch");
    let env = envelope(BRANCH, lookup(&h)).unwrap();
    assert_eq!(env.object.as_deref(), Some("0000.branch"));
}

#[test]
fn a_body_exactly_at_the_limit_is_taken() {
    let m = message();
    let (h, body) = sealed(&m);
    let got = receive(&key(), BRANCH, &h, &body, body.len() as u64).unwrap();
    assert_same(&got, &m, HQ);
}

#[test]
fn a_sites_messages_go_to_its_own_subject() {
    assert_eq!(super::subject(BRANCH), "offhook.msg.branch");
}

// --- The seal binds key, id and both sites ---

#[test]
fn another_key_does_not_open_it() {
    let (h, body) = sealed(&message());
    let other = Key::from_bytes([8; 32]);
    assert_eq!(
        receive(&other, BRANCH, &h, &body, MAX).err(),
        Some(Reject::BadSeal)
    );
}

#[test]
fn headers_rewritten_to_another_site_are_refused_there_and_here() {
    let (h, body) = sealed(&message());
    let moved = with(&h, header::TO, "annex");
    // The site it was sealed for sees it is not addressed to it.
    assert_eq!(
        receive(&key(), BRANCH, &moved, &body, MAX).err(),
        Some(Reject::WrongSite)
    );
    // The site it now names finds the seal bound to the other one.
    assert!(envelope("annex", lookup(&moved)).is_ok());
    assert_eq!(
        receive(&key(), "annex", &moved, &body, MAX).err(),
        Some(Reject::BadSeal)
    );
    // And the original headers at the wrong site.
    assert_eq!(
        receive(&key(), "annex", &h, &body, MAX).err(),
        Some(Reject::WrongSite)
    );
}

#[test]
fn a_sending_site_rewritten_does_not_open() {
    let (h, body) = sealed(&message());
    let forged = with(&h, header::FROM, "annex");
    assert_eq!(
        receive(&key(), BRANCH, &forged, &body, MAX).err(),
        Some(Reject::BadSeal)
    );
}

#[test]
fn a_body_moved_to_another_id_does_not_open() {
    let (h, body) = sealed(&message());
    let moved = with(&h, header::ID, &Uuid::from_u128(0xdead).to_string());
    assert_eq!(
        receive(&key(), BRANCH, &moved, &body, MAX).err(),
        Some(Reject::BadSeal)
    );
    // Nor a body sealed for another message under this one's headers.
    let (_, other) = sealed(&forward(Uuid::from_u128(0xdead), b"x", Vec::new()));
    assert_eq!(
        receive(&key(), BRANCH, &h, &other, MAX).err(),
        Some(Reject::BadSeal)
    );
}

#[test]
fn a_message_from_this_site_is_refused() {
    let m = message();
    let (h, body) = encode(&key(), &m, BRANCH, BRANCH).unwrap();
    assert_eq!(
        receive(&key(), BRANCH, &h, &body, MAX).err(),
        Some(Reject::WrongSite)
    );
    let (h, body) = sealed(&m);
    let forged = with(&h, header::FROM, BRANCH);
    assert_eq!(
        receive(&key(), BRANCH, &forged, &body, MAX).err(),
        Some(Reject::WrongSite)
    );
}

#[test]
fn every_single_byte_flipped_is_refused() {
    let (h, body) = sealed(&message());
    for at in 0..body.len() {
        for bit in [0x01, 0x80] {
            let mut bad = body.clone();
            bad[at] ^= bit;
            assert_eq!(
                receive(&key(), BRANCH, &h, &bad, MAX).err(),
                Some(Reject::BadSeal),
                "byte {at} ^ {bit:#x} accepted"
            );
        }
    }
}

#[test]
fn every_truncation_is_refused() {
    let (h, body) = sealed(&message());
    for len in 0..body.len() {
        assert_eq!(
            receive(&key(), BRANCH, &h, &body[..len], MAX).err(),
            Some(Reject::BadSeal),
            "cut at {len} accepted"
        );
    }
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        receive(&key(), BRANCH, &h, &longer, MAX).err(),
        Some(Reject::BadSeal)
    );
}

// --- Headers ---

#[test]
fn a_missing_header_is_malformed() {
    let (h, body) = sealed(&message());
    for name in [header::ID, header::FROM, header::TO] {
        assert_eq!(
            receive(&key(), BRANCH, &without(&h, name), &body, MAX).err(),
            Some(Reject::Malformed),
            "without {name}"
        );
    }
    assert_eq!(envelope(BRANCH, |_| None).err(), Some(Reject::Malformed));
}

#[test]
fn a_malformed_header_is_malformed() {
    let (h, body) = sealed(&message());
    let long = "a".repeat(33);
    let cases = [
        (header::ID, ""),
        (header::ID, "not-a-uuid"),
        (header::ID, "00000000-0000-0000-0000-00000000000g"),
        (header::FROM, ""),
        (header::FROM, "HQ"),
        (header::FROM, "-hq"),
        (header::FROM, "hq.evil"),
        (header::FROM, "hq*"),
        (header::FROM, "h q"),
        (header::FROM, &long),
        (header::TO, ""),
        (header::TO, "Branch"),
        (header::TO, "branch.>"),
        (header::TO, "branch "),
        (header::TO, &long),
    ];
    for (name, value) in cases {
        assert_eq!(
            receive(&key(), BRANCH, &with(&h, name, value), &body, MAX).err(),
            Some(Reject::Malformed),
            "{name}: {value:?}"
        );
    }
}

// --- Size ---

#[test]
fn a_body_over_the_limit_is_oversized_before_it_is_opened() {
    let (h, body) = sealed(&message());
    let limit = body.len() as u64 - 1;
    assert_eq!(
        receive(&key(), BRANCH, &h, &body, limit).err(),
        Some(Reject::Oversized)
    );
    // Refused on its size alone: under another key it is still Oversized, not BadSeal.
    let other = Key::from_bytes([8; 32]);
    assert_eq!(
        receive(&other, BRANCH, &h, &body, limit).err(),
        Some(Reject::Oversized)
    );
    assert_eq!(
        receive(&key(), BRANCH, &h, &[0; 10], 9).err(),
        Some(Reject::Oversized)
    );
}

/// The length of the JSON header in `body`, as sealed by `encode`.
fn header_len(id: Uuid, body: &[u8]) -> usize {
    let plain = seal::open(&key(), &aad(id, HQ, BRANCH), body, MAX).unwrap();
    u32::from_be_bytes(plain[4..8].try_into().unwrap()) as usize
}

#[test]
fn encode_takes_a_header_of_exactly_the_limit_and_refuses_one_more_byte() {
    let mut m = message();
    m.meta.sender.display = "x".to_owned();
    let (_, body) = sealed(&m);
    // Each byte of an ASCII display name is one byte of the header.
    let pad = MAX_HEADER - header_len(m.meta.id, &body);
    m.meta.sender.display.push_str(&"x".repeat(pad));
    let (h, body) = sealed(&m);
    assert_eq!(header_len(m.meta.id, &body), MAX_HEADER);
    assert_same(&receive(&key(), BRANCH, &h, &body, MAX).unwrap(), &m, HQ);
    m.meta.sender.display.push('x');
    assert!(encode(&key(), &m, HQ, BRANCH).is_err());
}

/// A message naming more recipients than any receiver takes (`MAX_ITEMS`) would be refused by
/// every `decode` as `Malformed` after JetStream acknowledged it and the sending site dropped it
/// from its outbox, lost without anyone being told (found by this test and the fuzz target):
/// `encode` refuses what `decode` refuses, so the sending site says so.
#[test]
fn what_encode_seals_every_receiver_takes_recipients() {
    let mut m = message();
    m.meta.to = (0..=MAX_ITEMS).map(|n| format!("u{n}")).collect();
    let encoded = encode(&key(), &m, HQ, BRANCH);
    if let Ok((h, body)) = encoded {
        let got = receive(&key(), BRANCH, &h, &body, MAX).map(|_| ());
        panic!(
            "encoded a message with {} recipients; decoded: {got:?}",
            m.meta.to.len()
        );
    }
}

/// The most recipients and attachments a receiver takes are sealed, and taken.
#[test]
fn encode_seals_as_many_recipients_and_attachments_as_decode_takes() {
    let mut m = forward(
        Uuid::from_u128(4),
        b"OggS",
        (0..MAX_ITEMS).map(|_| attachment("", "", b"")).collect(),
    );
    m.meta.to = (0..MAX_ITEMS).map(|n| format!("u{n}")).collect();
    let (h, body) = encode(&key(), &m, HQ, BRANCH).expect("within the limits");
    let got = receive(&key(), BRANCH, &h, &body, MAX).expect("taken");
    assert_eq!(got.to.len(), MAX_ITEMS);
    assert_eq!(got.attachments.len(), MAX_ITEMS);
}

/// As [`what_encode_seals_every_receiver_takes_recipients`], for attachments (their number is
/// `messages.max_attachments`, which has no upper bound).
#[test]
fn what_encode_seals_every_receiver_takes_attachments() {
    let m = forward(
        Uuid::from_u128(3),
        b"",
        (0..=MAX_ITEMS)
            .map(|_| attachment("a", "text/plain", b""))
            .collect(),
    );
    let encoded = encode(&key(), &m, HQ, BRANCH);
    if let Ok((h, body)) = encoded {
        let got = receive(&key(), BRANCH, &h, &body, MAX).map(|_| ());
        panic!(
            "encoded a message with {} attachments; decoded: {got:?}",
            m.attachments.len()
        );
    }
}

// --- Sealed plaintexts that are not messages ---

#[test]
fn a_hand_built_plaintext_opens() {
    // The helpers below build what `encode` builds: this one must be taken.
    let json = serde_json::to_vec(&head(3, &[2, 0, 1])).unwrap();
    let got = open_plain(&plaintext(&json, b"aaabbc")).unwrap();
    assert_eq!(got.audio[..], *b"aaa");
    let data: Vec<&[u8]> = got.attachments.iter().map(|a| &a.data[..]).collect();
    assert_eq!(data, [&b"bb"[..], b"", b"c"]);
    assert_eq!(got.to, ["bob"]);
}

#[test]
fn lengths_that_do_not_add_up_are_malformed() {
    let cases: [(u64, &[u64], &[u8]); 7] = [
        // One byte more than named.
        (3, &[2], b"aaabb!"),
        // One byte less.
        (3, &[2], b"aaab"),
        // Audio longer than what is there.
        (10, &[], b"aaa"),
        // Nothing named, something there.
        (0, &[], b"a"),
        // The sum overflows.
        (u64::MAX, &[1], b"a"),
        (1, &[u64::MAX], b"a"),
        // Would wrap around to exactly what is there.
        (u64::MAX, &[2], b"a"),
    ];
    for (audio, atts, tail) in cases {
        let json = serde_json::to_vec(&head(audio, atts)).unwrap();
        assert_eq!(
            open_plain(&plaintext(&json, tail)).err(),
            Some(Reject::Malformed),
            "audio {audio}, attachments {atts:?}, {} bytes",
            tail.len()
        );
    }
}

#[test]
fn a_plaintext_not_framed_as_a_message_is_malformed() {
    let json = serde_json::to_vec(&head(0, &[])).unwrap();
    let good = plaintext(&json, b"");
    assert!(open_plain(&good).is_ok());
    let mut wrong_magic = good.clone();
    wrong_magic[3] = b'2';
    let mut too_long = good.clone();
    too_long[4..8].copy_from_slice(&(json.len() as u32 + 1).to_be_bytes());
    let mut too_short = good.clone();
    too_short[4..8].copy_from_slice(&(json.len() as u32 - 1).to_be_bytes());
    let mut padded = json.clone();
    padded.resize(MAX_HEADER + 1, b' ');
    let over_max = plaintext(&padded, b"");
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let cases: [(&str, &[u8]); 11] = [
        ("empty", b""),
        ("magic only", MAGIC),
        ("length cut", &good[..6]),
        ("wrong magic", &wrong_magic),
        ("header length past the end", &too_long),
        ("header length short of the JSON", &too_short),
        ("header length over the limit", &over_max),
        ("header length u32::MAX", &huge),
        ("not JSON", &plaintext(b"\xff\xfe", b"")),
        ("JSON, not a header", &plaintext(b"{\"sender\":1}", b"")),
        ("JSON array", &plaintext(b"[]", b"")),
    ];
    for (what, plain) in cases {
        assert_eq!(open_plain(plain).err(), Some(Reject::Malformed), "{what}");
    }
}

#[test]
fn a_header_of_exactly_the_limit_is_read() {
    // JSON padded with spaces to MAX_HEADER bytes.
    let mut json = serde_json::to_vec(&head(1, &[])).unwrap();
    json.resize(MAX_HEADER, b' ');
    assert!(open_plain(&plaintext(&json, b"a")).is_ok());
}

#[test]
fn too_many_recipients_or_attachments_are_malformed() {
    let mut h = head(0, &[]);
    h.to = (0..MAX_ITEMS).map(|n| format!("u{n}")).collect();
    let json = serde_json::to_vec(&h).unwrap();
    assert!(open_plain(&plaintext(&json, b"")).is_ok());
    h.to.push("one-more".to_owned());
    let json = serde_json::to_vec(&h).unwrap();
    assert_eq!(
        open_plain(&plaintext(&json, b"")).err(),
        Some(Reject::Malformed)
    );
    // Attachments with empty names, so that as many fit in the header.
    let bare = |n: usize| {
        let mut h = head(0, &[]);
        h.attachments = (0..n)
            .map(|_| AttHead {
                name: String::new(),
                content_type: String::new(),
                len: 0,
            })
            .collect();
        serde_json::to_vec(&h).unwrap()
    };
    let json = bare(MAX_ITEMS);
    assert!(open_plain(&plaintext(&json, b"")).is_ok());
    let json = bare(MAX_ITEMS + 1);
    assert_eq!(
        open_plain(&plaintext(&json, b"")).err(),
        Some(Reject::Malformed)
    );
}

mod props;
