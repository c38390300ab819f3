//! Voice messages, their per-recipient delivery state (pending → delivered → played) and their
//! attachments.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

use super::Error;
use crate::clock::rfc3339;
use crate::config::Retention;

/// Delivery state of one recipient's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Stored, not yet acknowledged by any of the recipient's clients.
    Pending = 0,
    /// Acknowledged by a client.
    Delivered = 1,
    /// Played back.
    Played = 2,
}

/// Where a message is in its life: acknowledged as received, then transcoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Stored as uploaded (sealed `raw_file`); not yet transcoded, not shown to recipients.
    Processing,
    /// Transcoded to Opus (`audio_file`); delivered and playable.
    Ready,
    /// The upload turned out to be corrupt; never delivered.
    Failed,
}

impl Status {
    /// The name stored in the database and shown in the message JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "processing" => Self::Processing,
            "failed" => Self::Failed,
            _ => Self::Ready,
        }
    }
}

/// An attachment to store.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Client-supplied file name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// The sealed file's name in the media directory.
    pub file: String,
    /// Plaintext size.
    pub bytes: u64,
}

/// A message to store; its files are already written and fsynced.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// GUID.
    pub id: Uuid,
    /// Sender's GUID.
    pub sender: Uuid,
    /// Recipients' GUIDs, deduplicated.
    pub recipients: Vec<Uuid>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// Length.
    pub duration_ms: u64,
    /// What the sealed audio holds.
    pub codec: String,
    /// `Processing`: `audio_file` is the upload as received; `Ready`: it is the Opus file.
    pub status: Status,
    /// The sealed audio's file name in the media directory.
    pub audio_file: String,
    /// For an upload in the spool (`audio_file` names its segment): where it starts.
    pub raw_offset: Option<u64>,
    /// Its size on disk.
    pub audio_bytes: u64,
    /// Attachments, numbered from 0 in this order.
    pub attachments: Vec<NewAttachment>,
}

/// An attachment as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttachmentView {
    /// Index, for `GET /api/v1/messages/{id}/attachments/{n}`.
    pub n: u32,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// A message as `GET /api/v1/messages` lists it to one user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MessageView {
    /// GUID.
    pub id: Uuid,
    /// Sender's username (the name they had, if they were deleted since).
    pub from: String,
    /// Sender's GUID.
    pub from_id: Uuid,
    /// The sender was deleted since: the recipients keep what they sent, shown from a deleted
    /// user (their username may now belong to someone else, with another `from_id`).
    pub from_deleted: bool,
    /// Recipients' usernames.
    pub to: Vec<String>,
    /// RFC 3339 UTC.
    pub created: String,
    /// Length.
    pub duration_ms: u64,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
    /// For a recipient: they played it; for the sender: every recipient did.
    pub played: bool,
    /// "in" (sent to the caller) or "out" (sent by them).
    pub direction: &'static str,
    /// False once retention removed the audio (or transcoding failed).
    pub audio: bool,
    /// `processing`, `ready` or `failed`; recipients only ever see `ready`.
    pub status: &'static str,
}

/// Stores a message and its recipients' pending copies. A sender deleted meanwhile (a request
/// that was under way when an admin deleted them) is refused, `NotFound`.
pub fn insert(conn: &Connection, m: &NewMessage) -> Result<(), Error> {
    let id = m.id.to_string();
    let stored = conn
        .prepare_cached(
            "INSERT INTO messages(id, sender, created, duration_ms, codec, audio_file, audio_bytes, status, raw_file, raw_offset)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
             WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND kind != 'deleted')",
        )?
        .execute(params![
        id,
        m.sender.to_string(),
        m.created_ms,
        m.duration_ms,
        m.codec,
        (m.status == Status::Ready).then_some(&m.audio_file),
        m.audio_bytes,
        m.status.as_str(),
        (m.status == Status::Processing).then_some(&m.audio_file),
        m.raw_offset.filter(|_| m.status == Status::Processing),
        ])?;
    if stored == 0 {
        return Err(Error::NotFound(format!("sender {}", m.sender)));
    }
    let mut stmt =
        conn.prepare_cached("INSERT INTO recipients(message_id, user_id) VALUES (?1, ?2)")?;
    for r in &m.recipients {
        stmt.execute(params![id, r.to_string()])?;
    }
    // Users of other sites: the message is forwarded to each of their sites (see `remote`).
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox(message_id, site)
         SELECT r.message_id, u.site FROM recipients r JOIN users u ON u.id = r.user_id
         WHERE r.message_id = ?1 AND u.kind = 'remote' AND u.site IS NOT NULL",
    )?
    .execute([&id])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO attachments(message_id, n, name, content_type, file, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (n, a) in m.attachments.iter().enumerate() {
        stmt.execute(params![id, n, a.name, a.content_type, a.file, a.bytes])?;
    }
    Ok(())
}

const VIEW: &str = "
SELECT m.id, coalesce(u.former_username, u.username), m.sender, m.created, m.duration_ms, m.audio_file,
       (SELECT group_concat(ru.username, ',' ORDER BY r2.seq) FROM recipients r2
          JOIN users ru ON ru.id = r2.user_id WHERE r2.message_id = m.id),
       r.state,
       (SELECT min(state) FROM recipients r3 WHERE r3.message_id = m.id),
       m.status, u.kind = 'deleted'
FROM messages m JOIN users u ON u.id = m.sender
LEFT JOIN recipients r ON r.message_id = m.id AND r.user_id = ?1";

fn view(conn: &Connection, row: &rusqlite::Row<'_>) -> Result<MessageView, Error> {
    let id: String = row.get(0)?;
    let sender: String = row.get(2)?;
    let tos: Option<String> = row.get(6)?;
    let my_state: Option<i64> = row.get(7)?;
    let min_state: Option<i64> = row.get(8)?;
    let incoming = my_state.is_some();
    let audio_file: Option<String> = row.get(5)?;
    let status = Status::parse(&row.get::<_, String>(9)?);
    let mut stmt = conn.prepare_cached(
        "SELECT n, name, content_type, bytes FROM attachments WHERE message_id = ?1 ORDER BY n",
    )?;
    let attachments = stmt
        .query_map([&id], |r| {
            Ok(AttachmentView {
                n: r.get(0)?,
                name: r.get(1)?,
                content_type: r.get(2)?,
                size: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| Error::Invalid(e.to_string()));
    let from_id = uuid(&sender)?;
    Ok(MessageView {
        id: uuid(&id)?,
        from: row.get(1)?,
        from_id,
        from_deleted: row.get(10)?,
        to: tos
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        created: rfc3339(row.get(3)?),
        duration_ms: row.get(4)?,
        attachments,
        played: if incoming {
            my_state == Some(State::Played as i64)
        } else {
            min_state == Some(State::Played as i64)
        },
        direction: if incoming { "in" } else { "out" },
        audio: audio_file.is_some() || status == Status::Processing,
        status: status.as_str(),
    })
}

/// Every message sent to or by `me` that they have not deleted, oldest first.
pub fn list_for(conn: &Connection, me: Uuid) -> Result<Vec<MessageView>, Error> {
    let sql = format!(
        "{VIEW} WHERE (m.sender = ?1 AND m.sender_deleted = 0)
            OR (r.user_id IS NOT NULL AND r.deleted = 0 AND m.status = 'ready')
         ORDER BY m.created, m.rowid"
    );
    views(conn, &sql, me)
}

/// Runs a `VIEW` query bound to `me` and maps every row.
fn views(conn: &Connection, sql: &str, me: Uuid) -> Result<Vec<MessageView>, Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([me.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(view(conn, r)?);
    }
    Ok(out)
}

/// `me`'s copies still waiting for a client's acknowledgement, in the order they were stored.
pub fn pending_for(conn: &Connection, me: Uuid) -> Result<Vec<MessageView>, Error> {
    let sql =
        format!("{VIEW} WHERE r.state = 0 AND r.deleted = 0 AND m.status = 'ready' ORDER BY r.seq");
    views(conn, &sql, me)
}

/// One message if `me` may see it (sent to or by them, not deleted by them), with its audio file.
pub fn get_for(
    conn: &Connection,
    me: Uuid,
    id: Uuid,
) -> Result<Option<(MessageView, Option<String>)>, Error> {
    let sql = format!(
        "{VIEW} WHERE m.id = ?2 AND ((m.sender = ?1 AND m.sender_deleted = 0)
            OR (r.user_id IS NOT NULL AND r.deleted = 0 AND m.status = 'ready'))"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([me.to_string(), id.to_string()])?;
    match rows.next()? {
        Some(r) => {
            let file: Option<String> = r.get(5)?;
            Ok(Some((view(conn, r)?, file)))
        }
        None => Ok(None),
    }
}

/// The sealed file of attachment `n` of message `id` (visibility is checked by the caller).
pub fn attachment_file(
    conn: &Connection,
    id: Uuid,
    n: u32,
) -> Result<Option<(String, String, String)>, Error> {
    Ok(conn
        .query_row(
            "SELECT file, name, content_type FROM attachments WHERE message_id = ?1 AND n = ?2",
            params![id.to_string(), n],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// Raises `user`'s copy of `id` to `to` (never lowers it); true if it changed.
pub fn advance(conn: &Connection, id: Uuid, user: Uuid, to: State) -> Result<bool, Error> {
    let n = conn
        .prepare_cached("UPDATE recipients SET state = ?3 WHERE message_id = ?1 AND user_id = ?2 AND state < ?3")?
        .execute(params![id.to_string(), user.to_string(), to as i64])?;
    Ok(n > 0)
}

/// Deletes `id` for `me`; returns `None` if they cannot see it, else the files to remove once the
/// transaction commits (when no one is left who can see it).
pub fn delete_for(conn: &Connection, me: Uuid, id: Uuid) -> Result<Option<Vec<String>>, Error> {
    let (m, s) = (me.to_string(), id.to_string());
    let a = conn.execute(
        "UPDATE messages SET sender_deleted = 1 WHERE id = ?1 AND sender = ?2 AND sender_deleted = 0",
        [&s, &m],
    )?;
    let b = conn.execute(
        "UPDATE recipients SET deleted = 1 WHERE message_id = ?1 AND user_id = ?2 AND deleted = 0",
        [&s, &m],
    )?;
    if a + b == 0 {
        return Ok(None);
    }
    if held(conn, &s)? {
        return Ok(Some(Vec::new()));
    }
    Ok(Some(remove(conn, &s)?))
}

/// Whether anyone still holds message `id`: its sender (until they delete it), or a recipient
/// who has not deleted their copy of a message they can see (a failed one never reaches them).
pub(crate) fn held(conn: &Connection, id: &str) -> Result<bool, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT sender_deleted = 0 OR (status != 'failed' AND EXISTS
                (SELECT 1 FROM recipients WHERE message_id = ?1 AND deleted = 0))
             FROM messages WHERE id = ?1",
        )?
        .query_row([id], |r| r.get(0))?)
}

/// Deletes message `id` (its recipients' rows and attachments with it) and, if its sender was
/// deleted and named by no other message, their tombstone; returns the files to remove once
/// this commits.
pub(crate) fn remove(conn: &Connection, id: &str) -> Result<Vec<String>, Error> {
    let files = files_of(conn, id)?;
    let sender: String = conn
        .prepare_cached("DELETE FROM messages WHERE id = ?1 RETURNING sender")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached(
        "DELETE FROM users WHERE id = ?1 AND kind = 'deleted'
         AND NOT EXISTS (SELECT 1 FROM messages WHERE sender = ?1)",
    )?
    .execute([&sender])?;
    Ok(files)
}

/// What deleting a user did to the messages: see [`forget_user`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Messages they sent that their recipients still hold: kept, shown from a deleted user.
    pub sent_kept: u64,
    /// Messages they sent that no recipient held any more: removed.
    pub sent_removed: u64,
    /// Their copies of messages sent to them (removed; the message stays for its other holders).
    pub received_removed: u64,
    /// Messages removed altogether, their files with them (they were the last holder).
    pub messages_removed: u64,
    /// The files of the messages removed, to remove once this commits.
    #[serde(skip)]
    pub files: Vec<String>,
}

/// Takes `user` (being deleted) out of every message: their copies of messages sent to them go,
/// and the messages they sent are deleted for them (as [`delete_for`] would) but stay for the
/// recipients who still hold them. A message nobody holds any more goes with its files.
pub fn forget_user(conn: &Connection, user: Uuid) -> Result<Forgotten, Error> {
    let u = user.to_string();
    let mut out = Forgotten::default();
    let received: Vec<(String, bool)> = conn
        .prepare_cached("DELETE FROM recipients WHERE user_id = ?1 RETURNING message_id, deleted")?
        .query_map([&u], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    out.received_removed = received.iter().filter(|(_, deleted)| !deleted).count() as u64;
    let sent: Vec<String> = conn
        .prepare_cached("UPDATE messages SET sender_deleted = 1 WHERE sender = ?1 RETURNING id")?
        .query_map([&u], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &sent {
        if held(conn, id)? {
            out.sent_kept += 1;
        } else {
            out.sent_removed += 1;
            out.messages_removed += 1;
            out.files.extend(remove(conn, id)?);
        }
    }
    for (id, _) in &received {
        // A message they sent to themselves is gone already.
        let exists = conn
            .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?
            .exists([id])?;
        if exists && !held(conn, id)? {
            out.messages_removed += 1;
            out.files.extend(remove(conn, id)?);
        }
    }
    Ok(out)
}

/// The stored (sealed Ogg Opus) audio file of a ready message, if it still has one.
pub fn audio_file(conn: &Connection, id: Uuid) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row(
            "SELECT audio_file FROM messages WHERE id = ?1 AND status = 'ready'",
            [id.to_string()],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Messages still waiting to be transcoded, oldest first.
pub fn processing(conn: &Connection) -> Result<Vec<Uuid>, Error> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM messages WHERE status = 'processing' ORDER BY created, rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter()
        .map(|s| Uuid::parse_str(s).map_err(|e| Error::Invalid(e.to_string())))
        .collect()
}

/// A message waiting to be transcoded: its sealed upload, sender and recipients.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The upload as received, sealed: a spool segment or (from an earlier version) a file of
    /// its own, in the media directory.
    pub raw_file: String,
    /// In a spool segment: where the upload starts.
    pub raw_offset: Option<u64>,
    /// The sealed upload's length.
    pub raw_bytes: u64,
    /// Sender's GUID.
    pub sender: Uuid,
    /// Recipients' GUIDs.
    pub recipients: Vec<Uuid>,
}

/// `id` if it is still processing.
pub fn pending_transcode(conn: &Connection, id: Uuid) -> Result<Option<Pending>, Error> {
    let s = id.to_string();
    let Some((raw_file, sender, raw_offset, raw_bytes)) = conn
        .query_row(
            "SELECT raw_file, sender, raw_offset, audio_bytes FROM messages
             WHERE id = ?1 AND status = 'processing' AND raw_file IS NOT NULL",
            [&s],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<u64>>(2)?,
                    r.get::<_, u64>(3)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| Error::Invalid(e.to_string()));
    let recipients: Vec<String> = conn
        .prepare_cached("SELECT user_id FROM recipients WHERE message_id = ?1 ORDER BY seq")?
        .query_map([&s], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(Pending {
        raw_file,
        raw_offset,
        raw_bytes,
        sender: uuid(&sender)?,
        recipients: recipients
            .iter()
            .map(|r| uuid(r))
            .collect::<Result<_, _>>()?,
    }))
}

/// Marks a processing message ready with its transcoded audio; false if it is no longer
/// processing (deleted or expired meanwhile): then the caller removes `audio_file`.
pub fn mark_ready(
    conn: &Connection,
    id: Uuid,
    audio_file: &str,
    audio_bytes: u64,
    duration_ms: u64,
    codec: &str,
) -> Result<bool, Error> {
    let n = conn
        .prepare_cached(
            "UPDATE messages SET status = 'ready', audio_file = ?2, audio_bytes = ?3, duration_ms = ?4,
             codec = ?5, raw_file = NULL, raw_offset = NULL WHERE id = ?1 AND status = 'processing'",
        )?
        .execute(params![
            id.to_string(),
            audio_file,
            audio_bytes,
            duration_ms,
            codec
        ])?;
    Ok(n > 0)
}

/// Marks a processing message failed (its upload is corrupt); false if it was not processing.
pub fn mark_failed(conn: &Connection, id: Uuid) -> Result<bool, Error> {
    let n = conn
        .prepare_cached(
            "UPDATE messages SET status = 'failed', raw_file = NULL, raw_offset = NULL
             WHERE id = ?1 AND status = 'processing'",
        )?
        .execute([id.to_string()])?;
    Ok(n > 0)
}

fn files_of(conn: &Connection, id: &str) -> Result<Vec<String>, Error> {
    let mut files: Vec<String> = conn
        .prepare_cached("SELECT file FROM attachments WHERE message_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if let Some((audio, raw)) = conn
        .query_row(
            "SELECT audio_file, raw_file FROM messages WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            },
        )
        .optional()?
    {
        files.extend(audio);
        files.extend(raw);
    }
    Ok(files)
}

/// Applies the retention policy at `now_ms`; returns the files to remove once this commits.
pub fn sweep(conn: &Connection, policy: Retention, now_ms: i64) -> Result<Vec<String>, Error> {
    let mut files = Vec::new();
    match policy {
        Retention::Delivered | Retention::Played => {
            let min = if policy == Retention::Delivered {
                State::Delivered
            } else {
                State::Played
            } as i64;
            let ids: Vec<String> = conn
                .prepare(
                    "SELECT id FROM messages m WHERE audio_file IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state < ?1 AND r.deleted = 0)",
                )?
                .query_map([min], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            // Only the audio goes; attachments stay until the message is deleted or expires.
            for id in ids {
                let audio: Option<String> = conn.query_row(
                    "SELECT audio_file FROM messages WHERE id = ?1",
                    [&id],
                    |r| r.get(0),
                )?;
                files.extend(audio);
                conn.execute("UPDATE messages SET audio_file = NULL WHERE id = ?1", [&id])?;
            }
        }
        Retention::Period(p) => {
            let cutoff = now_ms.saturating_sub(i64::try_from(p.as_millis()).unwrap_or(i64::MAX));
            let ids: Vec<String> = conn
                .prepare("SELECT id FROM messages WHERE created < ?1")?
                .query_map([cutoff], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                files.extend(remove(conn, &id)?);
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::super::users;
    use super::*;

    #[test]
    fn visibility_states_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let (a, b, c) = (
            users::test_user(&conn, "alice"),
            users::test_user(&conn, "bob"),
            users::test_user(&conn, "carol"),
        );
        let id = Uuid::new_v4();
        insert(
            &conn,
            &NewMessage {
                id,
                sender: a,
                recipients: vec![b],
                created_ms: 1000,
                duration_ms: 1500,
                codec: "wav".into(),
                status: Status::Ready,
                audio_file: "f1".into(),
                raw_offset: None,
                audio_bytes: 10,
                attachments: vec![],
            },
        )
        .unwrap();
        assert_eq!(list_for(&conn, a).unwrap()[0].direction, "out");
        assert_eq!(list_for(&conn, b).unwrap()[0].to, vec!["bob".to_string()]);
        assert!(list_for(&conn, c).unwrap().is_empty());
        assert!(get_for(&conn, c, id).unwrap().is_none());
        assert_eq!(pending_for(&conn, b).unwrap().len(), 1);
        assert!(sweep(&conn, Retention::Delivered, 0).unwrap().is_empty());
        assert!(advance(&conn, id, b, State::Delivered).unwrap());
        assert!(!advance(&conn, id, b, State::Delivered).unwrap());
        assert!(pending_for(&conn, b).unwrap().is_empty());
        assert_eq!(
            sweep(&conn, Retention::Delivered, 0).unwrap(),
            vec!["f1".to_string()]
        );
        assert!(!get_for(&conn, b, id).unwrap().unwrap().0.audio);
        assert!(delete_for(&conn, c, id).unwrap().is_none());
        assert_eq!(delete_for(&conn, b, id).unwrap(), Some(vec![]));
        assert!(get_for(&conn, b, id).unwrap().is_none());
        assert!(get_for(&conn, a, id).unwrap().is_some());
    }

    #[test]
    fn processing_messages_are_hidden_from_recipients_until_ready() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let (a, b) = (
            users::test_user(&conn, "alice"),
            users::test_user(&conn, "bob"),
        );
        let new = |id| NewMessage {
            id,
            sender: a,
            recipients: vec![b],
            created_ms: 1000,
            duration_ms: 900,
            codec: "upload".into(),
            status: Status::Processing,
            audio_file: format!("{id}.raw"),
            raw_offset: None,
            audio_bytes: 10,
            attachments: vec![],
        };
        let (ok, bad) = (Uuid::new_v4(), Uuid::new_v4());
        insert(&conn, &new(ok)).unwrap();
        insert(&conn, &new(bad)).unwrap();
        assert_eq!(processing(&conn).unwrap(), vec![ok, bad]);
        assert!(list_for(&conn, b).unwrap().is_empty());
        assert!(pending_for(&conn, b).unwrap().is_empty());
        assert!(get_for(&conn, b, ok).unwrap().is_none());
        let mine = list_for(&conn, a).unwrap();
        assert!(mine.iter().all(|m| m.status == "processing" && m.audio));
        let p = pending_transcode(&conn, ok).unwrap().unwrap();
        assert_eq!((p.raw_file, p.recipients), (format!("{ok}.raw"), vec![b]));

        assert!(mark_ready(&conn, ok, "x.audio", 5, 1200, "opus").unwrap());
        assert!(!mark_ready(&conn, ok, "x.audio", 5, 1200, "opus").unwrap());
        assert!(mark_failed(&conn, bad).unwrap());
        assert!(pending_transcode(&conn, ok).unwrap().is_none());
        assert!(processing(&conn).unwrap().is_empty());
        let theirs = list_for(&conn, b).unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(
            (theirs[0].id, theirs[0].status, theirs[0].duration_ms),
            (ok, "ready", 1200)
        );
        assert_eq!(pending_for(&conn, b).unwrap().len(), 1);
        let (v, _) = get_for(&conn, a, bad).unwrap().unwrap();
        assert_eq!((v.status, v.audio), ("failed", false));
        assert!(get_for(&conn, b, bad).unwrap().is_none());
    }

    #[test]
    fn played_audio_and_attachments_as_each_side_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let (a, b, c) = (
            users::test_user(&conn, "alice"),
            users::test_user(&conn, "bob"),
            users::test_user(&conn, "carol"),
        );
        let id = Uuid::new_v4();
        insert(
            &conn,
            &NewMessage {
                id,
                sender: a,
                recipients: vec![b, c],
                created_ms: 1000,
                duration_ms: 1500,
                codec: "opus".into(),
                status: Status::Ready,
                audio_file: "m.audio".into(),
                raw_offset: None,
                audio_bytes: 10,
                attachments: vec![NewAttachment {
                    name: "plan.pdf".into(),
                    content_type: "application/pdf".into(),
                    file: "m.0.att".into(),
                    bytes: 7,
                }],
            },
        )
        .unwrap();
        assert_eq!(
            attachment_file(&conn, id, 0).unwrap(),
            Some((
                "m.0.att".to_owned(),
                "plan.pdf".to_owned(),
                "application/pdf".to_owned()
            ))
        );
        assert_eq!(attachment_file(&conn, id, 1).unwrap(), None);
        assert_eq!(audio_file(&conn, id).unwrap().as_deref(), Some("m.audio"));
        assert_eq!(audio_file(&conn, Uuid::new_v4()).unwrap(), None);
        let played = |who| get_for(&conn, who, id).unwrap().unwrap().0.played;
        assert!(!played(a) && !played(b) && !played(c));
        advance(&conn, id, b, State::Played).unwrap();
        // Bob played his copy; the sender sees it played only once every recipient has.
        assert!(played(b) && !played(c) && !played(a));
        advance(&conn, id, c, State::Played).unwrap();
        assert!(played(a) && played(c));
        assert!(
            !mark_failed(&conn, id).unwrap(),
            "a ready message is not failed"
        );
        assert_eq!(sweep(&conn, Retention::Played, 0).unwrap(), vec!["m.audio"]);
        assert_eq!(audio_file(&conn, id).unwrap(), None);
    }
}
