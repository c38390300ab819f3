//! Settings an admin changes while the appliance runs (the web console's Settings and the front
//! panel's set-up menu): how long message audio is kept (`messages.retention`), how much each
//! user's sent messages may hold (`messages.quota_per_user`), and the LAN's settings
//! (`lan.address`, `lan.gateway`, `dhcp.server`, `dhcp.pool`; [`crate::network`]).
//!
//! The config file gives each its value at start. A value set here is kept in the database
//! (`settings` table) and wins over the file's from then on, restarts included, until it is
//! cleared: then the file's value holds again. Each takes effect at once: the next retention
//! sweep applies the new policy, the next upload is checked against the new quota.
//!
//! The values are written as in the config file (`"30d"`, `"delivered"`, `"1GiB"`), and read
//! by the same parsers ([`parse_duration`], [`parse_size`]), which the binary's config reader
//! uses too.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use rusqlite::{Connection, params};
use serde::Serialize;
use tracing::info;

use crate::VoiceMessaging;
use crate::config::{Config, Retention};
use crate::db;
use crate::network::{self, Network};

/// The keys a console may set, as in the config file.
pub const KEYS: &[&str] = &[
    RETENTION,
    QUOTA,
    network::ADDRESS,
    network::GATEWAY,
    network::DHCP,
    network::POOL,
];
/// The LAN's keys among [`KEYS`].
const NETWORK_KEYS: [&str; 4] = [
    network::ADDRESS,
    network::GATEWAY,
    network::DHCP,
    network::POOL,
];
const RETENTION: &str = "messages.retention";
const QUOTA: &str = "messages.quota_per_user";

/// Parses `"<n><unit>"` with unit `ms`, `s`, `m` (or `min`), `h` or `d`.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms).map(Duration::from_millis)
}

/// Parses a byte count with an optional unit (`B`, `kB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: usize = n.parse().ok()?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1024,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `messages.retention`: `"delivered"`, `"played"` or a positive period such as `"30d"`.
pub fn parse_retention(v: &str) -> Result<Retention, String> {
    match v.trim() {
        "delivered" => Ok(Retention::Delivered),
        "played" => Ok(Retention::Played),
        t => match parse_duration(t) {
            Some(d) if !d.is_zero() => Ok(Retention::Period(d)),
            _ => Err(format!(
                "{v:?}: expected \"delivered\", \"played\" or a period such as \"30d\""
            )),
        },
    }
}

/// `messages.quota_per_user`: a size such as `"1GiB"`; `"0"`: no quota.
fn parse_quota(v: &str) -> Result<u64, String> {
    parse_size(v).map(|n| n as u64).ok_or_else(|| {
        format!("{v:?}: expected a size such as \"1GiB\" or \"500MB\", or 0 for none")
    })
}

/// A retention policy as the config file writes it (the largest whole unit).
pub fn retention_text(r: Retention) -> String {
    match r {
        Retention::Delivered => "delivered".into(),
        Retention::Played => "played".into(),
        Retention::Period(d) => {
            let ms = d.as_millis();
            [
                ("d", 86_400_000),
                ("h", 3_600_000),
                ("m", 60_000),
                ("s", 1000),
            ]
            .into_iter()
            .find(|(_, unit)| ms.is_multiple_of(*unit))
            .map_or_else(
                || format!("{ms}ms"),
                |(name, unit)| format!("{}{name}", ms / unit),
            )
        }
    }
}

/// A byte count as the config file writes it (the largest binary unit that divides it).
fn size_text(bytes: u64) -> String {
    [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        .into_iter()
        .find(|(_, unit)| bytes != 0 && bytes.is_multiple_of(*unit))
        .map_or_else(
            || bytes.to_string(),
            |(name, unit)| format!("{}{name}", bytes / unit),
        )
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The config file (or its default).
    File,
    /// Set from the console; kept in the database.
    Console,
}

/// One setting as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Its key, as in the config file.
    pub key: &'static str,
    /// Its value now, as the config file writes it.
    pub value: String,
    /// The config file's value (what clearing the console's brings back).
    pub file: String,
    /// Where `value` comes from.
    pub source: Source,
}

/// A change refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// A key that cannot be set, or a value out of range: nothing changed.
    #[error("{key}: {why}")]
    Invalid {
        /// The setting at fault.
        key: String,
        /// Why.
        why: String,
    },
    /// The database could not keep it: nothing changed.
    #[error(transparent)]
    Db(#[from] db::Error),
}

/// The values in force and where they came from.
#[derive(Debug)]
pub(crate) struct Live {
    retention: Retention,
    quota_per_user: u64,
    network: Network,
    /// The console's values, by key.
    console: BTreeMap<&'static str, String>,
}

/// The settings now in force, under a lock read on every upload and sweep; the LAN's are also
/// published to their watchers, and the outcome of applying them is kept for the health check.
#[derive(Debug)]
pub(crate) struct LiveSettings {
    live: RwLock<Live>,
    /// The LAN's settings, to whoever applies them.
    network: tokio::sync::watch::Sender<Network>,
    /// What applying them last gave.
    applied: std::sync::Mutex<Option<Result<String, String>>>,
}

impl LiveSettings {
    /// The config's values, before the database's are read.
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            live: RwLock::new(Live {
                retention: config.retention,
                quota_per_user: config.quota_per_user,
                network: config.network.clone(),
                console: BTreeMap::new(),
            }),
            network: tokio::sync::watch::Sender::new(config.network.clone()),
            applied: std::sync::Mutex::new(None),
        }
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Option<Result<String, String>>> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What applying the LAN's settings last gave: `Ok(what is in force)` or `Err(why not)`.
    pub(crate) fn network_applied(&self) -> Option<Result<String, String>> {
        self.applied().clone()
    }

    /// The LAN's settings now, and every change from now on.
    pub(crate) fn watch_network(&self) -> tokio::sync::watch::Receiver<Network> {
        self.network.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn retention(&self) -> Retention {
        self.read().retention
    }

    pub(crate) fn quota_per_user(&self) -> u64 {
        self.read().quota_per_user
    }

    /// Applies a checked value (`None`: the config's) of `key`.
    fn apply(&self, config: &Config, key: &'static str, value: Option<&str>) -> Result<(), String> {
        let mut live = self.write();
        match key {
            RETENTION => {
                live.retention = match value {
                    Some(v) => parse_retention(v)?,
                    None => config.retention,
                };
            }
            QUOTA => {
                live.quota_per_user = match value {
                    Some(v) => parse_quota(v)?,
                    None => config.quota_per_user,
                };
            }
            // The LAN's (the keys reaching here are [`KEYS`]).
            k => {
                let v = value.map_or_else(|| config.network.text(k), str::to_owned);
                live.network.set(k, &v)?;
                self.network.send_replace(live.network.clone());
            }
        }
        match value {
            Some(v) => live.console.insert(key, v.trim().to_owned()),
            None => live.console.remove(key),
        };
        Ok(())
    }

    /// The LAN's settings as they would be with `changes` made: checked one by one, then as a
    /// whole.
    fn network_with(
        &self,
        config: &Config,
        changes: &[(&'static str, Option<String>)],
    ) -> Result<Network, (&'static str, String)> {
        let mut n = self.read().network.clone();
        let mut changed = Vec::new();
        for (k, v) in changes.iter().filter(|(k, _)| NETWORK_KEYS.contains(k)) {
            let v = v.clone().unwrap_or_else(|| config.network.text(k));
            n.set(k, &v).map_err(|why| (*k, why))?;
            changed.push(*k);
        }
        // Nothing to apply them to: refused now rather than failing later.
        let unmanaged =
            |k: &'static str| Err((k, "no LAN interface in the config file".to_owned()));
        if !config.lan_interface {
            if changed.contains(&network::ADDRESS) && n.address.is_some() {
                return unmanaged(network::ADDRESS);
            }
            if changed.contains(&network::GATEWAY) && n.gateway.is_some() {
                return unmanaged(network::GATEWAY);
            }
            if changed.contains(&network::DHCP) && n.dhcp && !config.network.dhcp {
                return unmanaged(network::DHCP);
            }
        }
        if !changed.is_empty() {
            n.check(&changed)?;
        }
        Ok(n)
    }
}

fn key_of(name: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| *k == name)
}

/// The console's values kept in the database.
pub(crate) fn stored(conn: &Connection) -> Result<Vec<(String, String)>, db::Error> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl VoiceMessaging {
    /// Applies the console's values kept in the database over the config's (at open). A value
    /// no longer valid (written by another version) is logged and left out.
    pub(crate) fn apply_stored_settings(&self, rows: Vec<(String, String)>) {
        for (key, value) in rows {
            let applied = match key_of(&key) {
                Some(k) => self.0.settings.apply(&self.0.config, k, Some(&value)),
                None => Err("unknown key".into()),
            };
            match applied {
                Ok(()) => info!(setting = %key, value = %value, "setting from the console"),
                Err(why) => tracing::warn!(setting = %key, %why, "stored setting ignored"),
            }
        }
    }

    /// The settings a console may change: each one's value, the config file's, and which holds.
    pub fn settings(&self) -> Vec<Setting> {
        let live = self.0.settings.read();
        let config = &self.0.config;
        let source = |k| {
            if live.console.contains_key(k) {
                Source::Console
            } else {
                Source::File
            }
        };
        vec![
            Setting {
                key: RETENTION,
                value: retention_text(live.retention),
                file: retention_text(config.retention),
                source: source(RETENTION),
            },
            Setting {
                key: QUOTA,
                value: size_text(live.quota_per_user),
                file: size_text(config.quota_per_user),
                source: source(QUOTA),
            },
        ]
        .into_iter()
        .chain(NETWORK_KEYS.into_iter().map(|k| Setting {
            key: k,
            value: live.network.text(k),
            file: config.network.text(k),
            source: source(k),
        }))
        .collect()
    }

    /// The LAN's settings now in force.
    pub fn network(&self) -> Network {
        self.0.settings.read().network.clone()
    }

    /// The LAN's settings now, and every change from now on (for whoever applies them).
    pub fn watch_network(&self) -> tokio::sync::watch::Receiver<Network> {
        self.0.settings.watch_network()
    }

    /// Whoever applies the LAN's settings reports here what it did (`Ok`: what is now in force,
    /// in words) or why it could not (`Err`); the health check's `network` part says it.
    pub fn network_applied(&self, outcome: Result<String, String>) {
        *self.0.settings.applied() = Some(outcome);
    }

    /// Sets settings from the console: each `(key, value)`; a `None` value clears the
    /// console's, bringing the config file's back. All or nothing: every value is checked
    /// before any is kept, and kept in the database before any takes effect.
    pub async fn change_settings(
        &self,
        changes: Vec<(String, Option<String>)>,
    ) -> Result<Vec<Setting>, ChangeError> {
        let mut checked = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let invalid = |why: String| ChangeError::Invalid {
                key: key.clone(),
                why,
            };
            let k = key_of(&key)
                .ok_or_else(|| invalid("not a setting the console can change".into()))?;
            if let Some(v) = &value {
                let ok = match k {
                    RETENTION => parse_retention(v).map(drop),
                    QUOTA => parse_quota(v).map(drop),
                    // Checked below, as a whole.
                    _ => Ok(()),
                };
                ok.map_err(invalid)?;
            }
            checked.push((k, value.map(|v| v.trim().to_owned())));
        }
        self.0
            .settings
            .network_with(&self.0.config, &checked)
            .map_err(|(key, why)| ChangeError::Invalid {
                key: key.to_owned(),
                why,
            })?;
        let rows = checked.clone();
        self.0
            .db
            .write(move |c| {
                for (k, v) in &rows {
                    match v {
                        Some(v) => c.execute(
                            "INSERT INTO settings(key, value) VALUES (?1, ?2)
                             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            params![k, v],
                        )?,
                        None => c.execute("DELETE FROM settings WHERE key = ?1", [k])?,
                    };
                }
                Ok(())
            })
            .await?;
        for (k, v) in &checked {
            // Checked above: cannot fail.
            if let Err(why) = self.0.settings.apply(&self.0.config, k, v.as_deref()) {
                tracing::warn!(setting = k, %why, "setting not applied");
            }
            info!(setting = k, value = ?v, "setting changed");
        }
        Ok(self.settings())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    async fn open(dir: &std::path::Path) -> VoiceMessaging {
        let mut config = Config::default();
        config
            .retention(Retention::Period(Duration::from_secs(30 * 86_400)))
            .unwrap()
            .quota_per_user(1 << 30)
            .unwrap()
            .lan_interface(true);
        VoiceMessaging::open(dir, config, Arc::new(ManualClock::new(0)))
            .await
            .unwrap()
    }

    fn of<'a>(all: &'a [Setting], key: &str) -> &'a Setting {
        all.iter().find(|s| s.key == key).unwrap()
    }

    fn change(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect()
    }

    #[tokio::test]
    async fn the_lans_settings_change_as_a_whole_are_watched_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let core = open(dir.path()).await;
        let mut watch = core.watch_network();
        assert_eq!(*watch.borrow_and_update(), Network::default());
        // The pool alone is not in a subnet yet; DHCP on without a pool is refused.
        let e = core
            .change_settings(change(&[("dhcp.server", Some("on"))]))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "dhcp.server: needs a pool");
        let e = core
            .change_settings(change(&[
                ("lan.address", Some("192.0.2.10/24")),
                ("dhcp.pool", Some("192.0.2.5-192.0.2.20")),
                ("dhcp.server", Some("on")),
            ]))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "dhcp.pool: holds the LAN address");
        assert!(!watch.has_changed().unwrap(), "a refusal publishes nothing");
        assert_eq!(core.network(), Network::default());
        core.change_settings(change(&[
            ("lan.address", Some("192.0.2.10/24")),
            ("lan.gateway", Some("192.0.2.1")),
            ("dhcp.pool", Some("192.0.2.100-192.0.2.199")),
            ("dhcp.server", Some("on")),
        ]))
        .await
        .unwrap();
        assert!(watch.has_changed().unwrap());
        let n = watch.borrow_and_update().clone();
        assert_eq!(n.text("lan.address"), "192.0.2.10/24");
        assert!(n.dhcp);
        let e = core
            .change_settings(change(&[("lan.address", Some("198.51.100.7/24"))]))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "lan.address: not in 198.51.100.0/24");
        drop(core);
        let core = open(dir.path()).await;
        assert_eq!(core.network(), n, "kept across a restart");
        assert_eq!(of(&core.settings(), "dhcp.server").source, Source::Console);
        assert_eq!(of(&core.settings(), "dhcp.server").file, "off");
        // Back to the file's: DHCP off first, or the pool's clearing is refused.
        let e = core
            .change_settings(change(&[("dhcp.pool", None)]))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "dhcp.pool: needs a pool");
        core.change_settings(change(&[("dhcp.pool", None), ("dhcp.server", None)]))
            .await
            .unwrap();
        assert!(!core.network().dhcp);
    }

    #[tokio::test]
    async fn without_a_lan_interface_the_lan_cannot_be_set() {
        let dir = tempfile::tempdir().unwrap();
        let core =
            VoiceMessaging::open(dir.path(), Config::default(), Arc::new(ManualClock::new(0)))
                .await
                .unwrap();
        for (key, value) in [
            ("lan.address", "192.0.2.10/24"),
            ("lan.gateway", "192.0.2.1"),
        ] {
            let e = core
                .change_settings(change(&[(key, Some(value))]))
                .await
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{key}: no LAN interface in the config file")
            );
        }
        let e = core
            .change_settings(change(&[
                ("dhcp.pool", Some("192.0.2.100-192.0.2.199")),
                ("dhcp.server", Some("on")),
            ]))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "dhcp.server: no LAN interface in the config file"
        );
        // The file's own values are not refused: only what a change sets.
        let mut file = Network::default();
        file.set(network::ADDRESS, "192.0.2.10/24").unwrap();
        file.set(network::GATEWAY, "192.0.2.1").unwrap();
        let mut config = Config::default();
        config.network(file).unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        let other = VoiceMessaging::open(dir2.path(), config, Arc::new(ManualClock::new(0)))
            .await
            .unwrap();
        assert_eq!(of(&other.settings(), "lan.gateway").file, "192.0.2.1");
        assert_eq!(other.network().text("lan.address"), "192.0.2.10/24");
        other
            .change_settings(change(&[("dhcp.pool", Some("192.0.2.100-192.0.2.199"))]))
            .await
            .unwrap();
        // Clearing is always possible; a pool alone is only kept.
        core.change_settings(change(&[
            ("lan.address", Some("")),
            ("dhcp.server", Some("off")),
        ]))
        .await
        .unwrap();
        core.change_settings(change(&[("dhcp.pool", Some("192.0.2.100-192.0.2.199"))]))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn console_values_win_over_the_files_hold_after_a_restart_and_clear_back() {
        let dir = tempfile::tempdir().unwrap();
        let core = open(dir.path()).await;
        assert_eq!(
            core.0.settings.retention(),
            Retention::Period(Duration::from_secs(2_592_000))
        );
        let all = core
            .change_settings(vec![
                (RETENTION.into(), Some(" played ".into())),
                (QUOTA.into(), Some("2MiB".into())),
            ])
            .await
            .unwrap();
        assert_eq!(
            of(&all, RETENTION),
            &Setting {
                key: RETENTION,
                value: "played".into(),
                file: "30d".into(),
                source: Source::Console,
            }
        );
        assert_eq!(
            (
                core.0.settings.quota_per_user(),
                of(&all, QUOTA).value.as_str()
            ),
            (2 << 20, "2MiB")
        );
        assert_eq!(core.0.settings.retention(), Retention::Played);
        drop(core);
        // A restart reads them back.
        let core = open(dir.path()).await;
        assert_eq!(core.0.settings.retention(), Retention::Played);
        assert_eq!(core.0.settings.quota_per_user(), 2 << 20);
        // Cleared: the file's again, and no longer from the console after a restart either.
        core.change_settings(vec![(QUOTA.into(), None)])
            .await
            .unwrap();
        assert_eq!(core.0.settings.quota_per_user(), 1 << 30);
        drop(core);
        let core = open(dir.path()).await;
        let all = core.settings();
        assert_eq!(of(&all, QUOTA).source, Source::File);
        assert_eq!(of(&all, RETENTION).source, Source::Console);
    }

    #[tokio::test]
    async fn a_bad_value_or_key_changes_nothing_and_a_stale_stored_one_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let core = open(dir.path()).await;
        let before = core.settings();
        let pair = |k: &str, v: &str| (k.to_owned(), Some(v.to_owned()));
        for change in [
            vec![pair(QUOTA, "3GiB"), pair(RETENTION, "0s")],
            vec![pair(QUOTA, "3GiB"), pair("http.listen", "x")],
            vec![pair(RETENTION, "7d"), pair(QUOTA, "3 parsecs")],
        ] {
            let bad_key = change[1].0.clone();
            match core.change_settings(change).await {
                Err(ChangeError::Invalid { key, .. }) => assert_eq!(key, bad_key),
                other => panic!("{other:?}"),
            }
            assert_eq!(core.settings(), before, "nothing kept");
        }
        // A value another version stored that this one cannot read is left out at open.
        core.db()
            .write(|c| {
                c.execute(
                    "INSERT INTO settings(key, value) VALUES ('messages.retention', 'forever'),
                     ('messages.colour', 'blue'), ('messages.quota_per_user', '5MiB')",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        drop(core);
        let core = open(dir.path()).await;
        let all = core.settings();
        assert_eq!(of(&all, RETENTION).source, Source::File);
        assert_eq!(of(&all, QUOTA).value, "5MiB");
    }

    #[test]
    fn values_read_and_write_as_in_the_config_file() {
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1TB"), None);
        for (text, bytes) in [
            ("7B", 7),
            ("2kB", 2000),
            ("2KB", 2000),
            ("3MB", 3_000_000),
            ("3MiB", 3 << 20),
            ("4GB", 4_000_000_000),
            ("4GiB", 4 << 30),
            (" 5 KiB ", 5 << 10),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        assert_eq!(parse_size(&format!("{}GiB", usize::MAX)), None, "overflow");
        for (text, r) in [
            ("delivered", Retention::Delivered),
            ("played", Retention::Played),
            ("30d", Retention::Period(Duration::from_secs(30 * 86_400))),
            ("36h", Retention::Period(Duration::from_secs(36 * 3600))),
            ("90m", Retention::Period(Duration::from_secs(90 * 60))),
            ("45s", Retention::Period(Duration::from_secs(45))),
            ("1500ms", Retention::Period(Duration::from_millis(1500))),
        ] {
            assert_eq!(parse_retention(text), Ok(r), "{text}");
            assert_eq!(retention_text(r), text);
        }
        for bad in ["0d", "forever", "", "30 days"] {
            assert!(parse_retention(bad).is_err(), "{bad:?}");
        }
        assert_eq!(size_text(1 << 30), "1GiB");
        assert_eq!(size_text(3 << 20), "3MiB");
        assert_eq!(size_text(5 << 10), "5KiB");
        assert_eq!(size_text(1536), "1536");
        assert_eq!(size_text(0), "0");
        assert_eq!(size_text(1000), "1000");
        assert_eq!(parse_quota("0"), Ok(0));
        assert!(parse_quota("lots").is_err());
    }
}
