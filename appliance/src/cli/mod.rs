//! The `offhook` subcommands, one module each. (`convert.rs` is compiled into the binary itself,
//! see `main.rs`, as it needs nothing from this library.)

pub mod client;
pub mod demo;
pub mod gateway_sim;
pub mod record;
pub mod user;

use std::path::PathBuf;

use clap::Args;

use crate::config::Config;

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

/// `offhook serve`.
pub fn serve(g: &Global) -> Result<(), Error> {
    let config = Config::load(g.config.as_deref())?;
    runtime(tokio::runtime::Builder::new_multi_thread())?
        .block_on(crate::server::serve(&g.data_dir, config))?;
    Ok(())
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
