//! The `offhook` binary: the appliance server and its command-line client.
//!
//! Each subcommand lives in its own module under `cli/`; add new ones to [`Command`] and to the
//! `match` in `main`.

use std::process::ExitCode;

use appliance::cli::{self, Global};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "offhook",
    version,
    about = "Offhook: instant voice messaging appliance"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the appliance until SIGINT/SIGTERM.
    Serve,
    /// The appliance plus a simulated MGCP gateway with 4 lines and the users alice, bob,
    /// carol and dave on lines 1-4; type the gateway's line commands at the prompt.
    Demo(cli::demo::DemoArgs),
    /// Manages users (works on the data dir, server running or not).
    User(cli::user::Args),
    /// Sends a recorded message (WAV of any rate, or Ogg Opus).
    Send(cli::client::SendArgs),
    /// Lists your messages.
    Inbox(cli::client::InboxArgs),
    /// Writes a message's audio to a file (.wav, .ogg or .opus).
    Fetch(cli::client::FetchArgs),
    /// Rings your phone; what you say after picking up goes to the recipients.
    Record(cli::record::RecordArgs),
    /// Stays online and prints one JSON line per event.
    Listen(cli::client::ListenArgs),
    /// Converts audio between WAV, raw G.711 (.ulaw, .alaw) and Ogg Opus, by file extension.
    Convert(cli::convert::ConvertArgs),
    /// A simulated analog gateway: stdin commands, one JSON line per event and signal.
    GatewaySim(cli::gateway_sim::GatewaySimArgs),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let default_level = if matches!(args.command, Command::Serve | Command::Demo(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OFFHOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal; logs to files and journals stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result: anyhow::Result<()> = match args.command {
        Command::Serve => cli::serve(&args.global).map_err(Into::into),
        Command::Demo(a) => cli::demo::run(&args.global, a).map_err(Into::into),
        Command::User(a) => cli::user::run(&args.global, a).map_err(Into::into),
        Command::Send(a) => cli::client::send(a).map_err(Into::into),
        Command::Inbox(a) => cli::client::inbox(a).map_err(Into::into),
        Command::Fetch(a) => cli::client::fetch(a).map_err(Into::into),
        Command::Listen(a) => cli::client::listen(a).map_err(Into::into),
        Command::Record(a) => cli::record::run(a).map_err(Into::into),
        Command::Convert(a) => cli::convert::run(&a).map_err(Into::into),
        Command::GatewaySim(a) => cli::gateway_sim::run(a).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("offhook: {e:#}");
            ExitCode::FAILURE
        }
    }
}
