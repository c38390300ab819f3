//! Deleting a user (issue 13, point 15): what they sent stays for the recipients who hold it,
//! from a tombstone; the rest goes with its files; their name is free again; and a database of
//! the old schema (`messages.sender ON DELETE CASCADE`) migrates with nothing lost.

use rusqlite::Connection;
use uuid::Uuid;

use super::messages::{self, NewAttachment, NewMessage, Status};
use super::users::{self, NewUser};
use super::{Error, MIGRATIONS, Paths, connect};
use crate::audio::SealKey;
use crate::config::Retention;

fn user(conn: &Connection, name: &str) -> Uuid {
    let n = NewUser {
        username: name.into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: Some(("gw1".into(), format!("aaln/{name}"))),
    };
    users::add(conn, &SealKey::generate(), &n, 0).unwrap().id
}

/// Stores a ready message from `from` to `to`, its audio `FILE.audio` and one attachment
/// `FILE.att`; returns its id.
fn send(conn: &Connection, from: Uuid, to: &[Uuid], file: &str) -> Uuid {
    send_as(conn, from, to, file, Status::Ready)
}

fn send_as(conn: &Connection, from: Uuid, to: &[Uuid], file: &str, status: Status) -> Uuid {
    let id = Uuid::new_v4();
    messages::insert(
        conn,
        &NewMessage {
            id,
            sender: from,
            recipients: to.to_vec(),
            created_ms: 1000,
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

fn files(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("{n}.audio"), format!("{n}.att")])
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn kind(conn: &Connection, id: Uuid) -> Option<String> {
    conn.query_row(
        "SELECT kind FROM users WHERE id = ?1",
        [id.to_string()],
        |r| r.get(0),
    )
    .ok()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn deleting_a_sender_keeps_what_their_recipients_hold_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    let (alice, bob, carol) = (
        user(&conn, "alice"),
        user(&conn, "bob"),
        user(&conn, "carol"),
    );
    // What bob sent: one alice holds, one carol deleted, one that failed, one to himself.
    let kept = send(&conn, bob, &[alice], "kept");
    let dropped = send(&conn, bob, &[carol], "dropped");
    assert!(
        messages::delete_for(&conn, carol, dropped)
            .unwrap()
            .is_some()
    );
    send_as(&conn, bob, &[alice], "failed", Status::Failed);
    send(&conn, bob, &[bob], "self");
    // What bob received: his own; alice still holds hers (sent folder); carol deleted hers;
    // bob had already deleted his copy of the last (not counted), which carol still holds.
    let from_alice = send(&conn, alice, &[bob], "from_alice");
    let from_carol = send(&conn, carol, &[bob], "from_carol");
    messages::delete_for(&conn, carol, from_carol).unwrap();
    let shared = send(&conn, alice, &[bob, carol], "shared");
    messages::delete_for(&conn, bob, shared).unwrap();
    messages::delete_for(&conn, alice, shared).unwrap();
    conn.execute(
        "INSERT INTO contacts(owner, contact) VALUES (?1, ?2), (?2, ?1)",
        [alice.to_string(), bob.to_string()],
    )
    .unwrap();

    let removed = users::delete(&conn, "bob").unwrap();
    assert_eq!((removed.id, removed.username.as_str()), (bob, "bob"));
    let m = &removed.messages;
    assert_eq!(
        (
            m.sent_kept,
            m.sent_removed,
            m.received_removed,
            m.messages_removed
        ),
        (1, 3, 3, 4)
    );
    // A failed message has no audio, only its attachment.
    let mut gone = files(&["dropped", "from_carol", "self"]);
    gone.push("failed.att".into());
    assert_eq!(sorted(m.files.clone()), sorted(gone));

    // Alice still lists, opens and plays what bob sent, from a deleted user.
    let list = messages::list_for(&conn, alice).unwrap();
    let got = list.iter().find(|v| v.id == kept).unwrap();
    assert_eq!((got.from.as_str(), got.from_id), ("bob", bob));
    assert!(got.from_deleted);
    assert!(got.audio);
    let (view, file) = messages::get_for(&conn, alice, kept).unwrap().unwrap();
    assert!(view.from_deleted);
    assert_eq!(file.as_deref(), Some("kept.audio"));
    assert!(messages::attachment_file(&conn, kept, 0).unwrap().is_some());
    // Her own message to bob stays in her sent folder, addressed to nobody left.
    let mine = list.iter().find(|v| v.id == from_alice).unwrap();
    assert!(!mine.from_deleted);
    assert!(mine.to.is_empty());
    // Carol's copy of the message bob had deleted stays hers.
    assert!(messages::get_for(&conn, carol, shared).unwrap().is_some());
    assert_eq!(list.len(), 2);

    // Bob is a tombstone: no login, no line, no contact, listed nowhere, sends nothing.
    assert_eq!(kind(&conn, bob).as_deref(), Some("deleted"));
    assert_eq!(users::password_hash(&conn, "bob").unwrap(), None);
    assert!(users::by_name(&conn, "bob").unwrap().is_none());
    let listed: Vec<String> = users::list(&conn)
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(listed, ["alice", "carol"]);
    assert!(users::contacts(&conn, bob).unwrap().is_empty());
    let theirs: Vec<Uuid> = users::contacts(&conn, alice)
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(theirs, [carol]);
    assert!(
        users::station_rows(&conn)
            .unwrap()
            .iter()
            .all(|s| s.0 != bob)
    );
    let tomb = users::by_id(&conn, bob).unwrap().unwrap();
    assert_eq!((tomb.admin, tomb.online), (false, false));
    let secret = users::sip_secret(&conn, &SealKey::generate(), bob).unwrap();
    assert_eq!(secret.as_deref(), Some(""));
    assert!(tomb.username.starts_with('~') && tomb.sip_username.starts_with('~'));
    assert!(messages::list_for(&conn, bob).unwrap().is_empty());
    let late = NewMessage {
        id: Uuid::new_v4(),
        sender: bob,
        recipients: vec![alice],
        created_ms: 2000,
        duration_ms: 1,
        codec: "opus".into(),
        status: Status::Ready,
        audio_file: "late.audio".into(),
        raw_offset: None,
        audio_bytes: 1,
        attachments: vec![],
    };
    assert!(matches!(
        messages::insert(&conn, &late),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        users::delete(&conn, &tomb.username),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        users::delete(&conn, "bob"),
        Err(Error::NotFound(_))
    ));

    // A new bob is someone else and sees none of it.
    let bob2 = user(&conn, "bob");
    assert_ne!(bob2, bob);
    assert!(messages::list_for(&conn, bob2).unwrap().is_empty());
    assert!(messages::get_for(&conn, bob2, kept).unwrap().is_none());
    assert!(
        messages::get_for(&conn, alice, kept)
            .unwrap()
            .unwrap()
            .0
            .from_deleted
    );

    // Alice deletes the last message the old bob sent: it goes, and so does his tombstone.
    assert_eq!(
        sorted(messages::delete_for(&conn, alice, kept).unwrap().unwrap()),
        files(&["kept"])
    );
    assert_eq!(kind(&conn, bob), None);
    assert_eq!(kind(&conn, bob2).as_deref(), Some("user"));
}

#[test]
fn a_user_who_leaves_nothing_to_anyone_leaves_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    let (alice, bob) = (user(&conn, "alice"), user(&conn, "bob"));
    let m = send(&conn, alice, &[bob], "m");
    let removed = users::delete(&conn, "alice").unwrap();
    // Her message stays for bob: she is a tombstone.
    assert_eq!(removed.messages.sent_kept, 1);
    assert!(removed.messages.files.is_empty());
    assert_eq!(kind(&conn, alice).as_deref(), Some("deleted"));
    // Bob, the last holder, is deleted in turn: the message goes, the tombstone with it.
    let removed = users::delete(&conn, "bob").unwrap();
    assert_eq!(
        (
            removed.messages.sent_kept,
            removed.messages.received_removed,
            removed.messages.messages_removed
        ),
        (0, 1, 1)
    );
    assert_eq!(sorted(removed.messages.files), files(&["m"]));
    assert_eq!((kind(&conn, alice), kind(&conn, bob)), (None, None));
    assert!(messages::get_for(&conn, bob, m).unwrap().is_none());
    for table in ["users", "messages", "recipients", "attachments", "stations"] {
        assert_eq!(
            count(&conn, &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

#[test]
fn a_message_from_a_deleted_user_still_processing_is_kept_for_its_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    let (alice, bob) = (user(&conn, "alice"), user(&conn, "bob"));
    let m = send_as(&conn, bob, &[alice], "raw", Status::Processing);
    let removed = users::delete(&conn, "bob").unwrap();
    assert_eq!(
        (
            removed.messages.sent_kept,
            removed.messages.messages_removed
        ),
        (1, 0)
    );
    let pending = messages::pending_transcode(&conn, m).unwrap().unwrap();
    assert_eq!((pending.sender, pending.recipients), (bob, vec![alice]));
    assert!(messages::mark_ready(&conn, m, "m.audio", 5, 900, "opus").unwrap());
    let (view, _) = messages::get_for(&conn, alice, m).unwrap().unwrap();
    assert!(view.from_deleted);
    assert_eq!(view.from, "bob");
}

#[test]
fn retention_removing_a_deleted_users_last_message_removes_the_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    let (alice, bob) = (user(&conn, "alice"), user(&conn, "bob"));
    send(&conn, bob, &[alice], "old");
    users::delete(&conn, "bob").unwrap();
    let period = Retention::Period(std::time::Duration::from_secs(1));
    assert!(messages::sweep(&conn, period, 1500).unwrap().is_empty());
    assert_eq!(kind(&conn, bob).as_deref(), Some("deleted"));
    assert_eq!(
        sorted(messages::sweep(&conn, period, 2001).unwrap()),
        files(&["old"])
    );
    assert_eq!(kind(&conn, bob), None);
}

#[test]
fn a_failed_message_its_sender_deletes_is_removed_with_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&Paths::new(dir.path())).unwrap();
    let (alice, bob) = (user(&conn, "alice"), user(&conn, "bob"));
    let failed = send_as(&conn, alice, &[bob], "bad", Status::Failed);
    assert_eq!(
        messages::delete_for(&conn, alice, failed).unwrap(),
        Some(vec!["bad.att".to_owned()])
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM messages"), 0);
}

/// A data directory written before this change: the first three migrations, users, messages
/// with recipients and attachments, then opened by this version.
#[test]
fn an_old_database_with_messages_migrates_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    {
        let conn = Connection::open(&paths.db).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO users(id, username, display, password_hash, sip_username, sip_secret, created)
             VALUES ('00000000-0000-4000-8000-00000000000a', 'alice', 'Alice', 'x', 'alice', 's', 0),
                    ('00000000-0000-4000-8000-00000000000b', 'bob', 'Bob', 'x', 'bob', 's', 0);
             INSERT INTO messages(rowid, id, sender, created, duration_ms, codec, audio_file, audio_bytes)
             VALUES (7, '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000000b', 5, 1, 'opus', 'two', 1),
                    (9, '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000b', 5, 1, 'opus', 'one', 1);
             INSERT INTO messages(id, sender, created, duration_ms, codec, audio_file, audio_bytes, status, raw_file, raw_offset)
             VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-00000000000a', 6, 1, 'upload', NULL, 7, 'processing', 'spool/1.seg', 64);
             INSERT INTO recipients(message_id, user_id, state) VALUES
                 ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000000a', 2),
                 ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 1),
                 ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-00000000000b', 0);
             INSERT INTO attachments VALUES ('00000000-0000-4000-8000-000000000001', 0, 'a.txt', 'text/plain', 'att', 3);",
        )
        .unwrap();
    }
    let dump = |conn: &Connection| -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT rowid || id || sender || created || codec || coalesce(audio_file, '-') || audio_bytes
                 || sender_deleted || status || coalesce(raw_file, '-') || coalesce(raw_offset, '-')
             FROM messages ORDER BY rowid",
            "SELECT seq || message_id || user_id || state || deleted FROM recipients ORDER BY seq",
            "SELECT message_id || n || name || file FROM attachments",
        ] {
            let mut stmt = conn.prepare(sql).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
            out.extend(rows.map(Result::unwrap));
        }
        out
    };
    let before = dump(&Connection::open(&paths.db).unwrap());
    assert_eq!(before.len(), 3 + 3 + 1);

    let conn = connect(&paths).unwrap();
    assert_eq!(dump(&conn), before, "the migration lost or changed rows");
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len());
    let enforced: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert!(
        enforced,
        "foreign keys are enforced again after the migration"
    );
    let on_delete: String = conn
        .query_row(
            "SELECT on_delete FROM pragma_foreign_key_list('messages') WHERE \"from\" = 'sender'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(on_delete, "RESTRICT");
    let indexes = count(
        &conn,
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'
         AND name IN ('messages_sender', 'messages_processing', 'messages_raw_file')",
    );
    assert_eq!(indexes, 3);
    // Oldest first, ties in the order they were stored, as before.
    let alice = Uuid::parse_str("00000000-0000-4000-8000-00000000000a").unwrap();
    let order: Vec<String> = messages::list_for(&conn, alice)
        .unwrap()
        .iter()
        .map(|v| v.id.to_string()[34..].to_owned())
        .collect();
    assert_eq!(order, ["02", "01", "03"]);
    // A sender can no longer be deleted from under their messages, by mistake or otherwise.
    assert!(
        conn.execute("DELETE FROM users WHERE username = 'bob'", [])
            .is_err()
    );
    // Deleting bob now keeps what he sent for alice.
    let removed = users::delete(&conn, "bob").unwrap();
    assert_eq!(removed.messages.sent_kept, 2);
    assert_eq!(messages::list_for(&conn, alice).unwrap().len(), 3);
}
