//! The HTTP front: accepts connections and serves the router on each (HTTP/1.1, with WebSocket
//! upgrades), with the limits a server on a hostile network needs.
//!
//! - **Header-read timeout**: a connection has `header_timeout` to send a request's head, from
//!   the moment it is ready for one; one that dawdles is closed (slowloris).
//! - **Idle connections are bounded**: a connection is *idle* from its accept until its first
//!   request head arrives, and again between two requests (keep-alive). At most `max_idle` are
//!   kept; when another would pass the bound, the oldest idle connection is closed. A flood of
//!   connections that never finish a request head therefore pushes out only idle connections,
//!   oldest first: a client that sends its request at once is served, and connections in the
//!   middle of a request or a response (a long download, a WebSocket) are never closed for it.
//! - **Out of descriptors**: an accept that fails for lack of file descriptors closes the oldest
//!   idle connection and tries again, instead of stopping the listener; the failures are counted
//!   and logged once a second at most.
//! - **TLS** (when the listener has a certificate): the handshake happens on the connection's
//!   task, within `header_timeout`, while the connection counts as idle (a flood of handshakes
//!   that never finish is evicted like one of request heads that never finish). A failed or
//!   timed-out handshake is counted and logged (warnings are throttled per callsite); a client
//!   that speaks plain HTTP to the TLS port gets a plain `400` naming `https://` and is counted.
//!   Requests that came over TLS carry the [`Secure`] extension (the session cookie gets
//!   `Secure`). A listener on all addresses may serve connections made to a loopback address in
//!   plain HTTP ([`Tls::plain_on_loopback`]): they never leave the machine.
//!
//! This is a driver: it reads tokio's clock for the back-off after a failed accept.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, warn};

/// The front's limits (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request head. 10 s.
    pub header_timeout: Duration,
    /// Idle connections kept at most. 256.
    pub max_idle: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_idle: 256,
        }
    }
}

/// A listener's TLS: its certificate, and whether loopback connections stay plain.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The rustls configuration (certificate, ALPN).
    pub config: Arc<rustls::ServerConfig>,
    /// Serve connections made to a loopback address in plain HTTP (a listener on all
    /// addresses whose port is also where local clients expect plain HTTP).
    pub plain_on_loopback: bool,
}

/// The request came over TLS (a request extension the front adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secure;

/// What the front has done, for `/metrics`.
#[derive(Debug, Default)]
pub struct FrontStats {
    /// Idle connections closed to make room for a new one.
    pub idle_evicted: AtomicU64,
    /// Accepts that failed (most often: out of file descriptors).
    pub accept_errors: AtomicU64,
    /// TLS handshakes that failed (a client that does not trust the certificate, garbage).
    pub tls_handshake_failed: AtomicU64,
    /// TLS handshakes not finished within the header timeout.
    pub tls_handshake_timeout: AtomicU64,
    /// Plain HTTP requests sent to a TLS port (answered `400`, then closed).
    pub plain_http_on_tls: AtomicU64,
}

impl FrontStats {
    /// Every counter with its name, for `/metrics`.
    pub fn counters(&self) -> [(&'static str, u64); 5] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("idle_evicted", get(&self.idle_evicted)),
            ("accept_errors", get(&self.accept_errors)),
            ("tls_handshake_failed", get(&self.tls_handshake_failed)),
            ("tls_handshake_timeout", get(&self.tls_handshake_timeout)),
            ("plain_http_on_tls", get(&self.plain_http_on_tls)),
        ]
    }
}

/// A connection's byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// What a client that speaks plain HTTP to the TLS port is told.
const USE_HTTPS: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 41\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// URLs";

/// One connection's bookkeeping.
struct Conn {
    /// Requests in progress (a request counts until its response body is dropped).
    busy: u32,
    /// Set while idle: the ticket of its entry in [`Registry::idle`].
    idle_ticket: Option<u64>,
    kill: Arc<Notify>,
}

/// The open connections and the queue of idle ones, oldest first.
#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Conn>,
    /// `(ticket, connection)`; entries whose ticket is no longer the connection's are stale and
    /// skipped (a connection that went busy, or closed).
    idle: VecDeque<(u64, u64)>,
    idle_count: usize,
    next_ticket: u64,
    next_conn: u64,
}

impl Registry {
    fn open(&mut self) -> (u64, Arc<Notify>) {
        let id = self.next_conn;
        self.next_conn += 1;
        let kill = Arc::new(Notify::new());
        self.conns.insert(
            id,
            Conn {
                busy: 0,
                idle_ticket: None,
                kill: kill.clone(),
            },
        );
        self.set_idle(id);
        (id, kill)
    }

    fn set_idle(&mut self, id: u64) {
        let ticket = self.next_ticket;
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.idle_ticket.is_some() {
            return;
        }
        self.next_ticket += 1;
        c.idle_ticket = Some(ticket);
        self.idle.push_back((ticket, id));
        self.idle_count += 1;
        // Stale entries pile up behind busy keep-alive connections: rebuild now and then.
        if self.idle.len() > 4 * self.idle_count + 64 {
            let conns = &self.conns;
            self.idle
                .retain(|(t, id)| conns.get(id).is_some_and(|c| c.idle_ticket == Some(*t)));
        }
    }

    fn unset_idle(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id)
            && c.idle_ticket.take().is_some()
        {
            self.idle_count -= 1;
        }
    }

    fn request_started(&mut self, id: u64) {
        self.unset_idle(id);
        if let Some(c) = self.conns.get_mut(&id) {
            c.busy += 1;
        }
    }

    fn request_done(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.busy = c.busy.saturating_sub(1);
        if c.busy == 0 {
            self.set_idle(id);
        }
    }

    fn close(&mut self, id: u64) {
        self.unset_idle(id);
        self.conns.remove(&id);
    }

    /// Closes the oldest idle connection, if there is one.
    fn evict_oldest(&mut self) -> bool {
        while let Some((ticket, id)) = self.idle.pop_front() {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.idle_ticket != Some(ticket) {
                continue;
            }
            c.idle_ticket = None;
            self.idle_count -= 1;
            c.kill.notify_one();
            return true;
        }
        false
    }
}

type Shared = Arc<Mutex<Registry>>;

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// Marks its request done when dropped (with the response body: after the last byte is
/// written, or when the connection goes away).
struct RequestGuard {
    registry: Shared,
    conn: u64,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        lock(&self.registry).request_done(self.conn);
    }
}

/// A response body that holds its request's [`RequestGuard`].
struct Guarded {
    inner: Body,
    _guard: RequestGuard,
}

impl hyper::body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until `stop` completes; then stops accepting, lets each
/// connection finish its request in progress, and returns once all have closed.
/// With `tls`, connections are TLS (see the module's doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Tls>,
    stats: Arc<FrontStats>,
    stop: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let registry: Shared = Arc::default();
    let (stopping_tx, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            a = listener.accept() => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                if last_warning.is_none_or(|t| now >= t + Duration::from_secs(1)) {
                    last_warning = Some(now);
                    warn!(error = %e, errors = stats.accept_errors.load(Ordering::Relaxed), "accept failed");
                }
                // Out of descriptors: free one held by an idle connection. With none to free
                // (or another error), back off briefly instead of spinning.
                let freed = lock(&registry).evict_oldest();
                if freed {
                    stats.idle_evicted.fetch_add(1, Ordering::Relaxed);
                }
                let pause = if freed { 1 } else { 50 };
                tokio::time::sleep_until(now + Duration::from_millis(pause)).await;
                continue;
            }
        };
        let (id, kill) = {
            let mut r = lock(&registry);
            while r.idle_count >= limits.max_idle.max(1) && r.evict_oldest() {
                stats.idle_evicted.fetch_add(1, Ordering::Relaxed);
            }
            r.open()
        };
        // Small writes (a JSON answer, a WebSocket push) go out at once: Nagle's algorithm
        // would hold one back until the previous is acknowledged, which the peer may delay.
        if let Err(e) = stream.set_nodelay(true) {
            debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let local_loopback = stream
            .local_addr()
            .is_ok_and(|a| a.ip().to_canonical().is_loopback());
        let tls = tls
            .as_ref()
            .filter(|t| !(t.plain_on_loopback && local_loopback))
            .map(|t| t.config.clone());
        let secure = tls.is_some();
        let service = {
            let (registry, router) = (registry.clone(), router.clone());
            tower::service_fn(move |mut req: Request<Incoming>| {
                lock(&registry).request_started(id);
                // The client's address, for handlers that need it (the login limit).
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                if secure {
                    req.extensions_mut().insert(Secure);
                }
                let guard = RequestGuard {
                    registry: registry.clone(),
                    conn: id,
                };
                let router = router.clone();
                async move {
                    let response = router.oneshot(req).await?;
                    Ok::<_, std::convert::Infallible>(response.map(|inner| {
                        Body::new(Guarded {
                            inner,
                            _guard: guard,
                        })
                    }))
                }
            })
        };
        let mut stopping = stopping.clone();
        let registry = registry.clone();
        let stats = stats.clone();
        tasks.spawn(async move {
            let io: Box<dyn Io> = match tls {
                None => Box::new(stream),
                Some(config) => {
                    let handshake = tokio::select! {
                        h = handshake(stream, config, limits.header_timeout, &stats) => h,
                        () = kill.notified() => None,
                        Ok(()) = stopping.changed() => None,
                    };
                    match handshake {
                        Some(s) => Box::new(s),
                        None => {
                            lock(&registry).close(id);
                            return;
                        }
                    }
                }
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(conn);
            let mut graceful = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = kill.notified() => {
                        debug!(%peer, "idle connection closed to make room");
                        break;
                    }
                    Ok(()) = stopping.changed(), if !graceful => {
                        graceful = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            lock(&registry).close(id);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The server side of a TLS handshake on `stream`, within `limit`. A client whose first byte
/// is not a TLS record (22, a handshake) but a letter is speaking plain HTTP: it is told to use
/// `https://`. Failures are counted in `stats` and logged.
async fn handshake(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    limit: Duration,
    stats: &FrontStats,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    let attempt = async {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 1 && first[0].is_ascii_alphabetic() {
            return Ok(Err(stream));
        }
        tokio_rustls::TlsAcceptor::from(config)
            .accept(stream)
            .await
            .map(Ok)
    };
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(Ok(tls))) => Some(tls),
        Ok(Ok(Err(mut plain))) => {
            stats.plain_http_on_tls.fetch_add(1, Ordering::Relaxed);
            debug!(?peer, "plain HTTP on the TLS port");
            // Read what the client sent before answering, and until it closes after: closing
            // a socket with unread data resets the connection, which could destroy the answer.
            let _ = tokio::time::timeout(limit, async {
                let mut sink = [0u8; 4096];
                let _ = plain.read(&mut sink).await?;
                plain.write_all(USE_HTTPS).await?;
                plain.shutdown().await?;
                while plain.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            })
            .await;
            None
        }
        Ok(Err(e)) => {
            stats.tls_handshake_failed.fetch_add(1, Ordering::Relaxed);
            warn!(?peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            stats.tls_handshake_timeout.fetch_add(1, Ordering::Relaxed);
            debug!(
                ?peer,
                "TLS handshake not finished within the header timeout"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: &Registry) -> Vec<u64> {
        r.idle
            .iter()
            .filter(|(t, id)| r.conns.get(id).is_some_and(|c| c.idle_ticket == Some(*t)))
            .map(|(_, id)| *id)
            .collect()
    }

    #[test]
    fn the_oldest_idle_connection_goes_first_and_busy_ones_never() {
        let mut r = Registry::default();
        let (a, _) = r.open();
        let (b, _) = r.open();
        let (c, _) = r.open();
        assert_eq!((ids(&r), r.idle_count), (vec![a, b, c], 3));
        // a starts a request: busy, not evictable; b is now the oldest idle.
        r.request_started(a);
        assert_eq!((ids(&r), r.idle_count), (vec![b, c], 2));
        assert!(r.evict_oldest());
        assert_eq!(ids(&r), vec![c]);
        // a's response is done: idle again, behind c.
        r.request_done(a);
        assert_eq!((ids(&r), r.idle_count), (vec![c, a], 2));
        r.close(c);
        assert_eq!((ids(&r), r.idle_count), (vec![a], 1));
        assert!(r.evict_oldest());
        assert!(!r.evict_oldest(), "nothing idle is left");
        assert_eq!(r.idle_count, 0);
    }

    #[test]
    fn an_eviction_wakes_the_connection_it_closes() {
        let mut r = Registry::default();
        let (_, kill) = r.open();
        assert!(r.evict_oldest());
        // notify_one stores a permit: the connection's task sees it even if it was not waiting.
        let woke = kill.notified();
        tokio::pin!(woke);
        assert!(woke.as_mut().enable(), "the permit is there");
    }

    /// Serves a one-route router with a fresh certificate on a loopback listener, and returns
    /// what a plain `GET /` gets there.
    async fn plain_get_on_a_tls_listener(plain_on_loopback: bool) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let cert = crate::tls::Certificate::self_signed(dir.path(), &["localhost".into()]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/", axum::routing::get(|| async { "served" }));
        let tls = Tls {
            config: cert.server_config(),
            plain_on_loopback,
        };
        let stats = Arc::new(FrontStats::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            router,
            Limits::default(),
            Some(tls),
            stats.clone(),
            async {
                let _ = stop_rx.await;
            },
        ));
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).await.unwrap();
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
        let plain_counted = stats.plain_http_on_tls.load(Ordering::Relaxed);
        assert_eq!(plain_counted, u64::from(!plain_on_loopback));
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn loopback_connections_stay_plain_only_when_asked() {
        let answer = plain_get_on_a_tls_listener(true).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("served"),
            "{answer}"
        );
        let answer = plain_get_on_a_tls_listener(false).await;
        assert!(
            answer.starts_with("HTTP/1.1 400") && answer.ends_with("use https:// URLs"),
            "{answer}"
        );
    }

    #[test]
    fn keep_alive_toggling_does_not_grow_the_queue_without_bound() {
        let mut r = Registry::default();
        let (a, _) = r.open();
        for _ in 0..10_000 {
            r.request_started(a);
            r.request_done(a);
        }
        assert_eq!(r.idle_count, 1);
        assert!(r.idle.len() <= 4 + 64 + 1, "queue length {}", r.idle.len());
    }
}
