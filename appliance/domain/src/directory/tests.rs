//! Dial-in through the core: adding a user with a number and PIN, identifying them, the lock.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::clock::ManualClock;
use crate::db::users::{DialIn, LOCK_TIME, MAX_WRONG_PINS, NewUser};
use crate::{Config, VoiceMessaging, db};

/// 2026-11-18T11:06:40Z.
const T0_US: i64 = 1_795_000_000_000_000;

async fn core() -> (tempfile::TempDir, Arc<ManualClock>, VoiceMessaging) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_US));
    let core = VoiceMessaging::open(dir.path(), Config::default(), clock.clone())
        .await
        .unwrap();
    (dir, clock, core)
}

fn new(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: None,
    }
}

fn dial_in(number: &str, pin: &str) -> DialIn {
    DialIn {
        number: Some(Some(number.into())),
        pin: Some(Some(pin.into())),
    }
}

async fn identify(core: &VoiceMessaging, number: &str, pin: &str) -> Option<Uuid> {
    core.identify(number.into(), pin.into()).await.unwrap()
}

#[tokio::test]
async fn the_right_pin_identifies_and_wrong_ones_lock_the_number() {
    let (_d, clock, core) = core().await;
    let bob = core
        .add_user_with(new("bob"), dial_in("2041", "4321"))
        .await
        .unwrap();
    assert_eq!(bob.number.as_deref(), Some("2041"));
    assert_eq!(identify(&core, "2041", "4321").await, Some(bob.id));
    assert_eq!(
        core.user_by_number("2041".into()).await.unwrap(),
        Some(bob.id)
    );
    assert_eq!(core.user_by_number("2042".into()).await.unwrap(), None);
    // Wrong PIN, unknown number, malformed input: no.
    assert_eq!(identify(&core, "2041", "1234").await, None);
    assert_eq!(identify(&core, "2042", "4321").await, None);
    assert_eq!(identify(&core, "2041", "43").await, None);
    assert_eq!(identify(&core, "20#1", "4321").await, None);
    // The stored PIN is a hash, not the PIN.
    let stored: String = core
        .db()
        .read(|c| Ok(c.query_row("SELECT pin_hash FROM users", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2") && !stored.contains("4321"));
    // One wrong above; four more within the window lock the number: even the right PIN is
    // then refused.
    for _ in 1..MAX_WRONG_PINS {
        clock.advance(Duration::from_secs(10));
        assert_eq!(identify(&core, "2041", "0000").await, None);
    }
    assert_eq!(identify(&core, "2041", "4321").await, None, "locked");
    clock.advance(Duration::from_millis(LOCK_TIME as u64 - 1));
    assert_eq!(identify(&core, "2041", "4321").await, None, "still locked");
    clock.advance(Duration::from_millis(1));
    assert_eq!(identify(&core, "2041", "4321").await, Some(bob.id));
}

#[tokio::test]
async fn a_refused_number_adds_nobody_and_changes_nothing() {
    let (_d, _clock, core) = core().await;
    core.add_user_with(new("bob"), dial_in("2041", "4321"))
        .await
        .unwrap();
    let taken = core
        .add_user_with(new("carol"), dial_in("2041", "1111"))
        .await;
    assert!(
        matches!(taken, Err(db::Error::Exists(ref w)) if w == "number 2041"),
        "{taken:?}"
    );
    let names: Vec<_> = core
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["bob"], "carol was not added");
    for (number, pin) in [("2x", "1111"), ("2042", "111"), ("2042", "1111111111111")] {
        let refused = core.add_user_with(new("carol"), dial_in(number, pin)).await;
        assert!(
            matches!(refused, Err(db::Error::Invalid(_))),
            "{number} {pin}: {refused:?}"
        );
    }
    // set_dial_in: a new PIN works at once, the old one no more; the number can go.
    let only_pin = DialIn {
        pin: Some(Some("9999".into())),
        ..DialIn::default()
    };
    core.set_dial_in("bob".into(), only_pin).await.unwrap();
    assert!(identify(&core, "2041", "9999").await.is_some());
    assert!(identify(&core, "2041", "4321").await.is_none());
    let no_number = DialIn {
        number: Some(None),
        ..DialIn::default()
    };
    let bob = core.set_dial_in("bob".into(), no_number).await.unwrap();
    assert_eq!(bob.number, None);
    assert!(identify(&core, "2041", "9999").await.is_none());
    assert!(matches!(
        core.set_dial_in("nobody".into(), DialIn::default()).await,
        Err(db::Error::NotFound(_))
    ));
    // A user without a PIN cannot be identified, whatever is keyed.
    core.add_user_with(
        new("dave"),
        DialIn {
            number: Some(Some("3000".into())),
            pin: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(identify(&core, "3000", "0000").await, None);
}
