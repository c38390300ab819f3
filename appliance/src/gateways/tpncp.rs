//! The TPNCP driver: one host for every AudioCodes board (`protocol = "tpncp"`). The host
//! connects out to each board (TCP, or UDP with `transport = "udp"`), on its `address`
//! (port 2424 by default); a board given by DNS name is looked up at start and again by the
//! resolver task (`resolve.rs`) while it cannot be reached.

use std::net::{Ipv4Addr, SocketAddr};

use gateway_control::driver;
use gateway_control::model::GatewayId;
use gateway_control::tpncp::controller::{self, Host, Transport};
use gateway_control::tpncp::wire::ByteOrder;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{Error, Running, Start, Starting, resolve};
use crate::config::GatewayAddress;

fn settings(e: &controller::ConfigError) -> Error {
    Error::Settings {
        protocol: "TPNCP",
        message: e.to_string(),
    }
}

/// Starts the host on the TPNCP boards: a UDP socket (on an ephemeral port of the media
/// address) only when some board is reached over UDP.
pub(super) fn start(s: Start<'_>) -> Starting<'_> {
    Box::pin(async move {
        let section = &s.config.tpncp;
        let mut config = controller::Config {
            keepalive: section.keepalive,
            ack_timeout: section.ack_timeout,
            reconnect_min: section.reconnect_min,
            reconnect_max: section.reconnect_max,
            rng_seed: s.rng_seed,
            ..controller::Config::default()
        };
        let mut named = Vec::new();
        for g in &s.gateways {
            // Without an address a TPNCP gateway is refused by the config parser.
            let Some(configured) = &g.address else {
                continue;
            };
            let id = GatewayId::new(&g.name);
            let address = match configured {
                GatewayAddress::Ip(a) => Some(*a),
                GatewayAddress::Name { host, port } => {
                    resolve::first(&mut named, id.clone(), host, *port, false).await
                }
            };
            config.gateways.push(controller::GatewayConfig {
                id,
                address,
                transport: if g.board.udp {
                    Transport::Udp
                } else {
                    Transport::Tcp
                },
                lines: s
                    .lines
                    .get(&g.name)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                rtp_port: g.board.rtp_port,
                byte_order: if g.board.little_endian {
                    ByteOrder::Little
                } else {
                    ByteOrder::Big
                },
            });
        }
        let udp = if s.gateways.iter().any(|g| g.board.udp) {
            let addr = SocketAddr::new(
                if s.config.media.address.is_ipv6() {
                    std::net::Ipv6Addr::UNSPECIFIED.into()
                } else {
                    Ipv4Addr::UNSPECIFIED.into()
                },
                0,
            );
            let socket = UdpSocket::bind(addr)
                .await
                .map_err(|source| Error::Listen {
                    protocol: "TPNCP",
                    addr,
                    source,
                })?;
            Some(socket)
        } else {
            None
        };
        let n = config.gateways.len();
        let core = Host::new(config, driver::now()).map_err(|e| settings(&e))?;
        let counters = s.counters;
        // The resolver looks a board's name up again whenever the host loses it.
        let (poke, pokes) = mpsc::channel(1);
        let mut seen = 0;
        let (handle, events, task) = driver::tpncp::spawn(core, udp, move |core: &Host| {
            let stats = core.stats();
            counters.report(stats.counters());
            let lost = stats.sessions_lost;
            if lost != seen {
                seen = lost;
                let _ = poke.try_send(());
            }
        });
        if !named.is_empty() {
            tokio::spawn(resolve::run(named, handle.downgrade(), pokes, false));
        }
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => info!("TPNCP host stopped"),
                Ok(Err(e)) => warn!(error = %e, "TPNCP host failed"),
                Err(e) => warn!(error = %e, "TPNCP host task failed"),
            }
        });
        info!(gateways = n, "TPNCP host started; connecting to the boards");
        Ok(Running { handle, events })
    })
}
