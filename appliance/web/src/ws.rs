//! `/api/v1/ws`: one task per WebSocket session, carrying message objects. `send` objects are
//! intercom buffers, handed to [`offhook_domain::intercom`], which forwards them before anything touches
//! the disk.
//!
//! This is a driver: it reads the monotonic clock (through tokio, so paused test time controls
//! it) for the frame-rate limit, the ping timeout, and the instant a phone's live buffer was
//! written (`offhook_intercom_latency_seconds`).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior, interval};
use tracing::{debug, warn};
use uuid::Uuid;

use offhook_domain::clients::{Outbound, Registration, SessionId};
use offhook_domain::intercom::{self, Streams};
use offhook_domain::mailbox::ResolveError;
use offhook_domain::messaging::{self, Action, MessageObject};
use offhook_domain::metrics::Reject;
use offhook_domain::{RecordMode, VoiceMessaging};

use crate::auth::TokenFrom;
use crate::error::record_error_status;
use crate::{ApiError, Auth, Web};

/// Close codes (RFC 6455 §7.4.1).
pub(crate) mod close {
    pub(super) const NORMAL: u16 = 1000;
    pub(super) const POLICY: u16 = 1008;
    pub(super) const TOO_BIG: u16 = 1009;
    /// Application code: no frame within the ping timeout.
    pub(super) const PING_TIMEOUT: u16 = 4000;
    /// Application code: the session ended (logout, expiry, the user deleted).
    pub(crate) const SESSION_ENDED: u16 = 4001;
}

pub(super) async fn upgrade(
    State(app): State<Web>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let auth = auth?;
    // A cookie goes with every request the browser makes to this origin, whoever's page asks:
    // a page of another site opening this socket would act as the user. Browsers send the
    // page's Origin on the upgrade; it must be this server's own.
    if auth.from == Some(TokenFrom::Cookie) && !same_origin(&headers) {
        return Err(app.reject(
            Reject::Forbidden,
            StatusCode::FORBIDDEN,
            "cross-site WebSocket refused: the page's Origin is not this server",
        ));
    }
    let cap = app.0.config.max_sessions_per_user;
    if app.core().clients().sessions_of(auth.user) >= cap {
        return Err(app.reject(
            Reject::WsTooManySessions,
            StatusCode::TOO_MANY_REQUESTS,
            format!("at most {cap} WebSocket sessions per user: close one first"),
        ));
    }
    let max = app.0.config.max_frame;
    Ok(ws
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| session(app, auth, socket)))
}

/// Whether the request's `Origin`, if it has one, names the host it was sent to (`Host`).
/// Clients other than browsers send no `Origin`.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// A token bucket over incoming frames.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Sends a close frame, then reads (and drops) what the client still sends until its close reply
/// or [`CLOSE_WAIT`]: closing a socket with unread data would reset the connection and could
/// destroy the close frame before the client reads it. Boxed: each session's idle future would
/// otherwise hold room for its timer (see `session`).
fn send_close<'a>(
    socket: &'a mut WebSocket,
    code: u16,
    reason: &'static str,
) -> futures_util::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        if socket.send(frame).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    })
}

/// How long a closing session waits for the client's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

async fn session(app: Web, auth: Auth, mut socket: WebSocket) {
    let me = auth.user;
    let core = app.core().clone();
    let mut reg = core.connect(me, &auth.username, auth.login);
    core.metrics().ws_sessions.fetch_add(1, Ordering::Relaxed);
    debug!(user = %auth.username, session = reg.id, "websocket session open");
    let mut pushed: HashSet<Uuid> = HashSet::new();
    // Boxed, as every await that is not the idle loop's: a task's future is as big as its
    // biggest state, and 10,000 idle sessions would each hold room for it
    // (docs/PERFORMANCE.md).
    let mut ok = Box::pin(greet(&app, &auth, &mut socket, &mut pushed)).await;
    // The session may have ended since the upgrade was authenticated; from now on ending it
    // closes this socket through `reg` (see `auth`).
    if ok && !app.session_holds(&auth.token) {
        send_close(&mut socket, close::SESSION_ENDED, "session ended").await;
        ok = false;
    }
    let mut streams = Streams::new(core.config().duration_limit_ms());
    if ok {
        run(
            &app,
            &auth,
            &mut socket,
            &mut reg,
            &mut pushed,
            &mut streams,
        )
        .await;
    }
    // A session that ends mid-stream hangs up: what came is stored.
    Box::pin(intercom::close(&core, sender(&auth, reg.id), &mut streams)).await;
    core.metrics().ws_sessions.fetch_sub(1, Ordering::Relaxed);
    core.disconnect(me, &auth.username, reg.id);
    debug!(user = %auth.username, session = reg.id, "websocket session closed");
}

/// Sends the `connect` object and the backlog; false if the socket failed (or was closed).
async fn greet(app: &Web, auth: &Auth, socket: &mut WebSocket, pushed: &mut HashSet<Uuid>) -> bool {
    let core = app.core();
    let me = auth.user;
    let server = core.server_id();
    let hello = MessageObject::new(
        Action::Connect,
        server,
        me,
        json!({"user": me, "username": auth.username, "server": server}),
    );
    let mut ok = socket
        .send(Message::Text(hello.to_text().into()))
        .await
        .is_ok();
    // The backlog: copies stored while the user was offline, in storage order. Registration came
    // first, so anything committed from now on is also queued; `pushed` drops the overlap.
    if ok {
        match core.pending_for(me).await {
            Ok(list) => {
                for v in list {
                    let text = core.clients().post_text(&v, me, core.clock().now_us());
                    pushed.insert(v.id);
                    if socket
                        .send(Message::Text(text.to_string().into()))
                        .await
                        .is_err()
                    {
                        ok = false;
                        break;
                    }
                    app.core().metrics().pushes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot read the backlog");
                send_close(socket, 1011, "internal error").await;
                ok = false;
            }
        }
    }
    ok
}

async fn run(
    app: &Web,
    auth: &Auth,
    socket: &mut WebSocket,
    reg: &mut Registration,
    pushed: &mut HashSet<Uuid>,
    streams: &mut Streams,
) {
    let cfg = &app.0.config;
    let mut bucket = Bucket {
        tokens: f64::from(cfg.frame_burst),
        rate: f64::from(cfg.frame_rate),
        burst: f64::from(cfg.frame_burst),
        last: Instant::now(),
    };
    let mut last_heard = Instant::now();
    // Stored messages pushed and not yet answered: the client owes a `checkin` for each, and a
    // frame that pays one is not charged to the bucket (a burst of arrivals is not the client
    // flooding; it earns no more free frames than it was sent messages).
    let mut owed: u32 = 0;
    let mut ticker = interval(
        cfg.ping_interval
            .min(cfg.ping_timeout)
            .max(Duration::from_millis(10)),
    );
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let now = Instant::now();
                let frame = match frame {
                    None | Some(Ok(Message::Close(_))) => return,
                    Some(Err(e)) => {
                        let inner = e.into_inner();
                        if matches!(
                            inner.downcast_ref::<tungstenite::Error>(),
                            Some(tungstenite::Error::Capacity(_))
                        ) {
                            app.core().metrics().reject(Reject::WsTooBig);
                            send_close(socket, close::TOO_BIG, "frame too big").await;
                        }
                        debug!(error = %inner, "websocket read failed");
                        return;
                    }
                    Some(Ok(f)) => f,
                };
                last_heard = now;
                if owed > 0 {
                    owed -= 1;
                } else if !bucket.take(now) {
                    app.core().metrics().reject(Reject::WsFlood);
                    warn!(user = %auth.username, "websocket frame flood: closing");
                    send_close(socket, close::POLICY, "frame rate limit exceeded").await;
                    return;
                }
                match frame {
                    Message::Text(t) if !Box::pin(handle_text(app, auth, socket, reg, streams, t.as_str())).await => {
                        return;
                    }
                    Message::Binary(_) => {
                        app.core().metrics().reject(Reject::WsBadObject);
                        let e = error_object(app, auth.user, Action::Send, "binary frames are not message objects");
                        if socket.send(Message::Text(e.into())).await.is_err() {
                            return;
                        }
                    }
                    _ => {}
                }
            }
            out = reg.rx.recv() => {
                let (text, received) = match out {
                    None => return,
                    Some(Outbound::Close(code, reason)) => {
                        send_close(socket, code, reason).await;
                        return;
                    }
                    Some(Outbound::Text(t)) => (t, None),
                    Some(Outbound::Live { text, received }) => (text, Some(received)),
                    Some(Outbound::Post { id, text }) => {
                        if !pushed.insert(id) {
                            continue;
                        }
                        app.core().metrics().pushes.fetch_add(1, Ordering::Relaxed);
                        owed = owed.saturating_add(1);
                        (text, None)
                    }
                };
                if socket.send(Message::Text(text.to_string().into())).await.is_err() {
                    return;
                }
                if let Some(received) = received {
                    // Written and flushed (the socket buffers nothing: `write_buffer_size(0)`):
                    // the server's part of a phone's intercom latency ends here.
                    let written = Instant::now().into_std();
                    app.core()
                        .metrics()
                        .intercom_latency
                        .observe(written.saturating_duration_since(received));
                }
            }
            () = reg.kill.notified() => {
                send_close(socket, close::POLICY, "client too slow").await;
                return;
            }
            _ = ticker.tick() => {
                if Instant::now().saturating_duration_since(last_heard) >= cfg.ping_timeout {
                    app.core().metrics().reject(Reject::WsPingTimeout);
                    debug!(user = %auth.username, "ping timeout");
                    send_close(socket, close::PING_TIMEOUT, "ping timeout").await;
                    return;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn error_object(app: &Web, to: Uuid, action: Action, message: &str) -> String {
    MessageObject::new(
        action,
        app.core().server_id(),
        to,
        json!({"error": message}),
    )
    .to_text()
}

fn sender(auth: &Auth, session: SessionId) -> intercom::Sender<'_> {
    intercom::Sender {
        user: auth.user,
        username: &auth.username,
        session,
    }
}

fn id_field(o: &Value, key: &str) -> Option<Uuid> {
    o.get(key)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Handles one client frame; false ends the session.
async fn handle_text(
    app: &Web,
    auth: &Auth,
    socket: &mut WebSocket,
    reg: &Registration,
    streams: &mut Streams,
    text: &str,
) -> bool {
    let me = auth.user;
    let server = app.core().server_id();
    let m = match MessageObject::from_client(text, me, server) {
        Ok(m) => m,
        Err(e) => {
            let kind = match e {
                messaging::Error::Malformed(_) => Reject::WsBadObject,
                _ => Reject::WsSpoofed,
            };
            app.core().metrics().reject(kind);
            let reply = error_object(app, me, Action::Send, &e.to_string());
            return socket.send(Message::Text(reply.into())).await.is_ok();
        }
    };
    let reply = |action: Action, object: Value| {
        let mut r = MessageObject::new(action, server, me, object);
        r.id = m.id;
        r.to_text()
    };
    let answer = match m.action {
        Action::Connect => Some(reply(
            Action::Connect,
            json!({"user": me, "username": auth.username, "server": server}),
        )),
        Action::Disconnect => {
            send_close(socket, close::NORMAL, "bye").await;
            return false;
        }
        Action::Ping => Some(reply(Action::Ping, json!({}))),
        Action::Subscribe | Action::Unsubscribe => {
            let on = m.action == Action::Subscribe;
            reg.presence.store(on, Ordering::Relaxed);
            Some(reply(m.action, json!({"presence": on})))
        }
        Action::Checkin | Action::Post => {
            let delivered = m.action == Action::Checkin;
            let key = if delivered { "message" } else { "played" };
            if let Some(id) = id_field(&m.object, key) {
                let core = app.core().clone();
                // Acks ride the next group commit; the session does not wait for it.
                tokio::spawn(async move {
                    let done = if delivered {
                        core.mark_delivered(me, id).await
                    } else {
                        core.mark_played(me, id).await
                    };
                    if let Err(e) = done {
                        warn!(error = %e, "cannot record an acknowledgement");
                    }
                });
                None
            } else {
                app.core().metrics().reject(Reject::WsBadObject);
                Some(reply(
                    m.action,
                    json!({"error": format!("object.{key} must be a message id")}),
                ))
            }
        }
        Action::SetStatus => match m.object.get("status").and_then(Value::as_str) {
            Some(s) if s.len() <= 64 => {
                app.core().set_status(me, &auth.username, s);
                None
            }
            _ => {
                app.core().metrics().reject(Reject::WsBadObject);
                Some(reply(
                    Action::SetStatus,
                    json!({"error": "object.status must be a string of at most 64 bytes"}),
                ))
            }
        },
        Action::Send => {
            match intercom::handle(app.core(), sender(auth, reg.id), streams, &m.object).await {
                Ok(()) => None,
                Err((e, mut at)) => {
                    app.core().metrics().reject(e.reject());
                    debug!(user = %auth.username, error = %e, "intercom buffer refused");
                    at["error"] = json!(e.to_string());
                    Some(reply(Action::Send, at))
                }
            }
        }
        Action::PhoneCommand => Some(reply(
            Action::PhoneCommand,
            phone_command(app, me, &m.object).await,
        )),
        Action::ControlParams => Some(reply(
            Action::ControlParams,
            control_params(app, me, &m.object),
        )),
        // Refused by from_client; listed for exhaustiveness.
        _ => Some(reply(m.action, json!({"error": "reserved to servers"}))),
    };
    match answer {
        Some(a) => socket.send(Message::Text(a.into())).await.is_ok(),
        None => true,
    }
}

/// `phone_command`: drives the caller's own phone.
/// - `{"command": "record", "to": ["bob"], "mode"?: "auto"|"intercom"|"record"}` rings it to
///   record (as `POST /api/v1/record`); answers `{"request", "status": "pending", "mode"}` or
///   `{"error", "status": 409|503|507}`.
/// - `{"command": "status", "request": N}` answers `{"request", "status":
///   "pending"|"stored"|"failed", "message"?, "reason"?}` at once.
async fn phone_command(app: &Web, me: Uuid, object: &Value) -> Value {
    match object.get("command").and_then(Value::as_str) {
        Some("record") => {
            let names: Option<Vec<String>> = object.get("to").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .take(64)
                    .map(str::to_owned)
                    .collect()
            });
            let Some(names) = names.filter(|n| !n.is_empty()) else {
                app.core().metrics().reject(Reject::WsBadObject);
                return json!({"error": "object.to must list recipients"});
            };
            let mode = match object.get("mode") {
                None => None,
                Some(v) => match serde_json::from_value::<RecordMode>(v.clone()) {
                    Ok(m) => Some(m),
                    Err(_) => {
                        app.core().metrics().reject(Reject::WsBadObject);
                        return json!({"error": "object.mode must be auto, intercom or record"});
                    }
                },
            };
            let core = app.core();
            let to = match core.resolve(names).await {
                Ok(to) => to,
                Err(e @ ResolveError::UnknownRecipient(_)) => {
                    core.metrics().reject(Reject::UnknownRecipient);
                    return json!({"error": e.to_string()});
                }
                Err(e) => return json!({"error": e.to_string()}),
            };
            match core.start_recording(me, to, mode).await {
                Ok((id, delivery)) => json!({
                    "request": id,
                    "status": "pending",
                    "mode": delivery.as_str(),
                }),
                Err(e) => json!({
                    "error": e.to_string(),
                    "status": record_error_status(&e).as_u16(),
                }),
            }
        }
        Some("status") => match object.get("request").and_then(Value::as_u64) {
            Some(id) => match app.core().record_status(me, id, Duration::ZERO).await {
                None => json!({"error": "no such record request", "request": id}),
                Some(s) => crate::messages::record_status_json(id, &s),
            },
            None => {
                app.core().metrics().reject(Reject::WsBadObject);
                json!({"error": "object.request must be a record request id"})
            }
        },
        _ => {
            app.core().metrics().reject(Reject::WsBadObject);
            json!({"error": "object.command must be \"record\" or \"status\""})
        }
    }
}

/// `control_params`: reads, and with `{"record_mode": …}` sets, the caller's parameters. The
/// answer lists them all: `record_mode` (settable; the default mode of their record requests)
/// and the appliance's fixed ones (`has_phone`, `intercom_buffer_ms`, `max_recording_ms`).
fn control_params(app: &Web, me: Uuid, object: &Value) -> Value {
    let core: &VoiceMessaging = app.core();
    if let Some(v) = object.get("record_mode") {
        match serde_json::from_value::<RecordMode>(v.clone()) {
            Ok(m) => core.set_default_mode(me, m),
            Err(_) => {
                app.core().metrics().reject(Reject::WsBadObject);
                return json!({"error": "record_mode must be auto, intercom or record"});
            }
        }
    }
    json!({
        "record_mode": core.default_mode(me),
        "has_phone": core.has_phone(me),
        "intercom_buffer_ms": 20,
        "max_recording_ms": core.config().duration_limit_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_origin_must_name_the_host_the_upgrade_was_sent_to() {
        let host = ("host", "offhook.lan:8080");
        assert!(same_origin(&headers(&[host])), "no Origin: not a browser");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://offhook.lan:8080")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "https://OFFHOOK.lan:8080")
        ])));
        for other in [
            "http://evil.example",
            "http://offhook.lan",
            "http://offhook.lan:8081",
            "http://offhook.lan:8080.evil.example",
            "null",
        ] {
            assert!(
                !same_origin(&headers(&[host, ("origin", other)])),
                "{other} is another origin"
            );
        }
        assert!(
            !same_origin(&headers(&[("origin", "http://offhook.lan:8080")])),
            "no Host to compare with"
        );
    }
}
