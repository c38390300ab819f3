//! Federation's storage (issue 24): users of other sites, the outbox of messages still to be
//! forwarded to each site, and the ids of messages received from other sites.
//!
//! A user of site `branch` is a row of `users` with `kind = 'remote'`, `site = 'branch'` and
//! `username = 'bob@branch'`, under the GUID their own appliance gave them (GUIDs are unique
//! everywhere, so the same person has the same id at every site). They can be a recipient, a
//! sender and a contact, and never log in (everything that logs in asks for `kind = 'user'`).

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::Error;
use super::messages;

/// The longest site name.
pub const SITE_MAX: usize = 32;

/// Whether `site` is a site name: 1-32 of a-z, 0-9 and '-', starting with a letter or digit
/// (it is a NATS subject token and part of every remote user's name).
pub fn valid_site(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= SITE_MAX
        && site.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && site
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Splits `name@site` into its name and site, if it has that shape (both parts valid).
pub fn split_address(address: &str) -> Option<(&str, &str)> {
    let (name, site) = address.split_once('@')?;
    (super::users::valid_username(name) && valid_site(site)).then_some((name, site))
}

/// A user as a site's directory lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// Their GUID (the same at every site).
    pub id: Uuid,
    /// Their login name at their own site (bare: `bob`).
    pub name: String,
    /// Their display name.
    pub display: String,
}

/// Records user `p` of `site` (or updates their name and display name); the caller has checked
/// the name and site. A local user's GUID is never taken over: `Invalid`.
pub fn upsert(conn: &Connection, site: &str, p: &Person, now_ms: i64) -> Result<(), Error> {
    let id = p.id.to_string();
    let address = format!("{}@{site}", p.name);
    let known: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT kind, site FROM users WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // A remote user (or one removed from their site's directory, kept as a tombstone) may be
    // recorded again; a user of this site, or one deleted here, never.
    if known.is_some_and(|(kind, s)| kind == "user" || s.is_none()) {
        return Err(Error::Invalid(format!(
            "user {id} of site {site} has the GUID of a user of this site"
        )));
    }
    // Someone else held that address (a user deleted there, the name given again): they keep
    // their messages under a tombstone name.
    conn.prepare_cached(
        "UPDATE users SET kind = 'deleted', former_username = username, username = '~' || id
         WHERE username = ?1 AND id != ?2",
    )?
    .execute(params![address, id])?;
    // Another site's word: held to this site's limit on display names.
    let display: String = if p.display.trim().is_empty() {
        p.name.clone()
    } else {
        p.display
            .chars()
            .filter(|c| !c.is_control())
            .take(super::users::DISPLAY_MAX)
            .collect()
    };
    conn.prepare_cached(
        "INSERT INTO users(id, username, display, password_hash, admin, kind, sip_username,
                           sip_secret, online, created, site)
         VALUES (?1, ?2, ?3, '!', 0, 'remote', 'remote:' || ?1, '', 0, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET username = excluded.username, display = excluded.display,
                                       site = excluded.site, kind = 'remote',
                                       former_username = NULL",
    )?
    .execute(params![id, address, display, now_ms, site])?;
    Ok(())
}

/// Sets site `site`'s users to `people`: each is recorded ([`upsert`]) and those no longer
/// listed are removed (kept as a tombstone while a message names them as its sender). Returns
/// how many were removed.
pub fn set_site(
    conn: &Connection,
    site: &str,
    people: &[Person],
    now_ms: i64,
) -> Result<usize, Error> {
    let listed: HashSet<String> = people.iter().map(|p| p.id.to_string()).collect();
    let known: Vec<String> = conn
        .prepare_cached("SELECT id FROM users WHERE site = ?1 AND kind = 'remote'")?
        .query_map([site], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for id in known.iter().filter(|id| !listed.contains(*id)) {
        remove(conn, id)?;
        removed += 1;
    }
    for p in people {
        upsert(conn, site, p, now_ms)?;
    }
    Ok(removed)
}

/// Removes remote user `id`: deleted if no message names them as its sender (their copies of
/// messages sent from here, and their contact entries, go with them), else a tombstone.
fn remove(conn: &Connection, id: &str) -> Result<(), Error> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM users WHERE id = ?1 AND kind = 'remote'
             AND NOT EXISTS (SELECT 1 FROM messages WHERE sender = ?1)",
        )?
        .execute([id])?;
    if deleted == 0 {
        conn.prepare_cached(
            "UPDATE users SET kind = 'deleted', former_username = username, username = '~' || id,
                              online = 0
             WHERE id = ?1 AND kind = 'remote'",
        )?
        .execute([id])?;
    }
    Ok(())
}

/// Marks remote user `id` online or offline; returns their address if they are one.
pub fn set_online(conn: &Connection, id: Uuid, online: bool) -> Result<Option<String>, Error> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET online = ?2 WHERE id = ?1 AND kind = 'remote' RETURNING username",
        )?
        .query_row(params![id.to_string(), online], |r| r.get(0))
        .optional()?)
}

/// Marks every user of `site` offline (its appliance stopped publishing); returns those who were
/// online, with their addresses.
pub fn site_offline(conn: &Connection, site: &str) -> Result<Vec<(Uuid, String)>, Error> {
    let rows: Vec<(String, String)> = conn
        .prepare_cached(
            "UPDATE users SET online = 0 WHERE site = ?1 AND kind = 'remote' AND online = 1
             RETURNING id, username",
        )?
        .query_map([site], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name)| Uuid::parse_str(&id).ok().map(|u| (u, name)))
        .collect())
}

/// Up to `limit` `(message, site)` pairs still to be forwarded, oldest message first: those of
/// messages ready (transcoded). Pairs of messages that failed are dropped here.
pub fn outbox(conn: &Connection, limit: usize) -> Result<Vec<(Uuid, String)>, Error> {
    conn.prepare_cached(
        "DELETE FROM outbox WHERE message_id IN (SELECT id FROM messages WHERE status = 'failed')",
    )?
    .execute([])?;
    let rows: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT o.message_id, o.site FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE m.status = 'ready' ORDER BY m.created, m.rowid LIMIT ?1",
        )?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, site)| {
            Uuid::parse_str(&id)
                .map(|u| (u, site))
                .map_err(|e| Error::Invalid(e.to_string()))
        })
        .collect()
}

/// How many `(message, site)` pairs wait in the outbox (ready or not).
pub fn outbox_len(conn: &Connection) -> Result<u64, Error> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM outbox")?
        .query_row([], |r| r.get(0))?)
}

/// What a message to forward to one site holds, as stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The message.
    pub id: Uuid,
    /// Its sender (a user of this site).
    pub sender: Person,
    /// Its recipients at that site, by their bare names.
    pub to: Vec<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// Its length.
    pub duration_ms: u64,
    /// Its sealed Opus file, if it still has one (retention may have removed it).
    pub audio_file: Option<String>,
    /// Its attachments: `(name, content type, sealed file)`, in order.
    pub attachments: Vec<(String, String, String)>,
}

/// Message `id` as forwarded to `site`, if it is still in the outbox for it.
pub fn outgoing(conn: &Connection, id: Uuid, site: &str) -> Result<Option<Outgoing>, Error> {
    let s = id.to_string();
    let row = conn
        .prepare_cached(
            "SELECT u.id, u.username, u.display, m.created, m.duration_ms, m.audio_file
             FROM outbox o JOIN messages m ON m.id = o.message_id JOIN users u ON u.id = m.sender
             WHERE o.message_id = ?1 AND o.site = ?2 AND m.status = 'ready'",
        )?
        .query_row(params![s, site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, u64>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?;
    let Some((sender, name, display, created_ms, duration_ms, audio_file)) = row else {
        return Ok(None);
    };
    let suffix = format!("@{site}");
    let to: Vec<String> = conn
        .prepare_cached(
            "SELECT u.username FROM recipients r JOIN users u ON u.id = r.user_id
             WHERE r.message_id = ?1 AND u.kind = 'remote' AND u.site = ?2 ORDER BY r.seq",
        )?
        .query_map(params![s, site], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|a| a.strip_suffix(&suffix).map_or(a.clone(), str::to_owned))
        .collect();
    let attachments = conn
        .prepare_cached(
            "SELECT name, content_type, file FROM attachments WHERE message_id = ?1 ORDER BY n",
        )?
        .query_map([&s], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(Some(Outgoing {
        id,
        sender: Person {
            id: Uuid::parse_str(&sender).map_err(|e| Error::Invalid(e.to_string()))?,
            name,
            display,
        },
        to,
        created_ms,
        duration_ms,
        audio_file,
        attachments,
    }))
}

/// Message `id` was handed to `site` (JetStream acknowledged it): its outbox entry goes, and the
/// copies of that site's recipients here are done with (their site holds them now). Returns the
/// files to remove once this commits, when nobody here holds the message any more.
pub fn forwarded(conn: &Connection, id: Uuid, site: &str) -> Result<Vec<String>, Error> {
    let s = id.to_string();
    conn.prepare_cached("DELETE FROM outbox WHERE message_id = ?1 AND site = ?2")?
        .execute(params![s, site])?;
    conn.prepare_cached(
        "UPDATE recipients SET state = max(state, 1), deleted = 1
         WHERE message_id = ?1 AND user_id IN (SELECT id FROM users WHERE site = ?2)",
    )?
    .execute(params![s, site])?;
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)")?
        .query_row([&s], |r| r.get(0))?;
    if !exists || messages::held(conn, &s)? {
        return Ok(Vec::new());
    }
    messages::remove(conn, &s)
}

/// Whether message `id` was already received from another site.
pub fn was_received(conn: &Connection, id: Uuid) -> Result<bool, Error> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM federation_received WHERE message_id = ?1)")?
        .query_row([id.to_string()], |r| r.get(0))?)
}

/// Records that message `id` was received (in the transaction that stores it, or alone when
/// it had no recipient here, so that a redelivery is not looked at again).
pub fn mark_received(conn: &Connection, id: Uuid, now_ms: i64) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO federation_received(message_id, received) VALUES (?1, ?2)",
    )?
    .execute(params![id.to_string(), now_ms])?;
    Ok(())
}

/// The local users (who may log in) among `names`, as `(name, id)`; the others are left out.
pub fn local_users(conn: &Connection, names: &[String]) -> Result<Vec<(String, Uuid)>, Error> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM users WHERE username = ?1 AND kind = 'user'")?;
    let mut out = Vec::new();
    for n in names {
        let id: Option<String> = stmt.query_row([n], |r| r.get(0)).optional()?;
        if let Some(id) = id.and_then(|i| Uuid::parse_str(&i).ok())
            && !out.iter().any(|(_, u)| *u == id)
        {
            out.push((n.clone(), id));
        }
    }
    Ok(out)
}

/// Every user of another site: `(id, site, bare name)`.
pub fn all(conn: &Connection) -> Result<Vec<(Uuid, String, String)>, Error> {
    let rows: Vec<(String, String, String)> = conn
        .prepare_cached(
            "SELECT id, site, username FROM users WHERE kind = 'remote' AND site IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, site, address)| {
            let name = address.strip_suffix(&format!("@{site}"))?.to_owned();
            Some((Uuid::parse_str(&id).ok()?, site, name))
        })
        .collect())
}

/// The local users, as the directory publishes them.
pub fn local_people(conn: &Connection) -> Result<Vec<Person>, Error> {
    let rows: Vec<(String, String, String)> = conn
        .prepare_cached(
            "SELECT id, username, display FROM users WHERE kind = 'user' ORDER BY username",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, name, display)| {
            Ok(Person {
                id: Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?,
                name,
                display,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
