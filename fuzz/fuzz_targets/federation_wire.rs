#![no_main]
//! Federation's wire format (`offhook_federation::wire`), under a fixed key. Arbitrary bytes
//! are read three ways:
//! 1. as headers (`Offhook-Id`, `Offhook-From`, `Offhook-To`, `Offhook-Object`, one a line):
//!    `envelope` reads them exactly when they are well-formed and address this site from another;
//! 2. as a sealed body: `decode` never panics, refuses a body over its limit as `Oversized`, and
//!    whatever opens re-encodes to the same message;
//! 3. as a plaintext sealed properly: only its framing can be wrong (`Malformed`), and a message
//!    read from it re-encodes to the same content.
//!
//! An input of 17 bytes to 8 KiB is also built into a message (id, times, names, audio and up to
//! three attachments) that must come back the same through `encode`, `envelope` and `decode`.
use codecs::seal::{Compression, Key, SealOptions, seal_with};
use libfuzzer_sys::fuzz_target;
use offhook_domain::accept::Attachment;
use offhook_domain::db::remote::{Outgoing, Person, valid_site};
use offhook_domain::federation::{Forward, Incoming, Reject};
use offhook_federation::wire::{Envelope, Headers, aad, decode, encode, envelope, header};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

/// This site.
const ME: &str = "branch";
/// The sending site of bodies read as such.
const FROM: &str = "hq";
/// The receiver's limit.
const MAX: u64 = 1 << 20;
/// The most recipients a message built here names (well under `wire::MAX_ITEMS`, beyond which
/// `encode` refuses, as `decode` would: the unit tests `what_encode_seals_every_receiver_takes_*`).
const MAX_RECIPIENTS: usize = 256;
/// The id bodies are read under (a body that opens was sealed for it).
const ID: Uuid = Uuid::from_u128(0x0ff_400c);
/// The longest input whose message is encoded again. A header read from a longer one may be
/// written back over the header limit (a UUID read in its 32-digit form is written in its
/// 36-character form), which `encode` rightly refuses.
const REENCODE_MAX: usize = 32 << 10;
/// The longest input built into a message: its names, escaped in the JSON header (up to six
/// bytes a byte), stay well under the header limit.
const BUILD_MAX: usize = 8 << 10;

fn key() -> Key {
    Key::from_bytes(core::array::from_fn(|i| i as u8))
}

fn lookup<'a>(h: &'a Headers) -> impl Fn(&str) -> Option<&'a str> {
    move |k| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
}

fn attachment(name: String, content_type: String, data: &[u8]) -> Attachment {
    Attachment {
        name,
        content_type,
        data: data.to_vec().into(),
    }
}

/// `m` as the sending site would forward it again.
fn again(m: &Incoming) -> Forward {
    Forward {
        meta: Outgoing {
            id: m.id,
            sender: m.sender.clone(),
            to: m.to.clone(),
            created_ms: m.created_ms,
            duration_ms: m.duration_ms,
            audio_file: None,
            attachments: Vec::new(),
        },
        audio: m.audio.to_vec(),
        attachments: m
            .attachments
            .iter()
            .map(|a| attachment(a.name.clone(), a.content_type.clone(), &a.data))
            .collect(),
    }
}

fn assert_same(got: &Incoming, sent: &Forward, from: &str) {
    assert_eq!(got.id, sent.meta.id);
    assert_eq!(got.site, from);
    assert_eq!(got.sender, sent.meta.sender);
    assert_eq!(got.to, sent.meta.to);
    assert_eq!(got.created_ms, sent.meta.created_ms);
    assert_eq!(got.duration_ms, sent.meta.duration_ms);
    assert_eq!(got.audio[..], sent.audio[..]);
    assert_eq!(got.attachments.len(), sent.attachments.len());
    for (g, s) in got.attachments.iter().zip(&sent.attachments) {
        assert_eq!((&g.name, &g.content_type), (&s.name, &s.content_type));
        assert_eq!(g.data[..], s.data[..]);
    }
}

/// Encodes `m` from `from` to `ME`, and reads it back as `ME` does.
fn round_trip(m: &Forward, from: &str) {
    let (h, body) = encode(&key(), m, from, ME).expect("encodes");
    let env = envelope(ME, lookup(&h)).expect("its headers are read");
    assert_eq!(env.id, m.meta.id);
    let got = decode(&key(), ME, &env, &body, body.len() as u64).expect("it opens");
    assert_same(&got, m, from);
}

/// 1. Headers, one a line.
fn headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let names = [header::ID, header::FROM, header::TO, header::OBJECT];
    let h: Headers = names
        .into_iter()
        .zip(text.splitn(names.len(), '\n'))
        .map(|(n, v)| (n, v.to_owned()))
        .collect();
    let get = lookup(&h);
    let want = match (
        get(header::ID).and_then(|i| Uuid::parse_str(i).ok()),
        get(header::FROM),
        get(header::TO),
    ) {
        (Some(id), Some(from), Some(to)) if valid_site(from) && valid_site(to) => {
            if to == ME && from != ME {
                Ok(Envelope {
                    id,
                    from: from.to_owned(),
                    object: get(header::OBJECT).map(str::to_owned),
                })
            } else {
                Err(Reject::WrongSite)
            }
        }
        _ => Err(Reject::Malformed),
    };
    assert_eq!(envelope(ME, get), want);
}

/// 2. A sealed body.
fn body(data: &[u8]) {
    let env = Envelope {
        id: ID,
        from: FROM.to_owned(),
        object: None,
    };
    if let Ok(m) = decode(&key(), ME, &env, data, MAX) {
        if data.len() <= REENCODE_MAX {
            round_trip(&again(&m), FROM);
        }
    }
    if let Some(max) = (data.len() as u64).checked_sub(1) {
        assert_eq!(
            decode(&key(), ME, &env, data, max).err(),
            Some(Reject::Oversized)
        );
    }
}

/// 3. A plaintext, sealed properly.
fn plaintext(data: &[u8]) {
    let opts = SealOptions {
        chunk_size: 64 + (data.len() as u32 % 512),
        compression: Compression::None,
    };
    let mut rng = StdRng::seed_from_u64(data.len() as u64);
    let sealed = seal_with(&key(), &aad(ID, FROM, ME), data, opts, &mut rng).unwrap();
    let env = Envelope {
        id: ID,
        from: FROM.to_owned(),
        object: None,
    };
    match decode(&key(), ME, &env, &sealed, MAX) {
        Ok(m) => {
            // Audio and attachments are the plaintext's tail, in order.
            let mut tail = m.audio.to_vec();
            for a in &m.attachments {
                tail.extend_from_slice(&a.data);
            }
            assert!(data.ends_with(&tail));
            if data.len() <= REENCODE_MAX {
                round_trip(&again(&m), FROM);
            }
        }
        Err(r) => assert_eq!(r, Reject::Malformed),
    }
}

/// A message built from `data`: its id and times from the first 16 bytes, the number of
/// attachments from the next, then NUL-separated pieces: names (one a line: sender, display,
/// up to `MAX_RECIPIENTS` recipients), audio, each attachment.
fn built(data: &[u8]) -> Option<Forward> {
    if data.len() > BUILD_MAX {
        return None;
    }
    let (fixed, rest) = data.split_first_chunk::<16>()?;
    let (&n, rest) = rest.split_first()?;
    let n = usize::from(n % 4);
    let mut pieces = rest.splitn(n + 2, |b| *b == 0);
    let text = String::from_utf8_lossy(pieces.next().unwrap_or_default()).into_owned();
    let audio = pieces.next().unwrap_or_default().to_vec();
    let mut lines = text.split('\n').map(str::to_owned);
    let sender = Person {
        id: Uuid::from_bytes(*fixed),
        name: lines.next().unwrap_or_default(),
        display: lines.next().unwrap_or_default(),
    };
    let attachments = (0..n)
        .map(|i| {
            let data = pieces.next().unwrap_or_default();
            let name = String::from_utf8_lossy(&data[..data.len().min(12)]).into_owned();
            attachment(name, format!("application/x-{i}"), data)
        })
        .collect();
    let (a, b) = fixed.split_at(8);
    Some(Forward {
        meta: Outgoing {
            id: Uuid::from_bytes(fixed.map(|x| !x)),
            sender,
            to: lines.take(MAX_RECIPIENTS).collect(),
            created_ms: i64::from_le_bytes(a.try_into().ok()?),
            duration_ms: u64::from_le_bytes(b.try_into().ok()?),
            audio_file: None,
            attachments: Vec::new(),
        },
        audio,
        attachments,
    })
}

fuzz_target!(|data: &[u8]| {
    headers(data);
    body(data);
    plaintext(data);
    if let Some(m) = built(data) {
        round_trip(&m, FROM);
    }
});
