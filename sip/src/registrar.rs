//! The registrar (RFC 3261 §10.3): phones REGISTER their contacts under their user, proving the
//! user's password with digest authentication (RFC 8760: SHA-256 offered first, then MD5).
//!
//! A sans-IO core: the caller passes each REGISTER (already past the transaction layer) to
//! [`Registrar::handle_register`] with `now`, a monotonic millisecond count for the nonces and the
//! source address, and sends the [`Outcome`]. After every `handle_*` call it drains
//! [`Registrar::poll_event`], then sleeps until [`Registrar::poll_timeout`] and calls
//! [`Registrar::handle_timeout`], which expires bindings. Requests other than REGISTER from a
//! phone (an INVITE to `*97`, a SUBSCRIBE) are checked with [`Registrar::authenticate`].
//!
//! The rules, in the order they are applied to a REGISTER:
//! 1. the To, Call-ID and CSeq must be readable (else 400), and a source that has failed
//!    authentication too often this minute is refused with 403, unchecked
//!    ([`Config::auth_failures_per_minute`]);
//! 2. an unsupported `Require` is answered 420 (§10.3 step 2);
//! 3. the credentials must be for our realm, with an algorithm we offered and a nonce we issued
//!    (else 401 with fresh challenges), for a known user with the right password (else 403,
//!    counted against the source), with a fresh nonce (else 401 `stale=true`);
//! 4. the To must name the authenticated user (else 403, §10.3 step 5);
//! 5. the contacts must be readable SIP URIs, `*` alone and only with `Expires: 0` (else 400),
//!    asking for no less than [`Config::expires`]'s minimum (else 423 with `Min-Expires`);
//! 6. each contact updates the binding with the same URI — or with the same `+sip.instance`
//!    and `reg-id` (RFC 5626 §6) — when its Call-ID differs or its CSeq is higher, and fails
//!    the whole request with 500 otherwise (§10.3 step 7: an out-of-order request); changes are
//!    all applied or none;
//! 7. 200 lists every current binding with its remaining `expires` (§10.3 step 8).
//!
//! Every refusal is counted in [`Stats`]. Maps are bounded: users ([`Config::max_users`]),
//! bindings per user ([`Config::max_contacts_per_user`]) and failing sources
//! ([`MAX_FAILURE_SOURCES`]); stored strings are bounded by the `MAX_*` consts below.

mod auth;
mod config;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::digest::Nonces;
use crate::wire::{Contact, HeaderName, Method, NameAddr, Request, Response, Scheme, Transport};

pub use auth::MAX_FAILURE_SOURCES;
pub use config::{Config, ConfigError, MAX_CONTACTS_PER_USER, MAX_REALM, MAX_USERS};

/// The longest Call-ID stored with a binding, in bytes; a longer one is refused (400).
pub const MAX_CALL_ID: usize = 256;
/// The longest contact (as encoded) stored with a binding, in bytes; a longer one is refused.
pub const MAX_CONTACT: usize = 512;
/// The longest `+sip.instance` stored, in bytes; a longer one is refused.
pub const MAX_INSTANCE: usize = 256;
/// The longest User-Agent stored, in bytes; a longer one is cut.
pub const MAX_USER_AGENT: usize = 256;

/// RFC 3261 §10.3 step 7 allows 423 only for a request asking for less than an hour.
const HOUR: u64 = 3600;

/// Where the secrets come from: the appliance's user table (`sip_username` → `sip_secret`).
pub trait Accounts {
    /// The password of `sip_username`, or `None` for an unknown user.
    fn secret(&self, sip_username: &str) -> Option<String>;
}

/// A contact address bound to a user (RFC 3261 §10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact value as registered (its `expires` parameter included, as sent).
    pub contact: NameAddr,
    /// Where the REGISTER came from (for NAT: requests go back to this address).
    pub source: SocketAddr,
    /// The transport the REGISTER came over.
    pub transport: Transport,
    /// When the binding lapses.
    pub expires: Instant,
    /// The Call-ID of the REGISTER that made or last refreshed it.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// The `+sip.instance` parameter (RFC 5626), quotes removed.
    pub instance: Option<String>,
    /// The `reg-id` parameter (RFC 5626).
    pub reg_id: Option<u32>,
    /// The `q` parameter in thousandths (`q=0.7` is 700).
    pub q: Option<u16>,
    /// The phone's User-Agent, cut to [`MAX_USER_AGENT`] bytes.
    pub user_agent: Option<String>,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response.
    Respond(Response),
    /// Send nothing (the request is counted).
    Drop,
}

/// A change the rest of the appliance cares about (presence, ringing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// The user's first binding was made.
    Registered {
        /// The user.
        user: String,
    },
    /// The user's last binding is gone (removed or expired).
    Unregistered {
        /// The user.
        user: String,
    },
    /// A user already registered got another binding (a second phone, or one that came back
    /// with a new contact): the user agent tells it the message-waiting lamp.
    ContactAdded {
        /// The user.
        user: String,
    },
}

/// The registrar's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bindings made.
    pub registered: u64,
    /// Bindings refreshed (or replaced by a matching contact).
    pub refreshed: u64,
    /// Bindings removed by request (`expires=0`, `*`).
    pub removed: u64,
    /// Bindings that lapsed.
    pub expired: u64,
    /// Bindings dropped to make room for newer ones of the same user.
    pub evicted: u64,
    /// 401 challenges sent (stale ones included).
    pub challenged: u64,
    /// 401 challenges with `stale=true`.
    pub stale: u64,
    /// Requests refused 403 for an unknown user or a wrong password.
    pub auth_failed: u64,
    /// Requests refused unchecked because their source failed too often.
    pub rate_limited: u64,
    /// Failing sources forgotten because the table was full.
    pub sources_evicted: u64,
    /// Requests refused 400 (unreadable headers, credentials or contacts).
    pub malformed: u64,
    /// Requests refused 403 because the To names another user than the credentials.
    pub forbidden: u64,
    /// Requests refused 423 (expiry too brief).
    pub too_brief: u64,
    /// Requests refused 500 because a binding had the same Call-ID and a CSeq as high.
    pub out_of_order: u64,
    /// Requests refused 420 for a `Require` we do not support.
    pub bad_extension: u64,
    /// Requests refused 403 for listing more contacts than a user may have.
    pub too_many_contacts: u64,
    /// Requests refused 503 because [`Config::max_users`] users are registered.
    pub full: u64,
    /// Requests authenticated by [`Registrar::authenticate`].
    pub authenticated: u64,
    /// Live bindings now.
    pub bindings: u64,
    /// Users with bindings now.
    pub users: u64,
}

/// A user's bindings, best `q` first, and for each the sequence number of its last change (the
/// key of its timer; the lowest is the oldest).
#[derive(Debug, Default)]
struct User {
    bindings: Vec<Binding>,
    seqs: Vec<u64>,
}

/// The registrar: users, their bindings, and the digest authentication that guards them.
///
/// Drive it as the module documentation says: `handle_register`/`authenticate` per request,
/// then `poll_event` until `None`; `handle_timeout` when `poll_timeout` is reached.
pub struct Registrar {
    config: Config,
    nonces: Nonces,
    users: HashMap<String, User>,
    /// Every binding's expiry, keyed by (when, its sequence number) → its user.
    timers: BTreeMap<(Instant, u64), String>,
    failures: auth::Failures,
    events: VecDeque<RegistrarEvent>,
    stats: Stats,
    next_seq: u64,
    bindings: u64,
    rng: StdRng,
}

/// A contact of a REGISTER, read and checked.
struct Wanted {
    contact: NameAddr,
    expires: u64,
    q: Option<u16>,
    instance: Option<String>,
    reg_id: Option<u32>,
}

/// Why a REGISTER is refused after authentication.
enum Refusal {
    Malformed(&'static str),
    TooBrief,
    OutOfOrder,
    TooManyContacts,
    Full,
}

impl Registrar {
    /// A registrar with no bindings. `nonce_key` keys the nonces' HMAC (random, per boot); the
    /// To tags of responses are drawn from a generator seeded from it.
    pub fn new(config: Config, nonce_key: [u8; 32]) -> Self {
        let mut seed = nonce_key;
        for b in &mut seed {
            *b ^= 0x5c;
        }
        Self {
            config,
            nonces: Nonces::new(nonce_key),
            users: HashMap::new(),
            timers: BTreeMap::new(),
            failures: auth::Failures::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            next_seq: 0,
            bindings: 0,
            rng: StdRng::from_seed(seed),
        }
    }

    /// Handles one REGISTER (already past the transaction layer); `now_ms` is a monotonic ms
    /// count for the nonces, `from` and `transport` where and how it came.
    pub fn handle_register(
        &mut self,
        now: Instant,
        now_ms: u64,
        from: SocketAddr,
        transport: Transport,
        request: &Request,
        accounts: &dyn Accounts,
    ) -> Outcome {
        let headers = &request.headers;
        let cseq = match headers.cseq() {
            Ok(c) if c.method == Method::Register && request.method == Method::Register => c,
            _ => return self.malformed(request, "Bad CSeq"),
        };
        let Some(call_id) = headers.call_id().filter(|c| !c.is_empty()) else {
            return self.malformed(request, "Bad Call-ID");
        };
        if call_id.len() > MAX_CALL_ID {
            return self.malformed(request, "Call-ID Too Long");
        }
        let to = match headers.to() {
            Ok(to) if matches!(to.uri.scheme, Scheme::Sip | Scheme::Sips) => to,
            _ => return self.malformed(request, "Bad To"),
        };
        if self
            .failures
            .limited(from.ip(), now_ms, self.config.auth_failures_per_minute)
        {
            self.stats.rate_limited += 1;
            tracing::debug!(source = %from, "REGISTER refused: too many failures");
            return self.respond(request, 403, "Forbidden (Too Many Failures)");
        }
        let required: Vec<&str> = headers
            .get_all(&HeaderName::Require)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if !required.is_empty() {
            self.stats.bad_extension += 1;
            let mut r = Response::to_request(request, 420, "Bad Extension", Some(&self.tag()));
            r.headers.push(HeaderName::Unsupported, required.join(", "));
            return Outcome::Respond(r);
        }
        let user = match self.verify(now_ms, from, request, accounts) {
            Ok(user) => user,
            Err(outcome) => return outcome,
        };
        if to.uri.user.as_deref() != Some(user.as_str()) {
            self.stats.forbidden += 1;
            tracing::debug!(user = %user, "REGISTER refused: To names another user");
            return self.respond(
                request,
                403,
                "Forbidden (To Does Not Match The Credentials)",
            );
        }
        let wanted = match self.read_contacts(request) {
            Ok(w) => w,
            Err(refusal) => return self.refuse(request, refusal),
        };
        // No Contact: a query (§10.3 step 6), nothing changes.
        if wanted.as_ref().is_none_or(|w| !w.is_empty()) {
            let user_agent = headers.get(&HeaderName::UserAgent).map(cut_user_agent);
            let change = Change {
                now,
                from,
                transport,
                call_id,
                cseq: cseq.seq,
                user_agent,
            };
            if let Err(refusal) = self.apply(&user, &change, wanted) {
                return self.refuse(request, refusal);
            }
        }
        let mut ok = Response::to_request(request, 200, "OK", Some(&self.tag()));
        for b in self.bindings(&user) {
            ok.headers
                .push(HeaderName::Contact, contact_with_expires(b, now));
        }
        Outcome::Respond(ok)
    }

    /// Authenticates any other request from a phone (an INVITE to `*97`, a SUBSCRIBE): the user
    /// on success, or the 401 / 403 to send — or [`Outcome::Drop`] when the source has failed
    /// too often this minute (a flood is not answered). ACK and CANCEL cannot be challenged
    /// (RFC 3261 §22.1): do not pass them here.
    pub fn authenticate(
        &mut self,
        now_ms: u64,
        from: SocketAddr,
        request: &Request,
        accounts: &dyn Accounts,
    ) -> Result<String, Outcome> {
        if self
            .failures
            .limited(from.ip(), now_ms, self.config.auth_failures_per_minute)
        {
            self.stats.rate_limited += 1;
            tracing::debug!(source = %from, "request dropped: too many failures");
            return Err(Outcome::Drop);
        }
        let user = self.verify(now_ms, from, request, accounts)?;
        self.stats.authenticated += 1;
        Ok(user)
    }

    /// The live bindings of `user`, best `q` first (a binding without `q` ranks as `q=1`;
    /// among equals, the least recently registered or refreshed first).
    pub fn bindings(&self, user: &str) -> &[Binding] {
        self.users.get(user).map_or(&[], |u| &u.bindings)
    }

    /// The users with at least one binding.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Removes the bindings that have lapsed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            let (when, seq) = *entry.key();
            if when > now {
                break;
            }
            let user = entry.remove();
            let Entry::Occupied(mut u) = self.users.entry(user) else {
                continue;
            };
            if let Some(i) = u.get().seqs.iter().position(|&s| s == seq) {
                u.get_mut().bindings.remove(i);
                u.get_mut().seqs.remove(i);
                self.bindings -= 1;
                self.stats.expired += 1;
                tracing::debug!(user = %u.key(), "binding expired");
            }
            if u.get().bindings.is_empty() {
                let (user, _) = u.remove_entry();
                self.events.push_back(RegistrarEvent::Unregistered { user });
            }
        }
    }

    /// When the next binding lapses.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|&(when, _)| when)
    }

    /// The next event, if any. Events wait here until drained: each `handle_*` call adds at
    /// most one per user it touches, so a caller that drains after every call holds at most
    /// [`Config::max_users`] of them.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats {
            bindings: self.bindings,
            users: self.users.len() as u64,
            ..self.stats
        }
    }

    /// Checks the credentials of `request`; on failure, the response to send (counted).
    fn verify(
        &mut self,
        now_ms: u64,
        from: SocketAddr,
        request: &Request,
        accounts: &dyn Accounts,
    ) -> Result<String, Outcome> {
        match auth::check(&self.config, &self.nonces, now_ms, request, accounts) {
            auth::Verdict::User(user) => Ok(user),
            auth::Verdict::Challenge => Err(self.challenge(request, now_ms, false)),
            auth::Verdict::Stale => {
                self.stats.stale += 1;
                Err(self.challenge(request, now_ms, true))
            }
            auth::Verdict::Failed => {
                self.stats.auth_failed += 1;
                if self.failures.record(from.ip(), now_ms) {
                    self.stats.sources_evicted += 1;
                }
                tracing::debug!(source = %from, "authentication failed");
                Err(self.respond(request, 403, "Forbidden"))
            }
            auth::Verdict::Malformed(reason) => Err(self.malformed(request, reason)),
        }
    }

    fn challenge(&mut self, request: &Request, now_ms: u64, stale: bool) -> Outcome {
        self.stats.challenged += 1;
        let mut r = Response::to_request(request, 401, "Unauthorized", Some(&self.tag()));
        for value in auth::challenges(&self.config, &self.nonces, now_ms, stale) {
            r.headers.push(HeaderName::WwwAuthenticate, value);
        }
        Outcome::Respond(r)
    }

    fn malformed(&mut self, request: &Request, reason: &'static str) -> Outcome {
        self.stats.malformed += 1;
        tracing::debug!(reason, "request refused as malformed");
        self.respond(request, 400, reason)
    }

    fn respond(&mut self, request: &Request, status: u16, reason: &str) -> Outcome {
        Outcome::Respond(Response::to_request(
            request,
            status,
            reason,
            Some(&self.tag()),
        ))
    }

    fn refuse(&mut self, request: &Request, refusal: Refusal) -> Outcome {
        match refusal {
            Refusal::Malformed(reason) => self.malformed(request, reason),
            Refusal::TooBrief => {
                self.stats.too_brief += 1;
                let mut r =
                    Response::to_request(request, 423, "Interval Too Brief", Some(&self.tag()));
                r.headers.push(
                    HeaderName::MinExpires,
                    self.config.min_expires.as_secs().to_string(),
                );
                Outcome::Respond(r)
            }
            Refusal::OutOfOrder => {
                self.stats.out_of_order += 1;
                self.respond(request, 500, "Server Internal Error (Out Of Order CSeq)")
            }
            Refusal::TooManyContacts => {
                self.stats.too_many_contacts += 1;
                self.respond(request, 403, "Forbidden (Too Many Contacts)")
            }
            Refusal::Full => {
                self.stats.full += 1;
                let mut r =
                    Response::to_request(request, 503, "Service Unavailable", Some(&self.tag()));
                r.headers.push(HeaderName::RetryAfter, "60");
                Outcome::Respond(r)
            }
        }
    }

    fn tag(&mut self) -> String {
        format!("{:016x}", self.rng.r#gen::<u64>())
    }

    /// Reads the contacts: `None` for `*` (remove all), else each wanted binding.
    fn read_contacts(&self, request: &Request) -> Result<Option<Vec<Wanted>>, Refusal> {
        let contacts = request
            .headers
            .contacts()
            .map_err(|_| Refusal::Malformed("Bad Contact"))?;
        let header_expires = request.headers.expires();
        if contacts.iter().any(|c| matches!(c, Contact::Star)) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(Refusal::Malformed(
                    "Contact * Needs Expires 0 And No Other Contact",
                ));
            }
            return Ok(None);
        }
        if contacts.len() > self.config.max_contacts_per_user {
            return Err(Refusal::TooManyContacts);
        }
        let default = self.config.default_expires.as_secs();
        let (min, max) = (
            self.config.min_expires.as_secs(),
            self.config.max_expires.as_secs(),
        );
        let mut wanted = Vec::with_capacity(contacts.len());
        for c in contacts {
            let Contact::Addr(contact) = c else {
                continue;
            };
            if !matches!(contact.uri.scheme, Scheme::Sip | Scheme::Sips)
                || contact.to_string().len() > MAX_CONTACT
            {
                return Err(Refusal::Malformed("Bad Contact"));
            }
            let asked = match param(&contact, "expires") {
                Some(v) => parse_expires(v).ok_or(Refusal::Malformed("Bad Contact Expires"))?,
                None => header_expires.map_or(default, u64::from),
            };
            if asked > 0 && asked < min && asked < HOUR {
                return Err(Refusal::TooBrief);
            }
            let q = match param(&contact, "q") {
                Some(v) => Some(parse_q(v).ok_or(Refusal::Malformed("Bad Contact q"))?),
                None => None,
            };
            let instance = match param(&contact, "+sip.instance") {
                Some(v) => {
                    let v = v.trim_matches('"');
                    if v.is_empty() || v.len() > MAX_INSTANCE {
                        return Err(Refusal::Malformed("Bad Contact +sip.instance"));
                    }
                    Some(v.to_owned())
                }
                None => None,
            };
            let reg_id = match param(&contact, "reg-id") {
                Some(v) => Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|&r| r > 0)
                        .ok_or(Refusal::Malformed("Bad Contact reg-id"))?,
                ),
                None => None,
            };
            wanted.push(Wanted {
                contact,
                expires: asked.min(max),
                q,
                instance,
                reg_id,
            });
        }
        Ok(Some(wanted))
    }

    /// Applies a REGISTER's contacts (`None`: remove all) to `user`'s bindings, all or nothing.
    fn apply(
        &mut self,
        user: &str,
        change: &Change<'_>,
        wanted: Option<Vec<Wanted>>,
    ) -> Result<(), Refusal> {
        let existing = self.users.get(user);
        let mut work: Vec<(Binding, u64)> = existing
            .map(|u| {
                u.bindings
                    .iter()
                    .cloned()
                    .zip(u.seqs.iter().copied())
                    .collect()
            })
            .unwrap_or_default();
        let out_of_order = |b: &Binding| b.call_id == change.call_id && change.cseq <= b.cseq;
        let (mut registered, mut refreshed, mut removed, mut evicted) = (0, 0, 0, 0);
        match wanted {
            None => {
                if work.iter().any(|(b, _)| out_of_order(b)) {
                    return Err(Refusal::OutOfOrder);
                }
                removed = work.len() as u64;
                work.clear();
            }
            Some(wanted) => {
                for w in wanted {
                    let found = work
                        .iter()
                        .position(|(b, _)| match (&w.instance, w.reg_id) {
                            (Some(i), Some(r)) => {
                                b.instance.as_deref() == Some(i.as_str()) && b.reg_id == Some(r)
                            }
                            _ => same_contact(&b.contact, &w.contact),
                        });
                    if let Some(i) = found {
                        if out_of_order(&work[i].0) {
                            return Err(Refusal::OutOfOrder);
                        }
                        work.remove(i);
                        if w.expires == 0 {
                            removed += 1;
                            continue;
                        }
                        refreshed += 1;
                    } else if w.expires == 0 {
                        continue;
                    } else {
                        registered += 1;
                    }
                    self.next_seq += 1;
                    let expires = change
                        .now
                        .checked_add(Duration::from_secs(w.expires))
                        .ok_or(Refusal::Malformed("Bad Contact Expires"))?;
                    let binding = Binding {
                        contact: w.contact,
                        source: change.from,
                        transport: change.transport,
                        expires,
                        call_id: change.call_id.to_owned(),
                        cseq: change.cseq,
                        instance: w.instance,
                        reg_id: w.reg_id,
                        q: w.q,
                        user_agent: change.user_agent.clone(),
                    };
                    work.push((binding, self.next_seq));
                }
                while work.len() > self.config.max_contacts_per_user {
                    let oldest = work
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, seq))| *seq)
                        .map_or(0, |(i, _)| i);
                    work.remove(oldest);
                    evicted += 1;
                }
            }
        }
        let before = existing.map_or(0, |u| u.bindings.len());
        if before == 0 && !work.is_empty() && self.users.len() >= self.config.max_users {
            return Err(Refusal::Full);
        }
        // Commit.
        if let Some(old) = self.users.remove(user) {
            for (b, seq) in old.bindings.iter().zip(&old.seqs) {
                self.timers.remove(&(b.expires, *seq));
            }
        }
        self.stats.registered += registered;
        self.stats.refreshed += refreshed;
        self.stats.removed += removed;
        self.stats.evicted += evicted;
        self.bindings = self.bindings - before as u64 + work.len() as u64;
        if work.is_empty() {
            if before > 0 {
                tracing::debug!(user, "unregistered");
                self.events.push_back(RegistrarEvent::Unregistered {
                    user: user.to_owned(),
                });
            }
            return Ok(());
        }
        work.sort_by_key(|(b, _)| std::cmp::Reverse(b.q.unwrap_or(1000)));
        let mut u = User::default();
        for (b, seq) in work {
            self.timers.insert((b.expires, seq), user.to_owned());
            u.bindings.push(b);
            u.seqs.push(seq);
        }
        self.users.insert(user.to_owned(), u);
        if before == 0 {
            tracing::debug!(user, "registered");
            self.events.push_back(RegistrarEvent::Registered {
                user: user.to_owned(),
            });
        } else if registered > 0 {
            self.events.push_back(RegistrarEvent::ContactAdded {
                user: user.to_owned(),
            });
        }
        Ok(())
    }
}

/// What a REGISTER brings to each binding it makes or refreshes.
struct Change<'a> {
    now: Instant,
    from: SocketAddr,
    transport: Transport,
    call_id: &'a str,
    cseq: u32,
    user_agent: Option<String>,
}

/// The value of a header parameter (names compared case-insensitively); `Some("")` for a flag.
fn param<'a>(addr: &'a NameAddr, name: &str) -> Option<&'a str> {
    addr.params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// A delta-seconds `expires` value; a huge one is read as `u32::MAX` (RFC 3261 §20.19 asks
/// for that), anything but digits is refused.
fn parse_expires(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .map_or(u64::from(u32::MAX), |n| n.min(u64::from(u32::MAX))),
    )
}

/// A `q` value (`qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, RFC 3261 §25.1)
/// in thousandths.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether two contacts name the same address (RFC 3261 §19.1.4, simplified: scheme, user,
/// host case-insensitively, port, and the `transport` parameter; other URI parameters are not
/// compared).
fn same_contact(a: &NameAddr, b: &NameAddr) -> bool {
    let (a, b) = (&a.uri, &b.uri);
    a.scheme == b.scheme
        && a.user == b.user
        && a.host.eq_ignore_ascii_case(&b.host)
        && a.port == b.port
        && match (a.param("transport"), b.param("transport")) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            (x, y) => x.is_none() && y.is_none(),
        }
}

/// A binding as listed in a 200: its contact with `expires` set to the seconds left (rounded
/// up).
fn contact_with_expires(b: &Binding, now: Instant) -> String {
    let left = b.expires.saturating_duration_since(now);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let mut contact = b.contact.clone();
    contact
        .params
        .retain(|(n, _)| !n.eq_ignore_ascii_case("expires"));
    contact
        .params
        .push(("expires".to_owned(), Some(secs.to_string())));
    contact.to_string()
}

/// A User-Agent cut to [`MAX_USER_AGENT`] bytes on a character boundary.
fn cut_user_agent(v: &str) -> String {
    let mut end = v.len().min(MAX_USER_AGENT);
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v[..end].to_owned()
}

#[cfg(test)]
mod tests;
