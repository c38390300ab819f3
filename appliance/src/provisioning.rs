//! LAN provisioning, wired to the core: the DHCP server (leases in the database, devices added
//! as DHCP first sees them, reservations from the devices' table), the TFTP server and the
//! HTTP provisioning server (the phones' generated files, the TFTP root, firmware).
//!
//! All of it is off until `[dhcp] interface` names the LAN. The interface may not be up when
//! the appliance starts (a cable, a late network service): the servers wait for its address,
//! trying again every few seconds, and the rest of the appliance runs meanwhile.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use offhook_domain::VoiceMessaging;
use offhook_domain::db::{self, devices};
use offhook_domain::devices::Seen;
use provisioning::Mac;
use provisioning::dhcp::{self, driver as dhcp_driver};
use provisioning::files::Refusal;
use provisioning::templates::{self, Device, Directory, Overrides, Provisioner, Site, Vendor};
use provisioning::{http, tftp};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::{self, Config};

/// How often the servers look for the LAN interface's address while it has none.
const INTERFACE_RETRY: Duration = Duration::from_secs(5);
/// How often reservations are read again from the devices' table (edited by `offhook device`
/// while the server runs).
const RESERVATIONS_REFRESH: Duration = Duration::from_secs(5);
/// Connections the HTTP provisioning server keeps waiting for a request head: a boot storm opens
/// one per phone at once, and the front counts a connection idle until its head is read (the
/// API's 256 would close phones whose request is already on its way).
const PROVISIONING_MAX_IDLE: usize = 4096;
/// How often the counters reach /metrics.
const METRICS_INTERVAL: Duration = Duration::from_secs(1);

/// Why provisioning could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is refused by a server core.
    #[error("{0}")]
    Config(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] db::Error),
    /// A directory could not be made or opened.
    #[error("{path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The generated files' source, shared by TFTP, HTTP and the API (which swaps it when the
/// owner edits a template).
#[derive(Clone)]
pub struct Files {
    provisioner: Arc<RwLock<Arc<Provisioner>>>,
    overrides_dir: Option<PathBuf>,
    core: VoiceMessaging,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files").finish_non_exhaustive()
    }
}

impl Files {
    /// The provisioner now in force.
    pub fn provisioner(&self) -> Arc<Provisioner> {
        self.provisioner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Builds the provisioner again with the templates now in the database (after an edit).
    pub async fn reload_templates(&self) -> Result<(), Error> {
        let site = self.provisioner().site().clone();
        let rows = self.core.db().read(devices::templates).await?;
        let overrides = overrides(self.overrides_dir.as_deref(), &rows)?;
        let directory: Arc<dyn Directory> = Arc::new(PhoneDirectory(self.core.clone()));
        let p = Provisioner::new(site, directory, overrides)
            .map_err(|e| Error::Config(e.to_string()))?;
        *self
            .provisioner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(p);
        Ok(())
    }
}

/// The owner's templates: the `[provisioning] templates` directory's, then the database's
/// (edited from the API) over them.
fn overrides(dir: Option<&Path>, rows: &[(String, String, String)]) -> Result<Overrides, Error> {
    let mut o = match dir {
        Some(d) => Overrides::from_dir(d).map_err(|e| Error::Config(e.to_string()))?,
        None => Overrides::new(),
    };
    for (vendor, kind, source) in rows {
        let Ok(v) = vendor.parse::<Vendor>() else {
            warn!(
                vendor,
                kind, "a stored template names an unknown vendor; ignored"
            );
            continue;
        };
        if let Err(e) = o.set(v, kind, source.clone()) {
            warn!(vendor, kind, error = %e, "a stored template does not compile; the default is used");
        }
    }
    Ok(o)
}

/// The devices' table, as the templates see it.
struct PhoneDirectory(VoiceMessaging);

impl Directory for PhoneDirectory {
    fn device(&self, mac: Mac) -> Option<Device> {
        let profile = match self.0.device_profile_blocking(mac) {
            Ok(p) => p?,
            Err(e) => {
                warn!(%mac, error = %e, "cannot read a device");
                return None;
            }
        };
        let vendor = profile.device.vendor.as_deref()?.parse::<Vendor>().ok()?;
        Some(Device {
            mac,
            vendor,
            model: profile.device.model.clone(),
            user: profile.owner.map(|(o, secret)| templates::Account {
                username: o.username,
                display: o.display,
                sip_username: o.sip_username,
                sip_secret: secret,
                number: None,
            }),
            http_secret: Some(profile.http_secret),
        })
    }
}

/// Publishes a family of counters to /metrics every [`METRICS_INTERVAL`], for as long as the
/// process runs.
fn publish(
    metrics: &Arc<offhook_domain::metrics::Metrics>,
    family: &'static str,
    help: &'static str,
    counters: impl Fn() -> Vec<(&'static str, u64)> + Send + 'static,
) {
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_INTERVAL);
        loop {
            tick.tick().await;
            metrics.set_family(family, help, counters());
        }
    });
}

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

/// Where the LAN's services are, once the interface has its address.
#[derive(Debug, Clone)]
struct Lan {
    address: Ipv4Addr,
    network: (Ipv4Addr, u8),
}

impl Lan {
    fn tftp_listen(&self, c: &Config) -> SocketAddr {
        c.tftp
            .listen
            .unwrap_or(SocketAddr::V4(SocketAddrV4::new(self.address, 69)))
    }

    /// The HTTP provisioning base URL phones are told of (option 160, the templates).
    fn http_base(&self, c: &Config) -> Option<String> {
        let listen = c.provisioning.http_listen?;
        let host = match listen.ip() {
            IpAddr::V4(a) if a.is_unspecified() => self.address,
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => self.address,
        };
        let scheme = if c.provisioning.tls { "https" } else { "http" };
        Some(format!("{scheme}://{host}:{}", listen.port()))
    }
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

/// The site the phones' files describe.
fn site(c: &Config, lan: &Lan) -> Site {
    let p = &c.provisioning;
    let registrar = p
        .registrar
        .clone()
        .unwrap_or_else(|| lan.address.to_string());
    let ntp = if !p.ntp.is_empty() {
        p.ntp.clone()
    } else {
        let from_dhcp: Vec<String> = c
            .dhcp
            .iter()
            .flat_map(|d| d.options.ntp.iter().map(ToString::to_string))
            .collect();
        if from_dhcp.is_empty() {
            vec![registrar.clone()]
        } else {
            from_dhcp
        }
    };
    Site {
        registrar,
        sip_port: p.sip_port,
        ntp,
        timezone: p.timezone.clone(),
        provisioning_url: lan.http_base(c),
        name: p.name.clone(),
    }
}

/// Waits until `interface` has an IPv4 address; its network comes from `[dhcp] subnet`, else
/// the interface's own prefix.
async fn wait_for_lan(d: &config::Dhcp) -> Lan {
    let mut warned = false;
    let mut retry = tokio::time::interval(INTERFACE_RETRY);
    loop {
        retry.tick().await;
        match dhcp_driver::interface_ipv4_net(&d.interface) {
            Ok((address, prefix)) => {
                let network = d.subnet.unwrap_or_else(|| {
                    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                    (Ipv4Addr::from(u32::from(address) & mask), prefix)
                });
                return Lan { address, network };
            }
            Err(e) => {
                if !warned {
                    warn!(interface = %d.interface, error = %e, "the LAN interface has no IPv4 address yet; provisioning waits for it");
                    warned = true;
                }
            }
        }
    }
}

/// Starts what `[dhcp]`, `[tftp]` and `[provisioning]` ask for; returns the files' source for
/// the API when provisioning is on.
pub async fn start(
    core: &VoiceMessaging,
    config: &Config,
    data_dir: &Path,
) -> Result<Option<Files>, Error> {
    let Some(d) = config.dhcp.clone() else {
        if config.tftp.enabled || config.provisioning.http_listen.is_some() {
            warn!("[tftp] and [provisioning] serve only with [dhcp] interface set; they are off");
        }
        return Ok(None);
    };
    // The files' source exists at once (the API edits templates whether or not the LAN is up);
    // its site is completed when the LAN's address is known.
    let rows = core.db().read(devices::templates).await?;
    let overrides_dir = config
        .provisioning
        .templates
        .as_ref()
        .map(|t| data_dir.join(t));
    let directory: Arc<dyn Directory> = Arc::new(PhoneDirectory(core.clone()));
    let provisioner = Provisioner::new(
        Site::default(),
        directory,
        overrides(overrides_dir.as_deref(), &rows)?,
    )
    .map_err(|e| Error::Config(e.to_string()))?;
    let files = Files {
        provisioner: Arc::new(RwLock::new(Arc::new(provisioner))),
        overrides_dir,
        core: core.clone(),
    };
    let tftp_root = data_dir.join(&config.tftp.root);
    if config.tftp.enabled {
        std::fs::create_dir_all(&tftp_root).map_err(|source| Error::Dir {
            path: tftp_root.clone(),
            source,
        })?;
    }
    let (core, config, started) = (core.clone(), config.clone(), files.clone());
    let data_dir = data_dir.to_owned();
    tokio::spawn(async move {
        let lan = wait_for_lan(&d).await;
        info!(interface = %d.interface, address = %lan.address, network = %format_args!("{}/{}", lan.network.0, lan.network.1), "LAN provisioning");
        {
            let p = started.provisioner();
            let mut p = (*p).clone();
            if let Err(e) = p.set_site(site(&config, &lan)) {
                warn!(error = %e, "the provisioning site is refused");
            }
            *started
                .provisioner
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(p);
        }
        if config.tftp.enabled {
            let (core, config, files, lan) =
                (core.clone(), config.clone(), started.clone(), lan.clone());
            tokio::spawn(async move {
                if let Err(e) = run_tftp(&core, &config, files, &lan, &tftp_root).await {
                    warn!(error = %e, "the TFTP server stopped");
                }
            });
        }
        if let Some(listen) = config.provisioning.http_listen {
            let (config, files, data_dir) = (config.clone(), started.clone(), data_dir.clone());
            tokio::spawn(async move {
                if let Err(e) = run_http(&config, files, listen, &data_dir).await {
                    warn!(error = %e, "the HTTP provisioning server stopped");
                }
            });
        }
        if let Err(e) = run_dhcp(&core, &config, &d, &lan).await {
            warn!(error = %e, "the DHCP server stopped");
        }
    });
    Ok(Some(files))
}

/// What TFTP serves: the phones' generated files by name, then the TFTP root's files, then
/// firmware.
struct TftpFiles {
    files: Files,
    root: provisioning::files::Root,
    firmware: Option<provisioning::files::Root>,
}

impl tftp::server::Files for TftpFiles {
    fn open(&self, name: &str, peer: SocketAddr) -> Result<tftp::server::Content, Refusal> {
        match self.files.provisioner().render(name) {
            Ok(Some(r)) => {
                info!(%peer, file = name, mac = ?r.device, bytes = r.body.len(), "TFTP: a phone's file");
                return Ok(tftp::server::Content::Memory(r.body.into()));
            }
            // A provisioning name for a phone we do not know: not found, whatever the root holds.
            Err(templates::RenderError::NotFound { .. }) => return Err(Refusal::NotFound),
            Err(e) => {
                warn!(%peer, file = name, error = %e, "TFTP: a phone's file failed");
                return Err(Refusal::NotFound);
            }
            Ok(None) => {}
        }
        match tftp::server::Files::open(&self.root, name, peer) {
            Err(Refusal::NotFound) if self.firmware.is_some() => {
                let firmware = self.firmware.as_ref().ok_or(Refusal::NotFound)?;
                tftp::server::Files::open(firmware, name, peer)
            }
            other => other,
        }
    }
}

fn firmware_root(config: &Config) -> Option<provisioning::files::Root> {
    let dir = config.provisioning.firmware.as_ref()?;
    match provisioning::files::Root::new(dir.clone()) {
        Ok(r) => Some(r),
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "the firmware directory cannot be served");
            None
        }
    }
}

/// Runs the TFTP server on the LAN until the process ends.
async fn run_tftp(
    core: &VoiceMessaging,
    config: &Config,
    files: Files,
    lan: &Lan,
    root: &Path,
) -> Result<(), Error> {
    let io = |source| Error::Dir {
        path: root.to_owned(),
        source,
    };
    let t = &config.tftp;
    let mut transfer = tftp::transfer::Config::default();
    transfer
        .max_blksize(t.max_blksize)
        .and_then(|c| c.max_windowsize(t.max_window))
        .and_then(|c| c.timeout(t.timeout))
        .map_err(|e| Error::Config(format!("[tftp]: {e}")))?
        .retries(t.retries);
    let driver = tftp::driver::DriverConfig {
        listen: lan.tftp_listen(config),
        interface: config.dhcp.as_ref().map(|d| d.interface.clone()),
        max_transfers: t.max_transfers,
        transfer,
    };
    let served = TftpFiles {
        files,
        root: provisioning::files::Root::new(root.to_owned()).map_err(io)?,
        firmware: firmware_root(config),
    };
    let server = tftp::driver::Tftpd::bind(driver, Arc::new(served)).map_err(io)?;
    let handle = server.handle();
    publish(
        core.metrics(),
        "offhook_tftp_total",
        "TFTP requests, transfers and drops, by kind.",
        move || tftp_counters(&handle.stats()),
    );
    server.run(std::future::pending()).await.map_err(io)
}

fn tftp_counters(s: &tftp::server::Stats) -> Vec<(&'static str, u64)> {
    vec![
        ("requests", s.requests),
        ("started", s.started),
        ("completed", s.completed),
        ("failed", s.failed),
        ("timed_out", s.timed_out),
        ("refused_not_found", s.refused.not_found),
        ("refused_forbidden", s.refused.forbidden),
        ("refused_write", s.refused.write),
        ("refused_mode", s.refused.mode),
        ("refused_busy", s.refused.busy),
        ("refused_io", s.refused.io),
        ("malformed", s.malformed),
        ("timeouts", s.timeouts),
        ("retransmits", s.retransmits),
        ("bytes", s.bytes),
        ("wrong_tid", s.wrong_tid),
        ("transfer_malformed", s.transfer_malformed),
    ]
}

/// Runs the HTTP provisioning server until the process ends, behind the same front as the API
/// (request-head timeout, idle-connection limit, and HTTPS with the appliance's certificate when
/// `provisioning.tls` is on).
async fn run_http(
    config: &Config,
    files: Files,
    listen: SocketAddr,
    data_dir: &Path,
) -> Result<(), Error> {
    let io = |source| Error::Dir {
        path: PathBuf::from(format!("http provisioning on {listen}")),
        source,
    };
    let tls = if config.provisioning.tls {
        // The owner's certificate when the API has one, else the self-signed one of DATA/tls.
        let owners = match &config.http.tls {
            config::Tls::On { files, .. } => files.clone(),
            config::Tls::Off => None,
        };
        let certificate = crate::server::certificate(data_dir, listen, owners.as_ref())
            .map_err(|e| Error::Config(format!("provisioning.tls: {e}")))?;
        Some(offhook_web::front::Tls {
            config: certificate.server_config(),
            plain_on_loopback: false,
        })
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(io)?;
    let source = files.clone();
    let mut state = http::HttpState::new(Arc::new(move || source.provisioner()));
    state.firmware = firmware_root(config);
    state.auth = match &config.provisioning.auth {
        config::provisioning::HttpAuth::None => None,
        config::provisioning::HttpAuth::Device => Some(http::HttpAuth::PerDevice),
        config::provisioning::HttpAuth::Shared { user, password } => Some(http::HttpAuth::Shared {
            user: user.clone(),
            password: password.clone(),
        }),
    };
    let state = Arc::new(state);
    info!(%listen, https = tls.is_some(), "HTTP provisioning listening");
    let counted = state.clone();
    publish(
        files.core.metrics(),
        "offhook_provisioning_http_total",
        "HTTP provisioning requests, by outcome.",
        move || {
            let c = counted.stats.counts();
            vec![
                ("served", c.served),
                ("not_found", c.not_found),
                ("forbidden", c.forbidden),
                ("unauthorized", c.unauthorized),
                ("bad_request", c.bad_request),
                ("failed", c.failed),
            ]
        },
    );
    let front = Arc::new(offhook_web::front::FrontStats::default());
    let counted = front.clone();
    publish(
        files.core.metrics(),
        "offhook_provisioning_front_total",
        "HTTP provisioning connections closed to make room, failed accepts and TLS handshakes.",
        move || counted.counters().to_vec(),
    );
    let limits = offhook_web::front::Limits {
        max_idle: PROVISIONING_MAX_IDLE,
        ..offhook_web::front::Limits::default()
    };
    offhook_web::front::serve(
        listener,
        http::router(state),
        limits,
        tls,
        front,
        std::future::pending(),
    )
    .await
    .map_err(io)
}

/// Runs the DHCP server on the LAN until the process ends.
async fn run_dhcp(
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
    });
    let counted = handle.clone();
    publish(
        core.metrics(),
        "offhook_dhcp_total",
        "DHCP server messages, leases and drops, by kind.",
        move || counted.with_server(|s| s.stats().counters()).to_vec(),
    );
    let counted = handle.clone();
    publish(
        core.metrics(),
        "offhook_dhcp_driver_total",
        "DHCP socket and lease-store events, by kind.",
        move || counted.driver_stats().counters().to_vec(),
    );
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

/// The API's side of provisioning ([`offhook_web::devices::Provisioning`]).
#[derive(Debug)]
pub struct Api {
    files: Files,
    dhcp: serde_json::Value,
}

impl Api {
    /// The API over `files`, describing `[dhcp]` as `config` has it.
    pub fn new(files: Files, config: &Config) -> Self {
        let dhcp = config.dhcp.as_ref().map_or(serde_json::Value::Null, |d| {
            let range = |r: &config::dhcp::Range| format!("{}-{}", r.0, r.1);
            serde_json::json!({
                "interface": d.interface,
                "subnet": d.subnet.map(|(n, p)| format!("{n}/{p}")),
                "range": d.ranges.iter().map(range).collect::<Vec<_>>(),
                "exclude": d.exclude.iter().map(range).collect::<Vec<_>>(),
                "router": d.options.routers,
                "dns": d.options.dns,
                "ntp": d.options.ntp,
                "domain": d.options.domain,
                "lease_seconds": d.lease().as_secs(),
                "tftp_server": d.options.tftp_server,
                "provisioning_url": d.options.provisioning_url,
                "reservations": d.reservations.iter().map(|r| serde_json::json!({"mac": r.mac, "ip": r.ip})).collect::<Vec<_>>(),
                "relays": d.relays.iter().map(|r| serde_json::json!({
                    "network": format!("{}/{}", r.network.0, r.network.1),
                    "range": r.ranges.iter().map(range).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "new_clients_per_second": d.new_clients_per_second,
                "new_client_burst": d.new_client_burst,
            })
        });
        Self { files, dhcp }
    }
}

impl offhook_web::devices::Provisioning for Api {
    fn render(&self, mac: Mac, name: &str) -> Result<Option<(&'static str, Vec<u8>)>, String> {
        match self.files.provisioner().render(name) {
            Ok(Some(r)) if r.device.is_none_or(|d| d == mac) => Ok(Some((r.content_type, r.body))),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn check_template(&self, vendor: Vendor, kind: &str, source: &str) -> Result<(), String> {
        Overrides::new()
            .set(vendor, kind, source.to_owned())
            .map_err(|e| e.to_string())
    }

    fn reload_templates(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.files
                .reload_templates()
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn dhcp(&self) -> serde_json::Value {
        self.dhcp.clone()
    }

    fn template_kinds(&self) -> Vec<(Vendor, &'static str)> {
        templates::template_names().to_vec()
    }

    fn default_template(&self, vendor: Vendor, kind: &str) -> Option<&'static str> {
        templates::default_source(vendor, kind)
    }
}
