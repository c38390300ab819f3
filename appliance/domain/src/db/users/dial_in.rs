//! Dial-in over a trunk (issue 20): a user's number and PIN, the wrong-PIN lock, and the
//! messages a caller who identified hears.
//!
//! A number is what a caller keys (or what caller id gives) to say who they are: digits only,
//! [`NUMBER_MIN`]–[`NUMBER_MAX`] long (ITU-T E.164 §6: an international number has at most 15
//! digits), unique among users when set. A PIN is [`PIN_MIN`]–[`PIN_MAX`] digits, stored as an
//! argon2id hash exactly as passwords are ([`super::hash_password`]): never in clear, never
//! logged.
//!
//! Wrong PINs are counted per user, in the database (`dial_in_failures`), so the count
//! survives a restart and a caller cannot reset it by making the appliance restart. Since
//! numbers are unique this is per number. [`MAX_WRONG_PINS`] wrong PINs within
//! [`WRONG_PIN_WINDOW`] of the first lock the number for [`LOCK_TIME`]: while locked,
//! `VoiceMessaging::identify` answers "no" at once without looking at the PIN (nor spending
//! an argon2 check on it), so guessing stops for everyone calling as that number, the owner included. A right
//! PIN clears the count. A number that nobody has is not counted (there is nothing to protect,
//! and counting it would let a caller grow the table without bound); the PIN is then checked
//! against a dummy hash, taking as long as a real check. The limits follow NIST SP 800-63B
//! §5.2.2 (rate limiting of authentication attempts).
//!
//! Checks may run concurrently (one per trunk port): each wrong answer is counted atomically
//! in the writer, so at most one check per port can slip past the limit while others are
//! being counted.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::super::Error;
use super::super::messages::State;

/// The shortest number, in digits.
pub const NUMBER_MIN: usize = 2;
/// The longest number, in digits (ITU-T E.164 §6).
pub const NUMBER_MAX: usize = 15;
/// The shortest PIN, in digits.
pub const PIN_MIN: usize = 4;
/// The longest PIN, in digits.
pub const PIN_MAX: usize = 12;
/// Wrong PINs within [`WRONG_PIN_WINDOW`] that lock a number.
pub const MAX_WRONG_PINS: i64 = 5;
/// The window wrong PINs are counted in, in milliseconds (15 minutes), from the first.
pub const WRONG_PIN_WINDOW: i64 = 15 * 60 * 1000;
/// How long a number stays locked, in milliseconds (15 minutes).
pub const LOCK_TIME: i64 = 15 * 60 * 1000;
/// The most waiting messages [`waiting_for`] lists (the oldest ones): a caller does not hear
/// more in one call, and the answer stays bounded.
pub const MAX_WAITING: usize = 1000;

/// A dial-in number and PIN to set (`VoiceMessaging::set_dial_in` and `add_user_with`):
/// `None` leaves one as it is, `Some(None)` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialIn {
    /// The number (digits, see [`check_number`]).
    pub number: Option<Option<String>>,
    /// The PIN in clear (digits, see [`check_pin`]); hashed before it is stored.
    pub pin: Option<Option<String>>,
}

fn digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a dial-in number: [`NUMBER_MIN`]–[`NUMBER_MAX`] digits 0–9.
pub fn check_number(number: &str) -> Result<(), Error> {
    if digits(number, NUMBER_MIN, NUMBER_MAX) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the number must be {NUMBER_MIN}-{NUMBER_MAX} digits 0-9, as 2041"
        )))
    }
}

/// Checks a PIN: [`PIN_MIN`]–[`PIN_MAX`] digits 0–9. The error never repeats the PIN.
pub fn check_pin(pin: &str) -> Result<(), Error> {
    if digits(pin, PIN_MIN, PIN_MAX) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the PIN must be {PIN_MIN}-{PIN_MAX} digits 0-9"
        )))
    }
}

/// The live user who has `number`, if any.
pub fn by_number(conn: &Connection, number: &str) -> Result<Option<Uuid>, Error> {
    if check_number(number).is_err() {
        return Ok(None);
    }
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM users WHERE number = ?1 AND kind = 'user'")?
        .query_row([number], |r| r.get(0))
        .optional()?;
    id.map(|s| Uuid::parse_str(&s).map_err(|e| Error::Invalid(e.to_string())))
        .transpose()
}

/// What checking a PIN for `number` (`VoiceMessaging::identify`) must do, as the database
/// says at `now_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Nobody has the number: check against the dummy hash, count nothing.
    Nobody,
    /// The number is locked: answer no without checking.
    Locked,
    /// Check the PIN against this hash (`None`: the user set no PIN, and never matches).
    Check {
        /// The user.
        user: Uuid,
        /// Their PIN's hash.
        pin_hash: Option<String>,
    },
}

/// Reads what checking a PIN for `number` at `now_ms` needs (fast: the argon2 check itself is
/// the caller's, off the database).
pub fn lookup(conn: &Connection, number: &str, now_ms: i64) -> Result<Lookup, Error> {
    let Some(user) = by_number(conn, number)? else {
        return Ok(Lookup::Nobody);
    };
    let (pin_hash, locked_until): (Option<String>, Option<i64>) = conn
        .prepare_cached(
            "SELECT u.pin_hash, f.locked_until FROM users u
             LEFT JOIN dial_in_failures f ON f.user_id = u.id WHERE u.id = ?1",
        )?
        .query_row([user.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if locked_until.is_some_and(|t| now_ms < t) {
        return Ok(Lookup::Locked);
    }
    Ok(Lookup::Check { user, pin_hash })
}

/// Records the outcome of a PIN check for `user` at `now_ms`: a right PIN clears their count;
/// a wrong one counts, and the [`MAX_WRONG_PINS`]th within [`WRONG_PIN_WINDOW`] locks them
/// until `now_ms + LOCK_TIME`. Returns whether they are locked now.
pub fn record(conn: &Connection, user: Uuid, right: bool, now_ms: i64) -> Result<bool, Error> {
    let id = user.to_string();
    if right {
        conn.execute("DELETE FROM dial_in_failures WHERE user_id = ?1", [&id])?;
        return Ok(false);
    }
    let row: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT failures, first_ms, locked_until FROM dial_in_failures WHERE user_id = ?1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (failures, first_ms, locked_until) = match row {
        // A lock in force stays as it is (a check that began before it was set).
        Some((f, first, until)) if now_ms < until => (f, first, until),
        Some((f, first, _)) if now_ms.saturating_sub(first) < WRONG_PIN_WINDOW => (f + 1, first, 0),
        // No count yet, or its window (or lock) is over: this one starts a new window.
        _ => (1, now_ms, 0),
    };
    let locked_until = if locked_until == 0 && failures >= MAX_WRONG_PINS {
        now_ms.saturating_add(LOCK_TIME)
    } else {
        locked_until
    };
    let failures = if locked_until > now_ms { 0 } else { failures };
    conn.execute(
        "INSERT INTO dial_in_failures(user_id, failures, first_ms, locked_until)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(user_id) DO UPDATE SET failures = ?2, first_ms = ?3, locked_until = ?4",
        params![id, failures, first_ms, locked_until],
    )?;
    Ok(locked_until > now_ms)
}

/// User `user`'s messages not yet played, oldest first (as stored), as `(message, sender)`:
/// what a caller who identified hears. At most [`MAX_WAITING`].
pub fn waiting_for(conn: &Connection, user: Uuid) -> Result<Vec<(Uuid, Uuid)>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.sender FROM recipients r JOIN messages m ON m.id = r.message_id
         WHERE r.user_id = ?1 AND r.state < ?3 AND r.deleted = 0 AND m.status = 'ready'
           AND m.audio_file IS NOT NULL
         ORDER BY r.seq LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(
            params![user.to_string(), MAX_WAITING as i64, State::Played as i64],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| Error::Invalid(e.to_string()));
    rows.iter().map(|(m, s)| Ok((uuid(m)?, uuid(s)?))).collect()
}

#[cfg(test)]
mod tests;
