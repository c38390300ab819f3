//! Applies the LAN's settings (`lan.address`, `lan.gateway`, `dhcp.server`, `dhcp.pool`;
//! [`offhook_domain::network`]) to the machine: at start, and each time the front panel or the
//! web console changes them.
//!
//! - The address goes on `[network] interface` with iproute2's `ip` (the appliance's service
//!   has `CAP_NET_ADMIN`): the interface's other global IPv4 addresses are removed, the new one
//!   added, the link set up; the gateway becomes the default route through the interface (none:
//!   the default route through it is removed). An
//!   address already in place alone is left untouched, so a start changes nothing that is right.
//! - The DHCP server ([`crate::provisioning::DhcpServer`]) is started, stopped, or restarted
//!   with the new pool and subnet, after the address is in place (it serves from it).
//!
//! What it did, or why it could not, goes to the core's health (`network` part). A failure
//! leaves the settings as they were set (the database holds them); the next change, or the
//! next start, tries again.

use std::net::Ipv4Addr;

use offhook_domain::VoiceMessaging;
use offhook_domain::network::{Cidr, Network};
use tokio::process::Command;
use tracing::{info, warn};

use crate::config::{self, Config};
use crate::provisioning::DhcpServer;

/// Starts applying: now, then on every change, until the process ends.
pub fn spawn(core: &VoiceMessaging, config: &Config) -> tokio::task::JoinHandle<()> {
    let mut watch = core.watch_network();
    let (core, config) = (core.clone(), config.clone());
    tokio::spawn(async move {
        let mut dhcp = DhcpServer::new(&core, &config);
        loop {
            let asked = watch.borrow_and_update().clone();
            let outcome = apply(&config, &asked, &mut dhcp).await;
            match &outcome {
                Ok(what) => info!(%what, "LAN settings applied"),
                Err(why) => warn!(%why, "LAN settings not applied"),
            }
            core.network_applied(outcome);
            if watch.changed().await.is_err() {
                return;
            }
        }
    })
}

/// Applies `asked`; says what is in force, in words, or why not.
async fn apply(config: &Config, asked: &Network, dhcp: &mut DhcpServer) -> Result<String, String> {
    let mut said = Vec::new();
    match (&config.network.interface, asked.address) {
        (Some(interface), Some(address)) => {
            set_address(interface, address, asked.gateway).await?;
            said.push(match asked.gateway {
                Some(g) => format!("{interface} {address} via {g}"),
                None => format!("{interface} {address}"),
            });
        }
        (None, Some(_)) => {
            dhcp.set(None).await;
            return Err(
                "lan.address is set, but no [network] interface is named: not applied".into(),
            );
        }
        (_, None) => said.push("the LAN interface's address is left to the system".into()),
    }
    match served(config, asked) {
        Ok(Some(d)) => {
            let pools: Vec<String> = d.ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            said.push(format!(
                "DHCP server on {} ({})",
                d.interface,
                pools.join(", ")
            ));
            dhcp.set(Some(d)).await;
        }
        Ok(None) => {
            said.push("DHCP server off".into());
            dhcp.set(None).await;
        }
        Err(why) => {
            dhcp.set(None).await;
            return Err(why);
        }
    }
    Ok(said.join("; "))
}

/// What the DHCP server serves with `asked` in force: the file's `[dhcp]` (or, without one, a
/// plain server on `[network] interface`) with the pool, subnet and router the settings give.
fn served(config: &Config, asked: &Network) -> Result<Option<config::Dhcp>, String> {
    if !asked.dhcp {
        return Ok(None);
    }
    let file = &config.network.lan;
    let mut d = match (&config.dhcp, &config.network.interface) {
        (Some(d), _) => d.clone(),
        (None, Some(interface)) => plain(interface),
        (None, None) => {
            return Err("dhcp.server is on, but no [network] interface is named to serve".into());
        }
    };
    if asked.pool != file.pool
        && let Some(pool) = asked.pool
    {
        d.ranges = vec![pool];
        d.exclude.retain(|(a, b)| *a >= pool.0 && *b <= pool.1);
    }
    if let Some(lan) = asked.address
        && config.network.interface.as_deref() == Some(d.interface.as_str())
    {
        d.subnet = Some((lan.network(), lan.prefix));
    }
    // The router phones are told of follows the gateway, unless the file names another.
    let routers = &d.options.routers;
    if routers.is_empty() || file.gateway.is_some_and(|g| routers == &[g]) {
        d.options.routers = asked.gateway.into_iter().collect();
    }
    Ok(Some(d))
}

/// A DHCP server on `interface` with nothing but the defaults (its pool and subnet are set
/// after).
fn plain(interface: &str) -> config::Dhcp {
    use config::dhcp::*;
    Dhcp {
        interface: interface.to_owned(),
        subnet: None,
        ranges: Vec::new(),
        exclude: Vec::new(),
        options: Options {
            lease: Some(DEFAULT_LEASE),
            ..Options::default()
        },
        new_clients_per_second: DEFAULT_NEW_CLIENTS_PER_SECOND,
        new_client_burst: DEFAULT_NEW_CLIENT_BURST,
        offer_hold: DEFAULT_OFFER_HOLD,
        decline_hold: DEFAULT_DECLINE_HOLD,
        reservations: Vec::new(),
        vendors: Vec::new(),
        relays: Vec::new(),
    }
}

/// Runs `ip ARGS`; its complaint on failure.
async fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The interface's global IPv4 addresses, from `ip -4 -o addr show`.
fn addresses(listing: &str) -> Vec<Cidr> {
    listing
        .lines()
        .filter(|l| l.contains(" scope global"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            Cidr::parse(words.next()?).ok()
        })
        .collect()
}

/// One `ip` command, and whether its failure is only to be expected (deleting what may not be
/// there).
type IpCommand = (Vec<String>, bool);

/// The `ip` commands that put `address` alone on `interface`, which now has `now`, set it up,
/// and route the default through `gateway` (none: no default route through it).
fn address_commands(
    interface: &str,
    now: &[Cidr],
    address: Cidr,
    gateway: Option<Ipv4Addr>,
) -> Vec<IpCommand> {
    let cmd = |words: &[&str], may_fail: bool| -> IpCommand {
        (words.iter().map(|w| (*w).to_owned()).collect(), may_fail)
    };
    let mut out = Vec::new();
    if now != [address] {
        out.push(cmd(
            &["-4", "addr", "flush", "dev", interface, "scope", "global"],
            false,
        ));
        let a = address.to_string();
        out.push(cmd(
            &["-4", "addr", "add", &a, "broadcast", "+", "dev", interface],
            false,
        ));
    }
    out.push(cmd(&["link", "set", "dev", interface, "up"], false));
    out.push(match gateway {
        Some(g) => cmd(
            &[
                "-4",
                "route",
                "replace",
                "default",
                "via",
                &g.to_string(),
                "dev",
                interface,
            ],
            false,
        ),
        None => cmd(&["-4", "route", "del", "default", "dev", interface], true),
    });
    out
}

/// Puts `address` (alone) on `interface`, sets it up, and routes the default through `gateway`.
async fn set_address(
    interface: &str,
    address: Cidr,
    gateway: Option<Ipv4Addr>,
) -> Result<(), String> {
    let now = addresses(&ip(&["-4", "-o", "addr", "show", "dev", interface]).await?);
    if now != [address] {
        info!(%interface, from = ?now.iter().map(ToString::to_string).collect::<Vec<_>>(), to = %address, "LAN address set");
    }
    for (words, may_fail) in address_commands(interface, &now, address, gateway) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Err(e) = ip(&words).await
            && !may_fail
        {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse("test.toml", text).unwrap()
    }

    fn asked(pairs: &[(&str, &str)]) -> Network {
        let mut n = Network::default();
        for (k, v) in pairs {
            n.set(k, v).unwrap();
        }
        n
    }

    #[test]
    fn ip_listings_give_the_global_addresses() {
        let listing = "2: lan0    inet 192.0.2.10/24 brd 192.0.2.255 scope global lan0\\       valid_lft forever preferred_lft forever\n\
                       2: lan0    inet 169.254.3.4/16 scope link lan0\\       valid_lft forever\n\
                       2: lan0    inet 198.51.100.7/25 scope global secondary lan0\\ valid_lft forever\n";
        assert_eq!(
            addresses(listing),
            [
                Cidr::parse("192.0.2.10/24").unwrap(),
                Cidr::parse("198.51.100.7/25").unwrap()
            ]
        );
        assert!(addresses("").is_empty());
    }

    #[test]
    fn an_address_is_replaced_only_when_it_is_not_the_only_one() {
        let want = Cidr::parse("192.0.2.10/24").unwrap();
        let line =
            |c: &IpCommand| format!("{}{}", c.0.join(" "), if c.1 { " (may fail)" } else { "" });
        let lines = |now: &[Cidr], g| {
            address_commands("lan0", now, want, g)
                .iter()
                .map(line)
                .collect::<Vec<_>>()
        };
        let gw = Some(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(
            lines(&[want], gw),
            [
                "link set dev lan0 up",
                "-4 route replace default via 192.0.2.1 dev lan0"
            ],
            "already right: the address is left alone"
        );
        let other = Cidr::parse("192.0.2.2/24").unwrap();
        for now in [&[][..], &[other], &[want, other]] {
            assert_eq!(
                lines(now, None),
                [
                    "-4 addr flush dev lan0 scope global",
                    "-4 addr add 192.0.2.10/24 broadcast + dev lan0",
                    "link set dev lan0 up",
                    "-4 route del default dev lan0 (may fail)"
                ],
                "{now:?}"
            );
        }
    }

    #[test]
    fn the_dhcp_server_follows_the_settings() {
        let c = config("[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\n");
        let on = [
            ("lan.address", "192.0.2.10/24"),
            ("lan.gateway", "192.0.2.1"),
            ("dhcp.pool", "192.0.2.100-192.0.2.199"),
            ("dhcp.server", "on"),
        ];
        assert_eq!(served(&c, &asked(&on[..3])), Ok(None), "off");
        let d = served(&c, &asked(&on)).unwrap().unwrap();
        assert_eq!(d.interface, "lan0");
        assert_eq!(d.subnet, Some((Ipv4Addr::new(192, 0, 2, 0), 24)));
        assert_eq!(
            d.ranges,
            [(Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 199))]
        );
        assert_eq!(d.options.routers, [Ipv4Addr::new(192, 0, 2, 1)]);
        assert_eq!(d.options.lease, Some(config::dhcp::DEFAULT_LEASE));
        let e = served(&config(""), &asked(&on)).unwrap_err();
        assert!(e.contains("no [network] interface"), "{e}");
    }

    #[test]
    fn the_files_dhcp_keeps_its_options_and_takes_the_new_pool() {
        let c = config(
            "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\ngateway = \"192.0.2.1\"\n\
             [dhcp]\ninterface = \"lan0\"\nrange = [\"192.0.2.100-192.0.2.149\", \"192.0.2.160-192.0.2.199\"]\n\
             exclude = [\"192.0.2.120-192.0.2.121\", \"192.0.2.170\"]\n\
             router = \"192.0.2.1\"\ndns = \"192.0.2.53\"\n",
        );
        let file = c.network.lan.clone();
        let d = served(&c, &file).unwrap().unwrap();
        assert_eq!(
            d,
            {
                let mut d = c.dhcp.clone().unwrap();
                d.subnet = Some((Ipv4Addr::new(192, 0, 2, 0), 24));
                d
            },
            "the file's own settings: the file's [dhcp], every range"
        );
        let mut moved = file.clone();
        moved.set("lan.gateway", "192.0.2.254").unwrap();
        moved.set("dhcp.pool", "192.0.2.100-192.0.2.150").unwrap();
        let d = served(&c, &moved).unwrap().unwrap();
        assert_eq!(
            d.ranges,
            [(Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 150))]
        );
        assert_eq!(
            d.exclude,
            [(Ipv4Addr::new(192, 0, 2, 120), Ipv4Addr::new(192, 0, 2, 121))],
            "exclusions outside the new pool go"
        );
        assert_eq!(d.options.routers, [Ipv4Addr::new(192, 0, 2, 254)]);
        assert_eq!(d.options.dns, [Ipv4Addr::new(192, 0, 2, 53)]);
    }
}
