//! The gateway-control subsystem: runs the MGCP call agent for the configured MGCP gateways,
//! keeps each gateway's state for `/api/v1/health` and `/metrics`, and publishes every line event
//! of the common gateway model to whoever subscribes (the station manager).
//!
//! A gateway's lines are the endpoints named by `[[station]]` and `[[trunk]]` entries in the
//! config and by `offhook user add --line GATEWAY/ENDPOINT`. The call agent keeps each one armed
//! for off-hook. MEGACO and TPNCP gateways are listed (down) until their subsystems exist.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use gateway_control::driver::{self, Handle};
use gateway_control::mgcp;
use gateway_control::model::{Command, Event, GatewayId};
use tokio::net::UdpSocket;
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::config::{Config, Protocol, StationPlace};
use offhook_domain::metrics::Metrics;

/// Depth of the event broadcast; a subscriber that falls further behind loses the oldest.
const EVENT_DEPTH: usize = 4096;

/// Why the subsystem could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The call agent's socket could not be bound.
    #[error("cannot listen for MGCP on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gateways' settings are out of the call agent's range.
    #[error("MGCP settings: {0}")]
    Config(#[from] mgcp::ConfigError),
}

/// A command could not be queued: no running subsystem drives that gateway.
#[derive(Debug, Clone, thiserror::Error)]
#[error("gateway {0} is not driven by any running subsystem")]
pub struct Unavailable(pub String);

#[derive(Debug, Clone)]
struct State {
    protocol: Protocol,
    up: bool,
}

/// The running subsystem.
#[derive(Debug)]
pub struct Gateways {
    states: Mutex<BTreeMap<String, State>>,
    events: broadcast::Sender<Event>,
    /// The receiver made with the channel, for the first subscriber.
    first: Mutex<Option<broadcast::Receiver<Event>>>,
    mgcp: Option<Handle>,
}

/// One gateway as `/api/v1/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Its configured name.
    pub name: String,
    /// Its protocol.
    pub protocol: &'static str,
    /// Whether it is in service.
    pub up: bool,
}

impl Gateways {
    /// Every configured gateway and whether it is up.
    pub fn health(&self) -> Vec<Health> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states
            .iter()
            .map(|(name, s)| Health {
                name: name.clone(),
                protocol: s.protocol.as_str(),
                up: s.up,
            })
            .collect()
    }

    /// Whether the named gateway is up (`None` if it is not configured).
    pub fn is_up(&self, name: &str) -> Option<bool> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.get(name).map(|s| s.up)
    }

    /// Line events: the first subscriber (the station manager) gets every event since the
    /// subsystem started, so none sent before it subscribed is lost (a call agent's audits are
    /// answered within milliseconds of start); later subscribers get events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        first.unwrap_or_else(|| self.events.subscribe())
    }

    /// Queues a command for the line's gateway.
    pub async fn command(&self, command: Command) -> Result<(), Unavailable> {
        let gateway = command.line().gateway.as_str().to_owned();
        let protocol = {
            let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
            states.get(&gateway).map(|s| s.protocol)
        };
        match (protocol, &self.mgcp) {
            (Some(Protocol::Mgcp), Some(h)) => {
                h.send(command).await.map_err(|_| Unavailable(gateway))
            }
            _ => Err(Unavailable(gateway)),
        }
    }

    fn set_up(&self, gateway: &GatewayId, up: bool) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = states.get_mut(gateway.as_str()) {
            s.up = up;
        }
    }
}

/// The lines of each gateway: config stations and trunks, plus `stations` rows from the
/// database (`(gateway, endpoint)` pairs).
pub fn lines(config: &Config, db_lines: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut lines: BTreeMap<String, BTreeSet<String>> = config
        .gateways
        .iter()
        .map(|g| (g.name.clone(), BTreeSet::new()))
        .collect();
    let mut add = |gateway: &str, endpoint: &str| {
        if let Some(set) = lines.get_mut(gateway) {
            set.insert(endpoint.to_owned());
        } else {
            warn!(
                gateway,
                endpoint, "a station names a gateway that is not configured"
            );
        }
    };
    for s in &config.stations {
        if let StationPlace::Line { gateway, endpoint } = &s.place {
            add(gateway, endpoint);
        }
    }
    for t in &config.trunks {
        for e in &t.endpoints {
            add(&t.gateway, e);
        }
    }
    for (gateway, endpoint) in db_lines {
        add(gateway, endpoint);
    }
    lines
}

/// Starts the subsystem: binds the MGCP call agent's socket if any MGCP gateway is configured.
pub async fn start(
    config: &Config,
    db_lines: &[(String, String)],
    metrics: Arc<Metrics>,
    rng_seed: u64,
) -> Result<Arc<Gateways>, Error> {
    let (events, first) = broadcast::channel(EVENT_DEPTH);
    let states = config
        .gateways
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                State {
                    protocol: g.protocol,
                    up: false,
                },
            )
        })
        .collect();
    let lines = lines(config, db_lines);
    let mgcp_gateways: Vec<mgcp::GatewayConfig> = config
        .gateways
        .iter()
        .filter(|g| g.protocol == Protocol::Mgcp)
        .filter_map(|g| {
            let address = g.address?;
            Some(mgcp::GatewayConfig {
                id: GatewayId::new(&g.name),
                address,
                domain: g
                    .domain
                    .clone()
                    .unwrap_or_else(|| format!("[{}]", address.ip())),
                lines: lines.get(&g.name).into_iter().flatten().cloned().collect(),
            })
        })
        .collect();
    let mgcp = if mgcp_gateways.is_empty() {
        None
    } else {
        let addr = config.mgcp_listen;
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| Error::Listen { addr, source })?;
        let local = socket
            .local_addr()
            .map_err(|source| Error::Listen { addr, source })?;
        let notified_ip = if local.ip().is_unspecified() {
            config.media_address
        } else {
            local.ip()
        };
        let agent_config = mgcp::Config {
            gateways: mgcp_gateways,
            notified_entity: format!("offhook@[{notified_ip}]:{}", local.port()),
            rng_seed,
            ..mgcp::Config::default()
        };
        let n = agent_config.gateways.len();
        let agent = mgcp::CallAgent::new(agent_config, driver::now())?;
        let (handle, rx, task) = driver::spawn(agent, socket, move |agent: &mgcp::CallAgent| {
            metrics.set_family(
                "offhook_mgcp_total",
                "MGCP call agent events, drops and refusals, by kind.",
                agent.stats().counters(),
            );
        });
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => info!("MGCP call agent stopped"),
                Ok(Err(e)) => warn!(error = %e, "MGCP call agent failed"),
                Err(e) => warn!(error = %e, "MGCP call agent task failed"),
            }
        });
        info!(address = %local, gateways = n, "MGCP call agent listening");
        Some((handle, rx))
    };
    let (handle, rx) = match mgcp {
        Some((h, rx)) => (Some(h), Some(rx)),
        None => (None, None),
    };
    let gateways = Arc::new(Gateways {
        states: Mutex::new(states),
        events,
        first: Mutex::new(Some(first)),
        mgcp: handle,
    });
    if let Some(mut rx) = rx {
        let g = gateways.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                match &event {
                    Event::GatewayUp { gateway } => {
                        info!(gateway = %gateway, "gateway up");
                        g.set_up(gateway, true);
                    }
                    Event::GatewayDown { gateway, reason } => {
                        warn!(gateway = %gateway, ?reason, "gateway down");
                        g.set_up(gateway, false);
                    }
                    _ => {}
                }
                // Kept for the first subscriber (see `subscribe`) until it takes them.
                let _ = g.events.send(event);
            }
        });
    }
    Ok(gateways)
}
