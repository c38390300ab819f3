//! The gateway-control subsystem: a registry of protocol drivers, keyed by protocol, each built
//! from its own config section; it keeps each gateway's state for `/api/v1/health`, hands each
//! driver's counters to `/metrics`, and publishes every line event of the common gateway model
//! to whoever subscribes (the station manager).
//!
//! A gateway's lines are the endpoints named by `[[station]]` and `[[trunk]]` entries in the
//! config and by `offhook user add --line GATEWAY/ENDPOINT`; the driver keeps each one armed for
//! off-hook. Adding a protocol is one entry in [`DRIVERS`] and one module beside `mgcp`: the
//! driver starts its core on the gateways of its protocol and returns a [`Running`] (the
//! protocol-generic command handle and event stream of `gateway_control::driver`). MGCP,
//! MEGACO and TPNCP have theirs; a gateway of a protocol without one would be listed in
//! `/api/v1/health`, down.

mod megaco;
mod mgcp;
mod resolve;
mod tpncp;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use gateway_control::driver::Handle;
use gateway_control::model::{Command, Event, GatewayId};
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use crate::config::{Config, Gateway, Protocol, StationPlace};
use offhook_domain::metrics::Metrics;
use offhook_web::{GatewayHealth, GatewayStatus};

/// Depth of the event broadcast; a subscriber that falls further behind loses the oldest.
const EVENT_DEPTH: usize = 4096;

/// Why the subsystem could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A driver's socket could not be bound.
    #[error("cannot listen for {protocol} on {addr}: {source}")]
    Listen {
        /// The protocol (`MGCP`).
        protocol: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gateways' settings are out of the core's range.
    #[error("{protocol} settings: {message}")]
    Settings {
        /// The protocol (`MGCP`).
        protocol: &'static str,
        /// The core's refusal.
        message: String,
    },
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
    /// The running drivers' command handles.
    drivers: BTreeMap<Protocol, Handle>,
    /// The SIP agent's, for the lines of gateway [`crate::sip::GATEWAY`].
    sip: Option<Handle>,
    /// The SIP registrar's contacts, for `/api/v1/health`.
    sip_lines: Option<Arc<crate::sip::SipLines>>,
    /// The lines the drivers were started with, by gateway ([`lines`]).
    started_with: BTreeMap<String, BTreeSet<String>>,
}

impl Gateways {
    /// Every configured gateway and whether it is up.
    pub fn health(&self) -> Vec<GatewayHealth> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states
            .iter()
            .map(|(name, s)| GatewayHealth {
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
        let gateway = command.gateway().as_str().to_owned();
        if gateway == crate::sip::GATEWAY
            && let Some(h) = &self.sip
        {
            return h.send(command).await.map_err(|_| Unavailable(gateway));
        }
        let protocol = {
            let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
            states.get(&gateway).map(|s| s.protocol)
        };
        match protocol.and_then(|p| self.drivers.get(&p)) {
            Some(h) => h.send(command).await.map_err(|_| Unavailable(gateway)),
            None => Err(Unavailable(gateway)),
        }
    }

    /// Whether the drivers were started watching `line` (so that a [`Command::AddLine`] for it
    /// at start-up would only audit it twice).
    pub fn watched_from_start(&self, line: &gateway_control::model::LineId) -> bool {
        self.started_with
            .get(line.gateway.as_str())
            .is_some_and(|set| set.contains(&*line.endpoint))
    }

    fn set_up(&self, gateway: &GatewayId, up: bool) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = states.get_mut(gateway.as_str()) {
            s.up = up;
        }
    }
}

/// `/api/v1/health` reads the gateways here.
impl GatewayStatus for Gateways {
    fn health(&self) -> Vec<GatewayHealth> {
        Self::health(self)
    }

    fn sip(&self) -> Option<offhook_web::SipHealth> {
        self.sip_lines.as_ref().map(|l| l.health())
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

/// A started driver: the core's command handle and its events (in the common gateway model).
#[derive(Debug)]
pub struct Running {
    /// Where commands for its gateways go.
    pub handle: Handle,
    /// Its line and gateway events.
    pub events: mpsc::Receiver<Event>,
}

/// What a driver is started with.
#[derive(Debug)]
pub struct Start<'a> {
    /// The whole configuration; a driver reads its own section.
    pub config: &'a Config,
    /// The configured gateways of its protocol (at least one).
    pub gateways: Vec<&'a Gateway>,
    /// The lines of every gateway ([`lines`]).
    pub lines: &'a BTreeMap<String, BTreeSet<String>>,
    /// Where it reports its core's counters.
    pub counters: Counters,
    /// Seeds its core's randomness.
    pub rng_seed: u64,
}

/// A driver's counters sink: one metrics family, such as `offhook_mgcp_total{kind=…}`.
#[derive(Debug, Clone)]
pub struct Counters {
    metrics: Arc<Metrics>,
    family: &'static str,
    help: &'static str,
}

impl Counters {
    /// Replaces the family's samples with the core's counters, `(kind, value)`.
    pub fn report(&self, counters: impl IntoIterator<Item = (&'static str, u64)>) {
        self.metrics.set_family(self.family, self.help, counters);
    }
}

/// A future returned by a driver's start function.
pub type Starting<'a> = Pin<Box<dyn Future<Output = Result<Running, Error>> + Send + 'a>>;

/// One protocol's entry in the registry.
#[derive(Debug, Clone, Copy)]
pub struct Driver {
    /// The protocol whose gateways it drives.
    pub protocol: Protocol,
    /// Its `/metrics` counter family and the family's help text.
    pub family: &'static str,
    /// The help text.
    pub help: &'static str,
    /// Starts the core on the protocol's gateways.
    pub start: for<'a> fn(Start<'a>) -> Starting<'a>,
}

/// The registry: one entry per protocol with a driver.
pub const DRIVERS: &[Driver] = &[
    Driver {
        protocol: Protocol::Mgcp,
        family: "offhook_mgcp_total",
        help: "MGCP call agent events, drops and refusals, by kind.",
        start: mgcp::start,
    },
    Driver {
        protocol: Protocol::Megaco,
        family: "offhook_megaco_total",
        help: "MEGACO controller and transaction events, drops and refusals, by kind.",
        start: megaco::start,
    },
    Driver {
        protocol: Protocol::Tpncp,
        family: "offhook_tpncp_total",
        help: "TPNCP host sessions, commands, acknowledgements and drops, by kind.",
        start: tpncp::start,
    },
];

/// Starts the subsystem: each registered driver whose protocol has a configured gateway, and
/// the SIP agent's lines when `sip` (its command handle and events) is given.
pub async fn start(
    config: &Config,
    db_lines: &[(String, String)],
    metrics: Arc<Metrics>,
    rng_seed: u64,
    sip: Option<(Handle, mpsc::Receiver<Event>, Arc<crate::sip::SipLines>)>,
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
    let mut drivers = BTreeMap::new();
    let mut streams = Vec::new();
    for d in DRIVERS {
        let gateways: Vec<&Gateway> = config
            .gateways
            .iter()
            .filter(|g| g.protocol == d.protocol)
            .collect();
        if gateways.is_empty() {
            continue;
        }
        let running = (d.start)(Start {
            config,
            gateways,
            lines: &lines,
            counters: Counters {
                metrics: metrics.clone(),
                family: d.family,
                help: d.help,
            },
            rng_seed,
        })
        .await?;
        drivers.insert(d.protocol, running.handle);
        streams.push(running.events);
    }
    for g in &config.gateways {
        if !DRIVERS.iter().any(|d| d.protocol == g.protocol) {
            warn!(gateway = %g.name, protocol = g.protocol.as_str(), "no driver for this protocol yet; the gateway stays down");
        }
    }
    let (sip, sip_lines) = match sip {
        Some((handle, events, lines)) => {
            streams.push(events);
            (Some(handle), Some(lines))
        }
        None => (None, None),
    };
    let gateways = Arc::new(Gateways {
        states: Mutex::new(states),
        events,
        first: Mutex::new(Some(first)),
        drivers,
        sip,
        sip_lines,
        started_with: lines,
    });
    for mut rx in streams {
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

#[cfg(test)]
mod tests {
    use gateway_control::model::LineId;

    use super::*;

    #[tokio::test]
    async fn the_registry_starts_a_driver_per_configured_protocol() {
        let config = Config::parse(
            "t.toml",
            "[mgcp]\nlisten = \"127.0.0.1:0\"\n[megaco]\nlisten = \"127.0.0.1:0\"\n\
             [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:9\"\n\
             [[gateway]]\nname = \"mg1\"\nprotocol = \"megaco\"\nmid = \"mg1\"\n\
             [[gateway]]\nname = \"tp1\"\nprotocol = \"tpncp\"\naddress = \"127.0.0.1:9\"\n\
             [[station]]\nuser = \"alice\"\ngateway = \"gw1\"\nendpoint = \"aaln/1\"\n",
        )
        .unwrap();
        let metrics = Arc::new(Metrics::default());
        let g = start(&config, &[], metrics, 1, None).await.unwrap();
        assert_eq!(
            g.drivers.keys().copied().collect::<Vec<_>>(),
            [Protocol::Mgcp, Protocol::Megaco, Protocol::Tpncp]
        );
        let health: Vec<_> = g
            .health()
            .into_iter()
            .map(|h| (h.name, h.protocol, h.up))
            .collect();
        assert_eq!(
            health,
            [
                ("gw1".to_owned(), "mgcp", false),
                ("mg1".to_owned(), "megaco", false),
                ("tp1".to_owned(), "tpncp", false),
            ]
        );
        let stop = |gateway: &str| Command::StopRing {
            line: LineId::new(GatewayId::new(gateway), "aaln/1"),
        };
        assert!(g.command(stop("gw1")).await.is_ok());
        assert!(g.command(stop("mg1")).await.is_ok());
        assert!(g.command(stop("tp1")).await.is_ok());
        assert!(g.command(stop("nowhere")).await.is_err());
        // The lines the drivers started with: the config's station, and the database's.
        let line = |gateway: &str, endpoint: &str| LineId::new(GatewayId::new(gateway), endpoint);
        assert!(g.watched_from_start(&line("gw1", "aaln/1")));
        assert!(!g.watched_from_start(&line("gw1", "aaln/2")));
        assert!(!g.watched_from_start(&line("nowhere", "aaln/1")));
    }

    #[test]
    fn counters_reach_metrics_as_one_family() {
        let metrics = Arc::new(Metrics::default());
        let d = DRIVERS[0];
        let c = Counters {
            metrics: metrics.clone(),
            family: d.family,
            help: d.help,
        };
        c.report(gateway_control::mgcp::Stats::default().counters());
        let text = metrics.render();
        assert!(text.contains("# TYPE offhook_mgcp_total counter"), "{text}");
        assert!(
            text.contains("offhook_mgcp_total{kind=\"notifications\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("offhook_mgcp_total{kind=\"tx_acks_dropped\"} 0"),
            "{text}"
        );
        let samples = text
            .lines()
            .filter(|l| l.starts_with("offhook_mgcp_total{"))
            .count();
        // Every counter of the agent, each once.
        let all = gateway_control::mgcp::Stats::default().counters().count();
        assert!(all >= 50, "{all}");
        assert_eq!(samples, all);
    }
}
