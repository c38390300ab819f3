//! LAN provisioning, wired to the core: the DHCP server (leases in the database, devices added
//! as DHCP first sees them, reservations from the devices' table), the TFTP server and the
//! HTTP provisioning server (the phones' generated files, the TFTP root, firmware).
//!
//! TFTP and HTTP provisioning are off until `[dhcp] interface` names the LAN; the DHCP server
//! is on while the setting `dhcp.server` is ([`DhcpServer`], driven by [`crate::network`]). The
//! interface may not be up when
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

mod api;
mod leases;
mod serve;

pub use api::Api;
use leases::run_dhcp;
use serve::{run_http, run_tftp};

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

/// Publishes a family of counters to /metrics every [`METRICS_INTERVAL`], until the handle
/// returned is aborted (or for as long as the process runs).
fn publish(
    metrics: &Arc<offhook_domain::metrics::Metrics>,
    family: &'static str,
    help: &'static str,
    counters: impl Fn() -> Vec<(&'static str, u64)> + Send + 'static,
) -> tokio::task::AbortHandle {
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_INTERVAL);
        loop {
            tick.tick().await;
            metrics.set_family(family, help, counters());
        }
    })
    .abort_handle()
}

/// Tasks that serve a server and end with it: aborted when this is dropped (the server's own
/// future ended, or was aborted when the DHCP server was switched off).
#[derive(Debug, Default)]
struct Helpers(Vec<tokio::task::AbortHandle>);

impl Drop for Helpers {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// The DHCP server, switched on, off or restarted as the LAN's settings change (from the front
/// panel or the web console): [`Self::set`] stops the one serving, if its settings differ, and
/// starts the new one once the old one's socket is closed.
#[derive(Debug)]
pub struct DhcpServer {
    core: VoiceMessaging,
    config: Config,
    running: Option<(config::Dhcp, tokio::task::JoinHandle<()>)>,
}

impl DhcpServer {
    /// Nothing served yet.
    pub fn new(core: &VoiceMessaging, config: &Config) -> Self {
        Self {
            core: core.clone(),
            config: config.clone(),
            running: None,
        }
    }

    /// What it serves now.
    pub fn serving(&self) -> Option<&config::Dhcp> {
        self.running.as_ref().map(|(d, _)| d)
    }

    /// Serves with `d` from now on (`None`: stops serving).
    pub async fn set(&mut self, d: Option<config::Dhcp>) {
        if self.serving() == d.as_ref() {
            return;
        }
        if let Some((old, task)) = self.running.take() {
            task.abort();
            // Cancelled: its socket is closed once this returns.
            let _ = task.await;
            info!(interface = %old.interface, "DHCP server stopped");
        }
        let Some(d) = d else { return };
        let (core, config, served) = (self.core.clone(), self.config.clone(), d.clone());
        let task = tokio::spawn(async move {
            let lan = wait_for_lan(&served).await;
            info!(interface = %served.interface, address = %lan.address, "DHCP server starting");
            if let Err(e) = run_dhcp(&core, &config, &served, &lan).await {
                warn!(error = %e, "the DHCP server stopped");
            }
        });
        self.running = Some((d, task));
    }
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
        sip_port: p.sip_port.unwrap_or(c.sip.listen.port()),
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
    });
    Ok(Some(files))
}
