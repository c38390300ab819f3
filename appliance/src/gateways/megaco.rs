//! The MEGACO driver: one media gateway controller (H.248.1) for every MEGACO gateway, on
//! `[megaco] listen` (UDP and TCP, every encoding) and `listen_binary` (binary only).

use std::net::{IpAddr, SocketAddr};

use gateway_control::driver::{self, megaco::Listener};
use gateway_control::megaco::controller::{self, MediaGatewayController};
use gateway_control::model::GatewayId;
use tokio::net::{TcpListener, UdpSocket};
use tracing::{info, warn};

use super::{Error, Running, Start, Starting};
use crate::config::GatewayAddress;

fn settings(e: &controller::ConfigError) -> Error {
    Error::Settings {
        protocol: "MEGACO",
        message: e.to_string(),
    }
}

async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    let listen = |source| Error::Listen {
        protocol: "MEGACO",
        addr,
        source,
    };
    let udp = UdpSocket::bind(addr).await.map_err(listen)?;
    // TCP on the same port as the UDP socket (which may have been port 0).
    let local = udp.local_addr().map_err(listen)?;
    let tcp = TcpListener::bind(local).await.map_err(listen)?;
    Ok((udp, tcp))
}

/// Binds `[megaco] listen` (and `listen_binary`) and starts the controller on the MEGACO
/// gateways.
pub(super) fn start(s: Start<'_>) -> Starting<'_> {
    Box::pin(async move {
        let section = &s.config.megaco;
        let (udp, tcp) = bind(section.listen).await?;
        let local = udp.local_addr().map_err(|source| Error::Listen {
            protocol: "MEGACO",
            addr: section.listen,
            source,
        })?;
        let mut udps = vec![Listener {
            socket: udp,
            binary_only: false,
        }];
        let mut tcps = vec![Listener {
            socket: tcp,
            binary_only: false,
        }];
        if let Some(addr) = section.listen_binary {
            let (udp, tcp) = bind(addr).await?;
            udps.push(Listener {
                socket: udp,
                binary_only: true,
            });
            tcps.push(Listener {
                socket: tcp,
                binary_only: true,
            });
        }
        let own_ip = if local.ip().is_unspecified() {
            s.config.media.address
        } else {
            local.ip()
        };
        let mut config = controller::Config {
            mid: section
                .mid
                .clone()
                .unwrap_or_else(|| format!("[{own_ip}]:{}", local.port())),
            keepalive: section.keepalive,
            probe_interval: section.probe_interval,
            rng_seed: s.rng_seed,
            ..controller::Config::default()
        };
        for g in &s.gateways {
            let (address, mid_from_address): (Option<IpAddr>, Option<String>) = match &g.address {
                Some(GatewayAddress::Ip(a)) => {
                    (Some(a.ip()), Some(format!("[{}]:{}", a.ip(), a.port())))
                }
                Some(GatewayAddress::Name { host, port }) => {
                    (None, Some(format!("<{host}>:{port}")))
                }
                None => (None, None),
            };
            let Some(mid) = g.mid.clone().or(mid_from_address) else {
                warn!(gateway = %g.name, "a MEGACO gateway needs a mid or an address; left out");
                continue;
            };
            config.gateways.push(controller::GatewayConfig {
                id: GatewayId::new(&g.name),
                mid,
                address,
                lines: s
                    .lines
                    .get(&g.name)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
            });
        }
        let n = config.gateways.len();
        let mid = config.mid.clone();
        let core = MediaGatewayController::new(config, driver::now()).map_err(|e| settings(&e))?;
        let counters = s.counters;
        let (handle, events, task) = driver::megaco::spawn(core, udps, tcps, move |core| {
            counters.report(
                core.stats()
                    .counters()
                    .chain(core.transaction_stats().counters()),
            );
        });
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => info!("MEGACO controller stopped"),
                Ok(Err(e)) => warn!(error = %e, "MEGACO controller failed"),
                Err(e) => warn!(error = %e, "MEGACO controller task failed"),
            }
        });
        info!(address = %local, %mid, gateways = n, "MEGACO controller listening (UDP and TCP)");
        Ok(Running { handle, events })
    })
}
