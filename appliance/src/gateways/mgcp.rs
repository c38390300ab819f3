//! The MGCP driver: one call agent (RFC 3435) for every MGCP gateway, built from `[mgcp]`
//! (`config.mgcp.agent`, already validated) plus the gateways and the notified entity, added
//! through the agent config's setters. Gateways named by DNS name are looked up here, and
//! again by the resolver task (`resolve.rs`).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use gateway_control::driver;
use gateway_control::mgcp;
use gateway_control::model::GatewayId;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{Error, Running, Start, Starting, resolve};
use crate::config::GatewayAddress;

fn settings(e: &mgcp::ConfigError) -> Error {
    Error::Settings {
        protocol: "MGCP",
        message: e.to_string(),
    }
}

/// Binds `[mgcp] listen` and starts the call agent on the MGCP gateways.
pub(super) fn start(s: Start<'_>) -> Starting<'_> {
    Box::pin(async move {
        let addr = s.config.mgcp.listen;
        let listen = |source| Error::Listen {
            protocol: "MGCP",
            addr,
            source,
        };
        let socket = UdpSocket::bind(addr).await.map_err(listen)?;
        let local = socket.local_addr().map_err(listen)?;
        let notified_ip = if local.ip().is_unspecified() {
            s.config.media.address
        } else {
            local.ip()
        };
        let mut agent_config = s.config.mgcp.agent.clone();
        agent_config
            .notified_entity(&format!("offhook@[{notified_ip}]:{}", local.port()))
            .and_then(|c| c.rng_seed(s.rng_seed))
            .map_err(|e| settings(&e))?;
        let v6 = local.is_ipv6();
        let mut named = Vec::new();
        for g in &s.gateways {
            // Without an address an MGCP gateway is refused by the config parser.
            let Some(configured) = &g.address else {
                continue;
            };
            let id = GatewayId::new(&g.name);
            let (address, default_domain) = match configured {
                GatewayAddress::Ip(a) => (*a, format!("[{}]", a.ip())),
                GatewayAddress::Name { host, port } => {
                    let found = resolve::first(&mut named, id.clone(), host, *port, v6).await;
                    // Unspecified: the call agent sends nothing until an address comes.
                    let none = if v6 {
                        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), *port)
                    } else {
                        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), *port)
                    };
                    (found.unwrap_or(none), host.clone())
                }
            };
            agent_config
                .gateway(mgcp::GatewayConfig {
                    id,
                    address,
                    domain: g.domain.clone().unwrap_or(default_domain),
                    lines: s
                        .lines
                        .get(&g.name)
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect(),
                })
                .map_err(|e| settings(&e))?;
        }
        let n = agent_config.gateways.len();
        let agent = mgcp::CallAgent::new(agent_config, driver::now()).map_err(|e| settings(&e))?;
        let counters = s.counters;
        // The resolver looks names up again when the agent hears of a restart, loses a gateway
        // or hears a gateway's endpoints from elsewhere.
        let (poke, pokes) = mpsc::channel(1);
        let mut seen = 0;
        let (handle, events, task) =
            driver::spawn(agent, socket, move |agent: &mgcp::CallAgent| {
                let stats = agent.stats();
                counters.report(stats.counters());
                let moved = stats.restarts + stats.gateway_down + stats.wrong_address;
                if moved != seen {
                    seen = moved;
                    let _ = poke.try_send(());
                }
            });
        if !named.is_empty() {
            tokio::spawn(resolve::run(named, handle.downgrade(), pokes, v6));
        }
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => info!("MGCP call agent stopped"),
                Ok(Err(e)) => warn!(error = %e, "MGCP call agent failed"),
                Err(e) => warn!(error = %e, "MGCP call agent task failed"),
            }
        });
        info!(address = %local, gateways = n, "MGCP call agent listening");
        Ok(Running { handle, events })
    })
}
