//! Secrets the appliance must be able to read back (a SIP phone's digest secret is needed in
//! clear to check a digest), kept in the database sealed with the master key: a copy of the
//! database alone (a backup, a stolen disk image without `master.key`) does not give them away.
//!
//! A sealed value is `sealed:` followed by the base64 of a [`codecs::seal`] envelope whose
//! associated data names the user, so a value copied to another user's row does not open.
//! Values written by versions before sealing are clear text; [`seal_clear`] seals them when the
//! data directory is opened.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use codecs::seal::{self, Compression};
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::Error;
use crate::audio::SealKey;

const PREFIX: &str = "sealed:";
/// The longest secret opened (generated ones are 20 characters).
const MAX_SECRET: u64 = 1024;

/// The associated data of `user`'s SIP secret.
fn aad(user: Uuid) -> Vec<u8> {
    let mut a = b"offhook sip_secret ".to_vec();
    a.extend_from_slice(user.as_bytes());
    a
}

/// `secret` sealed for `user`'s row.
pub fn seal_sip_secret(key: &SealKey, user: Uuid, secret: &str) -> Result<String, Error> {
    let envelope = seal::seal(key.key(), &aad(user), secret.as_bytes(), Compression::None)
        .map_err(|e| Error::Invalid(format!("cannot seal a SIP secret: {e}")))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(envelope)))
}

/// The clear secret of `user` from its `stored` form (sealed, or clear from an older version).
pub fn open_sip_secret(key: &SealKey, user: Uuid, stored: &str) -> Result<String, Error> {
    let Some(b64) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_owned());
    };
    let broken = |why: String| Error::Invalid(format!("the SIP secret of user {user}: {why}"));
    let envelope = STANDARD.decode(b64).map_err(|e| broken(e.to_string()))?;
    let clear = seal::open(key.key(), &aad(user), &envelope, MAX_SECRET)
        .map_err(|e| broken(e.to_string()))?;
    String::from_utf8(clear).map_err(|e| broken(e.to_string()))
}

/// The associated data of `user`'s initial password ([`super::initial_password`]).
fn initial_aad(user: Uuid) -> Vec<u8> {
    let mut a = b"offhook initial_password ".to_vec();
    a.extend_from_slice(user.as_bytes());
    a
}

/// `user`'s initial `password` sealed for them.
pub fn seal_initial_password(key: &SealKey, user: Uuid, password: &str) -> Result<String, Error> {
    let envelope = seal::seal(
        key.key(),
        &initial_aad(user),
        password.as_bytes(),
        Compression::None,
    )
    .map_err(|e| Error::Invalid(format!("cannot seal an initial password: {e}")))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(envelope)))
}

/// `user`'s initial password in clear from its sealed form.
pub fn open_initial_password(key: &SealKey, user: Uuid, stored: &str) -> Result<String, Error> {
    let broken =
        |why: String| Error::Invalid(format!("the initial password of user {user}: {why}"));
    let b64 = stored
        .strip_prefix(PREFIX)
        .ok_or_else(|| broken("not sealed".into()))?;
    let envelope = STANDARD.decode(b64).map_err(|e| broken(e.to_string()))?;
    let clear = seal::open(key.key(), &initial_aad(user), &envelope, MAX_SECRET)
        .map_err(|e| broken(e.to_string()))?;
    String::from_utf8(clear).map_err(|e| broken(e.to_string()))
}

/// The associated data of a device's HTTP provisioning secret (the device's MAC, as stored).
fn device_aad(mac: &str) -> Vec<u8> {
    let mut a = b"offhook device_secret ".to_vec();
    a.extend_from_slice(mac.as_bytes());
    a
}

/// A device's HTTP provisioning `secret` sealed for the row of `mac`.
pub fn seal_device_secret(key: &SealKey, mac: &str, secret: &str) -> Result<String, Error> {
    let envelope = seal::seal(
        key.key(),
        &device_aad(mac),
        secret.as_bytes(),
        Compression::None,
    )
    .map_err(|e| Error::Invalid(format!("cannot seal a device secret: {e}")))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(envelope)))
}

/// The clear HTTP provisioning secret of device `mac` from its sealed form.
pub fn open_device_secret(key: &SealKey, mac: &str, stored: &str) -> Result<String, Error> {
    let broken = |why: String| Error::Invalid(format!("the secret of device {mac}: {why}"));
    let b64 = stored
        .strip_prefix(PREFIX)
        .ok_or_else(|| broken("not sealed".into()))?;
    let envelope = STANDARD.decode(b64).map_err(|e| broken(e.to_string()))?;
    let clear = seal::open(key.key(), &device_aad(mac), &envelope, MAX_SECRET)
        .map_err(|e| broken(e.to_string()))?;
    String::from_utf8(clear).map_err(|e| broken(e.to_string()))
}

/// Seals every SIP secret still in clear (written before secrets were sealed); returns how
/// many. In a savepoint, so atomic on its own and inside the writer's transaction: a crash
/// leaves all or none sealed, and a sealed one is never sealed twice.
pub fn seal_clear(conn: &Connection, key: &SealKey) -> Result<usize, Error> {
    conn.execute_batch("SAVEPOINT seal_clear")?;
    let done = seal_each(conn, key);
    let end = if done.is_ok() {
        "RELEASE seal_clear"
    } else {
        "ROLLBACK TO seal_clear; RELEASE seal_clear"
    };
    conn.execute_batch(end)?;
    done
}

fn seal_each(conn: &Connection, key: &SealKey) -> Result<usize, Error> {
    let clear: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT id, sip_secret FROM users WHERE substr(sip_secret, 1, {}) != '{PREFIX}'",
            PREFIX.len()
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, secret) in &clear {
        let user = Uuid::parse_str(id).map_err(|e| Error::Invalid(e.to_string()))?;
        let sealed = seal_sip_secret(key, user, secret)?;
        conn.execute(
            "UPDATE users SET sip_secret = ?1 WHERE id = ?2",
            params![sealed, id],
        )?;
    }
    Ok(clear.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_for_its_own_user_only() {
        let key = SealKey::generate();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = seal_sip_secret(&key, alice, "s3cret-s3cret").unwrap();
        assert!(sealed.starts_with("sealed:") && !sealed.contains("s3cret"));
        assert_eq!(
            open_sip_secret(&key, alice, &sealed).unwrap(),
            "s3cret-s3cret"
        );
        // Moved to bob's row, or opened with another key, it does not open.
        assert!(open_sip_secret(&key, bob, &sealed).is_err());
        assert!(open_sip_secret(&SealKey::generate(), alice, &sealed).is_err());
        assert!(open_sip_secret(&key, alice, "sealed:!!not base64").is_err());
        assert!(open_sip_secret(&key, alice, "sealed:AAAA").is_err());
        // A clear value of an older version reads as itself.
        assert_eq!(
            open_sip_secret(&key, alice, "old-clear").unwrap(),
            "old-clear"
        );
    }

    #[test]
    fn clear_secrets_of_an_older_version_are_sealed_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&super::super::Paths::new(dir.path())).unwrap();
        let key = SealKey::generate();
        let new = |name: &str| super::super::users::NewUser {
            username: name.into(),
            display: None,
            password: "pw".into(),
            admin: false,
            line: None,
        };
        let alice = super::super::users::add(&conn, &key, &new("alice"), 0).unwrap();
        let bob = super::super::users::add(&conn, &key, &new("bob"), 0).unwrap();
        let alice_secret = super::super::users::sip_secret(&conn, &key, alice.id).unwrap();
        // bob's secret as an older version wrote it.
        conn.execute(
            "UPDATE users SET sip_secret = 'clear-of-old' WHERE id = ?1",
            [bob.id.to_string()],
        )
        .unwrap();
        assert_eq!(seal_clear(&conn, &key).unwrap(), 1);
        assert_eq!(seal_clear(&conn, &key).unwrap(), 0, "sealed once");
        let stored: Vec<String> = conn
            .prepare("SELECT sip_secret FROM users")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(stored.iter().all(|s| s.starts_with(PREFIX)), "{stored:?}");
        let read = |id| super::super::users::sip_secret(&conn, &key, id).unwrap();
        assert_eq!(read(bob.id).as_deref(), Some("clear-of-old"));
        assert_eq!(read(alice.id), alice_secret, "alice's untouched");
    }
}
