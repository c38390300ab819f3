//! Changing a user: display name, password, admin flag, and contact list.

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
/// no such user; `Invalid` for a display name [`check_display`] refuses, or for taking the
/// admin flag from the last admin (nobody could manage users any more).
pub fn update(conn: &Connection, username: &str, change: &Change) -> Result<User, Error> {
    if let Some(d) = &change.display {
        check_display(d)?;
    }
    let id = live_id(conn, username)?;
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
    fn a_change_sets_what_it_names_and_leaves_the_rest() {
        let (_d, conn) = db();
        test_user(&conn, "bob");
        let hash = super::super::hash_password("new secret").unwrap();
        let change = Change {
            display: Some("Bob Builder".into()),
            password_hash: Some(hash),
            admin: None,
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
