use rusqlite::Connection;
use uuid::Uuid;

use super::super::super::messages::{self, NewMessage, State, Status};
use super::super::super::{MIGRATIONS, Paths, connect};
use super::super::{Change, by_name, delete, test_user, update};
use super::*;

fn db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    (dir, conn)
}

fn set_number(conn: &Connection, name: &str, number: Option<&str>) -> Result<(), Error> {
    let change = Change {
        number: Some(number.map(str::to_owned)),
        ..Change::default()
    };
    update(conn, name, &change).map(|_| ())
}

fn set_pin_hash(conn: &Connection, name: &str, hash: &str) {
    let change = Change {
        pin_hash: Some(Some(hash.to_owned())),
        ..Change::default()
    };
    update(conn, name, &change).unwrap();
}

#[test]
fn numbers_and_pins_are_digits_of_bounded_length() {
    for ok in ["12", "2041", "123456789012345"] {
        assert!(check_number(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        "",
        "1",
        "1234567890123456",
        "20a1",
        "+2041",
        "20 41",
        "２０４１",
    ] {
        assert!(
            matches!(check_number(bad), Err(Error::Invalid(_))),
            "{bad:?}"
        );
    }
    for ok in ["0000", "123456789012"] {
        assert!(check_pin(ok).is_ok(), "{ok:?}");
    }
    for bad in ["", "123", "1234567890123", "12a4", "12#4"] {
        let err = check_pin(bad).unwrap_err().to_string();
        assert!(err.contains("4-12 digits"), "{bad:?}: {err}");
        assert!(
            bad.is_empty() || !err.contains(bad),
            "the PIN is not repeated"
        );
    }
}

#[test]
fn a_number_is_unique_when_set_and_freed_with_its_user() {
    let (_d, conn) = db();
    let bob = test_user(&conn, "bob");
    let carol = test_user(&conn, "carol");
    // Nobody has a number yet, and many have none.
    assert_eq!(by_name(&conn, "bob").unwrap().unwrap().number, None);
    set_number(&conn, "bob", Some("2041")).unwrap();
    assert_eq!(
        by_name(&conn, "bob").unwrap().unwrap().number.as_deref(),
        Some("2041")
    );
    assert_eq!(by_number(&conn, "2041").unwrap(), Some(bob));
    // Setting one's own number again is no clash; another's is.
    set_number(&conn, "bob", Some("2041")).unwrap();
    let taken = set_number(&conn, "carol", Some("2041"));
    assert!(
        matches!(taken, Err(Error::Exists(ref w)) if w == "number 2041"),
        "{taken:?}"
    );
    assert!(matches!(
        set_number(&conn, "carol", Some("20x1")),
        Err(Error::Invalid(_))
    ));
    // Bob gives his up; carol takes it.
    set_number(&conn, "bob", None).unwrap();
    assert_eq!(by_number(&conn, "2041").unwrap(), None);
    set_number(&conn, "carol", Some("2041")).unwrap();
    assert_eq!(by_number(&conn, "2041").unwrap(), Some(carol));
    // Malformed numbers name nobody.
    assert_eq!(by_number(&conn, "").unwrap(), None);
    assert_eq!(by_number(&conn, "2041' OR 1=1").unwrap(), None);
    // A deleted user (a tombstone: carol sent bob a message) frees the number.
    send(&conn, carol, bob);
    delete(&conn, "carol").unwrap();
    assert_eq!(by_number(&conn, "2041").unwrap(), None);
    set_number(&conn, "bob", Some("2041")).unwrap();
}

#[test]
fn wrong_pins_lock_the_number_for_a_while() {
    let (_d, conn) = db();
    let bob = test_user(&conn, "bob");
    set_number(&conn, "bob", Some("2041")).unwrap();
    set_pin_hash(&conn, "bob", "hash");
    let check = |now| lookup(&conn, "2041", now).unwrap();
    let open = Lookup::Check {
        user: bob,
        pin_hash: Some("hash".into()),
    };
    assert_eq!(lookup(&conn, "9999", 0).unwrap(), Lookup::Nobody);
    let t0 = 1_000_000;
    // Four wrong, a minute apart: still open.
    for i in 0..MAX_WRONG_PINS - 1 {
        assert_eq!(check(t0 + i * 60_000), open);
        assert!(!record(&conn, bob, false, t0 + i * 60_000).unwrap());
    }
    // A right one clears the count: four more wrong do not lock.
    assert!(!record(&conn, bob, true, t0 + 300_000).unwrap());
    for i in 0..MAX_WRONG_PINS - 1 {
        assert!(!record(&conn, bob, false, t0 + 400_000 + i).unwrap());
    }
    // The fifth within the window locks.
    let t5 = t0 + 400_000 + 10;
    assert!(record(&conn, bob, false, t5).unwrap());
    assert_eq!(check(t5), Lookup::Locked);
    assert_eq!(check(t5 + LOCK_TIME - 1), Lookup::Locked);
    // A check that began before the lock and ends wrong leaves the lock as it was.
    assert!(record(&conn, bob, false, t5 + 1).unwrap());
    assert_eq!(check(t5 + LOCK_TIME - 1), Lookup::Locked);
    // Once it is over the number is open again, with a fresh count.
    let after = t5 + LOCK_TIME;
    assert_eq!(check(after), open);
    for i in 0..MAX_WRONG_PINS - 1 {
        assert!(!record(&conn, bob, false, after + i).unwrap());
    }
    assert!(record(&conn, bob, false, after + 10).unwrap());
    // An admin's new PIN unlocks.
    set_pin_hash(&conn, "bob", "new");
    assert!(matches!(check(after + 11), Lookup::Check { .. }));
}

#[test]
fn wrong_pins_spread_wider_than_the_window_never_lock() {
    let (_d, conn) = db();
    let bob = test_user(&conn, "bob");
    set_number(&conn, "bob", Some("2041")).unwrap();
    // One wrong PIN every four minutes: the window (15 min, from the first) restarts before
    // five are in it.
    let step = WRONG_PIN_WINDOW / 4 + 1;
    for i in 0..20 {
        assert!(!record(&conn, bob, false, i * step).unwrap(), "try {i}");
        assert!(matches!(
            lookup(&conn, "2041", i * step).unwrap(),
            Lookup::Check { .. }
        ));
    }
    // The same five within the window do lock.
    let t = 100 * WRONG_PIN_WINDOW;
    for i in 0..MAX_WRONG_PINS {
        let locked = record(&conn, bob, false, t + i * (WRONG_PIN_WINDOW / 5)).unwrap();
        assert_eq!(locked, i == MAX_WRONG_PINS - 1, "try {i}");
    }
}

fn send(conn: &Connection, from: Uuid, to: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    messages::insert(
        conn,
        &NewMessage {
            id,
            sender: from,
            recipients: vec![to],
            created_ms: 1000,
            duration_ms: 1500,
            codec: "opus".into(),
            status: Status::Ready,
            audio_file: format!("{id}.audio"),
            raw_offset: None,
            audio_bytes: 10,
            attachments: vec![],
        },
    )
    .unwrap();
    id
}

#[test]
fn waiting_messages_are_the_unplayed_ones_oldest_first() {
    let (_d, conn) = db();
    let (alice, bob, carol) = (
        test_user(&conn, "alice"),
        test_user(&conn, "bob"),
        test_user(&conn, "carol"),
    );
    let first = send(&conn, bob, alice);
    let played = send(&conn, carol, alice);
    let delivered = send(&conn, carol, alice);
    let deleted = send(&conn, bob, alice);
    let _to_bob = send(&conn, alice, bob);
    messages::advance(&conn, played, alice, State::Played).unwrap();
    messages::advance(&conn, delivered, alice, State::Delivered).unwrap();
    messages::delete_for(&conn, alice, deleted).unwrap();
    assert_eq!(
        waiting_for(&conn, alice).unwrap(),
        [(first, bob), (delivered, carol)]
    );
    assert_eq!(waiting_for(&conn, carol).unwrap(), []);
}

/// A data directory from before dial-in: its users stay, with no number and no PIN, and can be
/// given them.
#[test]
fn the_migration_keeps_existing_users() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    let before = MIGRATIONS.len() - 1;
    {
        let conn = Connection::open(&paths.db).unwrap();
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", before).unwrap();
        conn.execute_batch(
            "INSERT INTO users(id, username, display, password_hash, sip_username, sip_secret, created)
             VALUES ('00000000-0000-4000-8000-00000000000a', 'alice', 'Alice', 'x', 'alice', 's', 0),
                    ('00000000-0000-4000-8000-00000000000b', 'bob', 'Bob', 'x', 'bob', 's', 0);
             INSERT INTO stations(user_id, gateway, endpoint)
             VALUES ('00000000-0000-4000-8000-00000000000a', 'gw1', 'aaln/1');",
        )
        .unwrap();
    }
    let conn = connect(&paths).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len());
    let alice = by_name(&conn, "alice").unwrap().unwrap();
    assert_eq!(
        (alice.display.as_str(), alice.stations.clone(), alice.number),
        ("Alice", vec!["gw1/aaln/1".to_owned()], None)
    );
    assert!(by_name(&conn, "bob").unwrap().is_some());
    set_number(&conn, "alice", Some("2041")).unwrap();
    set_number(&conn, "bob", Some("2042")).unwrap();
    assert_eq!(by_number(&conn, "2041").unwrap(), Some(alice.id));
    assert!(set_number(&conn, "bob", Some("2041")).is_err());
}

#[test]
fn the_window_and_the_lock_end_exactly_on_time() {
    let (_d, conn) = db();
    let bob = test_user(&conn, "bob");
    set_number(&conn, "bob", Some("2041")).unwrap();
    // Four wrong at 0, then the fifth one just inside the window locks.
    for _ in 0..MAX_WRONG_PINS - 1 {
        assert!(!record(&conn, bob, false, 0).unwrap());
    }
    assert!(record(&conn, bob, false, WRONG_PIN_WINDOW - 1).unwrap());
    let until = WRONG_PIN_WINDOW - 1 + LOCK_TIME;
    assert_eq!(lookup(&conn, "2041", until - 1).unwrap(), Lookup::Locked);
    assert!(matches!(
        lookup(&conn, "2041", until).unwrap(),
        Lookup::Check { .. }
    ));
    // Four wrong at `until`; the fifth exactly a window later starts a new count instead.
    let t = until;
    for _ in 0..MAX_WRONG_PINS - 1 {
        assert!(!record(&conn, bob, false, t).unwrap());
    }
    assert!(!record(&conn, bob, false, t + WRONG_PIN_WINDOW).unwrap());
    for _ in 0..MAX_WRONG_PINS - 2 {
        assert!(!record(&conn, bob, false, t + WRONG_PIN_WINDOW).unwrap());
    }
    assert!(record(&conn, bob, false, t + WRONG_PIN_WINDOW).unwrap());
}
