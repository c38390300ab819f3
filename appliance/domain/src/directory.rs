//! The users: logging in, contact lists, dial-in identification over a trunk, and (for admins)
//! adding and removing users. Passwords and PINs are hashed and checked with argon2id off the
//! async threads.

use tracing::{debug, info, trace, warn};
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::db::messages::{self as store, MessageView};
use crate::db::users::{self, Change, ContactList, DialIn, NewUser, Removed, User};
use crate::db::{self};
use crate::events::Event;

/// Checks a [`DialIn`]'s number and PIN and hashes the PIN (off the async threads) into a
/// [`Change`].
async fn dial_in_change(dial_in: DialIn) -> Result<Change, db::Error> {
    if let Some(Some(n)) = &dial_in.number {
        users::check_number(n)?;
    }
    let pin_hash = match dial_in.pin {
        None => None,
        Some(None) => Some(None),
        Some(Some(pin)) => {
            users::check_pin(&pin)?;
            let hash = tokio::task::spawn_blocking(move || users::hash_password(&pin))
                .await
                .map_err(|e| db::Error::Io(std::io::Error::other(e)))??;
            Some(Some(hash))
        }
    };
    Ok(Change {
        number: dial_in.number,
        pin_hash,
        ..Change::default()
    })
}

/// A user's SIP digest account ([`VoiceMessaging::sip_accounts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccount {
    /// The user.
    pub id: Uuid,
    /// Their login name.
    pub username: String,
    /// The user name their phones register with.
    pub sip_username: String,
    /// The digest secret, in clear.
    pub secret: String,
}

impl VoiceMessaging {
    /// User `admin`'s initial password (made by `offhook init`) while it is pending, that is
    /// until their password changes: what the front panel shows.
    pub async fn initial_admin_password(
        &self,
    ) -> Result<Option<db::initial_password::InitialPassword>, db::Error> {
        let key = self.0.key.clone();
        self.0
            .db
            .read(move |c| db::initial_password::pending(c, &key))
            .await
    }

    /// The user `username` if `password` is theirs. The hash is read from the database, then
    /// checked off the async threads and outside any database connection, at most one check
    /// per core at a time (a login flood waits here; other requests are not held up behind it).
    /// An unknown user is checked against a dummy hash: the answer takes as long.
    pub async fn login(
        &self,
        username: String,
        password: String,
    ) -> Result<Option<User>, db::Error> {
        let name = username.clone();
        let hash = self
            .0
            .db
            .read(move |c| users::password_hash(c, &name))
            .await?;
        let matches = {
            let _permit = self
                .0
                .password_checks
                .acquire()
                .await
                .map_err(|_| db::Error::Closed)?;
            tokio::task::spawn_blocking(move || users::check_password(hash.as_deref(), &password))
                .await
                .map_err(|e| db::Error::Io(std::io::Error::other(e)))?
        };
        if !matches {
            return Ok(None);
        }
        self.0.db.read(move |c| users::by_name(c, &username)).await
    }

    /// `user`'s contacts.
    pub async fn contacts(&self, user: Uuid) -> Result<Vec<User>, db::Error> {
        self.0.db.read(move |c| users::contacts(c, user)).await
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<User>, db::Error> {
        self.0.db.read(users::list).await
    }

    /// Adds a user (`Exists` if the name or line is taken, `Invalid` if a field is).
    pub async fn add_user(&self, new: NewUser) -> Result<User, db::Error> {
        self.add_user_with(new, DialIn::default()).await
    }

    /// Adds a user with a dial-in number and PIN, atomically (`Exists` if the name, line or
    /// number is taken — then nothing is added —, `Invalid` if a field is).
    pub async fn add_user_with(&self, new: NewUser, dial_in: DialIn) -> Result<User, db::Error> {
        let now = self.0.clock.now_ms();
        let change = dial_in_change(dial_in).await?;
        // argon2 is slow on purpose: hash off the async threads and outside the writer's batch.
        let password = new.password.clone();
        let hash = tokio::task::spawn_blocking(move || users::hash_password(&password))
            .await
            .map_err(|e| db::Error::Io(std::io::Error::other(e)))??;
        let key = self.0.key.clone();
        let has_line = new.line.is_some();
        let user = self
            .0
            .db
            .write(move |conn| {
                // The writer runs each job in a savepoint: a refused number undoes the add.
                let user = users::add_hashed(conn, &key, &new, &hash, now)?;
                if change.number.is_some() || change.pin_hash.is_some() {
                    users::update(conn, &user.username, &change)
                } else {
                    Ok(user)
                }
            })
            .await?;
        if has_line {
            self.0.events.publish(Event::StationsChanged);
        }
        Ok(user)
    }

    /// User `username`'s phone lines (`GATEWAY/ENDPOINT`).
    pub async fn stations_of(&self, username: String) -> Result<Vec<String>, db::Error> {
        let user = self
            .0
            .db
            .read(move |c| users::by_name(c, &username))
            .await?;
        user.map(|u| u.stations)
            .ok_or_else(|| db::Error::NotFound("no such user".into()))
    }

    /// Sets user `username`'s phone lines (see [`users::set_stations`]); the stations
    /// subsystem takes the change at once: a new line is watched and rings, a removed one
    /// stores what it was recording and is let go.
    pub async fn set_stations(
        &self,
        username: String,
        lines: Vec<(String, String)>,
    ) -> Result<Vec<String>, db::Error> {
        let set = self
            .0
            .db
            .write(move |c| users::set_stations(c, &username, &lines))
            .await?;
        self.0.events.publish(Event::StationsChanged);
        Ok(set)
    }

    /// Changes user `username` (see [`users::update`]): `password`, if given, is hashed here,
    /// off the async threads; an empty one is refused (`Invalid`).
    pub async fn update_user(
        &self,
        username: String,
        display: Option<String>,
        password: Option<String>,
        admin: Option<bool>,
    ) -> Result<User, db::Error> {
        if let Some(d) = &display {
            users::check_display(d)?;
        }
        let password_hash = match password {
            None => None,
            Some(p) if p.is_empty() => return Err(db::Error::Invalid("empty password".into())),
            Some(p) => Some(
                tokio::task::spawn_blocking(move || users::hash_password(&p))
                    .await
                    .map_err(|e| db::Error::Io(std::io::Error::other(e)))??,
            ),
        };
        let change = Change {
            display,
            password_hash,
            admin,
            ..Change::default()
        };
        let user = self
            .0
            .db
            .write(move |c| users::update(c, &username, &change))
            .await?;
        info!(user = %user.username, "user changed");
        Ok(user)
    }

    /// Sets (`Some(Some(…))`) or removes (`Some(None)`) user `username`'s dial-in number and
    /// PIN; `None` leaves one as it is. The PIN is hashed here, off the async threads; a new
    /// PIN clears the count of wrong ones (and so unlocks the number). `Invalid` for a number
    /// or PIN [`users::check_number`] or [`users::check_pin`] refuses, `Exists` for a number
    /// another user has, `NotFound` for no such user.
    pub async fn set_dial_in(&self, username: String, dial_in: DialIn) -> Result<User, db::Error> {
        let change = dial_in_change(dial_in).await?;
        let user = self
            .0
            .db
            .write(move |c| users::update(c, &username, &change))
            .await?;
        info!(user = %user.username, "dial-in number or PIN changed");
        Ok(user)
    }

    /// Who called in over a trunk, from the `number` and `pin` they keyed (digits): the user,
    /// or `None` if the two do not match, the number is malformed or nobody's, or it is locked
    /// for too many wrong PINs (see [`users::lookup`]: a locked number answers `None` at once,
    /// without checking the PIN). Each wrong PIN for a user's number is counted; the PIN is
    /// checked off the async threads, one check per core at a time as passwords are.
    pub async fn identify(&self, number: String, pin: String) -> Result<Option<Uuid>, db::Error> {
        let now = self.0.clock.now_ms();
        if users::check_number(&number).is_err() || users::check_pin(&pin).is_err() {
            debug!("dial-in refused: malformed number or PIN");
            return Ok(None);
        }
        let lookup = {
            let number = number.clone();
            self.0
                .db
                .read(move |c| users::lookup(c, &number, now))
                .await?
        };
        let (user, hash) = match lookup {
            users::Lookup::Locked => {
                debug!("dial-in refused: the number is locked");
                trace!(number = %number, "dial-in number locked");
                return Ok(None);
            }
            users::Lookup::Nobody => (None, None),
            users::Lookup::Check { user, pin_hash } => (Some(user), pin_hash),
        };
        let right = {
            let _permit = self
                .0
                .password_checks
                .acquire()
                .await
                .map_err(|_| db::Error::Closed)?;
            // No hash (nobody's number, or no PIN set): checked against the dummy, never right.
            tokio::task::spawn_blocking(move || users::check_password(hash.as_deref(), &pin))
                .await
                .map_err(|e| db::Error::Io(std::io::Error::other(e)))?
        };
        let Some(user) = user else {
            debug!("dial-in refused: nobody has the number");
            return Ok(None);
        };
        let locked = self
            .0
            .db
            .write(move |c| users::record(c, user, right, now))
            .await?;
        if right {
            debug!(user = %user, "dial-in identified");
            Ok(Some(user))
        } else {
            if locked {
                warn!(user = %user, "dial-in number locked after too many wrong PINs");
            } else {
                debug!(user = %user, "dial-in refused: wrong PIN");
            }
            Ok(None)
        }
    }

    /// The user who has dial-in `number` (a caller's caller id, or the recipient a caller
    /// keyed), if anyone.
    pub async fn user_by_number(&self, number: String) -> Result<Option<Uuid>, db::Error> {
        self.0.db.read(move |c| users::by_number(c, &number)).await
    }

    /// User `user`'s messages not yet played, oldest first, as `(message, sender)` (at most
    /// [`users::MAX_WAITING`]): what they hear when they dial in.
    pub async fn waiting_for(&self, user: Uuid) -> Result<Vec<(Uuid, Uuid)>, db::Error> {
        self.0.db.read(move |c| users::waiting_for(c, user)).await
    }

    /// User `owner`'s contact list, as an admin sees it.
    pub async fn contact_list(&self, owner: String) -> Result<ContactList, db::Error> {
        self.0
            .db
            .read(move |c| users::contact_list(c, &owner))
            .await
    }

    /// Sets user `owner`'s contacts (see [`users::set_contacts`]).
    pub async fn set_contacts(
        &self,
        owner: String,
        names: Vec<String>,
    ) -> Result<ContactList, db::Error> {
        self.0
            .db
            .write(move |c| users::set_contacts(c, &owner, &names))
            .await
    }

    /// Every user's SIP digest account, secrets in clear (for the SIP registrar's table).
    pub async fn sip_accounts(&self) -> Result<Vec<SipAccount>, db::Error> {
        let key = self.0.key.clone();
        self.0
            .db
            .read(move |c| {
                Ok(users::with_sip_secrets(c, &key)?
                    .into_iter()
                    .map(|(id, username, sip_username, secret)| SipAccount {
                        id,
                        username,
                        sip_username,
                        secret,
                    })
                    .collect())
            })
            .await
    }

    /// The SIP digest secret of user `id`, in clear (`None` if there is no such user).
    pub async fn sip_secret(&self, id: Uuid) -> Result<Option<String>, db::Error> {
        let key = self.0.key.clone();
        self.0
            .db
            .read(move |c| users::sip_secret(c, &key, id))
            .await
    }

    /// Removes user `username` (`NotFound` if there is none; see [`users::delete`]): what they
    /// sent stays for the recipients who hold it, the rest goes, and the files of the messages
    /// removed are deleted from disk before this returns (a spool segment once nothing in it
    /// is needed). Returns what was done, with the GUID they had, so that the front ends can
    /// end their sessions.
    pub async fn remove_user(&self, username: String) -> Result<Removed, db::Error> {
        let mut removed = self
            .0
            .db
            .write(move |c| users::delete(c, &username))
            .await?;
        let files = std::mem::take(&mut removed.messages.files);
        let (spooled, files): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|f| db::spool::segment_of(f).is_some());
        let dir = self.0.db.paths().media.clone();
        removed.files_removed = tokio::task::spawn_blocking(move || {
            let mut n = 0;
            for f in files {
                match std::fs::remove_file(dir.join(&f)) {
                    Ok(()) => n += 1,
                    Err(e) => warn!(file = %f, error = %e, "cannot remove media file"),
                }
            }
            db::sync_dir(&dir).map(|()| n)
        })
        .await
        .map_err(|e| db::Error::Io(std::io::Error::other(e)))??;
        if !spooled.is_empty() {
            self.0.db.collect_spool(true).await;
        }
        // Their phones go (the rows went with the user).
        self.0.events.publish(Event::StationsChanged);
        info!(
            user = %removed.id,
            kept = removed.messages.sent_kept,
            messages_removed = removed.messages.messages_removed,
            files = removed.files_removed,
            "user removed"
        );
        Ok(removed)
    }

    /// The copies stored for `user` and not yet acknowledged, in storage order (what a client
    /// that connects is pushed first).
    pub async fn pending_for(&self, user: Uuid) -> Result<Vec<MessageView>, db::Error> {
        self.0.db.read(move |c| store::pending_for(c, user)).await
    }

    /// The upload spool's segments and bytes on disk (for `/metrics`).
    pub fn spool_usage(&self) -> (usize, u64) {
        let (segments, bytes) = self.0.db.spool().usage();
        (segments, bytes)
    }
}

#[cfg(test)]
mod tests;
