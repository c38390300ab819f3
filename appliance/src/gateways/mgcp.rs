//! The MGCP driver: one call agent (RFC 3435) for every MGCP gateway, built from `[mgcp]`
//! (`config.mgcp.agent`, already validated) plus the gateways and the notified entity, added
//! through the agent config's setters.

use gateway_control::driver;
use gateway_control::mgcp;
use gateway_control::model::GatewayId;
use tokio::net::UdpSocket;
use tracing::{info, warn};

use super::{Error, Running, Start, Starting};

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
        for g in &s.gateways {
            // Without an address an MGCP gateway is refused by the config parser.
            let Some(address) = g.address else { continue };
            agent_config
                .gateway(mgcp::GatewayConfig {
                    id: GatewayId::new(&g.name),
                    address,
                    domain: g
                        .domain
                        .clone()
                        .unwrap_or_else(|| format!("[{}]", address.ip())),
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
        let (handle, events, task) =
            driver::spawn(agent, socket, move |agent: &mgcp::CallAgent| {
                counters.report(agent.stats().counters());
            });
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
