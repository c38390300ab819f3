//! The server: opens the voice-messaging core, starts the gateway drivers, the stations
//! subsystem and the HTTP front end around it, and shuts down cleanly on SIGINT/SIGTERM.
//!
//! Start-up is one phase: the core depends on nothing above it, so it opens first; the
//! gateways, the stations (which subscribe to the core's events) and the web layer are built on
//! it; only then does the core start transcoding (a message left `processing` by a crash is
//! announced to subscribers that already listen).
//!
//! Shutdown order: stop accepting connections and answer new requests with 503; let in-flight
//! requests (uploads) finish, so each is either stored and acknowledged or never acknowledged and
//! never half-stored; send `server_down` to every WebSocket session and close it; wait for the
//! last group commit.
//!
//! Under systemd (`Type=notify`, [`crate::systemd`]) `serve` says `READY=1` once every
//! subsystem runs and the web listener is bound, keeps `STATUS=` up to date (the address and
//! how many gateways are up), says `STOPPING=1` when a stop begins (`RELOADING=1` for the front
//! panel's restart, which `exec`s in the same process and says `READY=1` again) and feeds the
//! watchdog. The stop fits in the unit's `TimeoutStopSec=30` unless phone recordings are open:
//! [`DRAIN`] (20 s) for in-flight requests, then at most 2 s for WebSocket sessions to flush,
//! the last commit, and at most 2 s for the runtime's tasks (`cli::serve`). Open recordings are
//! all stored, however long that takes, as long as one is stored at least every [`DRAIN`]; each
//! one stored says `EXTEND_TIMEOUT_USEC` (one more [`DRAIN`] and 10 s), so systemd waits for a
//! stop that is still moving (1,000 ten-minute recordings are 9.6 GB to seal and store).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use offhook_domain::clock::SystemClock;
use offhook_domain::db::{self, users};
use offhook_domain::{ConfigError, OpenError, Retention, VoiceMessaging};
use offhook_web::Web;
use tokio::net::TcpListener;
use tokio::time::{interval, timeout};
use tracing::{error, info, warn};

use crate::config::{self, Config};
use crate::systemd::{Notifier, State, StatusLine};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database or data directory is unusable.
    #[error("{0}")]
    Db(#[from] db::Error),
    /// A setting is out of the core's range.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A setting is out of the web layer's range.
    #[error("{0}")]
    WebConfig(#[from] offhook_web::ConfigError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gateway-control subsystem could not start.
    #[error("{0}")]
    Gateways(#[from] crate::gateways::Error),
    /// Serving failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
    /// The SIP subsystem could not start.
    #[error("{0}")]
    Sip(#[from] crate::sip::Error),
    /// LAN provisioning could not start.
    #[error("provisioning: {0}")]
    Provisioning(#[from] crate::provisioning::Error),
    /// The HTTPS certificate could not be loaded or made.
    #[error("https: {0}")]
    Tls(#[from] offhook_web::tls::Error),
    /// Federation could not start (its credentials could not be read).
    #[error("{0}")]
    Federation(String),
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Db(e) => Self::Db(e),
            e => Self::Db(db::Error::Invalid(e.to_string())),
        }
    }
}

/// How long shutdown waits for in-flight requests before giving up on them, and for the next
/// open recording to be stored (the stop waits for all of them while they keep coming). With
/// the steps after it a stop with no recording open takes at most about 24 s: inside systemd's
/// `TimeoutStopSec=30` with room to spare.
pub const DRAIN: Duration = Duration::from_secs(20);

/// The core's settings from the configuration file's.
pub fn core_config(c: &Config) -> Result<offhook_domain::Config, ConfigError> {
    let mut core = offhook_domain::Config::default();
    core.retention(match c.messages.retention {
        config::Retention::Delivered => Retention::Delivered,
        config::Retention::Played => Retention::Played,
        config::Retention::Period(d) => Retention::Period(d),
    })?
    .max_upload(c.messages.max_upload)?
    .max_attachments(c.messages.max_attachments)?
    .max_duration(c.messages.max_duration)?
    .sweep_interval(c.messages.sweep_interval)?
    .quota_per_user(c.messages.quota_per_user)?
    .disk_reserve(c.messages.disk_reserve)?
    .upload_rate(
        c.messages
            .upload_rate
            .map(|r| offhook_domain::limits::Rate {
                bytes: r.bytes,
                per: r.per,
            }),
    )?
    .network(c.network.lan.clone())?
    .lan_interface(c.network.interface.is_some());
    Ok(core)
}

/// The web layer's settings from the configuration file's.
pub fn web_config(c: &Config) -> Result<offhook_web::Config, offhook_web::ConfigError> {
    let mut web = offhook_web::Config::default();
    web.session_ttl(c.clients.session_ttl)?
        .ping_interval(c.clients.ping_interval)?
        .ping_timeout(c.clients.ping_timeout)?
        .frame_rate(c.clients.frame_rate, c.clients.frame_burst)?
        .max_frame(c.clients.max_frame)?
        .max_sessions_per_user(c.clients.max_sessions_per_user)?;
    web.metrics(c.http.metrics);
    Ok(web)
}

/// Why the appliance stopped, and what is to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A signal, or the caller's `stop`: the process ends.
    Asked,
    /// The front panel's "restart services": the process starts again.
    Restart,
    /// The front panel's "shut down": the machine powers off.
    PowerOff,
}

/// Runs the appliance on `data_dir` until SIGINT/SIGTERM or the front panel stops it, telling
/// systemd how it goes when `NOTIFY_SOCKET` is set.
pub async fn serve(data_dir: &Path, config: Config) -> Result<Stopped, Error> {
    let notify = Notifier::from_env();
    // On the server's own runtime, from the start (a restart `exec`s into a new image that
    // must keep the watchdog fed while it starts): a runtime that hangs stops pinging.
    let watchdog = notify.spawn_watchdog();
    let status = Arc::new(StatusLine::new(notify));
    status.set("starting");
    let result = run(data_dir, config, shutdown_signal(), &status).await;
    if let Err(e) = &result {
        status.finish(State::Stopping, &format!("failed: {e}"));
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    result
}

/// `STATUS=` while serving: where, and how many of the configured gateways are up.
fn status_text(url: &str, gateways: &[offhook_web::GatewayHealth]) -> String {
    if gateways.is_empty() {
        return format!("serving on {url}; no gateways configured");
    }
    let up = gateways.iter().filter(|g| g.up).count();
    let down: Vec<&str> = gateways
        .iter()
        .filter(|g| !g.up)
        .map(|g| g.name.as_str())
        .collect();
    let mut text = format!("serving on {url}; {up} of {} gateways up", gateways.len());
    if !down.is_empty() && down.len() <= 3 {
        text.push_str(&format!(" ({} down)", down.join(", ")));
    }
    text
}

/// The config file's network settings, as the admin console shows them (read-only).
fn network_settings(config: &Config) -> Vec<offhook_web::settings::NetworkSetting> {
    let ports = &config.media.rtp_ports;
    vec![
        ("http.listen", config.http.listen.to_string()),
        (
            "http.tls",
            match config.http.tls {
                config::Tls::Off => "off".into(),
                config::Tls::On { .. } => "on".into(),
            },
        ),
        ("media.address", config.media.address.to_string()),
        (
            "media.rtp_ports",
            format!("{}-{}", ports.start(), ports.end()),
        ),
        ("mgcp.listen", config.mgcp.listen.to_string()),
        ("sip.listen", config.sip.listen.to_string()),
    ]
}

/// Runs the appliance on `data_dir` until `stop` completes (it names why, for the log) or the
/// front panel asks to restart or power off.
pub async fn serve_until(
    data_dir: &Path,
    config: Config,
    stop: impl Future<Output = &'static str> + Send + 'static,
) -> Result<Stopped, Error> {
    run(data_dir, config, stop, &Arc::default()).await
}

/// [`serve_until`], telling the service manager through `status`.
async fn run(
    data_dir: &Path,
    config: Config,
    stop: impl Future<Output = &'static str> + Send + 'static,
    status: &Arc<StatusLine>,
) -> Result<Stopped, Error> {
    let (panel_stop, mut panel_asked) = tokio::sync::watch::channel(Stopped::Asked);
    let asked = panel_asked.clone();
    let stop = async move {
        tokio::select! {
            why = stop => why,
            Ok(()) = panel_asked.changed() => match *panel_asked.borrow() {
                Stopped::Restart => "front panel: restart",
                _ => "front panel: shut down",
            },
        }
    };
    let panel = crate::front_panel::start(&config).await;
    let core = VoiceMessaging::open(data_dir, core_config(&config)?, Arc::new(SystemClock)).await?;
    let web_config = web_config(&config)?;
    let lines = core.db().read(users::station_lines).await?;
    let sip = crate::sip::start(&config, &core, core.metrics().clone()).await?;
    let (sip_driver, sip_lines) = match sip {
        Some(s) => (Some((s.handle, s.events, s.lines.clone())), Some(s.lines)),
        None => (None, None),
    };
    let gateways = crate::gateways::start(
        &config,
        &lines,
        core.metrics().clone(),
        rand::random(),
        sip_driver,
    )
    .await?;
    let stations = crate::stations::start(&core, gateways.clone(), &config, sip_lines).await;
    core.start().await?;
    // Joins in the background: this site is served while NATS is unreachable.
    let federation = match config.federation.clone() {
        Some(f) => Some(
            offhook_federation::start(core.clone(), f)
                .await
                .map_err(Error::Federation)?,
        ),
        None => None,
    };
    let web = Web::new(core.clone(), web_config, gateways.clone());
    let _panel = panel.map(|p| p.running(web.clone(), gateways.clone(), &config, panel_stop));
    if let Some(ring) = crate::logging::ring() {
        web.set_log(ring);
    }
    web.set_network(network_settings(&config));
    if let Some(files) = crate::provisioning::start(&core, &config, data_dir).await? {
        web.set_provisioning(Box::new(crate::provisioning::Api::new(files, &config)));
    }
    let _network = crate::network::spawn(&core, &config);

    let (tls, plain) = match &config.http.tls {
        config::Tls::Off => (None, None),
        config::Tls::On { files, plain } => {
            let certificate = certificate(data_dir, config.http.listen, files.as_ref())?;
            let info = certificate.info();
            info!(
                fingerprint_sha256 = %info.fingerprint_sha256,
                self_signed = info.self_signed,
                not_after = info.not_after.as_deref().unwrap_or("?"),
                "HTTPS certificate"
            );
            web.set_tls(info.clone());
            let tls = offhook_web::front::Tls {
                config: certificate.server_config(),
                plain_on_loopback: *plain == Some(config::Plain::Listen),
            };
            let plain = match plain {
                Some(config::Plain::Listener(addr)) => Some(*addr),
                _ => None,
            };
            (Some(tls), plain)
        }
    };
    let addr = config.http.listen;
    let listener = bind(addr).await?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    let plain = match plain {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(address = %local, scheme, data_dir = %data_dir.display(), server = %core.server_id(), "offhook serving");
    if let Some(p) = &plain {
        let address = p.local_addr().map_err(Error::Serve)?;
        info!(%address, "plain HTTP for local clients");
    }
    // Every subsystem runs and the listeners are bound: a client that connects from now on is
    // served (the accept loop starts below, on this task).
    let url = format!("{scheme}://{local}");
    status.ready(&status_text(&url, &gateways.health()));
    let status_updates = tokio::spawn({
        let status = status.clone();
        async move {
            let mut tick = interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                status.set(&status_text(&url, &gateways.health()));
            }
        }
    });

    let log_reporter = crate::logging::spawn_reporter();
    let sweeper = supervise("retention", {
        let core = core.clone();
        move || core.clone().retention()
    });
    let expiry = supervise("session expiry", {
        let web = web.clone();
        move || web.clone().expire_sessions()
    });

    let router = offhook_web::router(web.clone());
    let stations = Arc::new(stations);
    // Phone recordings still open are finished and stored (CONTRACT: `serve` stores them),
    // while HTTP drains: a client waiting on its record request gets the stored message.
    let (stations_tx, stations_done) = tokio::sync::oneshot::channel::<()>();
    let (stopped_tx, mut stopped) = tokio::sync::watch::channel(false);
    let stopping = {
        let (web, stations, status) = (web.clone(), stations.clone(), status.clone());
        let asked = asked.clone();
        async move {
            let why = stop.await;
            info!(signal = why, "shutting down");
            let next = *asked.borrow();
            match next {
                // The same process comes back (exec) and says READY=1 again.
                Stopped::Restart => status.finish(State::Reloading, &format!("restarting ({why})")),
                Stopped::Asked | Stopped::PowerOff => {
                    status.finish(State::Stopping, &format!("shutting down ({why})"));
                }
            }
            web.begin_shutdown();
            web.core().clients().server_down("shutdown");
            tokio::spawn(async move {
                stations
                    .shutdown(DRAIN, |n| stop_progress(&status, n))
                    .await;
                let _ = stations_tx.send(());
            });
            let _ = stopped_tx.send(true);
        }
    };
    let limits = offhook_web::front::Limits {
        header_timeout: config.http.header_timeout,
        max_idle: config.http.max_idle_connections,
    };
    let stats = web.front_stats();
    let served = async {
        let main = offhook_web::front::serve(
            listener,
            router.clone(),
            limits,
            tls,
            stats.clone(),
            stopping,
        );
        let local = async {
            let Some(plain) = plain else { return Ok(()) };
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            offhook_web::front::serve(plain, router, limits, None, stats, stop).await
        };
        let (a, b) = tokio::join!(main, local);
        a.and(b)
    };
    let result = match timeout_after_signal(served, &web).await {
        Ok(r) => r.map_err(Error::Serve),
        Err(()) => {
            warn!("in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    };
    sweeper.abort();
    expiry.abort();
    status_updates.abort();
    if let Some(r) = log_reporter {
        r.abort();
    }
    if stations_done.await.is_err() {
        // Stopped without the signal (the listener failed): shut the stations down now.
        stations.shutdown(DRAIN, |n| stop_progress(status, n)).await;
    }
    // What was not forwarded yet waits in the outbox for the next start.
    if let Some(f) = federation {
        f.shutdown().await;
    }
    // WebSocket sessions close after server_down; wait a little for them to flush.
    let mut tick = interval(Duration::from_millis(20));
    for _ in 0..100 {
        if core.clients().session_count() == 0 {
            break;
        }
        tick.tick().await;
    }
    // A barrier: every write queued before it is committed once it returns.
    core.db().write(|_| Ok(())).await?;
    info!("stopped");
    result.map(|()| *asked.borrow())
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })
}

/// The owner's certificate, or the self-signed one kept in `DATA/tls` (made at first start for
/// this machine's host name, `localhost`, the loopback addresses and `listen`'s address).
pub(crate) fn certificate(
    data_dir: &Path,
    listen: std::net::SocketAddr,
    files: Option<&(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<offhook_web::tls::Certificate, Error> {
    use offhook_web::tls::Certificate;
    if let Some((cert, key)) = files {
        return Ok(Certificate::load(cert, key)?);
    }
    let mut names = Vec::new();
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_owned());
        }
    }
    names.push("localhost".to_owned());
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_string());
    }
    for ip in ["127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == ip) {
            names.push(ip.to_owned());
        }
    }
    Ok(Certificate::self_signed(&data_dir.join("tls"), &names)?)
}

/// A recording stored during the stop: the stop is still moving, so the service manager waits
/// for one more [`DRAIN`] (and the steps after it) from now.
fn stop_progress(status: &StatusLine, stored: u64) {
    let text = format!("stopping: {stored} open recordings stored");
    status.extend_stop(DRAIN + Duration::from_secs(10), &text);
}

/// Serves until shutdown begins, then allows [`DRAIN`] for in-flight requests.
async fn timeout_after_signal<F: Future<Output = std::io::Result<()>>>(
    served: F,
    web: &Web,
) -> Result<std::io::Result<()>, ()> {
    tokio::pin!(served);
    let mut tick = interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            r = &mut served => return Ok(r),
            _ = tick.tick() => {
                if web.is_shutting_down() {
                    return timeout(DRAIN, served).await.map_err(|_| ());
                }
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM, naming which (`serve` and `demo` stop on either).
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the appliance");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Runs a subsystem task, restarting it (after a pause) if it panics or returns.
fn supervise<F, Fut>(name: &'static str, make: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut pause = interval(Duration::from_secs(1));
        loop {
            match tokio::spawn(make()).await {
                Ok(()) => warn!(task = name, "subsystem returned; restarting"),
                Err(e) if e.is_panic() => error!(task = name, "subsystem panicked; restarting"),
                Err(_) => return,
            }
            pause.tick().await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(name: &str, up: bool) -> offhook_web::GatewayHealth {
        offhook_web::GatewayHealth {
            name: name.into(),
            protocol: "mgcp",
            up,
        }
    }

    #[test]
    fn the_status_says_where_it_serves_and_which_gateways_are_down() {
        let url = "http://192.0.2.1:8080";
        assert_eq!(
            status_text(url, &[]),
            "serving on http://192.0.2.1:8080; no gateways configured"
        );
        assert_eq!(
            status_text(url, &[gateway("gw1", true), gateway("gw2", false)]),
            "serving on http://192.0.2.1:8080; 1 of 2 gateways up (gw2 down)"
        );
        assert_eq!(
            status_text(url, &[gateway("a", true), gateway("b", true)]),
            "serving on http://192.0.2.1:8080; 2 of 2 gateways up"
        );
        let many: Vec<_> = (0..5).map(|i| gateway(&format!("g{i}"), false)).collect();
        assert_eq!(
            status_text(url, &many),
            "serving on http://192.0.2.1:8080; 0 of 5 gateways up",
            "a long list of names stays out of the one line"
        );
    }
}
