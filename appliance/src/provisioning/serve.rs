//! The TFTP and HTTP provisioning servers: the phones' generated files, then the TFTP root, then
//! firmware.

use super::*;

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
pub(super) async fn run_tftp(
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
        transfer,
        listen: lan.tftp_listen(config),
        interface: config.dhcp.as_ref().map(|d| d.interface.clone()),
        max_transfers: t.max_transfers,
        ..tftp::driver::DriverConfig::default()
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
pub(super) async fn run_http(
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
