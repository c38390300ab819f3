//! The health of each part of the core, for the admin console and `/api/v1/health` (admins):
//! the database answers, the data directory's disk has room, the transcoder keeps up, the
//! retention sweep runs, and how many clients are connected. Each part says `ok`, `degraded`
//! (working, but an owner should look) or `down`, and in words why.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::VoiceMessaging;

/// How long the database may take to answer the health check before it counts as down.
const DB_ANSWER: Duration = Duration::from_secs(2);

/// Below this share of its disk free, and below [`LOW_DISK_BYTES`] too, the data directory is
/// `degraded`.
const LOW_DISK_PERCENT: u64 = 5;

/// Below this many bytes free, and below [`LOW_DISK_PERCENT`] of the disk too, the data
/// directory is `degraded`. Both, because a share alone cries wolf on a big disk: 10 GiB free of
/// 250 is 4 %, and still about 1,400 hours of Opus messages; 2 GiB is about 70 hours of G.711.
const LOW_DISK_BYTES: u64 = 2 << 30;

/// More messages than this waiting for the transcoder is `degraded`: it is not keeping up.
const TRANSCODER_BACKLOG: usize = 1000;

/// A part's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Working.
    Ok,
    /// Working, but an owner should look (`detail` says why).
    Degraded,
    /// Not working.
    Down,
}

/// One part's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// Which part.
    pub name: &'static str,
    /// Its state.
    pub state: State,
    /// Why, in words an owner understands.
    pub detail: String,
}

/// What the last retention sweep did, kept for [`VoiceMessaging::health`].
#[derive(Debug, Default)]
pub(crate) struct LastSweep(Mutex<Option<(i64, Result<usize, String>)>>);

impl LastSweep {
    /// The sweep at `at_ms` removed `files`, or failed.
    pub(crate) fn record(&self, at_ms: i64, outcome: Result<usize, String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((at_ms, outcome));
    }

    fn get(&self) -> Option<(i64, Result<usize, String>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// `bytes` in words: "3.2 GiB".
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The storage part from the disk's free and total bytes.
fn storage(free: u64, total: u64, spool: (usize, u64)) -> Part {
    // A disk that reports no size (0) is never low: nothing is below 5 % of nothing.
    let low =
        free.saturating_mul(100) < total.saturating_mul(LOW_DISK_PERCENT) && free < LOW_DISK_BYTES;
    Part {
        name: "storage",
        state: if low { State::Degraded } else { State::Ok },
        detail: format!(
            "{} free of {}{}; upload spool {} in {} segment(s)",
            size(free),
            size(total),
            if low {
                " (uploads are refused with 507 once it is full)"
            } else {
                ""
            },
            size(spool.1),
            spool.0
        ),
    }
}

fn transcoder(waiting: usize) -> Part {
    Part {
        name: "transcoder",
        state: if waiting > TRANSCODER_BACKLOG {
            State::Degraded
        } else {
            State::Ok
        },
        detail: format!("{waiting} message(s) waiting"),
    }
}

fn retention(last: Option<(i64, Result<usize, String>)>, now_ms: i64, every: Duration) -> Part {
    let (state, detail) = match last {
        None => (State::Ok, "no sweep yet".to_owned()),
        Some((at, outcome)) => {
            let ago = Duration::from_millis(u64::try_from(now_ms - at).unwrap_or(0));
            let late = ago > every.saturating_mul(2) + Duration::from_secs(60);
            match outcome {
                Ok(_) if late => (
                    State::Degraded,
                    format!(
                        "the last sweep was {} s ago (every {} s): it is late",
                        ago.as_secs(),
                        every.as_secs()
                    ),
                ),
                Ok(files) => (
                    State::Ok,
                    format!("last sweep {} s ago removed {files} file(s)", ago.as_secs()),
                ),
                Err(e) => (
                    State::Degraded,
                    format!("the last sweep, {} s ago, failed: {e}", ago.as_secs()),
                ),
            }
        }
    };
    Part {
        name: "retention",
        state,
        detail,
    }
}

/// The LAN settings' part: what is asked, and what applying it gave.
fn network(asked: &crate::network::Network, applied: Option<Result<String, String>>) -> Part {
    let (state, detail) = match applied {
        Some(Ok(what)) => (State::Ok, what),
        Some(Err(why)) => (State::Degraded, why),
        None if asked.address.is_none() && !asked.dhcp => (
            State::Ok,
            "the LAN interface's address is left to the system; DHCP server off".to_owned(),
        ),
        None => (State::Ok, "being applied".to_owned()),
    };
    Part {
        name: "network",
        state,
        detail,
    }
}

impl VoiceMessaging {
    /// The health of each part of the core (see the module's doc).
    pub async fn health(&self) -> Vec<Part> {
        let db = tokio::time::timeout(
            DB_ANSWER,
            self.0.db.read(|c| {
                Ok(
                    c.query_row("SELECT count(*) FROM users WHERE kind = 'user'", [], |r| {
                        r.get::<_, i64>(0)
                    })?,
                )
            }),
        )
        .await;
        let database = match db {
            Ok(Ok(users)) => Part {
                name: "database",
                state: State::Ok,
                detail: format!("answers; {users} user(s)"),
            },
            Ok(Err(e)) => Part {
                name: "database",
                state: State::Down,
                detail: format!("fails: {e}"),
            },
            Err(_) => Part {
                name: "database",
                state: State::Down,
                detail: format!("no answer within {} s", DB_ANSWER.as_secs()),
            },
        };
        let root = self.0.db.paths().root.clone();
        let disk = tokio::task::spawn_blocking(move || {
            rustix::fs::statvfs(&root).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let storage = match disk {
            Ok(s) => storage(
                s.f_bavail.saturating_mul(s.f_frsize),
                s.f_blocks.saturating_mul(s.f_frsize),
                self.0.db.spool().usage(),
            ),
            Err(e) => Part {
                name: "storage",
                state: State::Down,
                detail: format!("cannot read the data directory's disk: {e}"),
            },
        };
        let clients = &self.0.clients;
        vec![
            database,
            storage,
            transcoder(self.0.transcoder.waiting()),
            retention(
                self.0.last_sweep.get(),
                self.0.clock.now_ms(),
                self.0.config.sweep_interval,
            ),
            Part {
                name: "clients",
                state: State::Ok,
                detail: format!(
                    "{} WebSocket session(s) of {} user(s)",
                    clients.session_count(),
                    clients.online_count()
                ),
            },
            network(&self.network(), self.0.settings.network_applied()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_disk_below_five_percent_and_two_gib_free_is_degraded() {
        let s = storage(2 * GIB, 40 * GIB, (1, 3 * 1024 * 1024));
        assert_eq!(s.state, State::Ok);
        assert_eq!(
            s.detail,
            "2.0 GiB free of 40.0 GiB; upload spool 3.0 MiB in 1 segment(s)"
        );
        let s = storage(2 * GIB - 1, 40 * GIB, (0, 0));
        assert_eq!(s.state, State::Degraded);
        assert!(s.detail.contains("507"), "{}", s.detail);
        // 3.9 % of a big disk is still gigabytes: not an alert (CI's machine, 9.9 of 252 GiB).
        assert_eq!(storage(9 * GIB, 252 * GIB, (0, 0)).state, State::Ok);
        // Under 2 GiB of a small disk, but 5 % of it: not an alert either.
        assert_eq!(storage(GIB, 16 * GIB, (0, 0)).state, State::Ok);
        assert_eq!(storage(GIB - 1, 20 * GIB, (0, 0)).state, State::Degraded);
        assert_eq!(
            storage(GIB, 20 * GIB, (0, 0)).state,
            State::Ok,
            "5 % exactly"
        );
        assert_eq!(storage(2 * GIB, 100 * GIB, (0, 0)).state, State::Ok);
        assert_eq!(
            storage(2 * GIB - 1, 100 * GIB, (0, 0)).state,
            State::Degraded
        );
        assert_eq!(
            storage(0, 0, (0, 0)).state,
            State::Ok,
            "a disk that reports nothing"
        );
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(1 << 50), "1024.0 TiB", "no unit beyond TiB");
        assert_eq!(size((1 << 40) - (1 << 29)), "1023.5 GiB");
    }

    #[test]
    fn the_network_part_says_what_applying_gave() {
        let mut asked = crate::network::Network::default();
        let p = network(&asked, None);
        assert_eq!(
            (p.state, p.detail.contains("left to the system")),
            (State::Ok, true)
        );
        asked.dhcp = true;
        assert_eq!(network(&asked, None).detail, "being applied");
        let p = network(&asked, Some(Ok("lan0 192.0.2.10/24".into())));
        assert_eq!(
            (p.state, p.detail.as_str()),
            (State::Ok, "lan0 192.0.2.10/24")
        );
        let p = network(&asked, Some(Err("no interface".into())));
        assert_eq!(
            (p.state, p.detail.as_str()),
            (State::Degraded, "no interface")
        );
    }

    #[tokio::test]
    async fn the_core_reports_what_applying_the_lan_gave() {
        let dir = tempfile::tempdir().unwrap();
        let core = VoiceMessaging::open(
            dir.path(),
            crate::Config::default(),
            std::sync::Arc::new(crate::clock::ManualClock::new(0)),
        )
        .await
        .unwrap();
        let part = |parts: Vec<Part>| parts.into_iter().find(|p| p.name == "network").unwrap();
        assert!(
            part(core.health().await)
                .detail
                .contains("left to the system")
        );
        core.network_applied(Err("ip: Operation not permitted".into()));
        let p = part(core.health().await);
        assert_eq!(
            (p.state, p.detail.as_str()),
            (State::Degraded, "ip: Operation not permitted")
        );
        core.network_applied(Ok("lan0 192.0.2.10/24".into()));
        let p = part(core.health().await);
        assert_eq!(
            (p.state, p.detail.as_str()),
            (State::Ok, "lan0 192.0.2.10/24")
        );
    }

    #[test]
    fn a_transcoder_backlog_is_degraded() {
        assert_eq!(transcoder(TRANSCODER_BACKLOG).state, State::Ok);
        assert_eq!(transcoder(TRANSCODER_BACKLOG + 1).state, State::Degraded);
        assert_eq!(transcoder(3).detail, "3 message(s) waiting");
    }

    #[test]
    fn a_failed_or_late_sweep_is_degraded() {
        let every = Duration::from_secs(60);
        assert_eq!(retention(None, 0, every).state, State::Ok);
        let ok = retention(Some((1_000, Ok(2))), 11_000, every);
        assert_eq!(
            (ok.state, ok.detail.as_str()),
            (State::Ok, "last sweep 10 s ago removed 2 file(s)")
        );
        let failed = retention(Some((0, Err("disk I/O error".into()))), 5_000, every);
        assert_eq!(failed.state, State::Degraded);
        assert!(failed.detail.contains("disk I/O error"));
        // Late: more than two periods and a minute.
        assert_eq!(retention(Some((0, Ok(0))), 180_000, every).state, State::Ok);
        assert_eq!(
            retention(Some((0, Ok(0))), 180_001, every).state,
            State::Degraded
        );
    }

    #[tokio::test]
    async fn the_core_reports_its_parts_and_its_last_sweep() {
        use crate::clock::Clock as _;
        let dir = tempfile::tempdir().unwrap();
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(1_795_000_000_000_000));
        let core = VoiceMessaging::open(dir.path(), crate::Config::default(), clock.clone())
            .await
            .unwrap();
        let parts = core.health().await;
        // The storage part reads the machine's real disk, which may be nearly full where the
        // tests run: its state is what the rule says for that disk, checked by its own test.
        let names: Vec<_> = parts
            .iter()
            .map(|p| (p.name, (p.name != "storage").then_some(p.state)))
            .collect();
        assert_eq!(
            names,
            [
                ("database", Some(State::Ok)),
                ("storage", None),
                ("transcoder", Some(State::Ok)),
                ("retention", Some(State::Ok)),
                ("clients", Some(State::Ok)),
                ("network", Some(State::Ok))
            ]
        );
        assert_ne!(parts[1].state, State::Down, "{}", parts[1].detail);
        assert!(
            parts[1].detail.contains(" free of ") && parts[1].detail.contains("upload spool 0 B"),
            "{}",
            parts[1].detail
        );
        assert_eq!(parts[0].detail, "answers; 0 user(s)");
        assert_eq!(parts[3].detail, "no sweep yet");
        assert_eq!(parts[4].detail, "0 WebSocket session(s) of 0 user(s)");
        let now = clock.now_ms();
        core.0.last_sweep.record(now, Ok(4));
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            core.health().await[3].detail,
            "last sweep 3 s ago removed 4 file(s)"
        );
        core.0.last_sweep.record(now, Err("disk I/O error".into()));
        assert_eq!(core.health().await[3].state, State::Degraded);
        let _session = core.0.clients.register(uuid::Uuid::new_v4(), 0);
        assert_eq!(
            core.health().await[4].detail,
            "1 WebSocket session(s) of 1 user(s)"
        );
    }
}
