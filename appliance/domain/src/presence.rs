//! Presence: a user is online while one of their client sessions lives. The rule is stated
//! once here for every front end that holds sessions.

use uuid::Uuid;

use crate::VoiceMessaging;
use crate::clients::{Login, Registration, SessionId};
use crate::db::users;
use crate::events::Event;

impl VoiceMessaging {
    /// A session of `user` opens, under `login` (see [`Login`]). On their first, they come
    /// online: the database records it (in the background), subscribed sessions are told, and
    /// [`Event::Presence`] is published.
    pub fn connect(&self, user: Uuid, username: &str, login: Login) -> Registration {
        let reg = self.0.clients.register(user, login);
        if reg.first {
            self.went(user, username, true);
        }
        reg
    }

    /// Session `session` of `user` closed; on their last, they go offline.
    pub fn disconnect(&self, user: Uuid, username: &str, session: SessionId) {
        if self.0.clients.unregister(user, session) {
            self.went(user, username, false);
        }
    }

    /// `user` set their status (at most 64 bytes, checked by the caller's protocol).
    pub fn set_status(&self, user: Uuid, username: &str, status: &str) {
        self.0.clients.set_status(user, status);
        self.0
            .clients
            .broadcast_presence(user, username, true, Some(status));
        self.publish(Event::Presence {
            user,
            online: true,
            status: Some(status.to_owned()),
        });
    }

    /// Whether `user` has a live session (here, or at their own site for a user of another
    /// site).
    pub fn is_online(&self, user: Uuid) -> bool {
        self.0.clients.is_online(user) || self.0.federation.remote_online(user)
    }

    /// The status `user` set, while online.
    pub fn status_of(&self, user: Uuid) -> Option<String> {
        self.0
            .clients
            .status(user)
            .or_else(|| self.0.federation.remote_status(user))
    }

    fn went(&self, user: Uuid, username: &str, online: bool) {
        let db = self.0.db.clone();
        tokio::spawn(async move { db.write(move |c| users::set_online(c, user, online)).await });
        self.0
            .clients
            .broadcast_presence(user, username, online, None);
        self.publish(Event::Presence {
            user,
            online,
            status: None,
        });
    }
}
