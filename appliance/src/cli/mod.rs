//! The `offhook` subcommands, one module each.

pub mod backup;
pub mod client;
pub mod convert;
pub mod demo;
pub mod device;
pub mod gateway_sim;
pub mod init;
pub mod record;
mod trust;
pub mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// `offhook`: the whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "offhook",
    version,
    about = "Offhook: instant voice messaging appliance"
)]
pub struct Cli {
    /// The global options.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the appliance until SIGINT/SIGTERM.
    Serve,
    /// Makes what the appliance needs at its first start, and nothing already there: the data
    /// dir, the master key, the HTTPS certificate (when the config serves HTTPS with none of
    /// the owner's) and, when no user is an admin, user `admin` with a generated initial
    /// password, shown on the front panel until it is changed. Safe to run before every start.
    Init(init::InitArgs),
    /// The appliance plus a simulated MGCP gateway with 4 lines and the users alice, bob,
    /// carol and dave on lines 1-4; type the gateway's line commands at the prompt. Serves until
    /// `quit`, SIGINT or SIGTERM, with or without a terminal.
    Demo(demo::DemoArgs),
    /// Manages users (works on the data dir, server running or not).
    User(user::Args),
    /// Manages the IP phones provisioned on the LAN (works on the data dir, server running or
    /// not).
    Device(device::Args),
    /// Sends a recorded message (WAV of any rate, or Ogg Opus).
    Send(client::SendArgs),
    /// Lists your messages.
    Inbox(client::InboxArgs),
    /// Writes a message's audio to a file (.wav, .ogg or .opus).
    Fetch(client::FetchArgs),
    /// Rings your phone; what you say after picking up goes to the recipients.
    Record(record::RecordArgs),
    /// Stays online and prints one JSON line per event.
    Listen(client::ListenArgs),
    /// Converts audio between WAV, raw G.711 (.ulaw, .alaw) and Ogg Opus, by file extension.
    Convert(convert::ConvertArgs),
    /// A simulated analog gateway: stdin commands, one JSON line per event and signal.
    GatewaySim(gateway_sim::GatewaySimArgs),
    /// Writes an encrypted, consistent backup of the data dir (database, sealed media, master
    /// key, TLS certificate) to FILE, whether or not `offhook serve` is using it.
    Backup(backup::BackupArgs),
    /// Restores a backup made by `offhook backup` into an empty (or new) data dir, verifying
    /// all of it first; nothing is left behind if it fails.
    Restore(backup::RestoreArgs),
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Data directory (database, sealed audio, key).
    #[arg(
        long,
        global = true,
        env = "OFFHOOK_DATA",
        default_value = "./offhook-data"
    )]
    pub data_dir: PathBuf,
    /// TOML configuration; without it the embedded defaults apply.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// A subcommand's failure, as one line for stderr.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad arguments or environment.
    #[error("{0}")]
    Usage(String),
    /// The server cannot be reached.
    #[error("cannot reach the server at {url}: is it running? ({cause})")]
    Unreachable {
        /// Its URL.
        url: String,
        /// Why.
        cause: String,
    },
    /// The server's certificate is not trusted (or the TLS handshake failed otherwise).
    #[error(
        "{url}: the TLS handshake failed: {cause} (a server whose certificate no public \
         authority signed, such as the one the appliance makes for itself, needs --cacert with \
         that certificate: DATA/tls/cert.pem; its SHA-256 fingerprint is in the log and the \
         admin console)"
    )]
    Tls {
        /// Its URL.
        url: String,
        /// Why.
        cause: String,
    },
    /// The server refused the request.
    #[error("{0}")]
    Refused(String),
    /// The server misbehaved or the connection broke.
    #[error("server: {0}")]
    Protocol(String),
    /// Local file trouble.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is bad.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The database is unusable.
    #[error(transparent)]
    Db(#[from] offhook_domain::db::Error),
    /// The server failed.
    #[error(transparent)]
    Engine(#[from] crate::server::Error),
}

/// `offhook serve`. After the front panel's "restart services" the process runs itself again
/// (same program, same arguments, same process id: a service manager sees no exit); after its
/// "shut down", the configured power-off command runs.
pub fn serve(g: &Global) -> Result<(), Error> {
    let config = Config::load(g.config.as_deref())?;
    config.warn_not_built();
    let poweroff = config.lcd.as_ref().map(|l| l.poweroff.clone());
    backup::apply_staged(&g.data_dir)?;
    let rt = runtime(tokio::runtime::Builder::new_multi_thread())?;
    let stopped = rt.block_on(crate::server::serve(&g.data_dir, config))?;
    // Tasks still running (a blocking read, a helper) get a moment; then the sockets close.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    match stopped {
        crate::server::Stopped::Asked => Ok(()),
        crate::server::Stopped::Restart => {
            use std::os::unix::process::CommandExt;
            // As started (argv[0], found on PATH as the first time if it has no slash): after an
            // upgrade that is the new program, where /proc/self/exe would be the deleted old one.
            let mut args = std::env::args_os();
            let program = args.next().unwrap_or_else(|| "offhook".into());
            tracing::info!(program = %program.to_string_lossy(), "restarting");
            let source = std::process::Command::new(&program).args(args).exec();
            Err(Error::File {
                path: program.to_string_lossy().into_owned(),
                source,
            })
        }
        crate::server::Stopped::PowerOff => {
            let Some((program, args)) = poweroff.as_deref().and_then(<[String]>::split_first)
            else {
                return Ok(());
            };
            tracing::info!(command = ?poweroff, "powering off");
            let status = std::process::Command::new(program)
                .args(args)
                .status()
                .map_err(|source| Error::File {
                    path: program.into(),
                    source,
                })?;
            if !status.success() {
                tracing::warn!(%status, "the power-off command failed");
            }
            Ok(())
        }
    }
}

/// A tokio runtime from `builder`, with I/O and timers.
pub(crate) fn runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, Error> {
    builder.enable_all().build().map_err(|source| Error::File {
        path: "tokio runtime".into(),
        source,
    })
}
