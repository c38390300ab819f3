//! Changing a user: display name, password, admin flag, dial-in number and PIN, and contact
//! list.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::super::Error;
use super::{User, by_id, contacts};

/// The longest display name, in characters.
pub const DISPLAY_MAX: usize = 64;

/// What a change sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// A new display name (checked by [`check_display`]).
    pub display: Option<String>,
    /// A new password's argon2id hash (made by [`super::hash_password`] off the writer).
    pub password_hash: Option<String>,
    /// Whether they may manage users.
    pub admin: Option<bool>,
    /// A new dial-in number (checked by [`super::check_number`]; unique), or `Some(None)` to
    /// remove theirs.
    pub number: Option<Option<String>>,
    /// A new PIN's argon2id hash (made by [`super::hash_password`] from a PIN
    /// [`super::check_pin`] takes), or `Some(None)` to remove theirs.
    pub pin_hash: Option<Option<String>>,
}

/// Checks a display name: 1 to [`DISPLAY_MAX`] characters, no control characters, not blank.
pub fn check_display(display: &str) -> Result<(), Error> {
    if display.trim().is_empty() {
        return Err(Error::Invalid("the display name is empty".into()));
    }
    if display.chars().count() > DISPLAY_MAX {
        return Err(Error::Invalid(format!(
            "the display name is longer than {DISPLAY_MAX} characters"
        )));
    }
    if display.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "the display name holds a control character".into(),
        ));
    }
    Ok(())
}

/// The GUID of live (not deleted) user `username`, `NotFound` if none.
fn live_id(conn: &Connection, username: &str) -> Result<String, Error> {
    conn.prepare_cached("SELECT id FROM users WHERE username = ?1 AND kind != 'deleted'")?
        .query_row([username], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NotFound(format!("user {username:?}")))
}

/// Applies `change` to user `username` and returns them as they now are. `NotFound` if there is
/// no such user; `Invalid` for a display name [`check_display`] refuses, a number
/// [`super::check_number`] refuses, or for taking the admin flag from the last admin (nobody
/// could manage users any more); `Exists("number …")` for a number another user has.
pub fn update(conn: &Connection, username: &str, change: &Change) -> Result<User, Error> {
    if let Some(d) = &change.display {
        check_display(d)?;
    }
    if let Some(Some(n)) = &change.number {
        super::check_number(n)?;
    }
    let id = live_id(conn, username)?;
    if let Some(Some(n)) = &change.number {
        let taken = conn
            .prepare_cached("SELECT 1 FROM users WHERE number = ?1 AND id != ?2")?
            .exists(params![n, id])?;
        if taken {
            return Err(Error::Exists(format!("number {n}")));
        }
    }
    if change.admin == Some(false) {
        let others: i64 = conn.query_row(
            "SELECT count(*) FROM users WHERE admin = 1 AND kind = 'user' AND id != ?1",
            [&id],
            |r| r.get(0),
        )?;
        let is_admin: bool =
            conn.query_row("SELECT admin FROM users WHERE id = ?1", [&id], |r| r.get(0))?;
        if is_admin && others == 0 {
            return Err(Error::Invalid(
                "the last admin cannot lose admin rights: make another user an admin first".into(),
            ));
        }
    }
    conn.execute(
        "UPDATE users SET display = coalesce(?2, display),
                          password_hash = coalesce(?3, password_hash),
                          admin = coalesce(?4, admin)
         WHERE id = ?1",
        params![id, change.display, change.password_hash, change.admin],
    )?;
    if change.password_hash.is_some() {
        // Their own password now: an initial one (`offhook init`) is shown no more.
        super::super::initial_password::forget(conn, &id)?;
    }
    if let Some(number) = &change.number {
        conn.execute(
            "UPDATE users SET number = ?2 WHERE id = ?1",
            params![id, number],
        )?;
    }
    if let Some(pin_hash) = &change.pin_hash {
        conn.execute(
            "UPDATE users SET pin_hash = ?2 WHERE id = ?1",
            params![id, pin_hash],
        )?;
        // A new PIN starts with a clean count (an admin's reset unlocks the number).
        conn.execute("DELETE FROM dial_in_failures WHERE user_id = ?1", [&id])?;
    }
    let uuid = Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?;
    by_id(conn, uuid)?.ok_or_else(|| Error::NotFound(format!("user {username:?}")))
}

/// A user's contact list as an admin sets it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactList {
    /// Set by an admin: only these. Otherwise (empty) every other user is a contact.
    pub explicit: bool,
    /// The contacts, by username.
    pub contacts: Vec<String>,
}

/// User `owner`'s contact list.
pub fn contact_list(conn: &Connection, owner: &str) -> Result<ContactList, Error> {
    let id = live_id(conn, owner)?;
    let explicit = conn
        .prepare_cached("SELECT 1 FROM contacts WHERE owner = ?1")?
        .exists([&id])?;
    let uuid = Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(ContactList {
        explicit,
        contacts: contacts(conn, uuid)?
            .into_iter()
            .map(|u| u.username)
            .collect(),
    })
}

/// Sets user `owner`'s contacts to `names` (an empty list: every other user, the default).
/// Atomic: `NotFound` names the first unknown user and nothing changes; a user cannot be their
/// own contact (`Invalid`). Names given twice count once.
pub fn set_contacts(
    conn: &Connection,
    owner: &str,
    names: &[String],
) -> Result<ContactList, Error> {
    conn.execute_batch("SAVEPOINT set_contacts")?;
    let result = set_contacts_in(conn, owner, names);
    if result.is_ok() {
        conn.execute_batch("RELEASE set_contacts")?;
    } else {
        conn.execute_batch("ROLLBACK TO set_contacts; RELEASE set_contacts")?;
    }
    result
}

fn set_contacts_in(conn: &Connection, owner: &str, names: &[String]) -> Result<ContactList, Error> {
    let id = live_id(conn, owner)?;
    conn.execute("DELETE FROM contacts WHERE owner = ?1", [&id])?;
    for name in names {
        let contact = live_id(conn, name)
            .map_err(|_| Error::NotFound(format!("contact {name:?}: no such user")))?;
        if contact == id {
            return Err(Error::Invalid(format!(
                "{name:?} cannot be their own contact"
            )));
        }
        conn.execute(
            "INSERT OR IGNORE INTO contacts(owner, contact) VALUES (?1, ?2)",
            [&id, &contact],
        )?;
    }
    contact_list(conn, owner)
}

/// Reads a phone line written `GATEWAY/ENDPOINT` (`gw1/aaln/1`: the gateway's configured name,
/// then its own name for the port, which may hold `/`). The endpoint is 1–255 characters
/// without spaces, control characters, `@`, or the wildcards `*` and `$`; the gateway 1–64
/// characters without spaces or control characters. The error says what is wrong.
pub fn parse_line(text: &str) -> Result<(String, String), String> {
    let Some((gateway, endpoint)) = text.split_once('/') else {
        return Err(format!(
            "line {text:?}: write it GATEWAY/ENDPOINT, as gw1/aaln/1"
        ));
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control();
    if gateway.is_empty() || gateway.chars().count() > 64 || gateway.contains(bad_char) {
        return Err(format!(
            "line {text:?}: the gateway name is empty, too long or holds spaces"
        ));
    }
    if endpoint.is_empty()
        || endpoint.len() > 255
        || endpoint.contains(|c: char| bad_char(c) || matches!(c, '@' | '*' | '$'))
    {
        return Err(format!(
            "line {text:?}: the endpoint must be 1-255 characters without spaces, @, * or $"
        ));
    }
    Ok((gateway.to_owned(), endpoint.to_owned()))
}

/// The most phone lines one user may have.
pub const MAX_STATIONS: usize = 16;

/// Sets user `owner`'s phone lines to `lines` (`(gateway, endpoint)` pairs; an empty list: no
/// phone) and returns them as `GATEWAY/ENDPOINT`, in the order given. Atomic: a line another
/// user has is refused whole with `Exists("line …")` and nothing changes; more than
/// [`MAX_STATIONS`] is `Invalid`. A line given twice counts once. Checking that each names a
/// configured gateway and a valid endpoint is the caller's (the web layer knows the gateways).
pub fn set_stations(
    conn: &Connection,
    owner: &str,
    lines: &[(String, String)],
) -> Result<Vec<String>, Error> {
    if lines.len() > MAX_STATIONS {
        return Err(Error::Invalid(format!(
            "a user has at most {MAX_STATIONS} phone lines"
        )));
    }
    conn.execute_batch("SAVEPOINT set_stations")?;
    let result = set_stations_in(conn, owner, lines);
    if result.is_ok() {
        conn.execute_batch("RELEASE set_stations")?;
    } else {
        conn.execute_batch("ROLLBACK TO set_stations; RELEASE set_stations")?;
    }
    result
}

fn set_stations_in(
    conn: &Connection,
    owner: &str,
    lines: &[(String, String)],
) -> Result<Vec<String>, Error> {
    let id = live_id(conn, owner)?;
    conn.execute("DELETE FROM stations WHERE user_id = ?1", [&id])?;
    for (gateway, endpoint) in lines {
        conn.execute(
            "INSERT OR IGNORE INTO stations(user_id, gateway, endpoint) VALUES (?1, ?2, ?3)",
            params![id, gateway, endpoint],
        )?;
        let holder: String = conn.query_row(
            "SELECT user_id FROM stations WHERE gateway = ?1 AND endpoint = ?2",
            params![gateway, endpoint],
            |r| r.get(0),
        )?;
        if holder != id {
            return Err(Error::Exists(format!("line {gateway}/{endpoint}")));
        }
    }
    stations_of(conn, &id)
}

/// User `id`'s phone lines as `GATEWAY/ENDPOINT`, oldest first.
fn stations_of(conn: &Connection, id: &str) -> Result<Vec<String>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT gateway || '/' || endpoint FROM stations WHERE user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::{NewUser, add, by_name, check_password, password_hash, test_user};
    use super::*;
    use crate::audio::SealKey;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn =
            super::super::super::connect(&super::super::super::Paths::new(dir.path())).unwrap();
        (dir, conn)
    }

    fn admin(conn: &Connection, name: &str) {
        let new = NewUser {
            username: name.into(),
            display: None,
            password: "pw".into(),
            admin: true,
            line: None,
        };
        add(conn, &SealKey::generate(), &new, 0).unwrap();
    }

    #[test]
    fn lines_are_read_as_gateway_then_endpoint() {
        assert_eq!(
            parse_line("gw1/aaln/1"),
            Ok(("gw1".into(), "aaln/1".into()))
        );
        assert_eq!(parse_line("g/1"), Ok(("g".into(), "1".into())));
        for bad in [
            "",
            "gw1",
            "/aaln/1",
            "gw1/",
            "gw 1/aaln/1",
            "gw1/aaln 1",
            "gw1/aaln/*",
            "gw1/a$",
            "gw1/a@b",
            "gw1/a\u{7}",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
        assert!(parse_line(&format!("gw1/{}", "e".repeat(255))).is_ok());
        assert!(parse_line(&format!("gw1/{}", "e".repeat(256))).is_err());
        assert!(parse_line(&format!("{}/e", "g".repeat(64))).is_ok());
        assert!(parse_line(&format!("{}/e", "g".repeat(65))).is_err());
    }

    #[test]
    fn stations_are_set_whole_and_a_line_held_by_another_refuses_all() {
        let (_d, conn) = db();
        test_user(&conn, "bob");
        test_user(&conn, "carol");
        let line = |e: &str| ("gw1".to_owned(), e.to_owned());
        let set = set_stations(
            &conn,
            "bob",
            &[line("aaln/2"), line("aaln/1"), line("aaln/2")],
        );
        assert_eq!(set.unwrap(), ["gw1/aaln/2", "gw1/aaln/1"]);
        assert_eq!(
            by_name(&conn, "bob").unwrap().unwrap().stations,
            ["gw1/aaln/2", "gw1/aaln/1"]
        );
        // carol asks for bob's line 1: refused, and her own list is untouched.
        set_stations(&conn, "carol", &[line("aaln/3")]).unwrap();
        let taken = set_stations(&conn, "carol", &[line("aaln/4"), line("aaln/1")]);
        assert!(
            matches!(taken, Err(Error::Exists(ref w)) if w == "line gw1/aaln/1"),
            "{taken:?}"
        );
        assert_eq!(
            by_name(&conn, "carol").unwrap().unwrap().stations,
            ["gw1/aaln/3"]
        );
        // Bob gives up line 1; carol can then take it.
        assert_eq!(
            set_stations(&conn, "bob", &[line("aaln/2")]).unwrap(),
            ["gw1/aaln/2"]
        );
        set_stations(&conn, "carol", &[line("aaln/1")]).unwrap();
        assert_eq!(
            set_stations(&conn, "bob", &[]).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            super::super::station_lines(&conn).unwrap(),
            [line("aaln/1")]
        );
        let mut many: Vec<_> = (0..MAX_STATIONS).map(|n| line(&format!("x/{n}"))).collect();
        assert_eq!(
            set_stations(&conn, "bob", &many).unwrap().len(),
            MAX_STATIONS
        );
        many.push(line("x/one-more"));
        assert!(matches!(
            set_stations(&conn, "bob", &many),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            set_stations(&conn, "nobody", &[]),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn a_change_sets_what_it_names_and_leaves_the_rest() {
        let (_d, conn) = db();
        test_user(&conn, "bob");
        let hash = super::super::hash_password("new secret").unwrap();
        let change = Change {
            display: Some("Bob Builder".into()),
            password_hash: Some(hash),
            ..Change::default()
        };
        let u = update(&conn, "bob", &change).unwrap();
        assert_eq!((u.display.as_str(), u.admin), ("Bob Builder", false));
        let stored = password_hash(&conn, "bob").unwrap();
        assert!(check_password(stored.as_deref(), "new secret"));
        assert!(!check_password(stored.as_deref(), "pw"));
        // Nothing named: nothing changes.
        let same = update(&conn, "bob", &Change::default()).unwrap();
        assert_eq!(same, u);
        assert!(matches!(
            update(&conn, "nobody", &Change::default()),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn display_names_are_checked() {
        let (_d, conn) = db();
        test_user(&conn, "bob");
        for bad in [
            "",
            "   ",
            "a\u{7}b",
            "line\nbreak",
            &"x".repeat(DISPLAY_MAX + 1),
        ] {
            let change = Change {
                display: Some(bad.into()),
                ..Change::default()
            };
            assert!(
                matches!(update(&conn, "bob", &change), Err(Error::Invalid(_))),
                "{bad:?}"
            );
        }
        let longest = "é".repeat(DISPLAY_MAX);
        let change = Change {
            display: Some(longest.clone()),
            ..Change::default()
        };
        assert_eq!(update(&conn, "bob", &change).unwrap().display, longest);
        assert_eq!(by_name(&conn, "bob").unwrap().unwrap().display, longest);
    }

    #[test]
    fn the_last_admin_keeps_the_flag() {
        let (_d, conn) = db();
        admin(&conn, "root");
        test_user(&conn, "bob");
        let demote = Change {
            admin: Some(false),
            ..Change::default()
        };
        let promote = Change {
            admin: Some(true),
            ..Change::default()
        };
        assert!(matches!(
            update(&conn, "root", &demote),
            Err(Error::Invalid(_))
        ));
        assert!(by_name(&conn, "root").unwrap().unwrap().admin);
        // Demoting someone who is not an admin is no loss.
        assert!(!update(&conn, "bob", &demote).unwrap().admin);
        assert!(update(&conn, "bob", &promote).unwrap().admin);
        assert!(
            !update(&conn, "root", &demote).unwrap().admin,
            "bob is one now"
        );
        assert!(matches!(
            update(&conn, "bob", &demote),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn contact_lists_are_everyone_until_set_and_set_whole() {
        let (_d, conn) = db();
        for n in ["alice", "bob", "carol", "dave"] {
            test_user(&conn, n);
        }
        let everyone = contact_list(&conn, "alice").unwrap();
        assert!(!everyone.explicit);
        assert_eq!(everyone.contacts, ["bob", "carol", "dave"]);
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let set = set_contacts(&conn, "alice", &names(&["dave", "bob", "dave"])).unwrap();
        assert_eq!(
            (set.explicit, set.contacts.clone()),
            (true, names(&["bob", "dave"]))
        );
        // An unknown name or herself: refused whole, the list as it was.
        assert!(matches!(
            set_contacts(&conn, "alice", &names(&["carol", "zed"])),
            Err(Error::NotFound(m)) if m.contains("zed")
        ));
        assert!(matches!(
            set_contacts(&conn, "alice", &names(&["carol", "alice"])),
            Err(Error::Invalid(_))
        ));
        assert_eq!(contact_list(&conn, "alice").unwrap(), set);
        // Others' lists are their own.
        assert!(!contact_list(&conn, "bob").unwrap().explicit);
        // An empty list: everyone again.
        let back = set_contacts(&conn, "alice", &[]).unwrap();
        assert_eq!(
            (back.explicit, back.contacts),
            (false, names(&["bob", "carol", "dave"]))
        );
        // A deleted contact leaves the list.
        set_contacts(&conn, "alice", &names(&["bob", "carol"])).unwrap();
        super::super::delete(&conn, "bob").unwrap();
        assert_eq!(contact_list(&conn, "alice").unwrap().contacts, ["carol"]);
        assert!(matches!(
            contact_list(&conn, "bob"),
            Err(Error::NotFound(_))
        ));
    }
}
