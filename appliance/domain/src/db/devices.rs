//! IP phones (devices), their DHCP leases and the owner's configuration templates.
//!
//! A device is keyed by its MAC in the lower-case colon form ([`Mac`]'s `Display`), so every
//! spelling an owner types finds the same row. The vendor is a name (`cisco`, `polycom`, …)
//! checked by the caller against the provisioning crate's list; the database keeps text so
//! that a vendor added later needs no migration.

use std::net::Ipv4Addr;

use provisioning::Mac;
use rand::distributions::{Alphanumeric, DistString};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use uuid::Uuid;

use super::{Error, secrets};
use crate::audio::SealKey;

/// The longest model name kept.
pub const MODEL_MAX: usize = 32;

/// A device as the API and CLI show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Device {
    /// Its MAC address.
    pub mac: Mac,
    /// Its vendor's name, if known.
    pub vendor: Option<String>,
    /// Its model, if known (`7841`, `T46U`, `D785`, …).
    pub model: Option<String>,
    /// The user whose phone it is, if assigned.
    pub user: Option<String>,
    /// Its DHCP reservation.
    pub ip: Option<Ipv4Addr>,
    /// DHCP option 60 as last seen.
    pub vendor_class: Option<String>,
    /// The address it last had from DHCP.
    pub last_ip: Option<Ipv4Addr>,
    /// When DHCP last saw it (ms since the epoch).
    pub last_seen: Option<i64>,
}

/// The user a device belongs to, with what its configuration file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// GUID.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display: String,
    /// SIP digest user name.
    pub sip_username: String,
}

/// What `device add` and `device set` supply; `None` leaves a field as it is (`set`) or
/// empty (`add`); `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The vendor's name.
    pub vendor: Option<Option<String>>,
    /// The model.
    pub model: Option<Option<String>>,
    /// The user's login name.
    pub user: Option<Option<String>>,
    /// The reservation.
    pub ip: Option<Option<Ipv4Addr>>,
}

const COLUMNS: &str =
    "d.mac, d.vendor, d.model, u.username, d.ip, d.vendor_class, d.last_ip, d.last_seen";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    let parse_ip = |v: Option<String>| v.and_then(|s| s.parse().ok());
    let mac: String = r.get(0)?;
    Ok(Device {
        mac: mac.parse().unwrap_or_default(),
        vendor: r.get(1)?,
        model: r.get(2)?,
        user: r.get(3)?,
        ip: parse_ip(r.get(4)?),
        vendor_class: r.get(5)?,
        last_ip: parse_ip(r.get(6)?),
        last_seen: r.get(7)?,
    })
}

/// Every device, by MAC.
pub fn list(conn: &Connection) -> Result<Vec<Device>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM devices d LEFT JOIN users u ON u.id = d.user_id ORDER BY d.mac"
    ))?;
    Ok(stmt.query_map([], from_row)?.collect::<Result<_, _>>()?)
}

/// One device.
pub fn get(conn: &Connection, mac: Mac) -> Result<Option<Device>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM devices d LEFT JOIN users u ON u.id = d.user_id WHERE d.mac = ?1"
    ))?;
    Ok(stmt.query_row([mac.to_string()], from_row).optional()?)
}

/// The user device `mac` belongs to (a deleted user's tombstone is nobody).
pub fn owner(conn: &Connection, mac: Mac) -> Result<Option<Owner>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username, u.display, u.sip_username FROM devices d
         JOIN users u ON u.id = d.user_id WHERE d.mac = ?1 AND u.kind = 'user'",
    )?;
    let row = stmt
        .query_row([mac.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    row.map(|(id, username, display, sip_username)| {
        Ok(Owner {
            id: Uuid::parse_str(&id).map_err(|e| Error::Invalid(e.to_string()))?,
            username,
            display,
            sip_username,
        })
    })
    .transpose()
}

/// The device's HTTP provisioning secret, in clear.
pub fn http_secret(conn: &Connection, key: &SealKey, mac: Mac) -> Result<Option<String>, Error> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT http_secret FROM devices WHERE mac = ?1")?
        .query_row([mac.to_string()], |r| r.get(0))
        .optional()?;
    let mac = mac.to_string();
    stored
        .map(|s| secrets::open_device_secret(key, &mac, &s))
        .transpose()
}

fn check(conn: &Connection, mac: Mac, change: &Change) -> Result<Option<Option<String>>, Error> {
    if let Some(Some(model)) = &change.model
        && (model.is_empty()
            || model.len() > MODEL_MAX
            || !model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+')))
    {
        return Err(Error::Invalid(format!(
            "model {model:?}: 1-{MODEL_MAX} of letters, digits, '-', '_', '.', '+'"
        )));
    }
    if let Some(Some(ip)) = change.ip {
        let holder: Option<String> = conn
            .query_row(
                "SELECT mac FROM devices WHERE ip = ?1 AND mac != ?2",
                params![ip.to_string(), mac.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = holder {
            return Err(Error::Exists(format!(
                "a reservation of {ip} (for {other})"
            )));
        }
    }
    // The user's GUID, by login name.
    match &change.user {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(name)) => {
            let id: String = conn
                .query_row(
                    "SELECT id FROM users WHERE username = ?1 AND kind = 'user'",
                    [name],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::NotFound(format!("user {name:?}")))?;
            Ok(Some(Some(id)))
        }
    }
}

/// Adds device `mac`; it must not exist yet.
pub fn add(
    conn: &Connection,
    key: &SealKey,
    mac: Mac,
    change: &Change,
    now_ms: i64,
) -> Result<Device, Error> {
    // The all-zero address is Polycom's default file name, and a group address is no phone's.
    if mac == Mac::default() || mac.0[0] & 1 == 1 {
        return Err(Error::Invalid(format!(
            "{mac} is not a phone's address (all zero, or a multicast address)"
        )));
    }
    if get(conn, mac)?.is_some() {
        return Err(Error::Exists(format!("device {mac}")));
    }
    let user = check(conn, mac, change)?.flatten();
    let secret = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let sealed = secrets::seal_device_secret(key, &mac.to_string(), &secret)?;
    conn.execute(
        "INSERT INTO devices(mac, vendor, model, user_id, ip, http_secret, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            mac.to_string(),
            change.vendor.clone().flatten(),
            change.model.clone().flatten(),
            user,
            change.ip.flatten().map(|ip| ip.to_string()),
            sealed,
            now_ms
        ],
    )?;
    get(conn, mac)?.ok_or_else(|| Error::NotFound(format!("device {mac}")))
}

/// Changes device `mac`.
pub fn set(conn: &Connection, mac: Mac, change: &Change) -> Result<Device, Error> {
    if get(conn, mac)?.is_none() {
        return Err(Error::NotFound(format!("device {mac}")));
    }
    let user = check(conn, mac, change)?;
    let m = mac.to_string();
    if let Some(v) = &change.vendor {
        conn.execute(
            "UPDATE devices SET vendor = ?1 WHERE mac = ?2",
            params![v, m],
        )?;
    }
    if let Some(v) = &change.model {
        conn.execute(
            "UPDATE devices SET model = ?1 WHERE mac = ?2",
            params![v, m],
        )?;
    }
    if let Some(v) = user {
        conn.execute(
            "UPDATE devices SET user_id = ?1 WHERE mac = ?2",
            params![v, m],
        )?;
    }
    if let Some(v) = change.ip {
        conn.execute(
            "UPDATE devices SET ip = ?1 WHERE mac = ?2",
            params![v.map(|ip| ip.to_string()), m],
        )?;
    }
    get(conn, mac)?.ok_or_else(|| Error::NotFound(format!("device {mac}")))
}

/// Removes device `mac` (its lease, if any, runs out as leases do).
pub fn remove(conn: &Connection, mac: Mac) -> Result<(), Error> {
    match conn.execute("DELETE FROM devices WHERE mac = ?1", [mac.to_string()])? {
        0 => Err(Error::NotFound(format!("device {mac}"))),
        _ => Ok(()),
    }
}

/// Records that DHCP saw device `mac` (adding it, with no user, the first time). Returns
/// whether it was new.
pub fn seen(
    conn: &Connection,
    key: &SealKey,
    mac: Mac,
    vendor: Option<&str>,
    vendor_class: Option<&str>,
    ip: Option<Ipv4Addr>,
    now_ms: i64,
) -> Result<bool, Error> {
    let m = mac.to_string();
    let updated = conn.execute(
        "UPDATE devices SET vendor_class = coalesce(?1, vendor_class),
             last_ip = coalesce(?2, last_ip), last_seen = ?3, vendor = coalesce(vendor, ?4)
         WHERE mac = ?5",
        params![vendor_class, ip.map(|i| i.to_string()), now_ms, vendor, m],
    )?;
    if updated > 0 {
        return Ok(false);
    }
    let secret = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let sealed = secrets::seal_device_secret(key, &m, &secret)?;
    conn.execute(
        "INSERT INTO devices(mac, vendor, http_secret, vendor_class, last_ip, last_seen, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            m,
            vendor,
            sealed,
            vendor_class,
            ip.map(|i| i.to_string()),
            now_ms
        ],
    )?;
    Ok(true)
}

/// Every reservation: (MAC, address).
pub fn reservations(conn: &Connection) -> Result<Vec<(Mac, Ipv4Addr)>, Error> {
    let mut stmt =
        conn.prepare_cached("SELECT mac, ip FROM devices WHERE ip IS NOT NULL ORDER BY mac")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (mac, ip) = row?;
        if let (Ok(mac), Ok(ip)) = (mac.parse(), ip.parse()) {
            out.push((mac, ip));
        }
    }
    Ok(out)
}

/// A DHCP lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRow {
    /// The address.
    pub ip: Ipv4Addr,
    /// Who holds (or last held) it.
    pub mac: Mac,
    /// When it runs out (s since the epoch).
    pub expires: u64,
    /// `bound`, `released` or `declined`.
    pub state: String,
    /// The client's host name (option 12).
    pub hostname: Option<String>,
    /// The client's vendor class (option 60).
    pub vendor_class: Option<String>,
}

/// Every lease.
pub fn leases(conn: &Connection) -> Result<Vec<LeaseRow>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT ip, mac, expires, state, hostname, vendor_class FROM leases ORDER BY ip",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ip, mac, expires, state, hostname, vendor_class) = row?;
        let (Ok(ip), Ok(mac)) = (ip.parse(), mac.parse()) else {
            continue;
        };
        out.push(LeaseRow {
            ip,
            mac,
            expires: u64::try_from(expires).unwrap_or(0),
            state,
            hostname,
            vendor_class,
        });
    }
    Ok(out)
}

/// Writes `leases` (each replaces the row of its address).
pub fn save_leases(conn: &Connection, leases: &[LeaseRow]) -> Result<(), Error> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO leases(ip, mac, expires, state, hostname, vendor_class)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for l in leases {
        stmt.execute(params![
            l.ip.to_string(),
            l.mac.to_string(),
            i64::try_from(l.expires).unwrap_or(i64::MAX),
            l.state,
            l.hostname,
            l.vendor_class
        ])?;
    }
    Ok(())
}

/// The owner's template overrides: (vendor, kind, source).
pub fn templates(conn: &Connection) -> Result<Vec<(String, String, String)>, Error> {
    let mut stmt =
        conn.prepare_cached("SELECT vendor, kind, source FROM templates ORDER BY vendor, kind")?;
    Ok(stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?)
}

/// Sets (`Some`) or removes (`None`) the owner's template for `vendor`'s `kind`.
pub fn set_template(
    conn: &Connection,
    vendor: &str,
    kind: &str,
    source: Option<&str>,
) -> Result<(), Error> {
    match source {
        Some(s) => conn.execute(
            "INSERT OR REPLACE INTO templates(vendor, kind, source) VALUES (?1, ?2, ?3)",
            params![vendor, kind, s],
        )?,
        None => conn.execute(
            "DELETE FROM templates WHERE vendor = ?1 AND kind = ?2",
            params![vendor, kind],
        )?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Paths, connect, users};

    fn setup() -> (tempfile::TempDir, Connection, SealKey) {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&Paths::new(dir.path())).unwrap();
        let key = SealKey::generate();
        for name in ["alice", "bob"] {
            let new = users::NewUser {
                username: name.into(),
                display: None,
                password: "pw".into(),
                admin: false,
                line: None,
            };
            users::add(&conn, &key, &new, 0).unwrap();
        }
        (dir, conn, key)
    }

    const MAC: Mac = Mac([0x00, 0x04, 0xf2, 0xab, 0xcd, 0xef]);
    const OTHER: Mac = Mac([0x00, 0x04, 0xf2, 0, 0, 1]);

    #[test]
    fn add_set_list_remove() {
        let (_dir, conn, key) = setup();
        let change = Change {
            vendor: Some(Some("polycom".into())),
            model: Some(Some("VVX411".into())),
            user: Some(Some("alice".into())),
            ip: Some(Some(Ipv4Addr::new(10, 99, 0, 50))),
        };
        let d = add(&conn, &key, MAC, &change, 5).unwrap();
        assert_eq!(d.user.as_deref(), Some("alice"));
        assert_eq!(d.ip, Some(Ipv4Addr::new(10, 99, 0, 50)));
        assert!(matches!(
            add(&conn, &key, MAC, &change, 5),
            Err(Error::Exists(_))
        ));
        // The same reservation for another device is refused.
        let taken = Change {
            ip: Some(Some(Ipv4Addr::new(10, 99, 0, 50))),
            ..Change::default()
        };
        assert!(matches!(
            add(&conn, &key, OTHER, &taken, 5),
            Err(Error::Exists(_))
        ));
        let nobody = Change {
            user: Some(Some("zed".into())),
            ..Change::default()
        };
        assert!(matches!(set(&conn, MAC, &nobody), Err(Error::NotFound(_))));
        let d = set(
            &conn,
            MAC,
            &Change {
                user: Some(Some("bob".into())),
                ip: Some(None),
                ..Change::default()
            },
        )
        .unwrap();
        assert_eq!(
            (d.user.as_deref(), d.ip, d.model.as_deref()),
            (Some("bob"), None, Some("VVX411"))
        );
        assert_eq!(owner(&conn, MAC).unwrap().unwrap().username, "bob");
        assert_eq!(list(&conn).unwrap().len(), 1);
        let secret = http_secret(&conn, &key, MAC).unwrap().unwrap();
        assert_eq!(secret.len(), 20);
        remove(&conn, MAC).unwrap();
        assert!(matches!(remove(&conn, MAC), Err(Error::NotFound(_))));
        assert!(get(&conn, MAC).unwrap().is_none());
    }

    #[test]
    fn no_phone_has_the_zero_or_a_group_address() {
        let (_dir, conn, key) = setup();
        for mac in [Mac::default(), Mac([0x01, 0, 0x5e, 0, 0, 1])] {
            let r = add(&conn, &key, mac, &Change::default(), 0);
            assert!(matches!(r, Err(Error::Invalid(_))), "{mac}");
        }
    }

    #[test]
    fn bad_models_are_refused() {
        let (_dir, conn, key) = setup();
        for model in ["", "a b", "x\n", &"m".repeat(MODEL_MAX + 1)] {
            let change = Change {
                model: Some(Some(model.into())),
                ..Change::default()
            };
            assert!(
                matches!(add(&conn, &key, MAC, &change, 0), Err(Error::Invalid(_))),
                "{model:?}"
            );
        }
    }

    #[test]
    fn first_contact_adds_a_device_with_no_user() {
        let (_dir, conn, key) = setup();
        let ip = Some(Ipv4Addr::new(10, 99, 0, 100));
        assert!(
            seen(
                &conn,
                &key,
                MAC,
                Some("polycom"),
                Some("Polycom-VVX411"),
                ip,
                7
            )
            .unwrap()
        );
        assert!(!seen(&conn, &key, MAC, Some("yealink"), None, None, 9).unwrap());
        let d = get(&conn, MAC).unwrap().unwrap();
        assert_eq!(d.user, None);
        // The first guess stays; what DHCP last told is kept.
        assert_eq!(d.vendor.as_deref(), Some("polycom"));
        assert_eq!(d.vendor_class.as_deref(), Some("Polycom-VVX411"));
        assert_eq!((d.last_ip, d.last_seen), (ip, Some(9)));
    }

    #[test]
    fn deleting_a_user_unassigns_their_phone() {
        let (_dir, conn, key) = setup();
        let change = Change {
            user: Some(Some("alice".into())),
            ..Change::default()
        };
        add(&conn, &key, MAC, &change, 0).unwrap();
        users::delete(&conn, "alice").unwrap();
        assert_eq!(get(&conn, MAC).unwrap().unwrap().user, None);
        assert_eq!(owner(&conn, MAC).unwrap(), None);
    }

    #[test]
    fn leases_and_templates_round_trip() {
        let (_dir, conn, _key) = setup();
        let lease = |ip: u8, mac: Mac, state: &str| LeaseRow {
            ip: Ipv4Addr::new(10, 99, 0, ip),
            mac,
            expires: 1_000,
            state: state.into(),
            hostname: Some("phone".into()),
            vendor_class: None,
        };
        save_leases(
            &conn,
            &[lease(100, MAC, "bound"), lease(101, OTHER, "bound")],
        )
        .unwrap();
        save_leases(&conn, &[lease(100, MAC, "released")]).unwrap();
        let all = leases(&conn).unwrap();
        assert_eq!(
            all,
            vec![lease(100, MAC, "released"), lease(101, OTHER, "bound")]
        );
        set_template(&conn, "cisco", "device", Some("{{ user }}")).unwrap();
        assert_eq!(templates(&conn).unwrap().len(), 1);
        set_template(&conn, "cisco", "device", None).unwrap();
        assert!(templates(&conn).unwrap().is_empty());
    }
}
