//! Per-user limits on what a user may store (issue 13, point 10): a storage quota and an upload
//! rate.
//!
//! **The quota** bounds the bytes a user's sent messages hold on disk while any holder still has
//! them: the sealed audio (the upload as received while it is processing, the Opus file once it
//! is ready, nothing once retention or a failed transcoding removed it) and the attachments.
//! The database keeps the figure per user in `usage`, maintained by triggers in the same
//! transaction as every insert, update and delete of a message (see the migration in
//! [`crate::db`]), so reading it is one primary-key lookup, never a sum over messages. An upload
//! that would pass the quota is refused before anything of it is written (a lookup on a reader),
//! and again, for uploads racing each other, in the transaction that would store it.
//!
//! Recordings made on a phone and intercom streams are charged too, but checked when they
//! start (a record request or a stream opened while the user is over quota is refused): once
//! someone has spoken, the recording is stored even if it passes the quota, since it cannot be
//! asked for again. One recording is at most `messages.max_duration` long, so the overshoot is
//! bounded, and the next upload is refused until the user deletes messages.
//!
//! **The upload rate** is a token bucket of bytes per user: it holds one largest upload
//! (`messages.max_upload`) and refills at the configured rate. An upload takes its size from it
//! before anything is stored; one the bucket cannot cover is refused with how long until it
//! can. An upload refused afterwards (bad audio, over quota, a storage failure) gives back what
//! it took (`Taken`). Recordings are not charged: a phone or an intercom stream produces
//! audio no faster than real time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use tracing::warn;

use crate::db::Error;
use crate::{Delivery, RecordError, RecordMode, VoiceMessaging};

/// Users whose bucket is remembered before the full ones are forgotten.
const MAX_BUCKETS: usize = 4096;

/// An upload rate: `bytes` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Bytes allowed per period.
    pub bytes: u64,
    /// The period.
    pub per: Duration,
}

impl Rate {
    fn per_ms(self) -> u64 {
        u64::try_from(self.per.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Bytes gained in `ms` milliseconds.
    fn gained(self, ms: u64) -> u64 {
        let g = u128::from(ms) * u128::from(self.bytes) / u128::from(self.per_ms());
        u64::try_from(g).unwrap_or(u64::MAX)
    }

    /// Milliseconds until `bytes` more are gained (at least 1).
    fn wait_for(self, bytes: u64) -> Duration {
        let ms = (u128::from(bytes) * u128::from(self.per_ms())).div_ceil(u128::from(self.bytes));
        Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX).max(1))
    }
}

/// An upload refused because it would pass its sender's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "storage quota exceeded: your messages hold {used} of your {quota} bytes and this needs {size} more; delete messages to make room"
)]
pub struct OverQuota {
    /// The quota, in bytes.
    pub quota: u64,
    /// What the user's messages hold now.
    pub used: u64,
    /// What the refused upload would have added.
    pub size: u64,
}

/// What a user stores and may still send, for `GET /api/v1/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Bytes the user's sent messages hold on disk.
    pub used: u64,
    /// The quota in bytes (`null`: none).
    pub quota: Option<u64>,
    /// Bytes the user may upload right now under the upload rate (`null`: no rate).
    pub upload_available: Option<u64>,
}

/// The bytes `user`'s messages hold (0 for an unknown user).
pub fn used(conn: &Connection, user: Uuid) -> Result<u64, Error> {
    Ok(conn
        .prepare_cached("SELECT bytes FROM usage WHERE user_id = ?1")?
        .query_row([user.to_string()], |r| r.get::<_, i64>(0))
        .optional()?
        .map_or(0, |b| u64::try_from(b).unwrap_or(0)))
}

/// Whether `size` more bytes for `user` stay within `quota` (0: no quota).
pub fn check(conn: &Connection, user: Uuid, size: u64, quota: u64) -> Result<(), QuotaCheck> {
    if quota == 0 {
        return Ok(());
    }
    let used = used(conn, user).map_err(QuotaCheck::Db)?;
    if used.saturating_add(size) > quota {
        return Err(QuotaCheck::Over(OverQuota { quota, used, size }));
    }
    Ok(())
}

/// Why [`check`] refused: the quota, or the database.
#[derive(Debug)]
pub enum QuotaCheck {
    /// Over the quota.
    Over(OverQuota),
    /// The lookup failed.
    Db(Error),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    have: u64,
    at_ms: i64,
}

/// The per-user upload buckets.
#[derive(Debug)]
pub(crate) struct UploadRate {
    rate: Option<Rate>,
    burst: u64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl UploadRate {
    /// Buckets of `burst` bytes refilling at `rate` (`None`: no limit).
    pub(crate) fn new(rate: Option<Rate>, burst: u64) -> Self {
        Self {
            rate: rate.filter(|r| r.bytes > 0),
            burst: burst.max(1),
            buckets: Mutex::default(),
        }
    }

    fn refilled(&self, rate: Rate, b: Option<&Bucket>, now_ms: i64) -> u64 {
        b.map_or(self.burst, |b| {
            let elapsed = u64::try_from(now_ms.saturating_sub(b.at_ms)).unwrap_or(0);
            b.have.saturating_add(rate.gained(elapsed)).min(self.burst)
        })
    }

    /// Takes `bytes` (at most a full bucket's worth) for `user`, or tells how long until the
    /// bucket holds them (nothing taken).
    pub(crate) fn take(&self, user: Uuid, bytes: u64, now_ms: i64) -> Result<u64, Duration> {
        let Some(rate) = self.rate else {
            return Ok(0);
        };
        let need = bytes.min(self.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let have = self.refilled(rate, map.get(&user), now_ms);
        if have < need {
            return Err(rate.wait_for(need - have));
        }
        if map.len() >= MAX_BUCKETS && !map.contains_key(&user) {
            map.retain(|_, b| self.refilled(rate, Some(b), now_ms) < self.burst);
        }
        map.insert(
            user,
            Bucket {
                have: have - need,
                at_ms: now_ms,
            },
        );
        Ok(need)
    }

    /// Gives back `bytes` that [`Self::take`] took for an upload refused afterwards.
    pub(crate) fn give_back(&self, user: Uuid, bytes: u64, now_ms: i64) {
        let Some(rate) = self.rate else {
            return;
        };
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(&user).copied() {
            let have = self.refilled(rate, Some(&b), now_ms);
            map.insert(
                user,
                Bucket {
                    have: have.saturating_add(bytes).min(self.burst),
                    at_ms: now_ms,
                },
            );
        }
    }

    /// What `user` may upload now (`None`: no limit).
    pub(crate) fn available(&self, user: Uuid, now_ms: i64) -> Option<u64> {
        let rate = self.rate?;
        let map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        Some(self.refilled(rate, map.get(&user), now_ms))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

/// Bytes taken from a user's upload bucket, given back when dropped unless [`Taken::keep`] was
/// called: every way an upload can fail after the take gives them back.
pub(crate) struct Taken {
    core: VoiceMessaging,
    user: Uuid,
    bytes: u64,
}

impl Taken {
    /// Takes `bytes` for `user`, or `Err(wait)`.
    pub(crate) fn take(core: &VoiceMessaging, user: Uuid, bytes: u64) -> Result<Self, Duration> {
        let now = core.0.clock.now_ms();
        let bytes = core.0.upload_rate.take(user, bytes, now)?;
        Ok(Self {
            core: core.clone(),
            user,
            bytes,
        })
    }

    /// The upload is stored: the bytes stay taken.
    pub(crate) fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if self.bytes > 0 {
            let now = self.core.0.clock.now_ms();
            self.core
                .0
                .upload_rate
                .give_back(self.user, self.bytes, now);
        }
    }
}

impl VoiceMessaging {
    /// What `user` stores, their quota, and what they may upload now.
    pub async fn usage(&self, user: Uuid) -> Result<Usage, Error> {
        let used = self.0.db.read(move |c| used(c, user)).await?;
        let quota = self.0.settings.quota_per_user();
        Ok(Usage {
            used,
            quota: (quota > 0).then_some(quota),
            upload_available: self.0.upload_rate.available(user, self.0.clock.now_ms()),
        })
    }

    /// [`Self::request_recording`], refused ([`RecordError::OverQuota`]) if `user` has a phone
    /// and their messages already hold their whole quota: a recording is stored even if it
    /// passes the quota, so it may not start over it.
    pub async fn start_recording(
        &self,
        user: Uuid,
        to: Vec<Uuid>,
        mode: Option<RecordMode>,
    ) -> Result<(u64, Delivery), RecordError> {
        if self.has_phone(user) {
            match self.may_record(user).await {
                Ok(Ok(())) => {}
                Ok(Err(over)) => return Err(RecordError::OverQuota(over)),
                // The recording would not be stored either; the request says why then.
                Err(e) => warn!(error = %e, "cannot read a user's storage figure"),
            }
        }
        self.request_recording(user, to, mode)
    }

    /// `Err` if `user` has used their whole quota: a recording (which is stored even if it
    /// passes the quota, see [`crate::limits`]) may not start.
    pub async fn may_record(&self, user: Uuid) -> Result<Result<(), OverQuota>, Error> {
        let quota = self.0.settings.quota_per_user();
        if quota == 0 {
            return Ok(Ok(()));
        }
        let used = self.0.db.read(move |c| used(c, user)).await?;
        Ok(if used >= quota {
            Err(OverQuota {
                quota,
                used,
                size: 0,
            })
        } else {
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
