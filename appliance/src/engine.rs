//! The server engine: loads everything, starts each subsystem as a supervised task, and shuts
//! down cleanly on SIGINT/SIGTERM.
//!
//! Shutdown order: stop accepting connections and answer new requests with 503; let in-flight
//! requests (uploads) finish, so each is either stored and acknowledged or never acknowledged and
//! never half-stored; send `server_down` to every WebSocket session and close it; wait for the
//! last group commit.

use std::future::{Future, IntoFuture};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::{interval, timeout};
use tracing::{error, info, warn};

use crate::api::{self, App};
use crate::clients::ClientManager;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::{self, Db, Paths, messages, users};
use crate::metrics::Metrics;

/// Why the engine could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database or data directory is unusable.
    #[error("{0}")]
    Db(#[from] db::Error),
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
}

/// How long shutdown waits for in-flight requests before giving up on them.
const DRAIN: Duration = Duration::from_secs(30);

/// Runs the appliance on `data_dir` until SIGINT/SIGTERM.
pub async fn serve(data_dir: &Path, config: Config) -> Result<(), Error> {
    serve_until(data_dir, config, shutdown_signal()).await
}

/// Runs the appliance on `data_dir` until `stop` completes (it names why, for the log).
pub async fn serve_until(
    data_dir: &Path,
    config: Config,
    stop: impl Future<Output = &'static str> + Send + 'static,
) -> Result<(), Error> {
    let paths = Paths::new(data_dir);
    let key = db::load_or_create_key(&paths)?;
    let (db, _writer) = Db::open(&paths, 4)?;
    let server_id = db
        .write(|c| {
            users::reset_online(c)?;
            users::server_id(c)
        })
        .await?;
    let metrics = Arc::new(Metrics::default());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let clients = ClientManager::new(server_id, metrics.clone());
    let lines = db.read(users::station_lines).await?;
    let gateways = crate::gateways::start(&config, &lines, metrics.clone(), rand::random()).await?;
    let (stations, pending_stations) = crate::stations::prepare(&db, &config).await;
    let app = App::new(
        db.clone(),
        clients,
        metrics,
        config.clone(),
        key,
        clock,
        api::Phones { gateways, stations },
    );
    tokio::spawn(crate::stations::run(app.clone(), pending_stations));

    crate::transcode::start(&app).await?;

    let addr = config.http.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    info!(address = %local, data_dir = %data_dir.display(), server = %server_id, "offhook serving");

    let sweeper = supervise("retention", {
        let app = app.clone();
        move || retention(app.clone())
    });

    let router = api::router(app.clone());
    // Phone recordings still open are finished and stored (CONTRACT: `serve` stores them),
    // while HTTP drains: a client waiting on its record request gets the stored message.
    let (stations_tx, stations_done) = tokio::sync::oneshot::channel::<()>();
    let stopping = {
        let app = app.clone();
        async move {
            let why = stop.await;
            info!(signal = why, "shutting down");
            app.shutting_down.store(true, Ordering::SeqCst);
            app.clients.server_down("shutdown");
            let stations = app.clone();
            tokio::spawn(async move {
                stations.stations.shutdown(DRAIN).await;
                let _ = stations_tx.send(());
            });
        }
    };
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(stopping)
        .into_future();
    let result = match timeout_after_signal(served, &app).await {
        Ok(r) => r.map_err(Error::Serve),
        Err(()) => {
            warn!("in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    };
    sweeper.abort();
    if stations_done.await.is_err() {
        // Stopped without the signal (the listener failed): shut the stations down now.
        app.stations.shutdown(DRAIN).await;
    }
    // WebSocket sessions close after server_down; wait a little for them to flush.
    let mut tick = interval(Duration::from_millis(20));
    for _ in 0..100 {
        if app.clients.session_count() == 0 {
            break;
        }
        tick.tick().await;
    }
    // A barrier: every write queued before it is committed once it returns.
    db.write(|_| Ok(())).await?;
    info!("stopped");
    result
}

/// Serves until shutdown begins, then allows [`DRAIN`] for in-flight requests.
async fn timeout_after_signal<F: Future<Output = std::io::Result<()>>>(
    served: F,
    app: &App,
) -> Result<std::io::Result<()>, ()> {
    tokio::pin!(served);
    let mut tick = interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            r = &mut served => return Ok(r),
            _ = tick.tick() => {
                if app.shutting_down.load(Ordering::SeqCst) {
                    return timeout(DRAIN, served).await.map_err(|_| ());
                }
            }
        }
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the server");
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

/// The retention sweep: applies the configured policy every `sweep_interval`.
async fn retention(app: App) {
    let mut tick = interval(app.config.messages.sweep_interval);
    loop {
        tick.tick().await;
        let (policy, now) = (app.config.messages.retention, app.clock.now_ms());
        match app.db.write(move |c| messages::sweep(c, policy, now)).await {
            Ok(files) if !files.is_empty() => {
                let dir = app.db.paths().media.clone();
                let n = files.len();
                let _ = tokio::task::spawn_blocking(move || {
                    for f in files {
                        let _ = std::fs::remove_file(dir.join(f));
                    }
                })
                .await;
                info!(files = n, "retention removed media");
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "retention sweep failed"),
        }
    }
}
