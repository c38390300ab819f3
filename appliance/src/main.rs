//! The `offhook` binary: the appliance and its command-line tools (shared/CONTRACT.md).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Offhook: instant voice messaging for analog and IP phones.
#[derive(Debug, Parser)]
#[command(name = "offhook", version, about)]
struct Args {
    /// Where the appliance keeps its database, audio and keys.
    #[arg(
        long,
        global = true,
        env = "OFFHOOK_DATA",
        default_value = "./offhook-data"
    )]
    data_dir: PathBuf,
    /// A TOML configuration file; without it the embedded defaults apply.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Converts audio between WAV, raw G.711 (.ulaw, .alaw) and Ogg Opus, by file extension.
    Convert(cli::convert::ConvertArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Convert(convert) => cli::convert::run(&convert),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line on stderr, with the chain of causes.
            eprintln!("offhook: {error:#}");
            ExitCode::FAILURE
        }
    }
}
