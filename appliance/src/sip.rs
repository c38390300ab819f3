//! The SIP subsystem: IP handsets as stations.
//!
//! Starts the `sip` crate's agent on `[sip] listen` (UDP and TCP). Its model commands and events
//! go through the gateway registry like any gateway's (the gateway is named [`GATEWAY`]), so the
//! station manager drives a SIP phone as it drives an analog line. Besides those:
//! - the users' digest accounts (`sip_username`, `sip_secret`, made at `offhook user add`) are
//!   read from the database every [`ACCOUNTS_EVERY`] into the registrar's table;
//! - a user whose first phone registers gets a station on line `sip/<sip_username>` and is
//!   online for presence while one stays registered ([`SipLines`]);
//! - a phone that dials another user asks the core for a recording to them from its user
//!   (`auto`: intercom when they are all online, else a stored message), which rings the
//!   caller's line, where the waiting call answers it.
//!
//! A `[sip] listen` that cannot be bound (another SIP server on 5060) is logged and the rest of
//! the appliance runs without SIP.
// A driver: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use gateway_control::driver::Handle;
use gateway_control::model::{Event, GatewayId};
use offhook_domain::VoiceMessaging;
use offhook_domain::clients::{Login, SessionId};

/// Phones' presence sessions belong to no web login.
const NO_LOGIN: Login = 0;
use offhook_domain::metrics::Metrics;
use offhook_web::{SipContact, SipHealth};
use sip::agent::{Agent, Config as AgentConfig, Notice};
use sip::registrar::{self, Accounts};
use sip::transaction;
use sip::wire::Transport;
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::Config;

/// The gateway name of the SIP lines (`sip/alice`).
pub const GATEWAY: &str = "sip";
/// How often the digest accounts are read again (the CLI writes the database directly).
pub const ACCOUNTS_EVERY: Duration = Duration::from_secs(2);
/// The `/metrics` family.
const FAMILY: &str = "offhook_sip_total";
const HELP: &str = "SIP registrar, user agent and transaction events, refusals and drops, by kind.";

/// The users' digest accounts, by SIP user name: the secret and who they are. A name not in
/// the table has it read again soon ([`MISS_RELOAD`]): a user just added by the CLI can
/// register at the phone's next try.
#[derive(Debug, Default)]
pub struct AccountTable {
    map: RwLock<HashMap<String, (String, Uuid, String)>>,
    missed: Notify,
}

/// The shortest time between two reads of the accounts for names not found.
pub const MISS_RELOAD: Duration = Duration::from_millis(250);

impl Accounts for AccountTable {
    fn secret(&self, sip_username: &str) -> Option<String> {
        let found = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(sip_username)
            .map(|(s, _, _)| s.clone());
        if found.is_none() {
            self.missed.notify_one();
        }
        found
    }
}

impl AccountTable {
    /// The user behind a SIP user name: their id and login name.
    pub fn user(&self, sip_username: &str) -> Option<(Uuid, String)> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(sip_username)
            .map(|(_, id, name)| (*id, name.clone()))
    }

    /// The SIP user name of the user with login `name` or SIP user name `name`.
    fn resolve(&self, name: &str) -> Option<Uuid> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).map(|(_, id, _)| *id).or_else(|| {
            map.values()
                .find(|(_, _, n)| n == name)
                .map(|(_, id, _)| *id)
        })
    }

    async fn reload(&self, core: &VoiceMessaging) {
        match core.sip_accounts().await {
            Ok(accounts) => {
                tracing::debug!(accounts = accounts.len(), "SIP accounts read");
                let map = accounts
                    .into_iter()
                    .map(|a| (a.sip_username, (a.secret, a.id, a.username)))
                    .collect();
                *self.map.write().unwrap_or_else(|p| p.into_inner()) = map;
            }
            Err(e) => warn!(error = %e, "cannot read the SIP accounts"),
        }
    }
}

/// The users with a phone registered: their station lines for the station subsystem, and the
/// registrar's contacts for `/api/v1/health`.
#[derive(Debug, Default)]
pub struct SipLines {
    lines: Mutex<HashMap<String, Uuid>>,
    /// Told when a line comes or goes.
    pub changed: Notify,
    health: Mutex<SipHealth>,
}

impl SipLines {
    /// `(sip_username, user)` of every registered user.
    pub fn registered(&self) -> Vec<(String, Uuid)> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// How many users have a phone registered.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The registrar as it was last copied (about a second ago).
    pub fn health(&self) -> SipHealth {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Copies the registrar's contacts.
    fn copy_contacts(&self, agent: &Agent, now: Instant) {
        let registrar = agent.registrar();
        let mut contacts = Vec::new();
        for user in registrar.users() {
            for b in registrar.bindings(user) {
                contacts.push(SipContact {
                    user: user.to_owned(),
                    contact: b.contact.uri.to_string(),
                    source: b.source.to_string(),
                    transport: match b.transport {
                        Transport::Udp => "udp",
                        Transport::Tcp => "tcp",
                        Transport::Tls => "tls",
                    },
                    expires_in: b.expires.saturating_duration_since(now).as_secs(),
                    user_agent: b.user_agent.clone(),
                });
            }
        }
        contacts.sort_by(|a, b| (&a.user, &a.contact).cmp(&(&b.user, &b.contact)));
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contacts = contacts;
    }
}

/// The running subsystem, for the gateway registry and the stations.
#[derive(Debug)]
pub struct Started {
    /// Where model commands for the `sip` lines go.
    pub handle: Handle,
    /// The agent's model events.
    pub events: mpsc::Receiver<Event>,
    /// The registered users' lines.
    pub lines: Arc<SipLines>,
    /// Where it listens.
    pub local: SocketAddr,
}

/// Why the subsystem did not start.
#[derive(Debug, thiserror::Error)]
#[error("[sip]: {0}")]
pub struct Error(String);

/// The agent's settings from `[sip]`.
fn agent_config(
    config: &Config,
    local: SocketAddr,
    accounts: Arc<AccountTable>,
) -> Result<AgentConfig, Error> {
    let s = &config.sip;
    let bad = |e: &dyn std::fmt::Display| Error(e.to_string());
    let mut registrar = registrar::Config::default();
    registrar
        .realm(&s.realm)
        .map_err(|e| bad(&e))?
        .expires(s.min_expires, s.max_expires, s.max_expires)
        .map_err(|e| bad(&e))?
        .auth_failures_per_minute(s.auth_failures_per_minute)
        .map_err(|e| bad(&e))?
        .algorithms(&s.digest_algorithms)
        .map_err(|e| bad(&e))?;
    let mut transactions = transaction::Config::default();
    transactions
        .max_transactions(s.max_transactions)
        .map_err(|e| bad(&e))?;
    // Phones are told an address they can reach: the media address for a wildcard listen.
    let advertised = if local.ip().is_unspecified() {
        SocketAddr::new(config.media.address, local.port())
    } else {
        local
    };
    Ok(AgentConfig {
        gateway: GatewayId::new(GATEWAY),
        local: advertised,
        listen_code: s.listen_code.clone(),
        user_agent: format!("Offhook/{}", env!("CARGO_PKG_VERSION")),
        accounts,
        registrar,
        transactions,
        keepalive: s.keepalive,
        max_calls_setting_up: s.max_calls_setting_up,
        nonce_key: rand::random(),
        rng_seed: rand::random(),
    })
}

/// Starts the subsystem when `[sip] enabled`; `None` when it is off or its address is taken.
///
/// # Errors
/// When `[sip]` holds a value the agent refuses.
pub async fn start(
    config: &Config,
    core: &VoiceMessaging,
    metrics: Arc<Metrics>,
) -> Result<Option<Started>, Error> {
    if !config.sip.enabled {
        return Ok(None);
    }
    let (udp, tcp) = match sip::driver::bind(config.sip.listen).await {
        Ok(s) => s,
        Err(e) => {
            warn!(listen = %config.sip.listen, error = %e, "SIP cannot listen; IP phones will not register");
            return Ok(None);
        }
    };
    let local = udp.local_addr().map_err(|e| Error(e.to_string()))?;
    let accounts = Arc::new(AccountTable::default());
    accounts.reload(core).await;
    let agent = Agent::new(
        agent_config(config, local, accounts.clone())?,
        sip::driver::now(),
    );
    let lines = Arc::new(SipLines::default());
    lines
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .listen = local.to_string();
    let running = sip::driver::spawn(agent, udp, tcp, {
        let metrics = metrics.clone();
        let lines = lines.clone();
        // Copied at most once a second: under a flood the loop turns thousands of times.
        let mut next = sip::driver::now();
        move |agent: &Agent| {
            let now = sip::driver::now();
            if now >= next {
                next = now + Duration::from_secs(1);
                metrics.set_family(FAMILY, HELP, agent.counters());
                lines.copy_contacts(agent, now);
            }
        }
    });
    let driver_stats = running.stats.clone();
    tokio::spawn(watch(
        core.clone(),
        accounts,
        lines.clone(),
        running.notices,
        (metrics, driver_stats),
    ));
    info!(address = %local, "SIP registrar and user agent listening");
    Ok(Some(Started {
        handle: running.handle,
        events: running.events,
        lines,
        local,
    }))
}

/// Follows the agent's notices and keeps the accounts fresh.
async fn watch(
    core: VoiceMessaging,
    accounts: Arc<AccountTable>,
    lines: Arc<SipLines>,
    mut notices: mpsc::Receiver<Notice>,
    (metrics, driver): (Arc<Metrics>, Arc<sip::driver::DriverStats>),
) {
    let mut tick = tokio::time::interval(ACCOUNTS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Presence sessions of the users with a phone registered.
    let mut sessions: HashMap<String, (Uuid, String, SessionId)> = HashMap::new();
    let mut next_miss = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = accounts.missed.notified() => {
                tokio::time::sleep_until(next_miss).await;
                accounts.reload(&core).await;
                next_miss = tokio::time::Instant::now() + MISS_RELOAD;
            }
            _ = tick.tick() => {
                accounts.reload(&core).await;
                metrics.set_family(
                    "offhook_sip_driver_total",
                    "SIP driver events (TCP connections, drops), by kind.",
                    driver.counters(),
                );
            }
            notice = notices.recv() => match notice {
                Some(Notice::Registered { user }) => {
                    let Some((id, name)) = accounts.user(&user) else { continue };
                    lines.lines.lock().unwrap_or_else(|p| p.into_inner()).insert(user.clone(), id);
                    lines.changed.notify_one();
                    // A session with nobody reading it: presence only. What it is sent is
                    // drained until it closes.
                    let mut reg = core.connect(id, &name, NO_LOGIN);
                    reg.presence.store(false, std::sync::atomic::Ordering::Relaxed);
                    let session = reg.id;
                    tokio::spawn(async move { while reg.rx.recv().await.is_some() {} });
                    sessions.insert(user, (id, name, session));
                }
                Some(Notice::Unregistered { user }) => {
                    lines.lines.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
                    lines.changed.notify_one();
                    if let Some((id, name, session)) = sessions.remove(&user) {
                        core.disconnect(id, &name, session);
                    }
                }
                Some(Notice::Dialled { user, target, .. }) => {
                    let (Some((from, _)), Some(to)) = (accounts.user(&user), accounts.resolve(&target)) else {
                        info!(user, target, "a phone dialled no user");
                        continue;
                    };
                    match core.request_recording(from, vec![to], None) {
                        Ok((id, delivery)) => info!(user, target, id, ?delivery, "a phone records to a user"),
                        Err(e) => info!(user, target, error = %e, "a phone's call to a user refused"),
                    }
                }
                None => return,
            },
        }
    }
}
