//! The client manager: who is online (a user is online while one of their WebSocket sessions
//! lives), presence broadcasts, and pushing stored messages to online recipients.
//!
//! Delivery is at-least-once per session and exactly-once per acknowledgement: each stored copy
//! stays `pending` in the database until one of the recipient's clients sends `checkin` for it,
//! and every session of the recipient is pushed each pending copy once (on connect, in storage
//! order, then as new ones commit). Pushes never wait on a slow client: a session whose queue is
//! full is closed, and its copies stay pending for its next connection.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tracing::debug;
use uuid::Uuid;

use crate::db::messages::MessageView;
use crate::messaging::{Action, MessageObject};
use crate::metrics::{Metrics, Reject};

/// Depth of each session's outgoing queue.
pub const QUEUE: usize = 256;

/// Stored intercom messages remembered with their stream id (see [`ClientManager::tag_stream`]).
const STREAM_TAGS: usize = 1024;

/// What the manager asks a session task to write.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A message object.
    Text(Arc<str>),
    /// A live buffer spoken on a phone (an intercom `send` object): the session observes
    /// [`Metrics::intercom_latency`] once the frame is written.
    Live {
        /// The `send` object.
        text: Arc<str>,
        /// When the RTP datagram that completed the buffer was received.
        received: Instant,
    },
    /// A stored message's arrival; the session skips ids it already pushed.
    Post {
        /// The message.
        id: Uuid,
        /// The `post` object.
        text: Arc<str>,
    },
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// A session's identity within the manager.
pub type SessionId = u64;

/// The login (a front end's session: a web session token) a session was opened under, so that
/// ending the login closes its sessions ([`ClientManager::close`]); 0 for none.
pub type Login = u64;

struct Session {
    id: SessionId,
    login: Login,
    tx: mpsc::Sender<Outbound>,
    presence: Arc<AtomicBool>,
    kill: Arc<Notify>,
}

/// A registered session, as its task holds it.
#[derive(Debug)]
pub struct Registration {
    /// The session.
    pub id: SessionId,
    /// Its outgoing queue.
    pub rx: mpsc::Receiver<Outbound>,
    /// Whether it wants presence updates.
    pub presence: Arc<AtomicBool>,
    /// Notified when the session must close at once (its queue overflowed); it closes with 1008.
    pub kill: Arc<Notify>,
    /// This is the user's first live session (they just came online).
    pub first: bool,
}

/// The client manager.
pub struct ClientManager {
    server_id: Uuid,
    sessions: Mutex<HashMap<Uuid, Vec<Session>>>,
    status: Mutex<HashMap<Uuid, String>>,
    /// The latest stored intercom messages and their streams, oldest first.
    streams: Mutex<VecDeque<(Uuid, Arc<str>)>>,
    next: AtomicU64,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ClientManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientManager")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

impl ClientManager {
    /// A manager whose objects carry `server_id` as their source.
    pub fn new(server_id: Uuid, metrics: Arc<Metrics>) -> Self {
        Self {
            server_id,
            sessions: Mutex::new(HashMap::new()),
            status: Mutex::new(HashMap::new()),
            streams: Mutex::new(VecDeque::new()),
            next: AtomicU64::new(1),
            metrics,
        }
    }

    /// The server's privileged GUID.
    pub fn server_id(&self) -> Uuid {
        self.server_id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new session of `user`, opened under `login`.
    pub fn register(&self, user: Uuid, login: Login) -> Registration {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let presence = Arc::new(AtomicBool::new(true));
        let kill = Arc::new(Notify::new());
        let mut map = self.lock();
        let list = map.entry(user).or_default();
        let first = list.is_empty();
        list.push(Session {
            id,
            login,
            tx,
            presence: presence.clone(),
            kill: kill.clone(),
        });
        Registration {
            id,
            rx,
            presence,
            kill,
            first,
        }
    }

    /// Removes a session; true if it was the user's last (they went offline).
    pub fn unregister(&self, user: Uuid, id: SessionId) -> bool {
        let mut map = self.lock();
        let Some(list) = map.get_mut(&user) else {
            return false;
        };
        list.retain(|s| s.id != id);
        if list.is_empty() {
            map.remove(&user);
            drop(map);
            self.status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&user);
            true
        } else {
            false
        }
    }

    /// Closes the sessions of `user` opened under `login` with `code` and `reason` (after what
    /// their queues already hold); one whose queue is full is closed at once, with 1008, as on
    /// overflow.
    pub fn close(&self, user: Uuid, login: Login, code: u16, reason: &'static str) {
        let map = self.lock();
        let Some(list) = map.get(&user) else { return };
        for s in list.iter().filter(|s| s.login == login) {
            if s.tx.try_send(Outbound::Close(code, reason)).is_err() {
                s.kill.notify_one();
            }
        }
    }

    /// Whether `user` has a live session.
    pub fn is_online(&self, user: Uuid) -> bool {
        self.lock().contains_key(&user)
    }

    /// The status a user last set, if online.
    pub fn status(&self, user: Uuid) -> Option<String> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&user)
            .cloned()
    }

    /// Records a user's status.
    pub fn set_status(&self, user: Uuid, status: &str) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user, status.to_owned());
    }

    /// Number of open sessions of `user`.
    pub fn sessions_of(&self, user: Uuid) -> usize {
        self.lock().get(&user).map_or(0, Vec::len)
    }

    /// Number of users with an open session.
    pub fn online_count(&self) -> usize {
        self.lock().len()
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Pushes a freshly committed message to every online recipient's sessions; `committed_us` is
    /// the commit's wall-clock time, carried so clients can measure delivery latency.
    pub fn deliver(&self, view: &MessageView, recipients: &[Uuid], committed_us: i64) {
        let map = self.lock();
        for r in recipients {
            let Some(list) = map.get(r) else { continue };
            let text = self.post_text(view, *r, committed_us);
            for s in list {
                self.push(
                    s,
                    Outbound::Post {
                        id: view.id,
                        text: text.clone(),
                    },
                );
            }
        }
    }

    /// Sends a message object to every session of `user` (e.g. a sender told their message failed).
    pub fn notify(&self, user: Uuid, text: Arc<str>) {
        let map = self.lock();
        for s in map.get(&user).into_iter().flatten() {
            self.push(s, Outbound::Text(text.clone()));
        }
    }

    /// Sends a phone's live buffer to every session of `user`; `received` is when the RTP
    /// datagram that completed it was received (see [`Outbound::Live`]).
    pub fn notify_live(&self, user: Uuid, text: Arc<str>, received: Instant) {
        let map = self.lock();
        for s in map.get(&user).into_iter().flatten() {
            self.push(
                s,
                Outbound::Live {
                    text: text.clone(),
                    received,
                },
            );
        }
    }

    /// Sends a message object to one session of `user` (e.g. the sender of an intercom stream
    /// told it was stored); nothing if that session has gone.
    pub fn send_to(&self, user: Uuid, session: SessionId, text: Arc<str>) {
        let map = self.lock();
        for s in map.get(&user).into_iter().flatten() {
            if s.id == session {
                self.push(s, Outbound::Text(text));
                return;
            }
        }
    }

    /// Remembers that message `id` is the stored copy of intercom stream `stream`, so that its
    /// `post` carries `"stream"` and clients that heard it live can tell. Only the latest
    /// 1024 are kept (in memory: a post after a restart lacks the tag).
    pub fn tag_stream(&self, id: Uuid, stream: &str) {
        let mut tags = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if tags.len() >= STREAM_TAGS {
            tags.pop_front();
        }
        tags.push_back((id, stream.into()));
    }

    fn stream_of(&self, id: Uuid) -> Option<Arc<str>> {
        let tags = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        tags.iter()
            .rev()
            .find(|(m, _)| *m == id)
            .map(|(_, s)| s.clone())
    }

    /// The `post` object announcing `view` to `recipient`.
    pub fn post_text(&self, view: &MessageView, recipient: Uuid, committed_us: i64) -> Arc<str> {
        let mut object = serde_json::to_value(view).unwrap_or_default();
        if let Some(o) = object.as_object_mut() {
            o.insert("committed_us".into(), json!(committed_us));
            if let Some(stream) = self.stream_of(view.id) {
                o.insert("stream".into(), json!(&*stream));
            }
        }
        MessageObject::new(Action::Post, self.server_id, recipient, object)
            .to_text()
            .into()
    }

    fn push(&self, s: &Session, out: Outbound) {
        match s.tx.try_send(out) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The client does not keep up; closing it keeps the server's memory bounded.
                // Its copies stay pending and are pushed again when it reconnects.
                self.metrics.reject(Reject::WsSlowClient);
                debug!(session = s.id, "slow client: closing");
                s.kill.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Tells every other subscribed session that `user` came online, went offline or changed status.
    pub fn broadcast_presence(
        &self,
        user: Uuid,
        username: &str,
        online: bool,
        status: Option<&str>,
    ) {
        let map = self.lock();
        for (u, list) in map.iter() {
            if *u == user {
                continue;
            }
            let text: Arc<str> = MessageObject::new(
                Action::SetStatus,
                self.server_id,
                *u,
                json!({"user": user, "username": username, "online": online, "status": status}),
            )
            .to_text()
            .into();
            for s in list {
                if s.presence.load(Ordering::Relaxed) {
                    self.push(s, Outbound::Text(text.clone()));
                }
            }
        }
    }

    /// Sends `server_down` to every session, then closes it (1001, going away).
    pub fn server_down(&self, reason: &str) {
        let map = self.lock();
        for (u, list) in map.iter() {
            let text: Arc<str> = MessageObject::new(
                Action::ServerDown,
                self.server_id,
                *u,
                json!({"reason": reason}),
            )
            .to_text()
            .into();
            for s in list {
                // Best effort on a full queue: the close below still ends the session.
                let sent = s.tx.try_send(Outbound::Text(text.clone())).is_ok()
                    && s.tx
                        .try_send(Outbound::Close(1001, "server shutting down"))
                        .is_ok();
                if !sent {
                    s.kill.notify_one();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: Uuid) -> MessageView {
        MessageView {
            id,
            from: "alice".into(),
            from_id: Uuid::nil(),
            from_deleted: false,
            to: vec!["bob".into()],
            created: "x".into(),
            duration_ms: 1,
            attachments: vec![],
            played: false,
            direction: "in",
            audio: true,
            status: "ready",
        }
    }

    #[test]
    fn presence_and_delivery() {
        let m = ClientManager::new(Uuid::new_v4(), Arc::new(Metrics::default()));
        let (bob, carol) = (Uuid::new_v4(), Uuid::new_v4());
        let mut b1 = m.register(bob, 0);
        assert!(b1.first);
        let b2 = m.register(bob, 0);
        assert!(!b2.first);
        let mut c = m.register(carol, 0);
        assert!(m.is_online(bob));
        m.broadcast_presence(carol, "carol", true, None);
        assert!(matches!(b1.rx.try_recv(), Ok(Outbound::Text(t)) if t.contains("set_status")));
        assert!(c.rx.try_recv().is_err(), "no echo of one's own presence");
        let id = Uuid::new_v4();
        m.deliver(&view(id), &[bob], 5);
        assert!(
            matches!(b1.rx.try_recv(), Ok(Outbound::Post { id: i, text }) if i == id && text.contains("committed_us"))
        );
        assert!(!m.unregister(bob, b1.id));
        assert!(m.unregister(bob, b2.id));
        assert!(!m.is_online(bob));
    }

    #[test]
    fn a_stored_stream_is_tagged_and_sent_to_its_session() {
        let m = ClientManager::new(Uuid::new_v4(), Arc::new(Metrics::default()));
        let alice = Uuid::new_v4();
        let (mut a1, mut a2) = (m.register(alice, 0), m.register(alice, 0));
        let (tagged, plain) = (Uuid::new_v4(), Uuid::new_v4());
        m.tag_stream(tagged, "9f2c");
        assert!(
            m.post_text(&view(tagged), alice, 0)
                .contains(r#""stream":"9f2c""#)
        );
        assert!(!m.post_text(&view(plain), alice, 0).contains("stream"));
        m.send_to(alice, a2.id, "x".into());
        assert!(a1.rx.try_recv().is_err());
        assert!(matches!(a2.rx.try_recv(), Ok(Outbound::Text(t)) if &*t == "x"));
    }

    #[test]
    fn a_live_buffer_goes_to_every_session_with_its_receive_instant() {
        let m = ClientManager::new(Uuid::new_v4(), Arc::new(Metrics::default()));
        let (bob, carol) = (Uuid::new_v4(), Uuid::new_v4());
        let (mut b1, mut b2, mut c) =
            (m.register(bob, 0), m.register(bob, 0), m.register(carol, 0));
        // A base instant, never a measurement.
        #[allow(clippy::disallowed_methods)]
        let at = Instant::now();
        m.notify_live(bob, "live".into(), at);
        for s in [&mut b1, &mut b2] {
            assert!(matches!(
                s.rx.try_recv(),
                Ok(Outbound::Live { text, received }) if &*text == "live" && received == at
            ));
        }
        assert!(c.rx.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_closes_the_session() {
        let metrics = Arc::new(Metrics::default());
        let m = ClientManager::new(Uuid::new_v4(), metrics.clone());
        let bob = Uuid::new_v4();
        let r = m.register(bob, 0);
        for _ in 0..=QUEUE {
            m.deliver(&view(Uuid::new_v4()), &[bob], 0);
        }
        assert_eq!(metrics.rejected(Reject::WsSlowClient), 1);
        // The permit is stored: the session task sees it on its next poll.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(r.kill.notified());
    }

    #[tokio::test]
    async fn closing_a_login_closes_its_sessions_and_no_others() {
        let m = ClientManager::new(Uuid::nil(), Arc::new(Metrics::default()));
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let mut a1 = m.register(alice, 1);
        let mut a2 = m.register(alice, 1);
        let mut a3 = m.register(alice, 2);
        let mut b = m.register(bob, 1);
        assert_eq!((m.online_count(), m.session_count()), (2, 4));
        m.close(alice, 1, 4001, "session ended");
        for s in [&mut a1, &mut a2] {
            assert!(matches!(
                s.rx.try_recv(),
                Ok(Outbound::Close(4001, "session ended"))
            ));
        }
        assert!(a3.rx.try_recv().is_err(), "another login's");
        assert!(b.rx.try_recv().is_err(), "another user's, same number");
        m.close(Uuid::new_v4(), 1, 4001, "nobody");
        // A full queue is closed at once (kill), as on overflow.
        for _ in 0..QUEUE {
            m.deliver(&view(Uuid::new_v4()), &[alice], 0);
        }
        m.close(alice, 2, 4001, "session ended");
        tokio::time::timeout(std::time::Duration::from_secs(5), a3.kill.notified())
            .await
            .expect("a full queue's session is killed");
        assert!(m.unregister(bob, b.id));
        assert_eq!(m.online_count(), 1);
    }
}
