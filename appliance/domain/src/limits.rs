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
//!
//! **The disk reserve** (`messages.disk_reserve`, issue 23; by default the smaller of 1 GiB and
//! 5 % of the disk, [`reserve_for`]) keeps the data directory's disk from filling: an upload that would leave less than the reserve free is refused before anything of
//! it is written ([`DiskFull`], HTTP 507), and so is a record request or an intercom stream
//! started while the disk is down to its reserve. Stored messages are never touched: the
//! reserve is room for what is already acknowledged (transcoding writes each message's Opus file
//! before it frees the upload, the database's journal, recordings already spoken) and for the
//! owner to act. The free space is read (`statvfs`) at each upload: one system call, next to the
//! fsyncs an upload pays anyway.

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

/// An upload (or the start of a recording) refused because the data directory's disk is down
/// to its reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the appliance's storage is nearly full: {free} bytes free, {reserve} kept in reserve, and this needs {size}; nothing was kept: try again later, or ask an administrator to free space"
)]
pub struct DiskFull {
    /// Bytes free on the data directory's disk (for an unprivileged writer).
    pub free: u64,
    /// The reserve (`messages.disk_reserve`).
    pub reserve: u64,
    /// What the refused upload needed (0 for a recording or stream about to start).
    pub size: u64,
}

/// The largest default reserve: about 500 hours of stored Opus messages, or the Opus files of
/// tens of thousands of acknowledged uploads being transcoded.
pub const MAX_AUTO_RESERVE: u64 = 1 << 30;

/// The reserve on a disk of `total` bytes: `configured` if set, else the smaller of
/// [`MAX_AUTO_RESERVE`] and 5 % of the disk (a small appliance's disk is not all reserve).
pub fn reserve_for(configured: Option<u64>, total: u64) -> u64 {
    configured.unwrap_or_else(|| MAX_AUTO_RESERVE.min(total / 20))
}

/// Whether storing `size` more bytes leaves at least `reserve` of the `free` bytes free
/// (`reserve` 0: no guard).
pub fn disk_room(free: u64, reserve: u64, size: u64) -> Result<(), DiskFull> {
    if reserve == 0 || free.saturating_sub(size) >= reserve && free >= size {
        return Ok(());
    }
    Err(DiskFull {
        free,
        reserve,
        size,
    })
}

/// Bytes free for an unprivileged writer on the disk holding `dir`, and the disk's size.
pub fn disk_space(dir: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let s = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

/// [`disk_room`] for `size` more bytes on the disk holding `dir`, with the reserve `configured`
/// ([`reserve_for`]).
pub fn check_disk(
    dir: &std::path::Path,
    configured: Option<u64>,
    size: u64,
) -> std::io::Result<Result<(), DiskFull>> {
    if configured == Some(0) {
        return Ok(Ok(()));
    }
    let (free, total) = disk_space(dir)?;
    Ok(disk_room(free, reserve_for(configured, total), size))
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
    /// passes the quota, so it may not start over it. Refused too ([`RecordError::DiskFull`])
    /// while the disk is down to its reserve.
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
            self.disk_room().await.map_err(RecordError::DiskFull)?;
        }
        self.request_recording(user, to, mode)
    }

    /// `Err` if the data directory's disk is down to its reserve (`messages.disk_reserve`): a
    /// recording or stream may not start. A disk whose free space cannot be read is let be (the
    /// write that follows fails with what the system says).
    pub async fn disk_room(&self) -> Result<(), DiskFull> {
        let reserve = self.0.config.disk_reserve;
        let dir = self.0.db.paths().media.clone();
        match tokio::task::spawn_blocking(move || check_disk(&dir, reserve, 0)).await {
            Ok(Ok(room)) => room,
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read the free space of the data directory's disk");
                Ok(())
            }
            Err(_) => Ok(()),
        }
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
