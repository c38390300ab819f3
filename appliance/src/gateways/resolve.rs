//! Gateways named by DNS name (`[[gateway]] address = "vg224.example.net"`): resolved when the
//! driver starts, and again when its core reports that a gateway restarted, went unreachable or
//! was heard from another address, every [`REFRESH`], and every [`RETRY`] while a name gives
//! nothing. A new address goes to the core as `Command::GatewayAddress`.
//!
//! Only addresses of the family of the driver's socket are taken (an IPv4 socket cannot send
//! to an IPv6 address), the first in the resolver's order. A name that gives nothing keeps the
//! address it had; one that never gave any leaves the gateway without an address (unspecified:
//! the core sends it nothing).

use std::net::SocketAddr;
use std::time::Duration;

use gateway_control::driver::WeakHandle;
use gateway_control::model::{Command, GatewayId};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// How long one lookup may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(5);
/// Names are looked up again this often anyway.
pub(super) const REFRESH: Duration = Duration::from_secs(300);
/// ... and this often while one of them gives no address.
pub(super) const RETRY: Duration = Duration::from_secs(10);

/// One gateway known by name.
#[derive(Debug, Clone)]
pub(super) struct Named {
    pub(super) gateway: GatewayId,
    pub(super) host: String,
    pub(super) port: u16,
    /// The address the core has, if any.
    pub(super) current: Option<SocketAddr>,
}

/// Looks `host` up with the system resolver; the first address of the family wanted.
pub(super) async fn lookup(host: String, port: u16, v6: bool) -> Option<SocketAddr> {
    match tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await {
        Ok(Ok(mut addrs)) => addrs.find(|a| a.is_ipv6() == v6),
        Ok(Err(e)) => {
            warn!(%host, error = %e, "gateway name does not resolve");
            None
        }
        Err(_) => {
            warn!(%host, "gateway name lookup timed out");
            None
        }
    }
}

/// A gateway's name looked up for the driver's start: remembered in `named` for the resolver
/// task, whatever it gives; its first address, if any.
pub(super) async fn first(
    named: &mut Vec<Named>,
    gateway: GatewayId,
    host: &str,
    port: u16,
    v6: bool,
) -> Option<SocketAddr> {
    let found = lookup(host.to_owned(), port, v6).await;
    if found.is_none() {
        warn!(%gateway, %host, "gateway name gives no address yet: nothing is sent to it until it does");
    }
    named.push(Named {
        gateway,
        host: host.to_owned(),
        port,
        current: found,
    });
    found
}

/// Looks every name up once; the commands that tell the core what changed.
pub(super) async fn round<F, Fut>(named: &mut [Named], mut look: F) -> Vec<Command>
where
    F: FnMut(String, u16) -> Fut,
    Fut: Future<Output = Option<SocketAddr>>,
{
    let mut out = Vec::new();
    for n in named.iter_mut() {
        let Some(address) = look(n.host.clone(), n.port).await else {
            continue;
        };
        if n.current == Some(address) {
            continue;
        }
        info!(gateway = %n.gateway, host = %n.host, %address, "gateway name resolved");
        n.current = Some(address);
        out.push(Command::GatewayAddress {
            gateway: n.gateway.clone(),
            address,
        });
    }
    out
}

/// The resolver task: a round at every poke (the driver's observer sends one when the core's
/// restart, unreachable or wrong-address counters move) and at every refresh. Ends when the
/// driver does (its pokes stop, or its handle is gone).
pub(super) async fn run(
    mut named: Vec<Named>,
    handle: WeakHandle,
    mut pokes: mpsc::Receiver<()>,
    v6: bool,
) {
    // One tick every RETRY; a refresh every REFRESH / RETRY ticks unless a name is missing.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RETRY, RETRY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let refresh_every = (REFRESH.as_secs() / RETRY.as_secs()).max(1);
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            poke = pokes.recv() => if poke.is_none() { return },
            _ = tick.tick() => {
                ticks += 1;
                let missing = named.iter().any(|n| n.current.is_none());
                if !missing && !ticks.is_multiple_of(refresh_every) {
                    continue;
                }
            }
        }
        for command in round(&mut named, |host, port| lookup(host, port, v6)).await {
            let Some(h) = handle.upgrade() else { return };
            if h.send(command).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn named(host: &str) -> Named {
        Named {
            gateway: GatewayId::new(host),
            host: host.to_owned(),
            port: 2427,
            current: None,
        }
    }

    /// A resolver that answers from a script, one answer per lookup.
    fn scripted(
        answers: &[Option<&str>],
    ) -> impl FnMut(String, u16) -> std::future::Ready<Option<SocketAddr>> {
        let answers: Arc<Mutex<VecDeque<Option<SocketAddr>>>> = Arc::new(Mutex::new(
            answers
                .iter()
                .map(|a| a.map(|a| a.parse().unwrap()))
                .collect(),
        ));
        move |_, _| std::future::ready(answers.lock().unwrap().pop_front().flatten())
    }

    #[tokio::test]
    async fn only_changes_are_sent() {
        let mut n = vec![named("vg224")];
        // Nothing yet: nothing sent, still unresolved.
        assert!(round(&mut n, scripted(&[None])).await.is_empty());
        assert_eq!(n[0].current, None);
        // A first address, then the same again, then a move, then a failed lookup.
        let first = round(&mut n, scripted(&[Some("192.0.2.7:2427")])).await;
        assert_eq!(
            first,
            [Command::GatewayAddress {
                gateway: GatewayId::new("vg224"),
                address: "192.0.2.7:2427".parse().unwrap()
            }]
        );
        assert!(
            round(&mut n, scripted(&[Some("192.0.2.7:2427")]))
                .await
                .is_empty()
        );
        let moved = round(&mut n, scripted(&[Some("192.0.2.8:2427")])).await;
        assert_eq!(moved.len(), 1);
        assert!(round(&mut n, scripted(&[None])).await.is_empty());
        assert_eq!(n[0].current, Some("192.0.2.8:2427".parse().unwrap()));
    }

    /// `localhost` comes from the hosts file (no packet leaves the machine): the family asked
    /// for is the one given.
    #[tokio::test]
    async fn the_system_resolver_gives_the_socket_s_family() {
        let v4 = lookup("localhost".into(), 2427, false).await;
        assert_eq!(v4, Some("127.0.0.1:2427".parse().unwrap()));
        if let Some(v6) = lookup("localhost".into(), 2427, true).await {
            assert!(v6.is_ipv6());
        }
    }
}
