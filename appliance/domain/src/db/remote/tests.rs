//! Federation's storage: remote users as a site's directory lists them, the outbox, and the
//! ids of messages received, on a fresh migrated database.

use super::*;
use crate::audio::SealKey;
use crate::db::messages::{self, NewAttachment, NewMessage, Status};
use crate::db::users::{self, NewUser};
use crate::db::{Paths, connect};

fn open() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    (dir, conn)
}

/// Adds a user of this site.
fn local(conn: &Connection, name: &str) -> Uuid {
    let n = NewUser {
        username: name.into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: None,
    };
    users::add(conn, &SealKey::generate(), &n, 0).unwrap().id
}

fn person(name: &str) -> Person {
    Person {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        display: format!("{name} (display)"),
    }
}

/// Records `name` as a user of `site`.
fn remote(conn: &Connection, site: &str, name: &str) -> Person {
    let p = person(name);
    upsert(conn, site, &p, 5).unwrap();
    p
}

/// A user's row: `(kind, username, former_username, site, online)`.
type Row = (String, String, Option<String>, Option<String>, bool);

fn row(conn: &Connection, id: Uuid) -> Option<Row> {
    conn.query_row(
        "SELECT kind, username, former_username, site, online FROM users WHERE id = ?1",
        [id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .optional()
    .unwrap()
}

fn remote_row(name: &str, site: &str) -> Row {
    (
        "remote".into(),
        format!("{name}@{site}"),
        None,
        Some(site.into()),
        false,
    )
}

/// Stores a message of `status` from `from` to `to` at `created_ms`, with audio `FILE.audio`
/// and one attachment `FILE.att`.
fn send(
    conn: &Connection,
    from: Uuid,
    to: &[Uuid],
    created_ms: i64,
    status: Status,
    file: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    messages::insert(
        conn,
        &NewMessage {
            id,
            sender: from,
            recipients: to.to_vec(),
            created_ms,
            duration_ms: 1500,
            codec: "opus".into(),
            status,
            audio_file: format!("{file}.audio"),
            raw_offset: None,
            audio_bytes: 10,
            attachments: vec![NewAttachment {
                name: "note.txt".into(),
                content_type: "text/plain".into(),
                file: format!("{file}.att"),
                bytes: 3,
            }],
        },
    )
    .unwrap();
    id
}

fn ready(conn: &Connection, from: Uuid, to: &[Uuid], file: &str) -> Uuid {
    send(conn, from, to, 1000, Status::Ready, file)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `(user, state, deleted)` of each recipient of `id`.
fn copies(conn: &Connection, id: Uuid) -> Vec<(Uuid, i64, bool)> {
    let mut stmt = conn
        .prepare("SELECT user_id, state, deleted FROM recipients WHERE message_id = ?1")
        .unwrap();
    let rows = stmt
        .query_map([id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(|r| {
            let (u, s, d) = r.unwrap();
            (Uuid::parse_str(&u).unwrap(), s, d)
        })
        .collect();
    sorted(rows)
}

fn message_exists(conn: &Connection, id: Uuid) -> bool {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)",
        [id.to_string()],
        |r| r.get(0),
    )
    .unwrap()
}

// --- Names ---

#[test]
fn site_names_are_subject_tokens() {
    let longest = "s".repeat(SITE_MAX);
    for site in ["a", "hq", "0", "9lives", "branch-2", "a-", "a--b", &longest] {
        assert!(valid_site(site), "{site:?} refused");
    }
    let too_long = "s".repeat(SITE_MAX + 1);
    for site in [
        "", "-a", "Hq", "hQ", "h q", " hq", "hq.x", "hq_x", "hq*", "hq>", "h@q", "é", "hq\n",
        &too_long,
    ] {
        assert!(!valid_site(site), "{site:?} taken");
    }
}

#[test]
fn an_address_is_a_valid_name_at_a_valid_site() {
    assert_eq!(split_address("bob@branch"), Some(("bob", "branch")));
    assert_eq!(
        split_address("bob.smith_2@hq-1"),
        Some(("bob.smith_2", "hq-1"))
    );
    for address in [
        "bob",
        "@branch",
        "bob@",
        "@",
        "Bob@branch",
        "bob@Branch",
        "bob@branch@hq",
        "bob@@branch",
        "bob @branch",
        "bob@-branch",
        ".bob@branch",
    ] {
        assert_eq!(split_address(address), None, "{address:?}");
    }
    let name = "n".repeat(33);
    assert_eq!(split_address(&format!("{name}@hq")), None);
    let site = "s".repeat(SITE_MAX + 1);
    assert_eq!(split_address(&format!("bob@{site}")), None);
}

// --- upsert ---

#[test]
fn upsert_records_a_remote_user_named_name_at_site() {
    let (_dir, conn) = open();
    let bob = remote(&conn, "branch", "bob");
    assert_eq!(row(&conn, bob.id), Some(remote_row("bob", "branch")));
    let (display, sip, created): (String, String, i64) = conn
        .query_row(
            "SELECT display, sip_username, created FROM users WHERE id = ?1",
            [bob.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(display, "bob (display)");
    assert_eq!(sip, format!("remote:{}", bob.id));
    assert_eq!(created, 5);
    // They never log in.
    assert_eq!(users::password_hash(&conn, "bob@branch").unwrap(), None);
    // With no display name, their name is shown.
    let carol = Person {
        display: String::new(),
        ..person("carol")
    };
    upsert(&conn, "branch", &carol, 5).unwrap();
    let user = users::by_id(&conn, carol.id).unwrap().unwrap();
    assert_eq!(
        (user.username.as_str(), user.display.as_str()),
        ("carol@branch", "carol")
    );
    assert_eq!(user.kind, "remote");
}

#[test]
fn another_sites_display_name_is_held_to_this_sites_limit() {
    let (_dir, conn) = open();
    let display = |d: String| {
        let p = Person {
            display: d,
            ..person("bob")
        };
        upsert(&conn, "branch", &p, 5).unwrap();
        users::by_id(&conn, p.id).unwrap().unwrap().display
    };
    assert_eq!(display("Bob\u{7}\n\tSmith\u{1b}[2J".into()), "BobSmith[2J");
    assert_eq!(display(" \t ".into()), "bob");
    let long = "é".repeat(users::DISPLAY_MAX + 1);
    assert_eq!(display(long.clone()), long[..long.len() - 'é'.len_utf8()]);
    assert_eq!(display("Bob Smith".into()), "Bob Smith");
}

#[test]
fn upsert_refuses_the_guid_of_a_local_user() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let forged = Person {
        id: alice,
        ..person("alice")
    };
    assert!(matches!(
        upsert(&conn, "branch", &forged, 5),
        Err(Error::Invalid(_))
    ));
    assert_eq!(
        row(&conn, alice),
        Some(("user".into(), "alice".into(), None, None, false))
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM users"), 1);
}

#[test]
fn upsert_refuses_the_guid_of_a_user_deleted_here() {
    let (_dir, conn) = open();
    let (alice, eve) = (local(&conn, "alice"), local(&conn, "eve"));
    // Alice's message to eve keeps her as a tombstone once deleted.
    ready(&conn, alice, &[eve], "m");
    users::delete(&conn, "alice").unwrap();
    assert_eq!(row(&conn, alice).unwrap().0, "deleted");
    let forged = Person {
        id: alice,
        ..person("alice")
    };
    assert!(matches!(
        upsert(&conn, "branch", &forged, 5),
        Err(Error::Invalid(_))
    ));
    assert_eq!(row(&conn, alice).unwrap().0, "deleted");
}

#[test]
fn a_remote_user_renamed_keeps_their_id() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let m = ready(&conn, bob.id, &[alice], "m");
    let renamed = Person {
        id: bob.id,
        name: "robert".into(),
        display: "Robert".into(),
    };
    upsert(&conn, "branch", &renamed, 9).unwrap();
    assert_eq!(row(&conn, bob.id), Some(remote_row("robert", "branch")));
    let user = users::by_id(&conn, bob.id).unwrap().unwrap();
    assert_eq!(user.display, "Robert");
    assert_eq!(
        users::by_name(&conn, "bob@branch").unwrap().map(|u| u.id),
        None
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM users"), 2);
    // What he sent is now from his new name.
    let (view, _) = messages::get_for(&conn, alice, m).unwrap().unwrap();
    assert_eq!(
        (view.from.as_str(), view.from_id),
        ("robert@branch", bob.id)
    );
    // Listed again as he is: nothing changes.
    upsert(&conn, "branch", &renamed, 10).unwrap();
    assert_eq!(row(&conn, bob.id), Some(remote_row("robert", "branch")));
}

#[test]
fn another_id_taking_an_address_tombstones_its_old_holder() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let old = remote(&conn, "branch", "bob");
    let m = ready(&conn, old.id, &[alice], "m");
    let new = remote(&conn, "branch", "bob");
    assert_ne!(old.id, new.id);
    assert_eq!(row(&conn, new.id), Some(remote_row("bob", "branch")));
    assert_eq!(
        row(&conn, old.id),
        Some((
            "deleted".into(),
            format!("~{}", old.id),
            Some("bob@branch".into()),
            Some("branch".into()),
            false
        ))
    );
    // Alice still has what the old bob sent, from a deleted user under the name he had.
    let (view, _) = messages::get_for(&conn, alice, m).unwrap().unwrap();
    assert_eq!((view.from.as_str(), view.from_id), ("bob@branch", old.id));
    assert!(view.from_deleted);
    // The old holder listed again (under another name) comes back as himself.
    let back = Person {
        name: "bobby".into(),
        ..old.clone()
    };
    upsert(&conn, "branch", &back, 9).unwrap();
    assert_eq!(row(&conn, old.id), Some(remote_row("bobby", "branch")));
    assert_eq!(row(&conn, new.id), Some(remote_row("bob", "branch")));
}

#[test]
fn the_same_name_at_two_sites_is_two_users() {
    let (_dir, conn) = open();
    let a = remote(&conn, "branch", "bob");
    let b = remote(&conn, "annex", "bob");
    assert_eq!(row(&conn, a.id), Some(remote_row("bob", "branch")));
    assert_eq!(row(&conn, b.id), Some(remote_row("bob", "annex")));
}

#[test]
fn all_lists_every_remote_user_by_bare_name() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let dave = remote(&conn, "annex", "dave");
    // Displaced from carol@branch: a tombstone, not listed.
    let old = remote(&conn, "branch", "carol");
    ready(&conn, old.id, &[alice], "m");
    let carol = remote(&conn, "branch", "carol");
    assert_eq!(row(&conn, old.id).unwrap().0, "deleted");
    assert_eq!(
        sorted(all(&conn).unwrap()),
        sorted(vec![
            (bob.id, "branch".to_owned(), "bob".to_owned()),
            (carol.id, "branch".to_owned(), "carol".to_owned()),
            (dave.id, "annex".to_owned(), "dave".to_owned()),
        ])
    );
}

// --- set_site ---

#[test]
fn set_site_removes_the_users_it_no_longer_lists() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let (bob, carol) = (person("bob"), person("carol"));
    assert_eq!(
        set_site(&conn, "branch", &[bob.clone(), carol.clone()], 5).unwrap(),
        0
    );
    let dave = remote(&conn, "annex", "dave");
    assert_eq!(row(&conn, bob.id), Some(remote_row("bob", "branch")));
    assert_eq!(row(&conn, carol.id), Some(remote_row("carol", "branch")));
    // Bob is a contact of alice's and received a message from her: both go with him.
    conn.execute(
        "INSERT INTO contacts(owner, contact) VALUES (?1, ?2)",
        [alice.to_string(), bob.id.to_string()],
    )
    .unwrap();
    let m = ready(&conn, alice, &[bob.id, carol.id], "m");
    assert_eq!(
        set_site(&conn, "branch", std::slice::from_ref(&carol), 6).unwrap(),
        1
    );
    assert_eq!(row(&conn, bob.id), None);
    assert_eq!(row(&conn, carol.id), Some(remote_row("carol", "branch")));
    assert_eq!(count(&conn, "SELECT count(*) FROM contacts"), 0);
    assert_eq!(copies(&conn, m), [(carol.id, 0, false)]);
    // Other sites and this one's users are never touched.
    assert_eq!(set_site(&conn, "branch", &[], 7).unwrap(), 1);
    assert_eq!(row(&conn, carol.id), None);
    assert_eq!(row(&conn, dave.id), Some(remote_row("dave", "annex")));
    assert_eq!(row(&conn, alice).unwrap().0, "user");
    assert!(message_exists(&conn, m));
}

#[test]
fn set_site_keeps_a_sender_as_a_tombstone() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = person("bob");
    set_site(&conn, "branch", std::slice::from_ref(&bob), 5).unwrap();
    assert_eq!(
        set_online(&conn, bob.id, true).unwrap().as_deref(),
        Some("bob@branch")
    );
    let m = ready(&conn, bob.id, &[alice], "m");
    assert_eq!(set_site(&conn, "branch", &[], 6).unwrap(), 1);
    assert_eq!(
        row(&conn, bob.id),
        Some((
            "deleted".into(),
            format!("~{}", bob.id),
            Some("bob@branch".into()),
            Some("branch".into()),
            false
        ))
    );
    let (view, _) = messages::get_for(&conn, alice, m).unwrap().unwrap();
    assert_eq!(view.from, "bob@branch");
    assert!(view.from_deleted);
    // A tombstone is not counted as removed again, and comes back when listed again.
    assert_eq!(set_site(&conn, "branch", &[], 7).unwrap(), 0);
    set_site(&conn, "branch", std::slice::from_ref(&bob), 8).unwrap();
    assert_eq!(row(&conn, bob.id), Some(remote_row("bob", "branch")));
}

#[test]
fn set_site_records_everyone_it_lists() {
    let (_dir, conn) = open();
    let bob = remote(&conn, "branch", "bob");
    let renamed = Person {
        name: "robert".into(),
        ..bob.clone()
    };
    let carol = person("carol");
    assert_eq!(
        set_site(&conn, "branch", &[renamed, carol.clone()], 6).unwrap(),
        0
    );
    assert_eq!(row(&conn, bob.id), Some(remote_row("robert", "branch")));
    assert_eq!(row(&conn, carol.id), Some(remote_row("carol", "branch")));
}

#[test]
fn set_site_listing_a_local_guid_fails_and_the_caller_rolls_back() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let forged = Person {
        id: alice,
        ..person("mallory")
    };
    assert!(matches!(
        set_site(&conn, "branch", &[forged], 5),
        Err(Error::Invalid(_))
    ));
    assert_eq!(row(&conn, alice).unwrap().1, "alice");
}

// --- The outbox ---

#[test]
fn a_message_to_remote_users_has_one_outbox_entry_per_site() {
    let (_dir, conn) = open();
    let (alice, eve) = (local(&conn, "alice"), local(&conn, "eve"));
    let bob = remote(&conn, "branch", "bob");
    let carol = remote(&conn, "branch", "carol");
    let dave = remote(&conn, "annex", "dave");
    let m = ready(&conn, alice, &[bob.id, eve, carol.id, dave.id], "m");
    assert_eq!(outbox_len(&conn).unwrap(), 2);
    assert_eq!(
        sorted(outbox(&conn, 10).unwrap()),
        sorted(vec![(m, "annex".to_owned()), (m, "branch".to_owned())])
    );
    // A message between users of this site has none.
    ready(&conn, alice, &[eve], "local");
    assert_eq!(outbox_len(&conn).unwrap(), 2);
    // What goes to branch: its recipients there by their bare names, in order.
    let out = outgoing(&conn, m, "branch").unwrap().unwrap();
    assert_eq!(out.id, m);
    assert_eq!(out.sender.id, alice);
    assert_eq!(out.sender.name, "alice");
    assert_eq!(out.to, ["bob", "carol"]);
    assert_eq!(out.audio_file.as_deref(), Some("m.audio"));
    assert_eq!(
        out.attachments,
        [("note.txt".into(), "text/plain".into(), "m.att".into())]
    );
    assert_eq!(outgoing(&conn, m, "annex").unwrap().unwrap().to, ["dave"]);
    assert_eq!(outgoing(&conn, m, "elsewhere").unwrap(), None);
}

#[test]
fn the_outbox_lists_ready_messages_oldest_first_and_drops_failed_ones() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let processing = send(&conn, alice, &[bob.id], 100, Status::Processing, "p");
    let failed = send(&conn, alice, &[bob.id], 200, Status::Failed, "f");
    let newer = send(&conn, alice, &[bob.id], 400, Status::Ready, "n");
    let older = send(&conn, alice, &[bob.id], 300, Status::Ready, "o");
    assert_eq!(outbox_len(&conn).unwrap(), 4);
    let branch = |id| (id, "branch".to_owned());
    assert_eq!(outbox(&conn, 10).unwrap(), [branch(older), branch(newer)]);
    assert_eq!(outbox(&conn, 1).unwrap(), [branch(older)]);
    // The failed one is gone for good; the one processing waits.
    assert_eq!(outbox_len(&conn).unwrap(), 3);
    assert_eq!(outgoing(&conn, failed, "branch").unwrap(), None);
    assert_eq!(outgoing(&conn, processing, "branch").unwrap(), None);
    conn.execute(
        "UPDATE messages SET status = 'ready', audio_file = 'p.audio', raw_file = NULL WHERE id = ?1",
        [processing.to_string()],
    )
    .unwrap();
    assert_eq!(
        outbox(&conn, 10).unwrap(),
        [branch(processing), branch(older), branch(newer)]
    );
}

#[test]
fn forwarded_removes_the_entry_and_that_sites_copies() {
    let (_dir, conn) = open();
    let (alice, eve) = (local(&conn, "alice"), local(&conn, "eve"));
    let bob = remote(&conn, "branch", "bob");
    let carol = remote(&conn, "branch", "carol");
    let dave = remote(&conn, "annex", "dave");
    let m = ready(&conn, alice, &[bob.id, carol.id, dave.id, eve], "m");
    assert!(forwarded(&conn, m, "branch").unwrap().is_empty());
    assert_eq!(outbox(&conn, 10).unwrap(), [(m, "annex".to_owned())]);
    assert_eq!(
        copies(&conn, m),
        sorted(vec![
            (bob.id, 1, true),
            (carol.id, 1, true),
            (dave.id, 0, false),
            (eve, 0, false)
        ])
    );
    assert!(message_exists(&conn, m));
    // Acknowledged twice (a publish retried): nothing more happens.
    assert!(forwarded(&conn, m, "branch").unwrap().is_empty());
    assert_eq!(outbox_len(&conn).unwrap(), 1);
    // A message unknown here: nothing.
    assert!(
        forwarded(&conn, Uuid::new_v4(), "branch")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn forwarded_keeps_a_state_already_further_on() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let m = ready(&conn, alice, &[bob.id], "m");
    messages::advance(&conn, m, bob.id, messages::State::Played).unwrap();
    forwarded(&conn, m, "branch").unwrap();
    assert_eq!(copies(&conn, m), [(bob.id, 2, true)]);
}

#[test]
fn forwarded_removes_a_message_nobody_here_holds_and_returns_its_files() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let dave = remote(&conn, "annex", "dave");
    let m = ready(&conn, alice, &[bob.id, dave.id], "m");
    // Alice deleted it from her sent messages; the remote copies still hold it.
    assert_eq!(
        messages::delete_for(&conn, alice, m).unwrap(),
        Some(Vec::new())
    );
    assert!(forwarded(&conn, m, "branch").unwrap().is_empty());
    assert!(message_exists(&conn, m));
    assert_eq!(
        sorted(forwarded(&conn, m, "annex").unwrap()),
        ["m.att", "m.audio"]
    );
    assert!(!message_exists(&conn, m));
    assert_eq!(outbox_len(&conn).unwrap(), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM recipients"), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM attachments"), 0);
    // Once gone, acknowledged again: nothing.
    assert!(forwarded(&conn, m, "annex").unwrap().is_empty());
}

#[test]
fn a_message_removed_here_leaves_the_outbox() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    let m = ready(&conn, alice, &[bob.id], "m");
    conn.execute("DELETE FROM messages WHERE id = ?1", [m.to_string()])
        .unwrap();
    assert_eq!(outbox_len(&conn).unwrap(), 0);
    assert!(outbox(&conn, 10).unwrap().is_empty());
}

// --- Received ---

#[test]
fn a_received_id_is_remembered() {
    let (_dir, conn) = open();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(!was_received(&conn, a).unwrap());
    mark_received(&conn, a, 10).unwrap();
    assert!(was_received(&conn, a).unwrap());
    assert!(!was_received(&conn, b).unwrap());
    // Marked again (a redelivery): still once, at its first time.
    mark_received(&conn, a, 20).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM federation_received"), 1);
    assert_eq!(count(&conn, "SELECT received FROM federation_received"), 10);
}

// --- Local users ---

#[test]
fn local_users_are_only_users_of_this_site() {
    let (_dir, conn) = open();
    let (alice, carol) = (local(&conn, "alice"), local(&conn, "carol"));
    let bob = remote(&conn, "branch", "bob");
    let (gone, eve) = (local(&conn, "gone"), local(&conn, "eve"));
    ready(&conn, gone, &[eve], "m");
    users::delete(&conn, "gone").unwrap();
    let names: Vec<String> = [
        "carol",
        "bob@branch",
        "bob",
        "nobody",
        "alice",
        "carol",
        "gone",
        &format!("~{gone}"),
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        local_users(&conn, &names).unwrap(),
        [("carol".to_owned(), carol), ("alice".to_owned(), alice)]
    );
    assert!(local_users(&conn, &[]).unwrap().is_empty());
    assert_eq!(row(&conn, bob.id).unwrap().0, "remote");
    // The directory this site publishes: its users, by name.
    let people: Vec<(Uuid, String)> = local_people(&conn)
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    assert_eq!(
        people,
        [
            (alice, "alice".to_owned()),
            (carol, "carol".to_owned()),
            (eve, "eve".to_owned())
        ]
    );
}

// --- Presence ---

#[test]
fn set_online_marks_remote_users_only() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    let bob = remote(&conn, "branch", "bob");
    assert_eq!(
        set_online(&conn, bob.id, true).unwrap().as_deref(),
        Some("bob@branch")
    );
    assert!(row(&conn, bob.id).unwrap().4);
    assert_eq!(
        set_online(&conn, bob.id, false).unwrap().as_deref(),
        Some("bob@branch")
    );
    assert!(!row(&conn, bob.id).unwrap().4);
    assert_eq!(set_online(&conn, alice, true).unwrap(), None);
    assert!(!row(&conn, alice).unwrap().4);
    assert_eq!(set_online(&conn, Uuid::new_v4(), true).unwrap(), None);
}

#[test]
fn site_offline_returns_who_went_offline_there() {
    let (_dir, conn) = open();
    let alice = local(&conn, "alice");
    users::set_online(&conn, alice, true).unwrap();
    let bob = remote(&conn, "branch", "bob");
    let carol = remote(&conn, "branch", "carol");
    let _asleep = remote(&conn, "branch", "dan");
    let dave = remote(&conn, "annex", "dave");
    for p in [&bob, &carol, &dave] {
        set_online(&conn, p.id, true).unwrap();
    }
    assert_eq!(
        sorted(site_offline(&conn, "branch").unwrap()),
        sorted(vec![
            (bob.id, "bob@branch".to_owned()),
            (carol.id, "carol@branch".to_owned())
        ])
    );
    assert!(!row(&conn, bob.id).unwrap().4);
    assert!(!row(&conn, carol.id).unwrap().4);
    assert!(row(&conn, dave.id).unwrap().4);
    assert!(row(&conn, alice).unwrap().4);
    assert!(site_offline(&conn, "branch").unwrap().is_empty());
    assert!(site_offline(&conn, "nowhere").unwrap().is_empty());
}
