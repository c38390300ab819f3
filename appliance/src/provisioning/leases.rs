//! The DHCP server wired to the database: leases and the devices holding them in one commit,
//! reservations from the devices' table, `[dhcp]` turned into the core's configuration.

use super::*;

/// The DHCP core's lease, as stored.
fn row(l: &dhcp::Lease) -> devices::LeaseRow {
    devices::LeaseRow {
        ip: l.ip,
        mac: l.mac,
        expires: l.expires.0,
        state: match l.state {
            dhcp::LeaseState::Bound => "bound",
            dhcp::LeaseState::Released => "released",
            dhcp::LeaseState::Declined => "declined",
        }
        .to_owned(),
        hostname: l.hostname.clone(),
        vendor_class: l.vendor_class.clone(),
    }
}

/// A stored lease, for the DHCP core (`None`: a state this version does not know).
fn lease(r: devices::LeaseRow) -> Option<dhcp::Lease> {
    let state = match r.state.as_str() {
        "bound" => dhcp::LeaseState::Bound,
        "released" => dhcp::LeaseState::Released,
        "declined" => dhcp::LeaseState::Declined,
        _ => return None,
    };
    Some(dhcp::Lease {
        mac: r.mac,
        ip: r.ip,
        expires: dhcp::UnixTime(r.expires),
        state,
        hostname: r.hostname,
        vendor_class: r.vendor_class,
    })
}

/// Leases go to the database's group commit: the ACKs of one batch wait for one fsync. The
/// devices holding bound leases are recorded in the same commit (added, with no user and a
/// vendor guessed from option 60 or the OUI, the first time; their last address and time
/// otherwise), so that a phone is listed before it has its address and can fetch its file at
/// once.
struct DbLeases(VoiceMessaging);

impl dhcp_driver::LeaseStore for DbLeases {
    fn save(
        &self,
        leases: Vec<dhcp::Lease>,
    ) -> Pin<Box<dyn Future<Output = Result<(), dhcp_driver::StoreError>> + Send + '_>> {
        let rows = leases.iter().map(row).collect();
        let seen = leases
            .iter()
            .filter(|l| l.state == dhcp::LeaseState::Bound)
            .map(|l| Seen {
                mac: l.mac,
                vendor: Vendor::guess(l.vendor_class.as_deref(), l.mac).map(|v| v.to_string()),
                vendor_class: l.vendor_class.clone(),
                ip: Some(l.ip),
            })
            .collect();
        Box::pin(async move {
            let new = self
                .0
                .save_leases(rows, seen)
                .await
                .map_err(|e| dhcp_driver::StoreError::Store(e.to_string()))?;
            for mac in new {
                info!(%mac, "a new device on the LAN");
            }
            Ok(())
        })
    }
}

fn options(o: &config::dhcp::Options) -> dhcp::Options {
    dhcp::Options {
        lease_time: o.lease,
        routers: o.routers.clone(),
        dns: o.dns.clone(),
        domain: o.domain.clone(),
        ntp: o.ntp.clone(),
        tftp_server: o.tftp_server.clone(),
        boot_file: o.boot_file.clone(),
        cisco_tftp: o
            .tftp_server
            .as_deref()
            .and_then(|s| s.parse().ok())
            .into_iter()
            .collect(),
        provisioning_url: o.provisioning_url.clone(),
        vendor_specific: o.vendor_specific.clone(),
    }
}

fn subnet(
    network: (Ipv4Addr, u8),
    ranges: &[config::dhcp::Range],
    exclude: &[config::dhcp::Range],
    opts: dhcp::Options,
) -> Result<dhcp::Subnet, dhcp::ConfigError> {
    let mut s = dhcp::Subnet::new(network.0, network.1)?;
    for (a, b) in ranges {
        s = s.range(*a, *b)?;
    }
    for (a, b) in exclude {
        s = s.exclude(*a, *b)?;
    }
    s.options(opts)
}

/// The DHCP core's configuration from `[dhcp]`, for the LAN found, with the reservations of
/// the devices' table after the file's.
fn dhcp_config(
    c: &Config,
    d: &config::Dhcp,
    lan: &Lan,
    reserved: &[(Mac, Ipv4Addr)],
) -> Result<dhcp::Config, dhcp::ConfigError> {
    let mut link = d.options.clone();
    if link.lease.is_none() {
        link.lease = Some(d.lease());
    }
    if link.tftp_server.is_none() && c.tftp.enabled {
        link.tftp_server = Some(lan.tftp_listen(c).ip().to_string());
    }
    if link.provisioning_url.is_none() {
        link.provisioning_url = lan.http_base(c).map(|b| format!("{b}/"));
    }
    let mut core = dhcp::Config::default();
    core.subnet(subnet(lan.network, &d.ranges, &d.exclude, options(&link))?)?;
    for r in &d.relays {
        let mut o = r.options.clone();
        o.tftp_server = o.tftp_server.or_else(|| link.tftp_server.clone());
        o.provisioning_url = o.provisioning_url.or_else(|| link.provisioning_url.clone());
        core.subnet(subnet(r.network, &r.ranges, &r.exclude, options(&o))?)?;
    }
    for r in reservations(d, reserved) {
        core.reservation(r)?;
    }
    for v in &d.vendors {
        core.vendor(dhcp::VendorRule {
            matches: match &v.matches {
                config::dhcp::VendorMatch::Class(c) => dhcp::VendorMatch::VendorClass(c.clone()),
                config::dhcp::VendorMatch::MacPrefix(p) => dhcp::VendorMatch::MacPrefix(p.clone()),
            },
            options: options(&v.options),
        })?;
    }
    core.offer_hold(d.offer_hold)?
        .decline_hold(d.decline_hold)?;
    core.new_clients(dhcp::RateLimit {
        per_second: d.new_clients_per_second,
        burst: d.new_client_burst,
    });
    Ok(core)
}

/// The file's reservations, then the devices' table's for MACs and addresses the file does not
/// already reserve.
fn reservations(d: &config::Dhcp, reserved: &[(Mac, Ipv4Addr)]) -> Vec<dhcp::Reservation> {
    let mut out: Vec<dhcp::Reservation> = d
        .reservations
        .iter()
        .map(|r| dhcp::Reservation {
            mac: r.mac,
            ip: r.ip,
            hostname: r.hostname.clone(),
        })
        .collect();
    for (mac, ip) in reserved {
        if out.iter().any(|r| r.mac == *mac || r.ip == *ip) {
            warn!(%mac, %ip, "a device's reservation clashes with [[dhcp.reservation]]; the file's wins");
            continue;
        }
        out.push(dhcp::Reservation {
            mac: *mac,
            ip: *ip,
            hostname: None,
        });
    }
    out
}

/// Runs the DHCP server on the LAN until the process ends.
pub(super) async fn run_dhcp(
    core: &VoiceMessaging,
    config: &Config,
    d: &config::Dhcp,
    lan: &Lan,
) -> Result<(), Error> {
    let reserved = core.db().read(devices::reservations).await?;
    let dhcp_config =
        dhcp_config(config, d, lan, &reserved).map_err(|e| Error::Config(e.to_string()))?;
    let leases: Vec<dhcp::Lease> = core
        .db()
        .read(devices::leases)
        .await?
        .into_iter()
        .filter_map(lease)
        .collect();
    info!(leases = leases.len(), "DHCP leases loaded");
    let server = dhcp::Server::new(dhcp_config, lan.address, leases)
        .map_err(|e| Error::Config(e.to_string()))?;
    let handle = dhcp_driver::Handle::new(server);
    let (events_tx, mut events) = mpsc::channel(1024);
    // Devices are recorded with their leases (`DbLeases`); the core's events say nothing more
    // the appliance keeps, and are only drained so that none counts as dropped.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    // Reservations edited while serving.
    let (refresh, refresh_core, refresh_d, mut last) =
        (handle.clone(), core.clone(), d.clone(), reserved);
    let mut helpers = Helpers::default();
    helpers.0.push(
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RESERVATIONS_REFRESH);
            loop {
                tick.tick().await;
                let Ok(now) = refresh_core.db().read(devices::reservations).await else {
                    continue;
                };
                if now != last {
                    let all = reservations(&refresh_d, &now);
                    info!(reservations = all.len(), "DHCP reservations reloaded");
                    refresh.set_reservations(all);
                    last = now;
                }
            }
        })
        .abort_handle(),
    );
    let counted = handle.clone();
    helpers.0.push(publish(
        core.metrics(),
        "offhook_dhcp_total",
        "DHCP server messages, leases and drops, by kind.",
        move || counted.with_server(|s| s.stats().counters()).to_vec(),
    ));
    let counted = handle.clone();
    helpers.0.push(publish(
        core.metrics(),
        "offhook_dhcp_driver_total",
        "DHCP socket and lease-store events, by kind.",
        move || counted.driver_stats().counters().to_vec(),
    ));
    let driver_config = dhcp_driver::DriverConfig {
        interface: Some(d.interface.clone()),
        listen: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67),
    };
    let store: Arc<dyn dhcp_driver::LeaseStore> = Arc::new(DbLeases(core.clone()));
    dhcp_driver::run(
        driver_config,
        handle,
        store,
        events_tx,
        std::future::pending(),
    )
    .await
    .map_err(|source| Error::Dir {
        path: PathBuf::from(format!("dhcp on {}", d.interface)),
        source,
    })
}
