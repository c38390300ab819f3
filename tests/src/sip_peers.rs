//! Real SIP peers for the end-to-end tests (issue 19): **baresip** (Debian `baresip`) as a phone,
//! and **Kamailio** (Debian `kamailio`) as a reference registrar, both on loopback.
//!
//! [`Baresip`] runs one baresip per phone with a private config dir (`baresip -f DIR`): one
//! account with digest credentials, PCMU/PCMA only (`g711`), the `aufile` module as microphone
//! (a WAV file, or silence), the `sndfile` module as recorder (baresip 1.0's `aufile` has no
//! player, so what the phone hears is taken from `sndfile`'s decode dump), and `ctrl_tcp`, which
//! carries JSON commands and events in netstrings over a TCP socket: the test dials, answers and
//! hangs up through it and reads registration and call events from it. Every wait is bounded
//! and returns a [`PeerError`]; nothing hangs. Each process is killed (by its pid) on drop.
//!
//! [`Kamailio`] runs `scripts/sip/kamailio.cfg` (registrar with digest authentication from a
//! db_text user table, locations in memory, INVITE routed to registered contacts) on a free port.
//!
//! The API is blocking, like the rest of this crate's harness (`Server`, `OsmoMgw`): the tests
//! that drive real processes run on plain threads with bounded polling.

use std::fmt;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::DEADLINE;

mod audio;
mod kamailio;

pub use audio::{envelope_correlation, rms, wav_samples};
pub use kamailio::{Kamailio, kamailio_cfg, subscriber_table};

/// The longest netstring accepted from baresip's control socket; its events are a few hundred
/// bytes, and a longer length prefix means the stream is out of step.
const MAX_NETSTRING: usize = 64 * 1024;

/// Seconds of silence in the WAV a phone "says" when it has no `source_wav`.
const SILENCE_SECS: u32 = 120;

/// Whether `program` runs at all (is installed); tests skip with a note when a peer is missing.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// What went wrong with a peer.
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerError {
    /// Nothing matching `what` happened within `waited`.
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// The peer's log so far.
        log: String,
    },
    /// The peer's process ended.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// Its log.
        log: String,
    },
    /// baresip answered a command with `ok: false`.
    Command {
        /// The command.
        command: String,
        /// baresip's explanation.
        data: String,
    },
    /// Registration was refused (`REGISTER_FAIL`), e.g. wrong credentials.
    RegisterFailed(String),
    /// A socket or file operation failed.
    Io(String, std::io::Error),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { what, waited, log } => {
                write!(f, "no {what} within {waited:?}; log:\n{log}")
            }
            Self::Exited { status, log } => write!(f, "the peer exited ({status}); log:\n{log}"),
            Self::Command { command, data } => write!(f, "command {command} failed: {data}"),
            Self::RegisterFailed(why) => write!(f, "registration failed: {why}"),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}

/// The SIP transport a phone registers and calls over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP (RFC 3261 §18).
    Udp,
    /// TCP.
    Tcp,
}

impl Transport {
    fn param(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// How to set up one baresip phone.
#[derive(Debug, Clone)]
pub struct BaresipConfig {
    /// SIP user name (the AOR is `sip:USER@REGISTRAR`), also the digest user name.
    pub user: String,
    /// Digest password.
    pub password: String,
    /// The registrar (and outbound proxy: the account's domain is this address).
    pub registrar: SocketAddr,
    /// Transport for SIP.
    pub transport: Transport,
    /// Answer incoming calls at once (`;answermode=auto`).
    pub auto_answer: bool,
    /// What the phone says: a mono 16-bit 8 kHz WAV; `None` is silence. baresip 1.0 ends the
    /// call when the file ends.
    pub source_wav: Option<PathBuf>,
    /// Where to copy what the phone heard in its last call (mono 16-bit 8 kHz), once
    /// [`Baresip::wait_call_closed`] returns.
    pub sink_wav: Option<PathBuf>,
    /// Codec modules loaded beside `g711.so`, e.g. `opus.so` (none by default). With any, the
    /// source is declared 8 kHz mono (`ausrc_srate`, `ausrc_channels`) for baresip to resample.
    pub codec_modules: Vec<String>,
    /// The account's `audio_codecs` (baresip's `name/rate/channels` list, e.g.
    /// `opus/48000/2`); `None` (the default) offers every codec loaded. With Opus the phone
    /// hears at the codec's rate: the `sink_wav` is then 48 kHz.
    pub audio_codecs: Option<String>,
}

impl BaresipConfig {
    /// A UDP phone for `user`/`password` at `registrar`, not auto-answering, silent, recording
    /// nothing.
    pub fn new(user: &str, password: &str, registrar: SocketAddr) -> Self {
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            registrar,
            transport: Transport::Udp,
            auto_answer: false,
            source_wav: None,
            sink_wav: None,
            codec_modules: Vec::new(),
            audio_codecs: None,
        }
    }
}

/// A call or registration event from baresip (its `ctrl_tcp` event `type`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `REGISTER_OK`.
    Registered,
    /// `REGISTER_FAIL`, with baresip's reason.
    RegisterFailed(String),
    /// `CALL_INCOMING` from the peer URI.
    Incoming(String),
    /// `CALL_RINGING`: the far end rings (180).
    Ringing,
    /// `CALL_PROGRESS` (183).
    Progress,
    /// `CALL_ESTABLISHED` with the peer URI.
    Established(String),
    /// `CALL_CLOSED`, with the reason.
    Closed(String),
    /// Any other event type, e.g. `CALL_RTCP`.
    Other(String),
}

impl Event {
    fn from_json(v: &Value) -> Self {
        let param = || v["param"].as_str().unwrap_or_default().to_owned();
        let peer = || v["peeruri"].as_str().unwrap_or_default().to_owned();
        match v["type"].as_str().unwrap_or_default() {
            "REGISTER_OK" => Self::Registered,
            "REGISTER_FAIL" => Self::RegisterFailed(param()),
            "CALL_INCOMING" => Self::Incoming(peer()),
            "CALL_RINGING" => Self::Ringing,
            "CALL_PROGRESS" => Self::Progress,
            "CALL_ESTABLISHED" => Self::Established(peer()),
            "CALL_CLOSED" => Self::Closed(param()),
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A running baresip phone; killed on drop.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    events: mpsc::Receiver<Value>,
    responses: mpsc::Receiver<Value>,
    token: u64,
    dir: tempfile::TempDir,
    log: PathBuf,
    sink_wav: Option<PathBuf>,
    /// The phone's own SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// The AOR it registers, `sip:USER@REGISTRAR`.
    pub aor: String,
}

impl Baresip {
    /// Writes the config dir, starts baresip and connects to its control socket. Registration
    /// starts at once; [`Self::registered`] waits for it. A port taken between choosing it and
    /// baresip binding it (other tests run at once; baresip also binds the next port for TLS)
    /// is tried again with new ports, up to 5 times.
    pub fn start(config: BaresipConfig) -> Result<Self, PeerError> {
        let mut tries = 0;
        loop {
            match Self::start_once(config.clone()) {
                Err(PeerError::Exited { log, .. })
                    if log.contains("Address already in use") && tries < 4 =>
                {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    fn start_once(config: BaresipConfig) -> Result<Self, PeerError> {
        let dir = tempfile::tempdir().map_err(|e| PeerError::Io("tempdir".into(), e))?;
        let io = |what: &str| {
            let what = what.to_owned();
            move |e| PeerError::Io(what, e)
        };
        let source = match &config.source_wav {
            Some(p) => p.clone(),
            None => {
                let p = dir.path().join("silence.wav");
                write_silence(&p, SILENCE_SECS).map_err(io("write silence.wav"))?;
                p
            }
        };
        let dump = dir.path().join("dump");
        std::fs::create_dir(&dump).map_err(io("create dump dir"))?;
        let sip_port = free_udp_tcp_port();
        let ctrl_port = crate::free_port();
        let (rtp_lo, rtp_hi) = crate::rtp_ports()
            .split_once('-')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .expect("A-B");
        let mut modules: String = config
            .codec_modules
            .iter()
            .map(|m| format!("module {m}\n"))
            .collect();
        if !modules.is_empty() {
            // The source WAV is 8 kHz mono: baresip resamples it for a codec at another rate
            // (its `aufile` refuses a file whose rate is not the source's).
            modules.push_str("ausrc_srate 8000\nausrc_channels 1\n");
        }
        let text = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             net_interface 127.0.0.1\n\
             rtp_ports {rtp_lo}-{rtp_hi}\n\
             audio_source aufile,{source}\n\
             audio_player alsa,null\n\
             audio_alert alsa,null\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             {modules}\
             module aufile.so\n\
             module alsa.so\n\
             module sndfile.so\n\
             snd_path {dump}\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            source = source.display(),
            dump = dump.display(),
        );
        std::fs::write(dir.path().join("config"), text).map_err(io("write config"))?;
        let aor = format!("sip:{}@{}", config.user, config.registrar);
        let codecs = config
            .audio_codecs
            .as_ref()
            .map(|c| format!(";audio_codecs={c}"))
            .unwrap_or_default();
        let account = format!(
            "<{aor};transport={}>;auth_user={};auth_pass={};answermode={};regint=600{codecs}\n",
            config.transport.param(),
            config.user,
            config.password,
            if config.auto_answer { "auto" } else { "manual" },
        );
        std::fs::write(dir.path().join("accounts"), account).map_err(io("write accounts"))?;
        let log = dir.path().join("baresip.log");
        let out = std::fs::File::create(&log).map_err(io("create log"))?;
        let err = out.try_clone().map_err(io("log"))?;
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(
                "run baresip (Debian package `baresip`, scripts/deps --test)",
            ))?;
        let ctrl_addr = SocketAddr::from(([127, 0, 0, 1], ctrl_port));
        let ctrl = match poll(DEADLINE, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(status));
            }
            TcpStream::connect(ctrl_addr).ok().map(Ok)
        }) {
            Some(Ok(s)) => s,
            Some(Err(status)) => {
                let log = read_log(&log);
                return Err(PeerError::Exited { status, log });
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PeerError::Timeout {
                    what: "baresip's control socket".into(),
                    waited: DEADLINE,
                    log: read_log(&log),
                });
            }
        };
        let (events_tx, events) = mpsc::channel();
        let (responses_tx, responses) = mpsc::channel();
        let reader = ctrl.try_clone().map_err(io("clone control socket"))?;
        std::thread::spawn(move || read_netstrings(reader, &events_tx, &responses_tx));
        Ok(Self {
            child,
            ctrl,
            events,
            responses,
            token: 0,
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
            aor,
            dir,
            log,
            sink_wav: config.sink_wav,
        })
    }

    /// baresip's output so far.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// Waits (at most [`DEADLINE`]) until the account is registered. An event may have come
    /// before the control socket was connected, so this also asks `reginfo` now and then.
    pub fn registered(&mut self) -> Result<(), PeerError> {
        let end = Instant::now() + DEADLINE;
        loop {
            match self.next_event_until(Instant::now() + Duration::from_millis(250)) {
                Ok(Event::Registered) => return Ok(()),
                Ok(Event::RegisterFailed(why)) => return Err(PeerError::RegisterFailed(why)),
                Ok(_) | Err(PeerError::Timeout { .. }) => {}
                Err(e) => return Err(e),
            }
            // reginfo prints `<AOR> \x1b[32mOK \x1b[;m ...` once registered, `ERR` after a
            // failure (and `zzz` before the first answer).
            let info = self.command("reginfo", "")?;
            if info.contains("32mOK ") {
                return Ok(());
            }
            if info.contains("ERR") {
                return Err(PeerError::RegisterFailed(info));
            }
            if Instant::now() >= end {
                return Err(self.timeout("registration (REGISTER_OK)", DEADLINE));
            }
        }
    }

    /// Dials `uri` (`sip:bob@127.0.0.1:5060`); the call's progress comes as events.
    pub fn dial(&mut self, uri: &str) -> Result<(), PeerError> {
        self.command("dial", uri).map(drop)
    }

    /// Answers the incoming call (when not auto-answering).
    pub fn accept(&mut self) -> Result<(), PeerError> {
        self.command("accept", "").map(drop)
    }

    /// Hangs up the current call (BYE, or CANCEL while it rings).
    pub fn hangup(&mut self) -> Result<(), PeerError> {
        self.command("hangup", "").map(drop)
    }

    /// The next call or registration event, within `within`.
    pub fn next_event(&mut self, within: Duration) -> Result<Event, PeerError> {
        self.next_event_until(Instant::now() + within)
    }

    /// Skips events until `want` returns true for one (within [`DEADLINE`]); returns it. A
    /// `CALL_CLOSED` that `want` does not accept is an error (the call ended first).
    pub fn wait_event(
        &mut self,
        what: &str,
        mut want: impl FnMut(&Event) -> bool,
    ) -> Result<Event, PeerError> {
        let end = Instant::now() + DEADLINE;
        loop {
            let e = self
                .next_event_until(end)
                .map_err(|_| self.timeout(what, DEADLINE))?;
            if want(&e) {
                return Ok(e);
            }
            if let Event::Closed(why) = e {
                return Err(PeerError::Command {
                    command: format!("wait for {what}"),
                    data: format!("the call closed first: {why}; log:\n{}", self.log_text()),
                });
            }
        }
    }

    /// Waits for an incoming call that is not answered at once; returns the caller's URI
    /// (baresip 1.0 reports an auto-answered call only as established).
    pub fn wait_incoming(&mut self) -> Result<String, PeerError> {
        match self.wait_event("an incoming call", |e| matches!(e, Event::Incoming(_)))? {
            Event::Incoming(from) => Ok(from),
            _ => unreachable!("wait_event returns what was asked for"),
        }
    }

    /// Waits until the call is established (200 OK sent or received); returns the peer's URI.
    pub fn wait_established(&mut self) -> Result<String, PeerError> {
        match self.wait_event("CALL_ESTABLISHED", |e| matches!(e, Event::Established(_)))? {
            Event::Established(peer) => Ok(peer),
            _ => unreachable!("wait_event returns what was asked for"),
        }
    }

    /// Waits until the call is closed; returns the reason. With a `sink_wav` configured, also
    /// waits until the recording of what the phone heard is complete and copies it there.
    pub fn wait_call_closed(&mut self) -> Result<String, PeerError> {
        let Event::Closed(why) =
            self.wait_event("CALL_CLOSED", |e| matches!(e, Event::Closed(_)))?
        else {
            unreachable!("wait_event returns what was asked for")
        };
        if let Some(sink) = self.sink_wav.clone() {
            let dump = self.dir.path().join("dump");
            // sndfile writes the WAV header's lengths when it closes the file, at the end of
            // the call: a header that announces samples means the file is complete.
            let newest = poll(DEADLINE, || {
                let newest = newest_decode_dump(&dump)?;
                let complete = hound::WavReader::open(&newest).is_ok_and(|r| r.len() > 0);
                complete.then_some(newest)
            })
            .ok_or_else(|| self.timeout("sndfile's recording of the call", DEADLINE))?;
            std::fs::copy(&newest, &sink)
                .map_err(|e| PeerError::Io(format!("copy to {}", sink.display()), e))?;
        }
        Ok(why)
    }

    /// The pid of the baresip process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command and returns its response's `data` (at most [`DEADLINE`]).
    pub fn command(&mut self, command: &str, params: &str) -> Result<String, PeerError> {
        self.token += 1;
        let token = self.token.to_string();
        let json = serde_json::json!({"command": command, "params": params, "token": token});
        let body = json.to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .write_all(frame.as_bytes())
            .map_err(|e| PeerError::Io(format!("send {command}"), e))?;
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.responses.recv_timeout(left) {
                Ok(r) if r["token"] == token.as_str() => {
                    let data = r["data"].as_str().unwrap_or_default().to_owned();
                    return if r["ok"] == true {
                        Ok(data)
                    } else {
                        Err(PeerError::Command {
                            command: format!("{command} {params}"),
                            data,
                        })
                    };
                }
                Ok(_) => {}
                Err(_) => return Err(self.timeout(&format!("response to {command}"), DEADLINE)),
            }
        }
    }

    fn next_event_until(&mut self, end: Instant) -> Result<Event, PeerError> {
        let left = end.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(v) => Ok(Event::from_json(&v)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(self.timeout("an event", left)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(self.exited()),
        }
    }

    fn timeout(&mut self, what: &str, waited: Duration) -> PeerError {
        if let Ok(Some(_)) = self.child.try_wait() {
            return self.exited();
        }
        PeerError::Timeout {
            what: what.to_owned(),
            waited,
            log: self.log_text(),
        }
    }

    fn exited(&mut self) -> PeerError {
        // Bounded: the control socket closes when the process ends.
        let status = poll(DEADLINE, || self.child.try_wait().ok().flatten());
        match status {
            Some(status) => PeerError::Exited {
                status,
                log: self.log_text(),
            },
            None => PeerError::Timeout {
                what: "baresip to exit after its control socket closed".into(),
                waited: DEADLINE,
                log: self.log_text(),
            },
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest `dump-*-dec.wav` (what the phone heard) in `dir`.
fn newest_decode_dump(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Reads netstrings (`LEN:JSON,`) from baresip's control socket until it closes, sending
/// events and command responses to their channels.
fn read_netstrings(
    stream: TcpStream,
    events: &mpsc::Sender<Value>,
    responses: &mpsc::Sender<Value>,
) {
    let mut r = BufReader::new(stream);
    while let Some(body) = read_netstring(&mut r) {
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        let sent = if v["event"] == true {
            events.send(v)
        } else {
            responses.send(v)
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One netstring's payload, or `None` at the end of the stream or on a malformed frame.
fn read_netstring(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = 0usize;
    let mut digits = 0;
    loop {
        let mut b = [0u8];
        r.read_exact(&mut b).ok()?;
        match b[0] {
            d @ b'0'..=b'9' if digits < 6 => {
                len = len * 10 + usize::from(d - b'0');
                digits += 1;
            }
            b':' if digits > 0 => break,
            _ => return None,
        }
    }
    if len > MAX_NETSTRING {
        return None;
    }
    let mut body = vec![0u8; len + 1];
    r.read_exact(&mut body).ok()?;
    (body.pop() == Some(b',')).then_some(body)
}

/// A port free on loopback for both UDP and TCP right now.
pub(crate) fn free_udp_tcp_port() -> u16 {
    for _ in 0..100 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = tcp.local_addr().map(|a| a.port()) else {
            continue;
        };
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on loopback")
}

/// Writes `secs` seconds of 16-bit 8 kHz mono silence.
fn write_silence(path: &Path, secs: u32) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(std::io::Error::other)?;
    for _ in 0..secs * 8000 {
        w.write_sample(0i16).map_err(std::io::Error::other)?;
    }
    w.finalize().map_err(std::io::Error::other)
}

pub(crate) fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // The tail is what explains a failure; baresip's status line repeats many times.
    let tail = text.len().saturating_sub(8000);
    let start = (tail..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

/// Calls `f` every 20 ms until it returns `Some`, for at most `limit`.
pub(crate) fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstrings_are_read_and_bounded() {
        let mut ok: &[u8] = b"5:hello,2:{},";
        assert_eq!(read_netstring(&mut ok).as_deref(), Some(&b"hello"[..]));
        assert_eq!(read_netstring(&mut ok).as_deref(), Some(&b"{}"[..]));
        assert_eq!(read_netstring(&mut ok), None);
        let mut no_comma: &[u8] = b"2:{}x";
        assert_eq!(read_netstring(&mut no_comma), None);
        let mut huge: &[u8] = b"999999:";
        assert_eq!(read_netstring(&mut huge), None);
        let mut no_len: &[u8] = b":{},";
        assert_eq!(read_netstring(&mut no_len), None);
    }

    #[test]
    fn events_are_decoded_from_ctrl_tcp_json() {
        let v = serde_json::json!({"event": true, "type": "CALL_CLOSED", "param": "bye"});
        assert_eq!(Event::from_json(&v), Event::Closed("bye".into()));
        let v = serde_json::json!({"event": true, "type": "CALL_INCOMING", "peeruri": "sip:a@h"});
        assert_eq!(Event::from_json(&v), Event::Incoming("sip:a@h".into()));
        let v = serde_json::json!({"event": true, "type": "CALL_RTCP"});
        assert_eq!(Event::from_json(&v), Event::Other("CALL_RTCP".into()));
    }
}
