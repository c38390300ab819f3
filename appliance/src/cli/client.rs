//! The client subcommands `send`, `inbox`, `fetch` and `listen`, speaking the REST API and the
//! WebSocket of shared/CONTRACT.md.
//!
//! `send --live` is a driver of real time: it paces intercom buffers with a tokio interval, as
//! a speaker would fill them (see [`offhook_domain::intercom`] for the wire format).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use codecs::wav::WavWriter;
use reqwest::blocking::{Client, Response, multipart};
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use uuid::Uuid;

use super::Error;
use super::trust::{tls_config, unreachable};

/// Options of every client subcommand.
#[derive(Debug, Clone, Args)]
pub struct ClientOpts {
    /// The appliance's URL.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "OFFHOOK_SERVER")]
    pub server: String,
    /// Your username (the password comes from $OFFHOOK_PASSWORD, or is asked for on a terminal).
    #[arg(long, env = "OFFHOOK_USER")]
    pub user: Option<String>,
    /// With an https:// server: also trust the certificates in this PEM file, such as the one
    /// the appliance made for itself (`DATA/tls/cert.pem`, its fingerprint in the log and the
    /// admin console).
    #[arg(long, value_name = "PEM", env = "OFFHOOK_CACERT")]
    pub cacert: Option<PathBuf>,
}

/// `offhook send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// Recipients, comma-separated usernames.
    #[arg(long, required = true, value_delimiter = ',')]
    to: Vec<String>,
    /// The recording: WAV (any rate; PCM, µ-law, A-law) or Ogg Opus.
    file: PathBuf,
    /// Files to attach.
    #[arg(long)]
    attach: Vec<PathBuf>,
    /// Intercom: stream the file in real time, buffer by buffer, as if spoken now (to online
    /// recipients live; stored as a message for all).
    #[arg(long, conflicts_with = "attach")]
    live: bool,
    /// With --live: the buffer length in milliseconds (1 to 1000).
    #[arg(long, value_name = "MS", default_value_t = 20, requires = "live")]
    buffer_ms: u64,
}

/// `offhook inbox`.
#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// Print the JSON array `GET /api/v1/messages` returns.
    #[arg(long)]
    json: bool,
    /// Wait up to this many seconds until an unplayed incoming message is there.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

/// `offhook fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// The message's id.
    id: String,
    /// Output file: .wav gives 16-bit PCM WAV, .ogg/.opus gives Ogg Opus.
    #[arg(long)]
    out: PathBuf,
}

/// `offhook listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// Also write each delivered message's audio here as ID.wav, and each live intercom stream
    /// as live-STREAM.wav.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
}

/// A logged-in connection to the appliance.
pub(super) struct Session {
    http: Client,
    base: String,
    token: String,
    /// The TLS settings for an https:// server (shared by HTTP and the WebSocket).
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Turns a refusal into its one-line cause.
fn check(r: Response) -> Result<Response, Error> {
    if r.status().is_success() {
        return Ok(r);
    }
    let status = r.status();
    let body: Value = r.json().unwrap_or(Value::Null);
    let msg = body
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| status.to_string(), str::to_owned);
    Err(Error::Refused(msg))
}

/// The password: `$OFFHOOK_PASSWORD`, or else asked for with hidden input when a person is at a
/// terminal (as ssh and psql do). Without either there is nobody to ask: a clear error.
fn password(user: &str) -> Result<String, Error> {
    use std::io::IsTerminal as _;
    if let Ok(p) = std::env::var("OFFHOOK_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "set $OFFHOOK_PASSWORD to your password (or run on a terminal to be asked for it)"
                .into(),
        ));
    }
    // rpassword reads from /dev/tty with echo off, so the prompt works even with stdout
    // redirected (`offhook inbox --json > inbox.json`).
    rpassword::prompt_password(format!("Password for {user}: ")).map_err(|source| Error::File {
        path: "the terminal".into(),
        source,
    })
}

impl Session {
    pub(super) fn login(opts: &ClientOpts) -> Result<Self, Error> {
        let user = opts
            .user
            .clone()
            .ok_or_else(|| Error::Usage("--user NAME is required (or set $OFFHOOK_USER)".into()))?;
        let password = password(&user)?;
        let base = opts.server.trim_end_matches('/').to_owned();
        let tls = if base.starts_with("https://") {
            Some(tls_config(opts.cacert.as_deref())?)
        } else {
            None
        };
        let mut builder = Client::builder()
            .timeout(Duration::from_secs(600))
            .connect_timeout(Duration::from_secs(10));
        if let Some(tls) = &tls {
            builder = builder.use_preconfigured_tls((**tls).clone());
        }
        let http = builder
            .build()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let r = http
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .map_err(|e| unreachable(&base, &e))?;
        let v: Value = check(r)?
            .json()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol("no token in the login answer".into()))?
            .to_owned();
        Ok(Self {
            http,
            base,
            token,
            tls,
        })
    }

    /// Sends `request` with the session's token; a refusal becomes its one-line cause.
    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Response, Error> {
        let r = request
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| unreachable(&self.base, &e))?;
        check(r)
    }

    pub(super) fn get(&self, path: &str) -> Result<Response, Error> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// POSTs `body` as JSON to `path`.
    pub(super) fn post_json(&self, path: &str, body: &Value) -> Result<Response, Error> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
    }

    fn messages(&self) -> Result<Vec<Value>, Error> {
        self.get("/api/v1/messages")?
            .json()
            .map_err(|e| Error::Protocol(e.to_string()))
    }

    /// Opens the WebSocket; the socket gets `read_timeout` so callers can wait with a deadline.
    fn websocket(&self) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, Error> {
        let url = if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}/api/v1/ws")
        } else if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}/api/v1/ws")
        } else {
            return Err(Error::Usage(
                "the server URL must start with http:// or https://".into(),
            ));
        };
        let mut req = url
            .into_client_request()
            .map_err(|e| Error::Usage(e.to_string()))?;
        let auth = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| Error::Protocol("bad token".into()))?;
        req.headers_mut().insert("Authorization", auth);
        super::trust::websocket(&self.base, req, self.tls.clone())
    }

    fn save_audio(&self, id: &str, out: &Path) -> Result<(), Error> {
        let format = match out.extension().and_then(|e| e.to_str()) {
            Some("wav") => "wav",
            Some("ogg" | "opus") => "ogg",
            _ => return Err(Error::Usage("--out must end in .wav, .ogg or .opus".into())),
        };
        let mut r = self.get(&format!("/api/v1/messages/{id}/audio?format={format}"))?;
        let tmp = out.with_extension("part");
        let file_err = |source| Error::File {
            path: out.display().to_string(),
            source,
        };
        let mut f = File::create(&tmp).map_err(file_err)?;
        r.copy_to(&mut f)
            .map_err(|e| Error::Protocol(e.to_string()))?;
        f.sync_all().map_err(file_err)?;
        std::fs::rename(&tmp, out).map_err(file_err)?;
        Ok(())
    }
}

/// Counts bytes read and reports progress on stderr for long uploads.
struct Progress<R> {
    inner: R,
    sent: u64,
    total: u64,
    shown: u64,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        let pct = self.sent * 100 / self.total.max(1);
        if pct / 5 != self.shown / 5 || (n == 0 && self.shown != 100) {
            self.shown = pct;
            eprint!(
                "\rsending: {pct:3}% ({} of {} kB)",
                self.sent / 1000,
                self.total / 1000
            );
            if self.sent >= self.total {
                eprintln!();
            }
        }
        Ok(n)
    }
}

/// Uploads above this size show progress.
const PROGRESS_ABOVE: u64 = 1 << 20;

/// `offhook send`: exits 0 only once the server has durably stored the message; prints its id.
pub fn send(a: SendArgs) -> Result<(), Error> {
    if a.live {
        return send_live(&a);
    }
    let file_err = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::File { path, source }
    };
    let f = File::open(&a.file).map_err(file_err(&a.file))?;
    let total = f.metadata().map_err(file_err(&a.file))?.len();
    let s = Session::login(&a.opts)?;
    let mime = match a.file.extension().and_then(|e| e.to_str()) {
        Some("ogg" | "opus") => "audio/ogg",
        _ => "audio/wav",
    };
    let name = a
        .file
        .file_name()
        .map_or_else(|| "audio".into(), |n| n.to_string_lossy().into_owned());
    let body: Box<dyn Read + Send> = if total > PROGRESS_ABOVE {
        Box::new(Progress {
            inner: f,
            sent: 0,
            total,
            shown: 0,
        })
    } else {
        Box::new(f)
    };
    let audio = multipart::Part::reader_with_length(body, total)
        .file_name(name)
        .mime_str(mime)
        .map_err(|e| Error::Protocol(e.to_string()))?;
    let mut form = multipart::Form::new();
    for t in &a.to {
        form = form.text("to", t.clone());
    }
    form = form.part("audio", audio);
    for p in &a.attach {
        form = form.file("attachment", p).map_err(file_err(p))?;
    }
    let v: Value = s
        .send(
            s.http
                .post(format!("{}/api/v1/messages", s.base))
                .multipart(form),
        )?
        .json()
        .map_err(|e| Error::Protocol(e.to_string()))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Protocol("no id in the answer".into()))?;
    println!("{id}");
    Ok(())
}

/// Reads an audio file (WAV of any rate, raw G.711, Ogg Opus) as 8 kHz mono PCM.
fn read_8k_mono(path: &Path) -> Result<Vec<i16>, Error> {
    use codecs::pipeline::{Format, Source};
    let bad = |e: &dyn std::fmt::Display| Error::Usage(format!("{}: {e}", path.display()));
    let f = File::open(path).map_err(|source| Error::File {
        path: path.display().to_string(),
        source,
    })?;
    let format = Format::from_path(path).unwrap_or(Format::Wav);
    let mut src = Source::new(
        std::io::BufReader::new(f),
        format,
        codecs::opus::SampleRate::Hz8000,
    )
    .map_err(|e| bad(&e))?;
    let mut pcm = Vec::new();
    let mut buf = vec![0i16; 4096];
    loop {
        let n = src.read(&mut buf).map_err(|e| bad(&e))?;
        if n == 0 {
            break;
        }
        pcm.extend_from_slice(&buf[..n]);
    }
    let rate = src.sample_rate();
    codecs::resample::resample(&pcm, rate, offhook_domain::intercom::SAMPLE_RATE)
        .map_err(|e| bad(&e))
}

/// `offhook send --live`: streams the file in real time over the WebSocket, one buffer per
/// `send` object, then waits for the server to store it; prints the stored message's id.
fn send_live(a: &SendArgs) -> Result<(), Error> {
    if !(1..=offhook_domain::intercom::MAX_BUFFER_MS).contains(&a.buffer_ms) {
        return Err(Error::Usage("--buffer-ms must be 1 to 1000".into()));
    }
    let pcm = read_8k_mono(&a.file)?;
    let s = Session::login(&a.opts)?;
    let mut ws = s.websocket()?;
    let lost = |e: tungstenite::Error| Error::Protocol(format!("connection lost: {e}"));
    let stream = Uuid::new_v4().simple().to_string()[..16].to_owned();
    let per =
        usize::try_from(a.buffer_ms * u64::from(offhook_domain::intercom::SAMPLE_RATE) / 1000)
            .unwrap_or(usize::MAX);
    let buffers: Vec<&[i16]> = if pcm.is_empty() {
        vec![&[]]
    } else {
        pcm.chunks(per).collect()
    };
    let rt = super::runtime(tokio::runtime::Builder::new_current_thread())?;
    let mut ticker = {
        let _in = rt.enter();
        tokio::time::interval(Duration::from_millis(a.buffer_ms))
    };
    // Burst (the default): a late tick is caught up, so the stream keeps real time on average.
    rt.block_on(ticker.tick());
    // Reads between buffers only take what has already arrived.
    set_timeout(&ws, Some(Duration::from_millis(1)));
    let last = buffers.len() - 1;
    // The confirmation can arrive while the last buffers are still being read back.
    let mut stored = None;
    for (seq, buf) in buffers.iter().enumerate() {
        // A buffer goes out once it is full: one period after the previous one.
        rt.block_on(ticker.tick());
        let bytes: Vec<u8> = buf.iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut object = json!({
            "stream": stream, "seq": seq, "pcm": BASE64.encode(bytes), "end": seq == last,
        });
        if seq == 0 {
            object["to"] = json!(a.to);
        }
        let m = json!({
            "action": "send", "id": Uuid::new_v4(), "source": Uuid::nil(),
            "destination": Uuid::nil(), "object": object,
        });
        ws.send(Message::Text(m.to_string().into())).map_err(lost)?;
        while let Some(v) = read_object(&mut ws)? {
            if let Some(id) = live_answer(&v, &stream)? {
                stored = Some(id);
            }
        }
    }
    if let Some(id) = stored {
        println!("{id}");
        let _ = ws.close(None);
        return Ok(());
    }
    // Storing waits for the file's seal and a group commit: allow it a generous minute.
    let mut left = Duration::from_secs(60);
    let step = Duration::from_millis(250);
    loop {
        set_timeout(&ws, Some(step));
        match read_object(&mut ws)? {
            Some(v) => {
                if let Some(id) = live_answer(&v, &stream)? {
                    println!("{id}");
                    let _ = ws.close(None);
                    return Ok(());
                }
            }
            None => {
                left = left.saturating_sub(step);
                if left.is_zero() {
                    return Err(Error::Protocol(
                        "the server did not confirm storing the stream".into(),
                    ));
                }
            }
        }
    }
}

/// The next message object, or None if none arrived within the socket's read timeout.
fn read_object(ws: &mut WebSocket<MaybeTlsStream<TcpStream>>) -> Result<Option<Value>, Error> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                return Ok(Some(
                    serde_json::from_str(t.as_str()).unwrap_or(Value::Null),
                ));
            }
            Ok(Message::Close(c)) => {
                return Err(Error::Protocol(format!(
                    "connection closed{}",
                    c.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                )));
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::Protocol(format!("connection lost: {e}"))),
        }
    }
}

/// The server's answer about our stream: the stored id, nothing yet, or its refusal.
fn live_answer(v: &Value, stream: &str) -> Result<Option<String>, Error> {
    let o = &v["object"];
    if v["action"] != "send" || o.get("from").is_some() {
        return Ok(None);
    }
    if !(o["stream"] == stream || o["stream"].is_null()) {
        return Ok(None);
    }
    if let Some(e) = o["error"].as_str() {
        return Err(Error::Refused(e.to_owned()));
    }
    Ok(o["stored"].as_str().map(str::to_owned))
}

fn has_unplayed(list: &[Value]) -> bool {
    list.iter().any(|m| {
        m.get("direction").and_then(Value::as_str) == Some("in")
            && m.get("played").and_then(Value::as_bool) == Some(false)
    })
}

/// `offhook inbox`.
pub fn inbox(a: InboxArgs) -> Result<(), Error> {
    let s = Session::login(&a.opts)?;
    let mut list = s.messages()?;
    if let Some(secs) = a.wait.filter(|_| !has_unplayed(&list)) {
        // Open the socket before listing again, so an arrival in between is not missed.
        let mut ws = s.websocket()?;
        list = s.messages()?;
        if !has_unplayed(&list) && wait_for_post(&mut ws, Duration::from_secs(secs))? {
            list = s.messages()?;
        }
        let _ = ws.close(None);
    }
    if a.json {
        println!("{}", Value::Array(list));
    } else {
        for m in &list {
            let arrow = if m["direction"] == "in" { "from" } else { "to" };
            let who = if m["direction"] == "in" {
                m["from"].as_str().unwrap_or("").to_owned()
            } else {
                m["to"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            };
            println!(
                "{}  {}  {arrow} {who}  {:.1}s{}",
                m["id"].as_str().unwrap_or(""),
                m["created"].as_str().unwrap_or(""),
                m["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                if m["played"] == true { "  played" } else { "" },
            );
        }
    }
    Ok(())
}

fn set_timeout(ws: &WebSocket<MaybeTlsStream<TcpStream>>, t: Option<Duration>) {
    let socket = match ws.get_ref() {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
        _ => None,
    };
    if let Some(s) = socket {
        let _ = s.set_read_timeout(t);
    }
}

/// Waits until a `post` arrives or `limit` passes; true if one arrived. Does not acknowledge it:
/// the inbox only looks.
fn wait_for_post(
    ws: &mut WebSocket<MaybeTlsStream<TcpStream>>,
    limit: Duration,
) -> Result<bool, Error> {
    // The deadline is the socket's read timeout, renewed per frame with what is left.
    let mut left = limit;
    let step = Duration::from_millis(250);
    loop {
        set_timeout(ws, Some(step.min(left).max(Duration::from_millis(1))));
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if v["action"] == "post" {
                    return Ok(true);
                }
            }
            Ok(Message::Close(_)) => return Ok(false),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                left = left.saturating_sub(step);
                if left.is_zero() {
                    return Ok(false);
                }
            }
            Err(e) => return Err(Error::Protocol(e.to_string())),
        }
    }
}

/// `offhook fetch`.
pub fn fetch(a: FetchArgs) -> Result<(), Error> {
    let s = Session::login(&a.opts)?;
    s.save_audio(&a.id, &a.out)
}

fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// A live intercom stream being heard.
struct Live {
    ms: u64,
    file: Option<(PathBuf, WavWriter<BufWriter<File>>)>,
}

impl Live {
    fn start(dir: Option<&Path>, stream: &str) -> Result<Self, Error> {
        let file = match dir {
            Some(d) => {
                let path = d.join(format!("live-{stream}.wav"));
                let f = File::create(&path).map_err(|source| Error::File {
                    path: path.display().to_string(),
                    source,
                })?;
                let w = WavWriter::new(
                    BufWriter::new(f),
                    offhook_domain::intercom::SAMPLE_RATE,
                    1,
                    None,
                )
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
                Some((path, w))
            }
            None => None,
        };
        Ok(Self { ms: 0, file })
    }

    fn write(&mut self, pcm: &[i16]) -> Result<(), Error> {
        if let Some((path, w)) = &mut self.file {
            w.write_samples(pcm)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Closes the file; returns its path.
    fn finish(self) -> Result<Option<PathBuf>, Error> {
        let Some((path, w)) = self.file else {
            return Ok(None);
        };
        let mut f = w
            .finish_seekable()
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        f.flush().map_err(|source| Error::File {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Some(path))
    }
}

/// Handles a live intercom buffer: prints `live` (and `live_end`), saves its audio.
fn hear(live: &mut HashMap<String, Live>, dir: Option<&Path>, o: &Value) -> Result<(), Error> {
    let Some(stream) = o["stream"].as_str() else {
        return Ok(());
    };
    if !live.contains_key(stream) {
        live.insert(stream.to_owned(), Live::start(dir, stream)?);
    }
    let Some(l) = live.get_mut(stream) else {
        return Ok(());
    };
    let bytes = BASE64
        .decode(o["pcm"].as_str().unwrap_or("").as_bytes())
        .map_err(|e| Error::Protocol(format!("bad live audio: {e}")))?;
    let pcm: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    l.write(&pcm)?;
    let ms = o["ms"].as_u64().unwrap_or(0);
    l.ms += ms;
    if o["cut"] != true {
        emit(
            &json!({"event": "live", "from": o["from"], "stream": stream, "seq": o["seq"], "ms": ms}),
        );
    }
    if o["end"] == true
        && let Some(l) = live.remove(stream)
    {
        let total = l.ms;
        let mut event =
            json!({"event": "live_end", "from": o["from"], "stream": stream, "ms": total});
        if o["cut"] == true {
            event["cut"] = json!(true);
        }
        if let Some(path) = l.finish()? {
            event["file"] = json!(path.display().to_string());
        }
        emit(&event);
    }
    Ok(())
}

/// `offhook listen`: one JSON line per event; acknowledges each message once printed (and saved).
pub fn listen(a: ListenArgs) -> Result<(), Error> {
    let s = Session::login(&a.opts)?;
    if let Some(dir) = &a.save {
        std::fs::create_dir_all(dir).map_err(|source| Error::File {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let mut ws = s.websocket()?;
    let mut me = Uuid::nil();
    let mut seen: HashSet<String> = HashSet::new();
    let mut live: HashMap<String, Live> = HashMap::new();
    loop {
        let frame = ws
            .read()
            .map_err(|e| Error::Protocol(format!("connection lost: {e}")))?;
        let text = match frame {
            Message::Text(t) => t,
            Message::Close(c) => {
                return Err(Error::Protocol(format!(
                    "connection closed{}",
                    c.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                )));
            }
            _ => continue,
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        let object = &v["object"];
        match v["action"].as_str() {
            Some("connect") => {
                me = object["user"]
                    .as_str()
                    .and_then(|u| Uuid::parse_str(u).ok())
                    .unwrap_or_default();
                emit(
                    &json!({"event": "connected", "user": object["user"], "username": object["username"]}),
                );
            }
            Some("post") => {
                let Some(id) = object["id"].as_str().map(str::to_owned) else {
                    continue;
                };
                if seen.insert(id.clone()) {
                    let mut event = json!({"event": "message"});
                    if let (Some(e), Some(o)) = (event.as_object_mut(), object.as_object()) {
                        for (k, val) in o {
                            e.insert(k.clone(), val.clone());
                        }
                    }
                    if let Some(dir) = &a.save {
                        let path = dir.join(format!("{id}.wav"));
                        s.save_audio(&id, &path)?;
                        event["file"] = json!(path.display().to_string());
                    }
                    emit(&event);
                }
                let ack = json!({
                    "action": "checkin", "id": Uuid::new_v4(), "source": me,
                    "destination": Uuid::nil(), "object": {"message": id}
                });
                ws.send(Message::Text(ack.to_string().into()))
                    .map_err(|e| Error::Protocol(format!("connection lost: {e}")))?;
            }
            Some("send") if object.get("from").is_some() => {
                hear(&mut live, a.save.as_deref(), object)?;
            }
            Some("set_status") => emit(&json!({
                "event": "presence", "user": object["user"], "username": object["username"],
                "online": object["online"], "status": object["status"]
            })),
            Some("server_down") => {
                emit(&json!({"event": "server_down", "reason": object["reason"]}));
                return Err(Error::Protocol("the server shut down".into()));
            }
            _ => {}
        }
    }
}
