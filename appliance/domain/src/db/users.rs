//! Users, their stations (lines), contact lists, presence flags and the server's own GUID.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::distributions::{Alphanumeric, DistString};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

use super::{Error, messages, secrets};
use crate::audio::SealKey;

mod dial_in;
mod edit;
pub use dial_in::{
    DialIn, LOCK_TIME, Lookup, MAX_WAITING, MAX_WRONG_PINS, NUMBER_MAX, NUMBER_MIN, PIN_MAX,
    PIN_MIN, WRONG_PIN_WINDOW, by_number, check_number, check_pin, lookup, record, waiting_for,
};
pub use edit::{
    Change, ContactList, DISPLAY_MAX, MAX_STATIONS, check_display, contact_list, parse_line,
    set_contacts, set_stations, update,
};

/// A user as the API and CLI show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    /// GUID.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display: String,
    /// May manage users.
    pub admin: bool,
    /// "user" (a person of this site), "remote" (a person of another site, `name@site`) or
    /// "server" (a peer server).
    pub kind: String,
    /// Has a live WebSocket session.
    pub online: bool,
    /// Lines, as "GATEWAY/ENDPOINT".
    pub stations: Vec<String>,
    /// SIP digest user name (its secret is sealed: [`sip_secret`]).
    pub sip_username: String,
    /// The number they identify with when they dial in over a trunk (their PIN is never
    /// shown: it is stored hashed).
    pub number: Option<String>,
}

/// What `user add` supplies.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Display name (defaults to the login name).
    pub display: Option<String>,
    /// Password in clear; hashed with argon2id here.
    pub password: String,
    /// Admin flag.
    pub admin: bool,
    /// A line, as (gateway, endpoint).
    pub line: Option<(String, String)>,
}

/// Checks a login name: 1-32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("cannot hash password: {e}")))
}

/// Adds a user, hashing the password here (slow on purpose: call it off the writer thread, or use
/// [`add_hashed`] with a hash made beforehand). Their SIP secret is generated and sealed with
/// `key`.
pub fn add(conn: &Connection, key: &SealKey, new: &NewUser, now_ms: i64) -> Result<User, Error> {
    check(new)?;
    let hash = hash_password(&new.password)?;
    add_hashed(conn, key, new, &hash, now_ms)
}

fn check(new: &NewUser) -> Result<(), Error> {
    if !valid_username(&new.username) {
        return Err(Error::Invalid(format!(
            "invalid username {:?}: use 1-32 of a-z 0-9 . _ - starting with a letter or digit",
            new.username
        )));
    }
    if new.password.is_empty() {
        return Err(Error::Invalid("empty password".into()));
    }
    if let Some(d) = &new.display {
        check_display(d)?;
    }
    Ok(())
}

/// Adds a user whose password `hash` (from [`hash_password`]) is ready; `now_ms` stamps it.
/// Runs in a savepoint, so it is atomic both on its own and inside the writer's transaction.
pub fn add_hashed(
    conn: &Connection,
    key: &SealKey,
    new: &NewUser,
    hash: &str,
    now_ms: i64,
) -> Result<User, Error> {
    check(new)?;
    conn.execute_batch("SAVEPOINT user_add")?;
    match insert_user(conn, key, new, hash, now_ms) {
        Ok(()) => {
            conn.execute_batch("RELEASE user_add")?;
            by_name(conn, &new.username)?.ok_or_else(|| Error::NotFound("user".into()))
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO user_add; RELEASE user_add")?;
            Err(e)
        }
    }
}

fn insert_user(
    conn: &Connection,
    key: &SealKey,
    new: &NewUser,
    hash: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let id = Uuid::new_v4();
    let secret = secrets::seal_sip_secret(key, id, &Alphanumeric.sample_string(&mut OsRng, 20))?;
    let display = new.display.clone().unwrap_or_else(|| new.username.clone());
    let inserted = conn.execute(
        "INSERT INTO users(id, username, display, password_hash, admin, kind, sip_username, sip_secret, created)
         VALUES (?1, ?2, ?3, ?4, ?5, 'user', ?2, ?6, ?7) ON CONFLICT DO NOTHING",
        params![id.to_string(), new.username, display, hash, new.admin, secret, now_ms],
    )?;
    if inserted == 0 {
        return Err(Error::Exists(format!("user {:?}", new.username)));
    }
    if let Some((gw, ep)) = &new.line {
        let n = conn.execute(
            "INSERT INTO stations(user_id, gateway, endpoint) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![id.to_string(), gw, ep],
        )?;
        if n == 0 {
            return Err(Error::Exists(format!("line {gw}/{ep}")));
        }
    }
    Ok(())
}

const COLUMNS: &str = "id, username, display, admin, kind, online, sip_username, number";

fn row(conn: &Connection, r: &rusqlite::Row<'_>) -> Result<User, Error> {
    let id: String = r.get(0)?;
    let mut stmt = conn.prepare_cached(
        "SELECT gateway || '/' || endpoint FROM stations WHERE user_id = ?1 ORDER BY id",
    )?;
    let stations = stmt
        .query_map([&id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(User {
        id: Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?,
        username: r.get(1)?,
        display: r.get(2)?,
        admin: r.get(3)?,
        kind: r.get(4)?,
        online: r.get(5)?,
        stations,
        sip_username: r.get(6)?,
        number: r.get(7)?,
    })
}

/// Every user with a SIP digest secret: id, login name, SIP user name and the secret in clear,
/// in one query (the registrar's table is read again every few seconds; with thousands of users
/// a query per user took a sixth of a loaded appliance's CPU, issue 23).
pub fn with_sip_secrets(
    conn: &Connection,
    key: &SealKey,
) -> Result<Vec<(Uuid, String, String, String)>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, sip_username, sip_secret FROM users \
         WHERE kind = 'user' AND sip_secret IS NOT NULL ORDER BY username",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let id = Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?;
        let sealed: String = r.get(3)?;
        let secret = secrets::open_sip_secret(key, id, &sealed)?;
        out.push((id, r.get(1)?, r.get(2)?, secret));
    }
    Ok(out)
}

/// The SIP digest secret of user `id`, in clear (`None` if there is no such user).
pub fn sip_secret(conn: &Connection, key: &SealKey, id: Uuid) -> Result<Option<String>, Error> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT sip_secret FROM users WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    stored
        .map(|s| secrets::open_sip_secret(key, id, &s))
        .transpose()
}

/// One user by login name.
pub fn by_name(conn: &Connection, username: &str) -> Result<Option<User>, Error> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))?;
    let mut rows = stmt.query([username])?;
    match rows.next()? {
        Some(r) => Ok(Some(row(conn, r)?)),
        None => Ok(None),
    }
}

/// One user by GUID.
pub fn by_id(conn: &Connection, id: Uuid) -> Result<Option<User>, Error> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(r) => Ok(Some(row(conn, r)?)),
        None => Ok(None),
    }
}

/// Every `(gateway, endpoint)` named by a user's station (`offhook user add --line`).
pub fn station_lines(conn: &Connection) -> Result<Vec<(String, String)>, Error> {
    let mut stmt = conn.prepare("SELECT gateway, endpoint FROM stations ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every station row: `(user, gateway, endpoint)`.
pub fn station_rows(conn: &Connection) -> Result<Vec<(Uuid, String, String)>, Error> {
    let mut stmt = conn.prepare("SELECT user_id, gateway, endpoint FROM stations ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            let id: String = r.get(0)?;
            Ok((id, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, g, e)| Uuid::parse_str(&id).ok().map(|u| (u, g, e)))
        .collect())
}

/// Every user, by login name.
pub fn list(conn: &Connection) -> Result<Vec<User>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE kind = 'user' ORDER BY username"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row(conn, r)?);
    }
    Ok(out)
}

/// Every user who may log in, with their admin flag: what a front end holding sessions checks
/// them against ([`list`] without the rest).
pub fn live_flags(conn: &Connection) -> Result<std::collections::HashMap<Uuid, bool>, Error> {
    let mut stmt = conn.prepare_cached("SELECT id, admin FROM users WHERE kind = 'user'")?;
    let mut rows = stmt.query([])?;
    let mut out = std::collections::HashMap::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let id = Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?;
        out.insert(id, r.get(1)?);
    }
    Ok(out)
}

/// The stored password hash of user `username` (`None` if there is no such user who may log
/// in). Fast: checking it is [`check_password`]'s job, off the database.
pub fn password_hash(conn: &Connection, username: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = ?1 AND kind = 'user'",
            [username],
            |r| r.get(0),
        )
        .optional()?)
}

/// Whether `password` matches `hash` (argon2id: slow on purpose, call it off the async
/// threads). With no hash (no such user) the password is checked against a dummy hash with
/// the same parameters, so that the answer takes as long and says the same: no.
pub fn check_password(hash: Option<&str>, password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        let mut random = [0u8; 16];
        rand::RngCore::fill_bytes(&mut OsRng, &mut random);
        let never: String = random.iter().map(|b| format!("{b:02x}")).collect();
        hash_password(&never).unwrap_or_default()
    });
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// What deleting a user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The GUID they had (the front ends end its sessions).
    pub id: Uuid,
    /// The name they had, free for a new user from now on.
    pub username: String,
    /// What became of the messages they sent and received.
    #[serde(flatten)]
    pub messages: messages::Forgotten,
    /// Media files removed from disk: counted by whoever removes them, once this committed
    /// (spool segments, which several messages share, are not counted).
    pub files_removed: u64,
}

/// Deletes user `username`: they can no longer log in, register a phone or be reached, and
/// their name is free again. Their copies of messages sent to them go, and so do the messages
/// they sent that nobody else holds; what they sent and their recipients still hold stays, from
/// a tombstone (kind `deleted`, no password, no SIP credentials, no lines, no contacts) that
/// goes with the last of those messages. Atomic (a savepoint); the files to remove are in the
/// answer, for the caller to remove once this commits.
pub fn delete(conn: &Connection, username: &str) -> Result<Removed, Error> {
    conn.execute_batch("SAVEPOINT user_delete")?;
    match delete_in(conn, username) {
        Ok(removed) => {
            conn.execute_batch("RELEASE user_delete")?;
            Ok(removed)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO user_delete; RELEASE user_delete")?;
            Err(e)
        }
    }
}

fn delete_in(conn: &Connection, username: &str) -> Result<Removed, Error> {
    let id: String = conn
        .query_row(
            "SELECT id FROM users WHERE username = ?1 AND kind != 'deleted'",
            [username],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("user {username:?}")))?;
    let uuid = Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?;
    let forgotten = messages::forget_user(conn, uuid)?;
    conn.execute(
        "DELETE FROM contacts WHERE owner = ?1 OR contact = ?1",
        [&id],
    )?;
    conn.execute("DELETE FROM stations WHERE user_id = ?1", [&id])?;
    conn.execute("DELETE FROM dial_in_failures WHERE user_id = ?1", [&id])?;
    super::initial_password::forget(conn, &id)?;
    // Their phones stay listed, assigned to nobody (their configuration files lose the line).
    conn.execute(
        "UPDATE devices SET user_id = NULL WHERE user_id = ?1",
        [&id],
    )?;
    if forgotten.sent_kept > 0 {
        // '~' is in no login or SIP name: the tombstone's names clash with none.
        conn.execute(
            "UPDATE users SET kind = 'deleted', former_username = username, username = '~' || id,
             sip_username = '~' || id, sip_secret = '', password_hash = '', admin = 0, online = 0,
             number = NULL, pin_hash = NULL
             WHERE id = ?1",
            [&id],
        )?;
    } else {
        conn.execute("DELETE FROM users WHERE id = ?1", [&id])?;
    }
    Ok(Removed {
        id: uuid,
        username: username.to_owned(),
        messages: forgotten,
        files_removed: 0,
    })
}

/// Runs `f` in one immediate transaction on `conn` (a connection of its own, as the CLI's: the
/// server may be writing too, and its busy timeout covers the wait): all of what `f` writes is
/// stored, or none of it.
pub fn immediate<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(conn).and_then(|t| {
        conn.execute_batch("COMMIT")?;
        Ok(t)
    }) {
        Ok(t) => Ok(t),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A user's contact list: their explicit contacts if they have any, otherwise every other user of
/// the appliance and every user of the other sites its federation directory lists.
pub fn contacts(conn: &Connection, owner: Uuid) -> Result<Vec<User>, Error> {
    let explicit: i64 = conn.query_row(
        "SELECT count(*) FROM contacts WHERE owner = ?1",
        [owner.to_string()],
        |r| r.get(0),
    )?;
    let sql = if explicit > 0 {
        format!(
            "SELECT {COLUMNS} FROM users WHERE id IN (SELECT contact FROM contacts WHERE owner = ?1) ORDER BY username"
        )
    } else {
        // A deleted user's session that outlived them (deleted on the data dir while the server
        // ran) sees nobody.
        format!(
            "SELECT {COLUMNS} FROM users WHERE kind IN ('user', 'remote') AND id != ?1
             AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND kind != 'deleted') ORDER BY username"
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([owner.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row(conn, r)?);
    }
    Ok(out)
}

/// Records whether a user has a live session (shown by `offhook user list`).
pub fn set_online(conn: &Connection, id: Uuid, online: bool) -> Result<(), Error> {
    conn.execute(
        "UPDATE users SET online = ?2 WHERE id = ?1",
        params![id.to_string(), online],
    )?;
    Ok(())
}

/// Marks everyone offline (at start-up: no session survives a restart).
pub fn reset_online(conn: &Connection) -> Result<(), Error> {
    conn.execute("UPDATE users SET online = 0 WHERE online != 0", [])?;
    Ok(())
}

/// The appliance's own GUID, the privileged source of server message objects; created once.
pub fn server_id(conn: &Connection) -> Result<Uuid, Error> {
    let fresh = Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('server_id', ?1) ON CONFLICT DO NOTHING",
        [&fresh],
    )?;
    let v: String = conn.query_row("SELECT value FROM meta WHERE key = 'server_id'", [], |r| {
        r.get(0)
    })?;
    Uuid::parse_str(&v).map_err(|e| Error::Invalid(e.to_string()))
}

/// Adds user `name` (password "pw", no line) for a test; returns their id.
#[cfg(test)]
pub(crate) fn test_user(conn: &Connection, name: &str) -> Uuid {
    let new = NewUser {
        username: name.into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: None,
    };
    add(conn, &SealKey::generate(), &new, 0).unwrap().id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_verify_list() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let new = NewUser {
            username: "alice".into(),
            display: Some("Alice".into()),
            password: "pw".into(),
            admin: true,
            line: Some(("gw1".into(), "aaln/1".into())),
        };
        let key = SealKey::generate();
        let u = add(&conn, &key, &new, 1).unwrap();
        assert_eq!(u.stations, vec!["gw1/aaln/1".to_string()]);
        // The SIP secret reads back in clear with the key, and is stored sealed.
        let secret = sip_secret(&conn, &key, u.id).unwrap().unwrap();
        assert_eq!(secret.len(), 20);
        let stored: String = conn
            .query_row("SELECT sip_secret FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(stored.starts_with("sealed:") && !stored.contains(&secret));
        assert_eq!(sip_secret(&conn, &key, Uuid::new_v4()).unwrap(), None);
        assert!(matches!(add(&conn, &key, &new, 1), Err(Error::Exists(_))));
        let hash = password_hash(&conn, "alice").unwrap();
        assert!(check_password(hash.as_deref(), "pw"));
        assert!(!check_password(hash.as_deref(), "nope"));
        assert_eq!(password_hash(&conn, "zed").unwrap(), None);
        // No user: checked against the dummy hash, and never a match, whatever the password.
        assert!(!check_password(None, "pw"));
        assert!(!check_password(None, ""));
        assert!(!check_password(Some("not a hash"), "pw"));
        assert!(!valid_username("Bad Name"));
        let s1 = server_id(&conn).unwrap();
        assert_eq!(s1, server_id(&conn).unwrap());
    }

    #[test]
    fn names_and_passwords_are_checked_and_lines_listed() {
        for ok in ["a", "0", "alice", "a1.b_c-d", &"x".repeat(32)] {
            assert!(valid_username(ok), "{ok:?}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "Alice",
            "al ice",
            "al~",
            &"x".repeat(33),
        ] {
            assert!(!valid_username(bad), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let key = SealKey::generate();
        let new = |name: &str, password: &str| NewUser {
            username: name.into(),
            display: None,
            password: password.into(),
            admin: false,
            line: Some(("gw1".into(), format!("aaln/{name}"))),
        };
        assert!(matches!(
            add_hashed(&conn, &key, &new("Bad", "pw"), "h", 0),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            add_hashed(&conn, &key, &new("empty", ""), "h", 0),
            Err(Error::Invalid(_))
        ));
        let bob = add_hashed(&conn, &key, &new("bob", "pw"), "h", 0).unwrap();
        assert_eq!(
            station_lines(&conn).unwrap(),
            vec![("gw1".to_owned(), "aaln/bob".to_owned())]
        );
        assert_eq!(
            station_rows(&conn).unwrap(),
            vec![(bob.id, "gw1".to_owned(), "aaln/bob".to_owned())]
        );
        // Presence as `user list` shows it; no session survives a restart.
        set_online(&conn, bob.id, true).unwrap();
        assert!(by_id(&conn, bob.id).unwrap().unwrap().online);
        reset_online(&conn).unwrap();
        assert!(!by_id(&conn, bob.id).unwrap().unwrap().online);
        // Explicit contacts replace the everyone-else default.
        let (carol, dave) = (
            add_hashed(&conn, &key, &new("carol", "pw"), "h", 0).unwrap(),
            add_hashed(&conn, &key, &new("dave", "pw"), "h", 0).unwrap(),
        );
        let names = |owner| -> Vec<String> {
            contacts(&conn, owner)
                .unwrap()
                .into_iter()
                .map(|u| u.username)
                .collect()
        };
        assert_eq!(names(bob.id), ["carol", "dave"]);
        conn.execute(
            "INSERT INTO contacts(owner, contact) VALUES (?1, ?2)",
            [bob.id.to_string(), dave.id.to_string()],
        )
        .unwrap();
        assert_eq!(names(bob.id), ["dave"]);
        assert_eq!(names(carol.id), ["bob", "dave"]);
        assert_ne!(server_id(&conn).unwrap(), Uuid::nil());
    }
}
