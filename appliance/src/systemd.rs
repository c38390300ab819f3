//! systemd integration of `offhook serve`: the `sd_notify(3)` protocol, written here (it is a
//! datagram of `KEY=VALUE` lines to a Unix socket) rather than linked from libsystemd.
//!
//! With `Type=notify` in the unit, systemd sets `NOTIFY_SOCKET` (a path, or `@name` for an
//! abstract socket) and waits for `READY=1` before it counts the service as started; `STATUS=`
//! is what `systemctl status` shows; `STOPPING=1` says a stop has begun; `RELOADING=1` then
//! `READY=1` bracket the front panel's "restart services" (see [`State::Reloading`]). With
//! `WatchdogSec=`, systemd sets `WATCHDOG_USEC` (and `WATCHDOG_PID`) and kills the service if
//! `WATCHDOG=1` does not arrive within that period; [`Notifier::spawn_watchdog`] sends it every
//! half period from a task on the server's own runtime, so a runtime that hangs stops pinging.
//! Without `NOTIFY_SOCKET` every call here does nothing.
//!
//! `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` are left in the environment, against
//! libsystemd's `unset_environment` convention, because:
//! - the front panel's restart `exec`s `offhook` again in the same process (same pid, so still
//!   systemd's main pid): the new image must find them to send `READY=1` and keep the watchdog
//!   fed;
//! - the children the appliance spawns (`ip`, `udhcpc`, the power-off command) never speak the
//!   protocol, and with `NotifyAccess=main` systemd ignores any message not from the main pid;
//! - `std::env::remove_var` is `unsafe` in edition 2024 (other threads may read the environment),
//!   and this crate forbids `unsafe`.
//!
//! The socket itself is close-on-exec, so no child inherits it.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, warn};

/// Longest `STATUS=` text sent, in bytes (systemd takes up to 4 KiB in one datagram); longer
/// text is cut at a character boundary.
pub const STATUS_MAX: usize = 1024;

/// The shortest watchdog ping interval, whatever `WATCHDOG_USEC` says (a period of a few
/// microseconds would otherwise turn the ping task into a busy loop).
pub const MIN_PING: Duration = Duration::from_millis(10);

/// One thing told to the service manager: a variable of `sd_notify(3)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State<'a> {
    /// `READY=1`: start-up is complete (or a reload is).
    Ready,
    /// `RELOADING=1`: the service restarts itself in place and will send `READY=1` again.
    /// Used for the front panel's restart, which `exec`s in the same process: `STOPPING=1`
    /// there would move systemd to "stop-sigterm", which ignores the new image's `READY=1` and
    /// kills it when `TimeoutStopSec` runs out.
    Reloading,
    /// `STOPPING=1`: the service is shutting down.
    Stopping,
    /// `WATCHDOG=1`: the keep-alive ping.
    Watchdog,
    /// `STATUS=...`: one line of free text for `systemctl status` (line breaks become spaces).
    Status(&'a str),
    /// `EXTEND_TIMEOUT_USEC=...`: the start, or the stop, is still moving: the service manager
    /// waits this much longer (from now) before it gives up on it (systemd 236 and later).
    ExtendTimeout(Duration),
}

impl State<'_> {
    /// Appends this state's `KEY=VALUE\n` line to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ready => out.extend_from_slice(b"READY=1"),
            Self::Reloading => out.extend_from_slice(b"RELOADING=1"),
            Self::Stopping => out.extend_from_slice(b"STOPPING=1"),
            Self::Watchdog => out.extend_from_slice(b"WATCHDOG=1"),
            Self::ExtendTimeout(by) => {
                out.extend_from_slice(format!("EXTEND_TIMEOUT_USEC={}", by.as_micros()).as_bytes());
            }
            Self::Status(text) => {
                out.extend_from_slice(b"STATUS=");
                let text = cut(text, STATUS_MAX);
                // The datagram is newline-separated assignments: the text must stay one line.
                out.extend(text.bytes().map(|b| match b {
                    b'\n' | b'\r' => b' ',
                    b => b,
                }));
            }
        }
        out.push(b'\n');
    }
}

/// The datagram that tells `states` at once.
pub fn message(states: &[State<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in states {
        s.encode(&mut out);
    }
    out
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where `NOTIFY_SOCKET` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A socket in the file system (`/run/systemd/notify`).
    Path(PathBuf),
    /// A Linux abstract socket (`@name` in the variable; the name without the `@`).
    Abstract(Vec<u8>),
}

impl Address {
    /// Parses `NOTIFY_SOCKET`'s value; an empty value is no socket (`None`).
    pub fn parse(value: &OsStr) -> Result<Option<Self>, EnvError> {
        let bytes = value.as_bytes();
        match bytes.first() {
            None => Ok(None),
            Some(b'/') => Ok(Some(Self::Path(PathBuf::from(value)))),
            Some(b'@') if bytes.len() > 1 => Ok(Some(Self::Abstract(bytes[1..].to_vec()))),
            // `vsock:` addresses (a service manager in a VM's host) are not supported.
            Some(_) => Err(EnvError::Socket(value.to_string_lossy().into_owned())),
        }
    }

    fn socket_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Path(p) => SocketAddr::from_pathname(p),
            Self::Abstract(name) => SocketAddr::from_abstract_name(name),
        }
    }
}

/// A systemd variable in the environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `NOTIFY_SOCKET` is neither an absolute path nor `@name`.
    #[error("NOTIFY_SOCKET={0:?} is neither an absolute path nor an @abstract name")]
    Socket(String),
    /// `WATCHDOG_USEC` is not a number of microseconds above zero.
    #[error("WATCHDOG_USEC={0:?} is not a number of microseconds above zero")]
    WatchdogUsec(String),
    /// `WATCHDOG_PID` is not a process id.
    #[error("WATCHDOG_PID={0:?} is not a process id")]
    WatchdogPid(String),
}

/// The watchdog period systemd expects pings within, from `WATCHDOG_USEC` and `WATCHDOG_PID`
/// as `sd_watchdog_enabled(3)` reads them: `None` when `usec` is unset, or when `pid` is set
/// and is not `ours` (the variables were meant for another process, such as a parent shell).
pub fn watchdog_period(
    usec: Option<&OsStr>,
    pid: Option<&OsStr>,
    ours: u32,
) -> Result<Option<Duration>, EnvError> {
    let Some(usec) = usec else { return Ok(None) };
    let lossy = || usec.to_string_lossy().into_owned();
    let period: u64 = usec
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| EnvError::WatchdogUsec(lossy()))?;
    // 0 and u64::MAX ("infinity") are not timestamps systemd would set.
    if period == 0 || period == u64::MAX {
        return Err(EnvError::WatchdogUsec(lossy()));
    }
    if let Some(pid) = pid {
        let meant_for: u32 = pid
            .to_str()
            .and_then(|s| s.parse().ok())
            .filter(|&p| p > 0)
            .ok_or_else(|| EnvError::WatchdogPid(pid.to_string_lossy().into_owned()))?;
        if meant_for != ours {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(period)))
}

/// How often to ping for a watchdog `period`: every half period (`sd_watchdog_enabled(3)`'s
/// advice), at most every [`MIN_PING`].
pub fn ping_interval(period: Duration) -> Duration {
    (period / 2).max(MIN_PING)
}

/// Tells the service manager about the service's state; cheap to clone. A notifier made
/// without `NOTIFY_SOCKET` ([`Notifier::default`]) does nothing.
#[derive(Debug, Clone, Default)]
pub struct Notifier(Option<Arc<Link>>);

#[derive(Debug)]
struct Link {
    socket: UnixDatagram,
    to: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the process's environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`). A
    /// variable that cannot be used is logged, and notification is off.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var_os("WATCHDOG_USEC");
        let pid = std::env::var_os("WATCHDOG_PID");
        Self::from_vars(
            socket.as_deref(),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
        )
    }

    /// From the variables' values and this process's id (see [`Self::from_env`]).
    pub fn from_vars(
        socket: Option<&OsStr>,
        usec: Option<&OsStr>,
        pid: Option<&OsStr>,
        ours: u32,
    ) -> Self {
        match Self::open(socket, usec, pid, ours) {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "systemd notification is off");
                Self::default()
            }
        }
    }

    fn open(
        socket: Option<&OsStr>,
        usec: Option<&OsStr>,
        pid: Option<&OsStr>,
        ours: u32,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let Some(address) = socket.map(Address::parse).transpose()?.flatten() else {
            return Ok(Self::default());
        };
        // A bad watchdog variable loses the pings, not `READY=1` (without which a `Type=notify`
        // unit never finishes starting).
        let watchdog = watchdog_period(usec, pid, ours).unwrap_or_else(|e| {
            warn!(error = %e, "systemd watchdog pings are off");
            None
        });
        let to = address
            .socket_addr()
            .map_err(|e| format!("NOTIFY_SOCKET={address:?}: {e}"))?;
        let socket = UnixDatagram::unbound()?;
        // Never block the runtime on a full queue in the service manager: such a message is
        // dropped (and logged) instead.
        socket.set_nonblocking(true)?;
        debug!(?address, ?watchdog, "systemd notification on");
        Ok(Self(Some(Arc::new(Link {
            socket,
            to,
            watchdog,
        }))))
    }

    /// Whether messages go anywhere.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The watchdog period, if systemd asked this process for pings.
    pub fn watchdog(&self) -> Option<Duration> {
        self.0.as_ref().and_then(|l| l.watchdog)
    }

    /// Sends `states` in one datagram (best effort: a failure is logged, never returned, as
    /// the service runs the same with or without a manager listening).
    pub fn notify(&self, states: &[State<'_>]) {
        let Some(link) = &self.0 else { return };
        if let Err(e) = link.socket.send_to_addr(&message(states), &link.to) {
            warn!(error = %e, ?states, "cannot notify systemd");
        }
    }

    /// Sends `STATUS=text`.
    pub fn status(&self, text: &str) {
        self.notify(&[State::Status(text)]);
    }

    /// Starts pinging the watchdog every [`ping_interval`] on the current tokio runtime, if
    /// systemd asked for it. The task runs until aborted (or the runtime stops).
    pub fn spawn_watchdog(&self) -> Option<tokio::task::JoinHandle<()>> {
        let every = ping_interval(self.watchdog()?);
        let me = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            // A late tick (a busy runtime) pings once, not in a burst.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.notify(&[State::Watchdog]);
            }
        }))
    }
}

/// The service's `STATUS=` line: sent when it changes, and never again once the last word
/// ([`Self::finish`]: stopping or restarting) is said, so a late periodic update cannot
/// overwrite "shutting down".
#[derive(Debug, Default)]
pub struct StatusLine {
    notify: Notifier,
    state: Mutex<Said>,
}

#[derive(Debug, Default)]
struct Said {
    last: String,
    finished: bool,
}

impl StatusLine {
    /// Status lines for `notify`.
    pub fn new(notify: Notifier) -> Self {
        Self {
            notify,
            state: Mutex::default(),
        }
    }

    fn say(&self, state: Option<State<'_>>, text: &str, finish: bool) {
        // Sent under the lock (a non-blocking send), so lines leave in the order they are set.
        let mut said = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if said.finished || (state.is_none() && said.last == text) {
            return;
        }
        said.last = text.to_owned();
        said.finished = finish;
        let status = State::Status(text);
        match state {
            Some(state) => self.notify.notify(&[state, status]),
            None => self.notify.notify(&[status]),
        }
    }

    /// Sends `STATUS=text` if it differs from the last one.
    pub fn set(&self, text: &str) {
        self.say(None, text, false);
    }

    /// Sends `READY=1` with `STATUS=text`.
    pub fn ready(&self, text: &str) {
        self.say(Some(State::Ready), text, false);
    }

    /// Sends `state` (such as [`State::Stopping`]) with `STATUS=text`; later lines are not sent.
    pub fn finish(&self, state: State<'_>, text: &str) {
        self.say(Some(state), text, true);
    }

    /// A stop that is still moving: `EXTEND_TIMEOUT_USEC` for `by` with `STATUS=text`, sent
    /// after [`Self::finish`] too (it says how the stop goes, and cannot be a stale update).
    pub fn extend_stop(&self, by: Duration, text: &str) {
        let mut said = self.state.lock().unwrap_or_else(|p| p.into_inner());
        said.last = text.to_owned();
        self.notify
            .notify(&[State::ExtendTimeout(by), State::Status(text)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn states_are_lines_of_one_datagram() {
        assert_eq!(message(&[State::Ready]), b"READY=1\n");
        assert_eq!(
            message(&[State::Ready, State::Status("serving; 2 of 3 gateways up")]),
            b"READY=1\nSTATUS=serving; 2 of 3 gateways up\n"
        );
        assert_eq!(
            message(&[State::Stopping, State::Reloading, State::Watchdog]),
            b"STOPPING=1\nRELOADING=1\nWATCHDOG=1\n"
        );
        assert_eq!(message(&[]), b"");
    }

    #[test]
    fn a_status_stays_one_bounded_line() {
        assert_eq!(
            message(&[State::Status("a\nb\r\nc")]),
            b"STATUS=a b  c\n",
            "a line break would start a new assignment"
        );
        let long = "é".repeat(STATUS_MAX); // 2 bytes each
        let m = message(&[State::Status(&long)]);
        let text = std::str::from_utf8(&m[7..m.len() - 1]).expect("cut at a char boundary");
        assert_eq!(text.len(), STATUS_MAX);
        assert!(text.chars().all(|c| c == 'é'));
        let odd = format!("x{long}");
        let m = message(&[State::Status(&odd)]);
        assert_eq!(m.len(), "STATUS=".len() + STATUS_MAX - 1 + 1, "é not split");
    }

    #[test]
    fn notify_socket_is_a_path_or_an_abstract_name() {
        assert_eq!(
            Address::parse(os("/run/systemd/notify")),
            Ok(Some(Address::Path("/run/systemd/notify".into())))
        );
        assert_eq!(
            Address::parse(os("@/org/freedesktop/systemd1/notify/42")),
            Ok(Some(Address::Abstract(
                b"/org/freedesktop/systemd1/notify/42".to_vec()
            )))
        );
        assert_eq!(Address::parse(os("")), Ok(None));
        for bad in ["run/notify", "@", "vsock:2:1234"] {
            assert_eq!(
                Address::parse(os(bad)),
                Err(EnvError::Socket(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn watchdog_usec_and_pid_as_sd_watchdog_enabled_reads_them() {
        let us = Some(os("3000000"));
        assert_eq!(watchdog_period(None, None, 7), Ok(None));
        assert_eq!(
            watchdog_period(us, None, 7),
            Ok(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            watchdog_period(us, Some(os("7")), 7),
            Ok(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            watchdog_period(us, Some(os("8")), 7),
            Ok(None),
            "meant for another process"
        );
        // Without WATCHDOG_USEC, WATCHDOG_PID means nothing (not even a bad one).
        assert_eq!(watchdog_period(None, Some(os("x")), 7), Ok(None));
        for bad in ["", "0", "-1", "1s", "18446744073709551615", " 5"] {
            assert_eq!(
                watchdog_period(Some(os(bad)), None, 7),
                Err(EnvError::WatchdogUsec(bad.into())),
                "{bad:?}"
            );
        }
        for bad in ["", "0", "-3", "pid"] {
            assert_eq!(
                watchdog_period(us, Some(os(bad)), 7),
                Err(EnvError::WatchdogPid(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pings_come_every_half_period_but_not_in_a_busy_loop() {
        assert_eq!(
            ping_interval(Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        assert_eq!(ping_interval(Duration::from_micros(1)), MIN_PING);
    }

    /// The datagram waiting on `socket`: `notify` sends before it returns, so what it sent is
    /// queued already, and a test of a notifier that sent nothing fails at once.
    fn receive(socket: &UnixDatagram) -> Vec<u8> {
        socket.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0; 4096];
        let n = socket.recv(&mut buf).expect("a datagram queued");
        buf[..n].to_vec()
    }

    /// The next datagram on `socket`, waiting for it (the watchdog task sends on its own).
    fn wait_for(socket: &UnixDatagram) -> Vec<u8> {
        socket.set_nonblocking(false).expect("blocking");
        let mut buf = [0; 4096];
        let n = socket
            .recv(&mut buf)
            .expect("a datagram within the read timeout");
        buf[..n].to_vec()
    }

    #[test]
    fn a_notifier_sends_to_a_path_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        listener
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let n = Notifier::from_vars(Some(path.as_os_str()), Some(os("2000000")), None, 1);
        assert!(n.is_on());
        assert_eq!(n.watchdog(), Some(Duration::from_secs(2)));
        n.notify(&[State::Ready, State::Status("up")]);
        assert_eq!(receive(&listener), b"READY=1\nSTATUS=up\n");
    }

    #[test]
    fn a_status_line_is_sent_when_it_changes_and_not_after_the_last_word() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let line = StatusLine::new(Notifier::from_vars(Some(path.as_os_str()), None, None, 1));
        line.set("starting");
        line.set("starting");
        line.ready("serving");
        line.set("serving");
        line.set("serving; 1 of 1 gateways up");
        line.finish(State::Stopping, "shutting down");
        line.set("serving; 0 of 1 gateways up");
        line.finish(State::Stopping, "again");
        line.extend_stop(
            Duration::from_secs(30),
            "shutting down: 12 recordings stored",
        );
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while let Ok(n) = listener.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            [
                "STATUS=starting\n",
                "READY=1\nSTATUS=serving\n",
                "STATUS=serving; 1 of 1 gateways up\n",
                "STOPPING=1\nSTATUS=shutting down\n",
                "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=shutting down: 12 recordings stored\n",
            ]
        );
    }

    #[test]
    fn a_notifier_sends_to_an_abstract_socket() {
        let name = format!("offhook-test-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind");
        listener
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let n = Notifier::from_vars(Some(os(&format!("@{name}"))), None, None, 1);
        assert_eq!(n.watchdog(), None);
        n.notify(&[State::Stopping]);
        assert_eq!(receive(&listener), b"STOPPING=1\n");
    }

    /// A socket bound in a fresh directory, and its path.
    fn listening() -> (tempfile::TempDir, PathBuf, UnixDatagram) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        listener
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        (dir, path, listener)
    }

    #[test]
    fn a_status_goes_out_as_one_line() {
        let (_dir, path, listener) = listening();
        let n = Notifier::from_vars(Some(path.as_os_str()), None, None, 1);
        n.status("2 of 3 gateways up\nrestarting");
        assert_eq!(
            receive(&listener),
            b"STATUS=2 of 3 gateways up restarting\n"
        );
    }

    #[test]
    fn the_watchdog_is_pinged_only_when_asked_for() {
        let (_dir, path, listener) = listening();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("runtime");
        let _in_runtime = runtime.enter();
        let unasked = Notifier::from_vars(Some(path.as_os_str()), None, None, 1);
        assert!(unasked.spawn_watchdog().is_none(), "no WATCHDOG_USEC");
        // A 20 ms period: a ping every 10 ms, read here as they come (no time is asserted).
        let asked = Notifier::from_vars(Some(path.as_os_str()), Some(os("20000")), None, 1);
        let pings = asked
            .spawn_watchdog()
            .expect("WATCHDOG_USEC asks for pings");
        for _ in 0..3 {
            assert_eq!(wait_for(&listener), b"WATCHDOG=1\n");
        }
        pings.abort();
    }

    /// Set in the copy of this test binary that `from_env_reads_what_systemd_sets` runs.
    const CHILD: &str = "OFFHOOK_TEST_SYSTEMD_CHILD";

    /// `from_env` reads the process's own environment, which a test cannot change (`set_var`
    /// is `unsafe`): the test runs its own binary again with the variables set, and that
    /// process reports what it read over the socket.
    #[test]
    fn from_env_reads_what_systemd_sets() {
        if std::env::var_os(CHILD).is_some() {
            let n = Notifier::from_env();
            n.status(&format!("watchdog {:?}", n.watchdog()));
            return;
        }
        let (_dir, path, listener) = listening();
        let name = module_path!()
            .split_once("::")
            .map(|(_, rest)| format!("{rest}::from_env_reads_what_systemd_sets"))
            .expect("a module path");
        let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([name.as_str(), "--exact", "--test-threads=1"])
            .env(CHILD, "1")
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "4000000")
            .env_remove("WATCHDOG_PID")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the test binary");
        assert!(status.success(), "{status}");
        // The child has exited: what it sent is queued, or it sent nothing.
        assert_eq!(receive(&listener), b"STATUS=watchdog Some(4s)\n");
    }

    #[test]
    fn without_a_usable_socket_a_notifier_does_nothing() {
        assert!(!Notifier::from_vars(None, Some(os("1000000")), None, 1).is_on());
        assert!(!Notifier::from_vars(Some(os("relative")), None, None, 1).is_on());
        let bad_watchdog = Notifier::from_vars(Some(os("/x")), Some(os("soon")), None, 1);
        assert!(bad_watchdog.is_on(), "READY=1 still goes out");
        assert_eq!(bad_watchdog.watchdog(), None);
        // Sending to a socket nobody listens on is only logged.
        let n = Notifier::from_vars(Some(os("/nonexistent/notify")), None, None, 1);
        assert!(n.is_on());
        n.notify(&[State::Ready]);
        Notifier::default().notify(&[State::Ready]);
    }
}
