//! The admin's initial password: made by `offhook init` on a data directory that has no admin,
//! so that a box fresh from its image can be logged into, and shown on the front panel until it
//! is changed.
//!
//! The password is kept in `meta` sealed with the master key (as SIP secrets are,
//! [`super::secrets`]), beside the hash it was set with. It is pending while user `admin`'s
//! stored hash is still that one: a password change anywhere ([`super::users::update`]: the web
//! console, `offhook user set`, the panel's reset) or deleting the user forgets it, and a hash
//! changed any other way makes it stale, never shown.

use rand::seq::SliceRandom;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::users::{self, NewUser};
use super::{Error, secrets};
use crate::audio::SealKey;

/// The account made with an initial password (the one the front panel's reset resets).
pub const USERNAME: &str = "admin";
/// The letters: lower case and digits without 0/o, 1/l/i, read off a small display and typed
/// by hand (the front panel's one-time passwords use the same).
pub const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Groups of [`GROUP`] letters, joined by `-`.
pub const GROUPS: usize = 3;
/// Letters in a group.
pub const GROUP: usize = 4;
/// The password's length: 14 characters, which fit one row of a 16-column display. Its 12
/// letters of 31 carry about 59 bits, as the panel's one-time passwords do: out of reach of
/// guessing through the rate-limited login, and of a search of the argon2id hash.
pub const LEN: usize = GROUPS * GROUP + GROUPS - 1;

/// The `meta` key the pending password is kept under.
const META_KEY: &str = "initial_admin_password";

/// A password to show; its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct InitialPassword(String);

impl InitialPassword {
    /// The password, in clear.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InitialPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialPassword(..)")
    }
}

/// A new password from the operating system's CSPRNG: [`GROUPS`] groups of [`GROUP`] of
/// [`LETTERS`] (each drawn uniformly), joined by `-`.
pub fn generate() -> InitialPassword {
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..GROUPS)
        .map(|_| {
            (0..GROUP)
                .map(|_| char::from(*LETTERS.choose(&mut rng).unwrap_or(&b'a')))
                .collect()
        })
        .collect();
    InitialPassword(groups.join("-"))
}

/// What is kept in `meta`.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    /// The user it was set for.
    user: Uuid,
    /// The hash it was set with: pending while the user's hash is this one.
    hash: String,
    /// The password, sealed for `user` ([`secrets::seal_initial_password`]).
    sealed: String,
}

/// What [`ensure_admin`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// An admin exists already: nothing was made.
    Exists,
    /// User [`USERNAME`] was made, its password pending.
    Made(Uuid),
}

/// Whether any user may manage users.
pub fn has_admin(conn: &Connection) -> Result<bool, Error> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE admin = 1 AND kind = 'user' LIMIT 1")?
        .exists([])?)
}

/// Makes user [`USERNAME`] (an admin) with `password`, whose argon2id `hash` (from
/// [`users::hash_password`]) was made beforehand, and keeps the password pending, sealed with
/// `key`, unless an admin exists already. `Exists` if no admin exists but a user of that name
/// does (it is not an admin: nobody is made one behind the owner's back). A stale pending
/// password (its user's hash changed) is removed first. Call it in one transaction
/// ([`users::immediate`]) so that two of these cannot both make an admin.
pub fn ensure_admin(
    conn: &Connection,
    key: &SealKey,
    password: &InitialPassword,
    hash: &str,
    now_ms: i64,
) -> Result<Admin, Error> {
    prune(conn)?;
    if has_admin(conn)? {
        return Ok(Admin::Exists);
    }
    if users::by_name(conn, USERNAME)?.is_some() {
        return Err(Error::Exists(format!(
            "user {USERNAME:?}, who is not an admin, and there is no admin: make one with \
             `offhook user add NAME --admin`"
        )));
    }
    let new = NewUser {
        username: USERNAME.into(),
        display: None,
        password: password.as_str().into(),
        admin: true,
        line: None,
    };
    let user = users::add_hashed(conn, key, &new, hash, now_ms)?;
    let kept = Kept {
        user: user.id,
        hash: hash.to_owned(),
        sealed: secrets::seal_initial_password(key, user.id, password.as_str())?,
    };
    let value = serde_json::to_string(&kept).map_err(|e| Error::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![META_KEY, value],
    )?;
    Ok(Admin::Made(user.id))
}

/// The pending password, if there is one: kept, and its user's password still the one it was
/// set with.
pub fn pending(conn: &Connection, key: &SealKey) -> Result<Option<InitialPassword>, Error> {
    let Some((kept, current)) = kept(conn)? else {
        return Ok(None);
    };
    if current.as_deref() != Some(kept.hash.as_str()) {
        return Ok(None);
    }
    secrets::open_initial_password(key, kept.user, &kept.sealed)
        .map(InitialPassword)
        .map(Some)
}

/// Removes a kept password that is no longer pending (its user's password was changed some
/// way that did not forget it, or the user is gone) or that cannot be read; whether there was
/// one. `offhook init` runs this before every start: what it finds must not stop the start.
pub fn prune(conn: &Connection) -> Result<bool, Error> {
    let stale = match kept(conn) {
        Ok(kept) => kept.is_some_and(|(k, current)| current.as_deref() != Some(k.hash.as_str())),
        // Kept in a form nobody can read: of no use to anyone.
        Err(Error::Invalid(_)) => true,
        Err(e) => return Err(e),
    };
    if stale {
        remove(conn)?;
    }
    Ok(stale)
}

/// Forgets the pending password if it is user `id`'s (their password changed, or they are
/// deleted); called by [`users::update`] and [`users::delete`].
pub(crate) fn forget(conn: &Connection, id: &str) -> Result<(), Error> {
    let user: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [META_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(value) = user else {
        return Ok(());
    };
    // One that does not parse names nobody: it goes too.
    let theirs = serde_json::from_str::<Kept>(&value).map_or(true, |k| k.user.to_string() == id);
    if theirs {
        remove(conn)?;
    }
    Ok(())
}

fn remove(conn: &Connection) -> Result<(), Error> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [META_KEY])?;
    Ok(())
}

/// What is kept, and the current hash of its user (`None`: no such user who may log in).
fn kept(conn: &Connection) -> Result<Option<(Kept, Option<String>)>, Error> {
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [META_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(value) = value else {
        return Ok(None);
    };
    let kept: Kept = serde_json::from_str(&value)
        .map_err(|e| Error::Invalid(format!("the kept initial password: {e}")))?;
    let current: Option<String> = conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1 AND kind = 'user'",
            [kept.user.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Some((kept, current)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Paths, connect};

    fn open() -> (tempfile::TempDir, Connection, SealKey) {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&Paths::new(dir.path())).unwrap();
        (dir, conn, SealKey::generate())
    }

    /// `ensure_admin` as `offhook init` calls it, with a cheap hash for the test.
    fn init(conn: &Connection, key: &SealKey) -> (InitialPassword, Admin) {
        let password = generate();
        let hash = users::hash_password(password.as_str()).unwrap();
        let made = users::immediate(conn, |c| ensure_admin(c, key, &password, &hash, 1)).unwrap();
        (password, made)
    }

    #[test]
    fn generated_passwords_are_groups_of_unambiguous_letters() {
        let mut seen = std::collections::HashSet::new();
        let mut letters = std::collections::HashSet::new();
        for _ in 0..2000 {
            let p = generate();
            let s = p.as_str();
            assert_eq!(s.len(), LEN, "{s}");
            assert_eq!(LEN, 14);
            let groups: Vec<&str> = s.split('-').collect();
            assert_eq!(groups.len(), GROUPS, "{s}");
            for g in groups {
                assert_eq!(g.len(), GROUP, "{s}");
                assert!(g.bytes().all(|b| LETTERS.contains(&b)), "{s}");
                letters.extend(g.bytes());
            }
            assert!(seen.insert(s.to_owned()), "{s} twice");
        }
        // 24 000 draws of 31 letters: every one comes up.
        assert_eq!(letters.len(), LETTERS.len());
        for ambiguous in b"01ilo" {
            assert!(!LETTERS.contains(ambiguous));
        }
        assert_eq!(format!("{:?}", generate()), "InitialPassword(..)");
    }

    #[test]
    fn init_makes_admin_once_and_the_password_logs_in_and_is_pending() {
        let (_dir, conn, key) = open();
        assert_eq!(pending(&conn, &key).unwrap(), None);
        let (password, made) = init(&conn, &key);
        let Admin::Made(id) = made else {
            panic!("{made:?}")
        };
        let admin = users::by_name(&conn, USERNAME).unwrap().unwrap();
        assert_eq!(admin.id, id);
        assert!(admin.admin);
        let hash = users::password_hash(&conn, USERNAME).unwrap();
        assert!(users::check_password(hash.as_deref(), password.as_str()));
        assert_eq!(pending(&conn, &key).unwrap(), Some(password.clone()));
        // Sealed: the database alone does not give it away, nor open with another key.
        let stored: String = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [META_KEY], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(!stored.contains(password.as_str()), "{stored}");
        assert!(pending(&conn, &SealKey::generate()).is_err());

        // Again (every start): nothing changes.
        let (_, again) = init(&conn, &key);
        assert_eq!(again, Admin::Exists);
        assert_eq!(users::list(&conn).unwrap().len(), 1);
        assert_eq!(
            users::password_hash(&conn, USERNAME).unwrap(),
            hash,
            "the password stays"
        );
        assert_eq!(pending(&conn, &key).unwrap(), Some(password));
    }

    #[test]
    fn no_admin_is_made_where_one_exists_or_the_name_is_taken() {
        let (_dir, conn, key) = open();
        let add = |name: &str, admin: bool| {
            let new = NewUser {
                username: name.into(),
                display: None,
                password: "pw".into(),
                admin,
                line: None,
            };
            users::add_hashed(&conn, &key, &new, "h", 0).unwrap()
        };
        add("alice", true);
        assert_eq!(init(&conn, &key).1, Admin::Exists);
        assert!(users::by_name(&conn, USERNAME).unwrap().is_none());
        assert_eq!(pending(&conn, &key).unwrap(), None);

        let (_dir, conn, key) = open();
        let new = NewUser {
            username: USERNAME.into(),
            display: None,
            password: "pw".into(),
            admin: false,
            line: None,
        };
        users::add_hashed(&conn, &key, &new, "h", 0).unwrap();
        let password = generate();
        let e = ensure_admin(&conn, &key, &password, "h2", 0).unwrap_err();
        assert!(e.to_string().contains("not an admin"), "{e}");
        assert!(!users::by_name(&conn, USERNAME).unwrap().unwrap().admin);
    }

    #[test]
    fn a_password_change_or_deletion_forgets_it_and_a_display_change_does_not() {
        let (_dir, conn, key) = open();
        init(&conn, &key);
        let display = users::Change {
            display: Some("The Admin".into()),
            ..users::Change::default()
        };
        users::update(&conn, USERNAME, &display).unwrap();
        assert!(pending(&conn, &key).unwrap().is_some(), "display only");
        let password = users::Change {
            password_hash: Some(users::hash_password("mine now").unwrap()),
            ..users::Change::default()
        };
        users::update(&conn, USERNAME, &password).unwrap();
        assert_eq!(pending(&conn, &key).unwrap(), None);
        assert_eq!(
            kept_rows(&conn),
            0,
            "the sealed password is gone, not just hidden"
        );

        // Deleted (after another admin was made), it goes too.
        let (_dir, conn, key) = open();
        init(&conn, &key);
        let bob = NewUser {
            username: "bob".into(),
            display: None,
            password: "pw".into(),
            admin: true,
            line: None,
        };
        users::add_hashed(&conn, &key, &bob, "h", 0).unwrap();
        users::delete(&conn, USERNAME).unwrap();
        assert_eq!(pending(&conn, &key).unwrap(), None);
        assert_eq!(kept_rows(&conn), 0);
    }

    fn kept_rows(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM meta WHERE key = ?1",
            [META_KEY],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_hash_changed_behind_its_back_makes_it_stale_and_init_removes_it() {
        let (_dir, conn, key) = open();
        init(&conn, &key);
        conn.execute(
            "UPDATE users SET password_hash = 'other' WHERE username = ?1",
            [USERNAME],
        )
        .unwrap();
        assert_eq!(pending(&conn, &key).unwrap(), None, "never shown");
        assert_eq!(kept_rows(&conn), 1);
        assert_eq!(init(&conn, &key).1, Admin::Exists);
        assert_eq!(kept_rows(&conn), 0, "removed by the next init");
        // Kept in a form that does not parse: the next init removes it, and goes on.
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, 'garbage')",
            [META_KEY],
        )
        .unwrap();
        assert!(pending(&conn, &key).is_err(), "said, when asked for");
        assert_eq!(init(&conn, &key).1, Admin::Exists);
        assert_eq!(kept_rows(&conn), 0);
        // Another user's change leaves it alone.
        let (_dir, conn, key) = open();
        init(&conn, &key);
        let carol = users::add_hashed(
            &conn,
            &key,
            &NewUser {
                username: "carol".into(),
                display: None,
                password: "pw".into(),
                admin: false,
                line: None,
            },
            "h",
            0,
        )
        .unwrap();
        forget(&conn, &carol.id.to_string()).unwrap();
        assert!(pending(&conn, &key).unwrap().is_some());
    }
}
