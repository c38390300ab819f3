//! Properties of the wire format, over arbitrary messages and bytes.

use proptest::prelude::*;

use super::*;

fn any_attachment() -> impl Strategy<Value = Attachment> {
    (
        ".{0,20}",
        ".{0,20}",
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(name, content_type, data)| Attachment {
            name,
            content_type,
            data: data.into(),
        })
}

fn any_message() -> impl Strategy<Value = Forward> {
    (
        any::<u128>(),
        (any::<u128>(), ".{0,40}", ".{0,40}"),
        proptest::collection::vec(".{0,33}", 0..5),
        any::<i64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..3000),
        proptest::collection::vec(any_attachment(), 0..3),
    )
        .prop_map(
            |(id, (sender, name, display), to, created_ms, duration_ms, audio, attachments)| {
                let id = Uuid::from_u128(id);
                Forward {
                    meta: Outgoing {
                        id,
                        sender: Person {
                            id: Uuid::from_u128(sender),
                            name,
                            display,
                        },
                        to,
                        created_ms,
                        duration_ms,
                        audio_file: None,
                        attachments: Vec::new(),
                    },
                    audio,
                    attachments,
                }
            },
        )
}

/// A site name (valid or not), often one of the two in play.
fn any_site() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(HQ.to_owned()),
        Just(BRANCH.to_owned()),
        "[a-z0-9][a-z0-9-]{0,31}",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_message_round_trips(m in any_message(), from in "[a-z0-9][a-z0-9-]{0,31}") {
        prop_assume!(from != BRANCH);
        let (h, body) = encode(&key(), &m, &from, BRANCH).unwrap();
        let got = receive(&key(), BRANCH, &h, &body, u64::MAX).unwrap();
        assert_same(&got, &m, &from);
    }

    #[test]
    fn any_message_is_bound_to_its_key_and_sites(
        m in any_message(),
        other_key in any::<[u8; 32]>(),
        other in "[a-z0-9][a-z0-9-]{0,31}",
    ) {
        prop_assume!(other_key != [7; 32] && other != BRANCH && other != HQ);
        let (h, body) = sealed(&m);
        let other_key = Key::from_bytes(other_key);
        prop_assert_eq!(
            receive(&other_key, BRANCH, &h, &body, MAX).err(),
            Some(Reject::BadSeal)
        );
        let to_other = with(&h, header::TO, &other);
        prop_assert_eq!(
            receive(&key(), BRANCH, &to_other, &body, MAX).err(),
            Some(Reject::WrongSite)
        );
        prop_assert_eq!(
            receive(&key(), &other, &to_other, &body, MAX).err(),
            Some(Reject::BadSeal)
        );
        let from_other = with(&h, header::FROM, &other);
        prop_assert_eq!(
            receive(&key(), BRANCH, &from_other, &body, MAX).err(),
            Some(Reject::BadSeal)
        );
    }

    #[test]
    fn any_flipped_byte_is_refused(m in any_message(), at in any::<prop::sample::Index>(), bits in 1u8..=255) {
        let (h, mut body) = sealed(&m);
        let at = at.index(body.len());
        body[at] ^= bits;
        prop_assert_eq!(
            receive(&key(), BRANCH, &h, &body, u64::MAX).err(),
            Some(Reject::BadSeal),
            "byte {} ^ {:#x}", at, bits
        );
    }

    #[test]
    fn any_body_over_the_limit_is_oversized(m in any_message(), under in 1u64..64) {
        let (h, body) = sealed(&m);
        let max = (body.len() as u64).saturating_sub(under);
        prop_assert_eq!(
            receive(&key(), BRANCH, &h, &body, max).err(),
            Some(Reject::Oversized)
        );
    }

    #[test]
    fn any_bytes_as_a_body_are_refused_without_panic(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        id in any::<u128>(),
    ) {
        let env = Envelope { id: Uuid::from_u128(id), from: HQ.to_owned(), object: None };
        prop_assert_eq!(
            decode(&key(), BRANCH, &env, &body, MAX).err(),
            Some(Reject::BadSeal)
        );
        if let Some(max) = (body.len() as u64).checked_sub(1) {
            prop_assert_eq!(
                decode(&key(), BRANCH, &env, &body, max).err(),
                Some(Reject::Oversized)
            );
        }
    }

    #[test]
    fn any_bytes_sealed_are_malformed_or_a_message(
        plain in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        // Sealed with the right key and sites, only the framing can be wrong.
        if let Err(r) = open_plain(&plain) {
            prop_assert_eq!(r, Reject::Malformed);
        }
    }

    #[test]
    fn any_framed_bytes_sealed_are_malformed_or_a_message(
        len in 0u32..80,
        rest in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut plain = MAGIC.to_vec();
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(&rest);
        if let Err(r) = open_plain(&plain) {
            prop_assert_eq!(r, Reject::Malformed);
        }
    }

    #[test]
    fn lengths_are_taken_only_when_they_add_up(
        audio in 0u64..50,
        atts in proptest::collection::vec(0u64..50, 0..4),
        tail in proptest::collection::vec(any::<u8>(), 0..250),
    ) {
        let json = serde_json::to_vec(&head(audio, &atts)).unwrap();
        let got = open_plain(&plaintext(&json, &tail));
        let named = audio + atts.iter().sum::<u64>();
        if named == tail.len() as u64 {
            let got = got.unwrap();
            let mut back = got.audio.to_vec();
            for a in &got.attachments {
                back.extend_from_slice(&a.data);
            }
            prop_assert_eq!(got.audio.len() as u64, audio);
            let lens: Vec<u64> = got.attachments.iter().map(|a| a.data.len() as u64).collect();
            prop_assert_eq!(lens, atts);
            prop_assert_eq!(back, tail);
        } else {
            prop_assert_eq!(got.err(), Some(Reject::Malformed));
        }
    }

    #[test]
    fn any_headers_are_read_or_refused_as_they_should_be(
        id in prop_oneof![
            Just(None),
            any::<u128>().prop_map(|n| Some(Uuid::from_u128(n).to_string())),
            ".{0,40}".prop_map(Some),
        ],
        from in proptest::option::of(any_site()),
        to in proptest::option::of(any_site()),
        object in proptest::option::of(".{0,40}"),
    ) {
        let mut h = Headers::new();
        for (name, value) in [
            (header::ID, &id),
            (header::FROM, &from),
            (header::TO, &to),
            (header::OBJECT, &object),
        ] {
            if let Some(v) = value {
                h.push((name, v.clone()));
            }
        }
        let got = envelope(BRANCH, lookup(&h));
        let parsed = id.as_deref().and_then(|i| Uuid::parse_str(i).ok());
        let want = match (parsed, from.as_deref(), to.as_deref()) {
            (Some(id), Some(f), Some(t)) if valid_site(f) && valid_site(t) => {
                if t == BRANCH && f != BRANCH {
                    Ok(Envelope { id, from: f.to_owned(), object: object.clone() })
                } else {
                    Err(Reject::WrongSite)
                }
            }
            _ => Err(Reject::Malformed),
        };
        prop_assert_eq!(got, want);
    }
}
