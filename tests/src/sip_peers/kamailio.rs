//! Kamailio (Debian `kamailio`) as the reference registrar: `scripts/sip/kamailio.cfg` with a
//! db_text user table written for the test, on a free loopback port.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{PeerError, free_udp_tcp_port, poll, read_log};
use crate::DEADLINE;

/// A running Kamailio with `scripts/sip/kamailio.cfg`; killed on drop.
pub struct Kamailio {
    child: Child,
    /// Where it takes SIP, on UDP and TCP.
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts Kamailio as a registrar for `users` (name, password) on a free loopback port,
    /// with one worker process per transport, and waits until it answers an OPTIONS.
    pub fn start(users: &[(&str, &str)]) -> Result<Self, PeerError> {
        let io = |what: &'static str| move |e| PeerError::Io(what.to_owned(), e);
        let dir = tempfile::tempdir().map_err(io("tempdir"))?;
        let db = dir.path().join("db");
        let run = dir.path().join("run");
        std::fs::create_dir(&db).map_err(io("mkdir db"))?;
        std::fs::create_dir(&run).map_err(io("mkdir run"))?;
        std::fs::write(db.join("version"), DB_VERSION).map_err(io("write db version"))?;
        std::fs::write(db.join("subscriber"), subscriber_table(users))
            .map_err(io("write db subscriber"))?;
        let port = free_udp_tcp_port();
        let log = dir.path().join("kamailio.log");
        let out = std::fs::File::create(&log).map_err(io("create log"))?;
        let err = out.try_clone().map_err(io("log"))?;
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(kamailio_cfg())
            .args(["-DD", "-E", "-n", "1", "-Y"])
            .arg(&run)
            .args(["-l", &format!("udp:127.0.0.1:{port}")])
            .args(["-l", &format!("tcp:127.0.0.1:{port}")])
            .arg("-A")
            .arg(format!("DBURL=\"text://{}\"", db.display()))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(
                "run kamailio (Debian package `kamailio`, scripts/deps --test)",
            ))?;
        let mut k = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        k.wait_ready()?;
        Ok(k)
    }

    /// Kamailio's log so far.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// The pid of Kamailio's main process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) -> Result<(), PeerError> {
        let io = |e| PeerError::Io("probe socket".into(), e);
        let probe = UdpSocket::bind("127.0.0.1:0").map_err(io)?;
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(io)?;
        let local = probe.local_addr().map_err(io)?;
        let mut buf = [0u8; 2048];
        let mut n = 0u32;
        let ready = poll(DEADLINE, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Err(status));
            }
            n += 1;
            let options = format!(
                "OPTIONS sip:{a} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-probe{n}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=p{n}\r\nTo: <sip:{a}>\r\n\
                 Call-ID: probe{n}@{local}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
                a = self.addr
            );
            probe.send_to(options.as_bytes(), self.addr).ok()?;
            let (len, _) = probe.recv_from(&mut buf).ok()?;
            buf[..len].starts_with(b"SIP/2.0 ").then_some(Ok(()))
        });
        match ready {
            Some(Ok(())) => Ok(()),
            Some(Err(status)) => Err(PeerError::Exited {
                status,
                log: self.log_text(),
            }),
            None => Err(PeerError::Timeout {
                what: "Kamailio to answer OPTIONS".into(),
                waited: DEADLINE,
                log: self.log_text(),
            }),
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop its workers; any still there after a bound are
        // killed by their pids, then the main process.
        let pid = self.child.id();
        let workers = children_of(pid);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let stopped = poll(Duration::from_secs(5), || {
            self.child.try_wait().ok().flatten()
        });
        if stopped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for w in workers {
            if Path::new(&format!("/proc/{w}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &w.to_string()])
                    .status();
            }
        }
    }
}

/// The db_text `version` table: the table versions auth_db checks (Kamailio 5.6).
const DB_VERSION: &str = "table_name(str) table_version(int)\nsubscriber:7\n";

/// A db_text `subscriber` table with plain passwords (auth_db computes HA1).
pub fn subscriber_table(users: &[(&str, &str)]) -> String {
    let mut t = String::from("id(int,auto) username(string) domain(string) password(string)\n");
    for (i, (user, password)) in users.iter().enumerate() {
        t.push_str(&format!("{}:{user}:127.0.0.1:{password}\n", i + 1));
    }
    t
}

/// `scripts/sip/kamailio.cfg` in this checkout.
pub fn kamailio_cfg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sip/kamailio.cfg")
}

/// The pids whose parent is `pid` (from `/proc/*/stat`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_table_lists_each_user() {
        let t = subscriber_table(&[("alice", "a"), ("bob", "b")]);
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("\n2:bob:127.0.0.1:b\n"));
    }
}
