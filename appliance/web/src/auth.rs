//! Sessions and the [`Auth`] extractor: a login gets a random token, sent back as a Bearer
//! token, the session cookie, or `?token=` (browsers' WebSockets).
//!
//! **Cross-site request forgery.** A browser adds the cookie to every request to this origin,
//! whichever site's page makes it. So a state-changing request (any method but GET, HEAD,
//! OPTIONS, TRACE) authenticated by the cookie must also carry the session's CSRF token in
//! `X-CSRF-Token` (a page of this origin read it from the login answer or `GET
//! /api/v1/session`; another site's page cannot), and must not come from another site's page
//! (`Origin` not this server, or `Sec-Fetch-Site: cross-site`). [`csrf_guard`] checks both
//! before the request reaches its handler, so before any of an upload's body is read. Requests
//! authenticated by `Authorization: Bearer` are exempt: browsers never add that header on
//! their own. A login is refused from another site's page too (login CSRF: signing the victim
//! in as the attacker).
//!
//! The CSRF token is not stored: it is an HMAC of the session token under a key the server
//! draws at start (so it dies with the session, and another session's token tells nothing).
//!
//! A session ends at logout, at expiry, or when its user is deleted; its WebSockets end with it.
//! Each session has a number, and each of its WebSockets is registered with the client manager
//! under that number (and closes at once if its session ended meanwhile); whatever removes a
//! session asks the client manager to close its number's WebSockets, through the queue each
//! already reads. Expiry is swept by [`Web::expire_sessions`], which the server runs; it also
//! checks the sessions against the users in the database every second, so a user deleted (or
//! demoted) by another process on the data dir (`offhook user delete`) loses them too. Nothing
//! per session waits on a channel or a timer of its own, so 10,000 idle clients cost little
//! more than their sockets (docs/PERFORMANCE.md).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use offhook_domain::clients::Login;
use offhook_domain::db::users::User;
use offhook_domain::metrics::Reject;
use rand::RngCore;
use std::time::Duration;
use uuid::Uuid;

use crate::{ApiError, Web};

/// The session cookie's name.
pub const COOKIE: &str = "offhook_session";

/// The header a cookie-authenticated state-changing request carries its CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The login's path: not cookie-authenticated, but refused from another site's page.
const LOGIN_PATH: &str = "/api/v1/session";

/// Sessions kept before the expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct SessionInfo {
    user: Uuid,
    username: String,
    admin: bool,
    expires_ms: i64,
    /// The number its WebSockets are registered under (see the module's doc).
    login: Login,
}

impl SessionInfo {
    /// The caller this session authenticates, holding `token`.
    fn auth(&self, token: String) -> Auth {
        Auth {
            user: self.user,
            username: self.username.clone(),
            admin: self.admin,
            token,
            login: self.login,
            expires_ms: self.expires_ms,
            from: None,
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Their GUID.
    pub user: Uuid,
    /// Their login name.
    pub username: String,
    /// May manage users.
    pub admin: bool,
    pub(crate) token: String,
    /// The session's number (see the module's doc).
    pub(crate) login: Login,
    /// When the session expires (the core's clock, ms since the epoch).
    pub(crate) expires_ms: i64,
    /// Where the request carried its token (`None` when authenticated otherwise).
    pub(crate) from: Option<TokenFrom>,
}

/// 256 random bits, in hex.
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Removes the sessions `pred` holds for, adding them to `ended`.
fn remove_where(
    map: &mut std::collections::HashMap<String, SessionInfo>,
    ended: &mut Ended,
    pred: impl Fn(&str, &SessionInfo) -> bool,
) {
    map.retain(|token, s| {
        if pred(token, s) {
            ended.push((s.user, s.login));
            false
        } else {
            true
        }
    });
}

/// A new session's token and CSRF token.
pub(crate) struct NewSession {
    pub(crate) token: String,
    pub(crate) csrf: String,
}

/// How often [`Web::expire_sessions`] looks for expired sessions: a WebSocket closes at most
/// this long after its session expired.
const EXPIRY_TICK: Duration = Duration::from_millis(250);

/// Every how many [`EXPIRY_TICK`]s the sessions are checked against the users in the database.
const USERS_EVERY: u32 = 4;

/// The sessions removed from the map: their users and numbers, whose WebSockets to close.
type Ended = Vec<(Uuid, Login)>;

/// The key CSRF tokens are derived under (see the module's doc).
pub(crate) fn csrf_key() -> ring::hmac::Key {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k)
}

impl Web {
    fn sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, SessionInfo>> {
        self.0.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn new_session(&self, user: &User) -> NewSession {
        let token = random_token();
        let csrf = self.csrf_of(&token);
        let ttl = i64::try_from(self.0.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let now = self.core().clock().now_ms();
        let info = SessionInfo {
            user: user.id,
            username: user.username.clone(),
            admin: user.admin,
            expires_ms: now.saturating_add(ttl),
            login: self
                .0
                .next_login
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let mut ended = Ended::new();
        {
            let mut map = self.sessions();
            if map.len() > SWEEP_ABOVE {
                remove_where(&mut map, &mut ended, |_, s| s.expires_ms <= now);
            }
            map.insert(token.clone(), info);
        }
        self.close_sockets(ended);
        NewSession { token, csrf }
    }

    pub(crate) fn end_session(&self, token: &str) {
        let ended = self.sessions().remove(token);
        if let Some(s) = ended {
            self.close_sockets(vec![(s.user, s.login)]);
        }
    }

    /// Ends every session of `user` (deleted): their tokens are refused from now on and their
    /// WebSockets close.
    pub(crate) fn end_sessions_of(&self, user: Uuid) {
        self.end_sessions_of_except(user, None);
    }

    /// Ends every session of `user` but `keep` (a token), and closes their WebSockets: their
    /// password changed.
    pub(crate) fn end_sessions_of_except(&self, user: Uuid, keep: Option<&str>) {
        let mut ended = Ended::new();
        remove_where(&mut self.sessions(), &mut ended, |token, s| {
            s.user == user && Some(token) != keep
        });
        self.close_sockets(ended);
    }

    /// Ends the sessions of users no longer in the database, and gives the others their admin
    /// flag as stored: the users may have been changed by another process on the data dir.
    /// Sessions opened (and flags set here) while the database was being read are left for the
    /// next check: the read may predate them.
    async fn check_users(&self) {
        use std::sync::atomic::Ordering;
        let (newest, flags) = (
            self.0.next_login.load(Ordering::SeqCst),
            self.0.flags_set.load(Ordering::SeqCst),
        );
        let live = match self
            .core()
            .db()
            .read(offhook_domain::db::users::live_flags)
            .await
        {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the sessions against the users");
                return;
            }
        };
        let mut ended = Ended::new();
        {
            let mut map = self.sessions();
            remove_where(&mut map, &mut ended, |_, s| {
                s.login < newest && !live.contains_key(&s.user)
            });
            if self.0.flags_set.load(Ordering::SeqCst) == flags {
                for s in map.values_mut().filter(|s| s.login < newest) {
                    if let Some(&admin) = live.get(&s.user) {
                        s.admin = admin;
                    }
                }
            }
        }
        if !ended.is_empty() {
            tracing::info!(
                sessions = ended.len(),
                "sessions of users removed outside this server ended"
            );
        }
        self.close_sockets(ended);
    }

    /// `user`'s admin flag changed: their open sessions hold the new one from now on.
    pub(crate) fn set_admin_of(&self, user: Uuid, admin: bool) {
        self.0
            .flags_set
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        for s in self.sessions().values_mut().filter(|s| s.user == user) {
            s.admin = admin;
        }
    }

    /// Ends the sessions expired by the core's clock, and closes their WebSockets; runs until
    /// the server stops (see the module's doc).
    pub async fn expire_sessions(self) {
        let mut tick = tokio::time::interval(EXPIRY_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u32;
        loop {
            tick.tick().await;
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(USERS_EVERY) {
                self.check_users().await;
            }
            let now = self.core().clock().now_ms();
            let mut ended = Ended::new();
            remove_where(&mut self.sessions(), &mut ended, |_, s| s.expires_ms <= now);
            self.close_sockets(ended);
        }
    }

    /// The CSRF token of session `token` (see the module's doc): 64 hex digits.
    pub(crate) fn csrf_of(&self, token: &str) -> String {
        let tag = ring::hmac::sign(&self.0.csrf_key, token.as_bytes());
        tag.as_ref().iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Whether session `token` still holds: a WebSocket registered under its number checks,
    /// and closes if not (the session ended before its registration, and so did not close it).
    pub(crate) fn session_holds(&self, token: &str) -> bool {
        self.live(token, |_| ()).is_some()
    }

    /// `f` of session `token`, if it exists and has not expired by the core's clock.
    fn live<T>(&self, token: &str, f: impl FnOnce(&SessionInfo) -> T) -> Option<T> {
        let now = self.core().clock().now_ms();
        self.sessions()
            .get(token)
            .filter(|s| s.expires_ms > now)
            .map(f)
    }

    fn close_sockets(&self, ended: Ended) {
        let clients = self.core().clients();
        for (user, login) in ended {
            clients.close(
                user,
                login,
                crate::ws::close::SESSION_ENDED,
                "session ended",
            );
        }
    }

    /// The caller's session if the request carries a valid one, without counting anything
    /// when it does not (for endpoints that serve everyone and tell a user a little more).
    pub(crate) fn session_of(&self, parts: &Parts) -> Option<Auth> {
        let token = token_of(parts)?;
        self.live(&token, |s| s.auth(token.clone()))
    }

    /// Resolves a session token.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Auth, ApiError> {
        let Some(token) = token else {
            return Err(self.reject(
                Reject::NoSession,
                StatusCode::UNAUTHORIZED,
                "log in first: POST /api/v1/session, then send the token as a Bearer token or cookie",
            ));
        };
        let info = self.sessions().get(token).map(|s| s.auth(token.to_owned()));
        match info {
            None => Err(self.reject(
                Reject::BadToken,
                StatusCode::UNAUTHORIZED,
                "invalid session token",
            )),
            Some(s) if s.expires_ms <= self.core().clock().now_ms() => {
                self.end_session(token);
                Err(self.reject(
                    Reject::ExpiredToken,
                    StatusCode::UNAUTHORIZED,
                    "session expired: log in again",
                ))
            }
            Some(auth) => Ok(auth),
        }
    }
}

/// Where a request's session token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenFrom {
    Bearer,
    Cookie,
    Query,
}

/// The path of the WebSocket upgrade, the one request that may carry its token in `?token=`.
pub(crate) const WS_PATH: &str = "/api/v1/ws";

/// The session token of a request: `Authorization: Bearer`, the session cookie, or `?token=`
/// on the WebSocket upgrade only (browsers cannot set headers on it). Anywhere else a token in
/// the URL is ignored: URLs end up in logs, histories and `Referer` headers.
pub(crate) fn token_of(parts: &Parts) -> Option<String> {
    token_and_source(parts).map(|(t, _)| t)
}

/// [`token_of`], with where the token came from.
pub(crate) fn token_and_source(parts: &Parts) -> Option<(String, TokenFrom)> {
    token_and_source_of(&parts.headers, &parts.uri)
}

fn token_and_source_of(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<(String, TokenFrom)> {
    if let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((t.trim().to_owned(), TokenFrom::Bearer));
    }
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for kv in v.split(';') {
            if let Some(t) = kv
                .trim()
                .strip_prefix(COOKIE)
                .and_then(|r| r.strip_prefix('='))
            {
                return Some((t.to_owned(), TokenFrom::Cookie));
            }
        }
    }
    if uri.path() != WS_PATH {
        return None;
    }
    uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(|t| (t.to_owned(), TokenFrom::Query))
    })
}

/// Whether a request comes from another site's page: its `Origin` is not this server, or the
/// browser says `Sec-Fetch-Site: cross-site`. Clients other than browsers send neither.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    fetch_site || !crate::ws::same_origin(headers)
}

/// Compares two tokens in time that depends only on their lengths.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A CSRF refusal: 403, counted as `csrf`, and the connection closed (the request's body, an
/// upload perhaps, is left unread).
fn csrf_refusal(app: &Web, message: &'static str) -> Response {
    let mut refused = app
        .reject(Reject::Csrf, StatusCode::FORBIDDEN, message)
        .into_response();
    refused.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    refused
}

/// Refuses cross-site requests and cookie-authenticated ones without the session's CSRF token
/// (see the module's doc), with 403, counted as `csrf`.
pub(crate) async fn csrf_guard(State(app): State<Web>, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let login = req.uri().path() == LOGIN_PATH && req.method() == axum::http::Method::POST;
    let cookie = match token_and_source_of(req.headers(), req.uri()) {
        Some((token, TokenFrom::Cookie)) => Some(token),
        _ => None,
    };
    if (login || cookie.is_some()) && cross_site(req.headers()) {
        return csrf_refusal(
            &app,
            "cross-site request refused (CSRF): the page's Origin is not this server",
        );
    }
    if let Some(token) = cookie.filter(|_| !login) {
        let expected = app
            .sessions()
            .contains_key(&token)
            .then(|| app.csrf_of(&token));
        // An unknown session is left to the handler's authentication (401).
        if let Some(expected) = expected {
            let sent = req.headers().get(CSRF_HEADER).map(|v| v.as_bytes());
            if !sent.is_some_and(|s| same_token(s, expected.as_bytes())) {
                return csrf_refusal(
                    &app,
                    "missing or wrong X-CSRF-Token (CSRF protection): a request authenticated \
                     by the session cookie must send the csrf value of the login answer or of \
                     GET /api/v1/session",
                );
            }
        }
    }
    next.run(req).await
}

impl FromRequestParts<Web> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, ApiError> {
        let found = token_and_source(parts);
        let mut auth = web.authenticate(found.as_ref().map(|(t, _)| t.as_str()))?;
        auth.from = found.map(|(_, from)| from);
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use std::sync::Arc;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    struct NoGateways;

    impl crate::GatewayStatus for NoGateways {
        fn health(&self) -> Vec<crate::GatewayHealth> {
            vec![]
        }
    }

    /// A server whose sessions last 60 s on `clock`, and a user (not in its database: sessions
    /// take it as given), with the directory to keep.
    async fn web_on(
        clock: Arc<offhook_domain::clock::ManualClock>,
    ) -> (tempfile::TempDir, Web, User) {
        let dir = tempfile::tempdir().unwrap();
        let core = offhook_domain::VoiceMessaging::open(
            dir.path(),
            offhook_domain::Config::default(),
            clock,
        )
        .await
        .unwrap();
        let mut config = crate::Config::default();
        config.session_ttl(Duration::from_secs(60)).unwrap();
        let web = Web::new(core, config, Arc::new(NoGateways));
        let user = User {
            id: Uuid::new_v4(),
            username: "bob".into(),
            display: "bob".into(),
            admin: false,
            kind: "user".into(),
            online: false,
            stations: vec![],
            sip_username: String::new(),
            number: None,
        };
        (dir, web, user)
    }

    #[tokio::test]
    async fn sessions_are_refused_missing_unknown_or_expired() {
        use offhook_domain::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, user) = web_on(clock.clone()).await;
        let refused = |t: Option<&str>| web.authenticate(t).unwrap_err().status;
        assert_eq!(refused(None), StatusCode::UNAUTHORIZED);
        assert_eq!(refused(Some("nope")), StatusCode::UNAUTHORIZED);
        let token = web.new_session(&user).token;
        let auth = web.authenticate(Some(&token)).unwrap();
        assert_eq!((auth.user, auth.username.as_str()), (user.id, "bob"));
        clock.advance(Duration::from_secs(61));
        assert_eq!(refused(Some(&token)), StatusCode::UNAUTHORIZED);
        let metrics = web.core().metrics();
        for kind in [Reject::NoSession, Reject::BadToken, Reject::ExpiredToken] {
            assert_eq!(metrics.rejected(kind), 1, "{kind:?}");
        }
        // An expired session is forgotten: it is then simply unknown.
        assert_eq!(refused(Some(&token)), StatusCode::UNAUTHORIZED);
        assert_eq!(metrics.rejected(Reject::BadToken), 2);
    }

    /// What the next item of a socket's queue is: `Some(code)` for a close, `None` for nothing.
    fn closed(reg: &mut offhook_domain::clients::Registration) -> Option<u16> {
        use offhook_domain::clients::Outbound;
        match reg.rx.try_recv() {
            Ok(Outbound::Close(code, _)) => Some(code),
            Ok(other) => panic!("not a close: {other:?}"),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn ending_a_session_closes_its_sockets_and_no_others() {
        use offhook_domain::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, bob) = web_on(clock.clone()).await;
        let clients = web.core().clients();
        let (one, two) = (web.new_session(&bob).token, web.new_session(&bob).token);
        let login = |t: &str| web.authenticate(Some(t)).unwrap().login;
        let (l1, l2) = (login(&one), login(&two));
        assert_ne!(l1, l2);
        let mut sockets = [
            clients.register(bob.id, l1),
            clients.register(bob.id, l1),
            clients.register(bob.id, l2),
        ];
        web.end_session(&one);
        let ended = Some(crate::ws::close::SESSION_ENDED);
        assert_eq!(closed(&mut sockets[0]), ended);
        assert_eq!(closed(&mut sockets[1]), ended);
        assert_eq!(closed(&mut sockets[2]), None, "another session's");
        // A socket registered after its session ended must close by itself: this tells it.
        assert!(!web.session_holds(&one));
        assert!(web.session_holds(&two));

        // Deleting the user ends the rest of their sessions, and closes what they hold.
        web.end_sessions_of(bob.id);
        assert_eq!(closed(&mut sockets[2]), ended);
        assert!(web.authenticate(Some(&two)).is_err());

        // Expiry, by the core's clock: the sweeper ends the session and closes its socket.
        let three = web.new_session(&bob).token;
        let mut socket = clients.register(bob.id, login(&three));
        let sweeper = tokio::spawn(web.clone().expire_sessions());
        let early = tokio::time::timeout(EXPIRY_TICK * 2, socket.rx.recv()).await;
        assert!(early.is_err(), "not expired yet: {early:?}");
        clock.advance(Duration::from_secs(61));
        assert!(!web.session_holds(&three), "expired");
        let code = tokio::time::timeout(Duration::from_secs(10), socket.rx.recv())
            .await
            .expect("the sweeper closes it");
        assert!(
            matches!(
                code,
                Some(offhook_domain::clients::Outbound::Close(4001, _))
            ),
            "{code:?}"
        );
        sweeper.abort();
    }

    #[tokio::test]
    async fn sessions_follow_the_users_in_the_database() {
        use offhook_domain::clock::ManualClock;
        use offhook_domain::db::users::NewUser;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, _) = web_on(clock).await;
        let new = |name: &str, admin| NewUser {
            username: name.into(),
            display: None,
            password: "pw".into(),
            admin,
            line: None,
        };
        let carol = web.core().add_user(new("carol", true)).await.unwrap();
        let dave = web.core().add_user(new("dave", false)).await.unwrap();
        let carols = web.new_session(&carol).token;
        let mut socket = web
            .core()
            .clients()
            .register(carol.id, web.authenticate(Some(&carols)).unwrap().login);
        // dave's session says admin; the database says not.
        let daves = web
            .new_session(&User {
                admin: true,
                ..dave.clone()
            })
            .token;
        // Removed behind the server's back (as `offhook user delete` on the data dir would).
        web.core().remove_user("carol".into()).await.unwrap();
        assert!(web.authenticate(Some(&carols)).is_ok(), "not checked yet");
        web.check_users().await;
        assert!(web.authenticate(Some(&carols)).is_err());
        assert_eq!(closed(&mut socket), Some(crate::ws::close::SESSION_ENDED));
        let d = web.authenticate(Some(&daves)).unwrap();
        assert!(!d.admin, "the stored flag");
        assert_eq!(d.user, dave.id);
    }

    #[tokio::test]
    async fn a_password_change_keeps_the_callers_session_and_flags_follow_at_once() {
        use offhook_domain::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, bob) = web_on(clock.clone()).await;
        let (_, _, carol) = web_on(clock.clone()).await;
        let (mine, other) = (web.new_session(&bob).token, web.new_session(&bob).token);
        let hers = web.new_session(&carol).token;
        web.end_sessions_of_except(bob.id, Some(&mine));
        assert!(web.authenticate(Some(&mine)).is_ok(), "the caller's stays");
        assert!(web.authenticate(Some(&other)).is_err());
        assert!(
            web.authenticate(Some(&hers)).is_ok(),
            "another user's stays"
        );
        web.set_admin_of(bob.id, true);
        assert!(web.authenticate(Some(&mine)).unwrap().admin);
        assert!(!web.authenticate(Some(&hers)).unwrap().admin, "only his");

        // A session expires at its expiry time exactly, not a millisecond later.
        let ttl = Duration::from_secs(60);
        clock.advance(ttl - Duration::from_millis(1));
        assert!(web.session_holds(&mine));
        clock.advance(Duration::from_millis(1));
        assert!(!web.session_holds(&mine));
    }

    #[tokio::test]
    async fn past_the_sweep_size_a_new_session_sweeps_the_expired_ones() {
        use offhook_domain::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, bob) = web_on(clock.clone()).await;
        let old = web.new_session(&bob).token;
        let mut socket = web
            .core()
            .clients()
            .register(bob.id, web.authenticate(Some(&old)).unwrap().login);
        for _ in 0..SWEEP_ABOVE - 1 {
            web.new_session(&bob);
        }
        clock.advance(Duration::from_secs(61));
        // SWEEP_ABOVE sessions: not yet more than it.
        web.new_session(&bob);
        assert_eq!(web.sessions().len(), SWEEP_ABOVE + 1);
        assert_eq!(closed(&mut socket), None);
        // One more than it: every expired one goes, and its sockets close.
        web.new_session(&bob);
        assert_eq!(web.sessions().len(), 2);
        assert_eq!(closed(&mut socket), Some(crate::ws::close::SESSION_ENDED));
    }

    #[tokio::test]
    async fn the_csrf_token_is_the_sessions_own() {
        use offhook_domain::clock::ManualClock;
        let clock = Arc::new(ManualClock::new(1_795_000_000_000_000));
        let (_dir, web, bob) = web_on(clock.clone()).await;
        let (_other_dir, other_server, _) = web_on(clock).await;
        let (a, b) = (web.new_session(&bob), web.new_session(&bob));
        assert_eq!(a.csrf.len(), 64);
        assert_eq!(web.csrf_of(&a.token), a.csrf, "the same on every request");
        assert_ne!(a.csrf, b.csrf, "each session its own");
        assert_ne!(a.csrf, a.token);
        assert_ne!(
            other_server.csrf_of(&a.token),
            a.csrf,
            "each server its own key"
        );
    }

    #[test]
    fn another_sites_page_is_told_by_origin_or_fetch_metadata() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, header::HeaderValue::from_static(v));
            }
            h
        };
        let host = ("host", "offhook.lan:8443");
        assert!(
            !cross_site(&headers(&[host])),
            "no Origin: not a browser's page"
        );
        assert!(!cross_site(&headers(&[
            host,
            ("origin", "https://offhook.lan:8443")
        ])));
        assert!(cross_site(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(cross_site(&headers(&[host, ("origin", "null")])));
        assert!(cross_site(&headers(&[
            host,
            ("sec-fetch-site", "Cross-Site")
        ])));
        assert!(!cross_site(&headers(&[
            host,
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abc", b"abd"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(!same_token(b"", b"a"));
    }

    #[test]
    fn the_token_comes_from_bearer_cookie_or_query() {
        let bearer = Request::builder()
            .header(header::AUTHORIZATION, "Bearer abc ")
            .body(())
            .unwrap();
        assert_eq!(token_of(&parts(bearer)).as_deref(), Some("abc"));
        let cookie = Request::builder()
            .header(header::COOKIE, "x=1; offhook_session=def")
            .body(())
            .unwrap();
        assert_eq!(token_of(&parts(cookie)).as_deref(), Some("def"));
        let query = Request::builder()
            .uri("/api/v1/ws?a=1&token=ghi")
            .body(())
            .unwrap();
        assert_eq!(token_of(&parts(query)).as_deref(), Some("ghi"));
        let elsewhere = Request::builder()
            .uri("/api/v1/messages?token=ghi")
            .body(())
            .unwrap();
        assert_eq!(
            token_of(&parts(elsewhere)),
            None,
            "a token in the URL counts on the WebSocket upgrade only"
        );
        let none = Request::builder().uri("/").body(()).unwrap();
        assert_eq!(token_of(&parts(none)), None);
    }
}
