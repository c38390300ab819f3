//! The `offhook` binary: the appliance server and its command-line client.
//!
//! The command line is defined in the library (`appliance::cli::Cli`, so that the docs test
//! renders `docs/CLI.md` from it); each subcommand lives in its own module under `cli/`. Add new
//! ones to `cli::Command` and to the `match` here.

use std::process::ExitCode;

use appliance::cli::{self, Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    let args = Cli::parse();
    let default_level = if matches!(args.command, Command::Serve | Command::Demo(_)) {
        "info"
    } else {
        "warn"
    };
    if matches!(
        args.command,
        Command::Serve
            | Command::Init(_)
            | Command::Demo(_)
            | Command::User(_)
            | Command::Device(_)
            | Command::Backup(_)
            | Command::Restore(_)
    ) {
        // The data directory holds password hashes, SIP secrets, the master key and people's
        // voices: whatever the umask we were started with, what we create there is ours alone
        // (files 0600, directories 0700). The client subcommands keep the user's umask for the
        // files they are asked to write.
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        // Root working on the packaged service's data works as its owner (first, while the
        // process has one thread).
        if let Err(e) = appliance::run_as::owner_of(&args.global.data_dir) {
            eprintln!("offhook: {e}");
            return ExitCode::FAILURE;
        }
    }
    appliance::logging::init(default_level);
    let result: anyhow::Result<()> = match args.command {
        Command::Serve => cli::serve(&args.global).map_err(Into::into),
        Command::Init(a) => cli::init::run(&args.global, &a).map_err(Into::into),
        Command::Demo(a) => cli::demo::run(&args.global, a).map_err(Into::into),
        Command::User(a) => cli::user::run(&args.global, a).map_err(Into::into),
        Command::Device(a) => cli::device::run(&args.global, a).map_err(Into::into),
        Command::Send(a) => cli::client::send(a).map_err(Into::into),
        Command::Inbox(a) => cli::client::inbox(a).map_err(Into::into),
        Command::Fetch(a) => cli::client::fetch(a).map_err(Into::into),
        Command::Listen(a) => cli::client::listen(a).map_err(Into::into),
        Command::Record(a) => cli::record::run(a).map_err(Into::into),
        Command::Convert(a) => cli::convert::run(&a).map_err(Into::into),
        Command::GatewaySim(a) => cli::gateway_sim::run(a).map_err(Into::into),
        Command::Backup(a) => cli::backup::backup(&args.global, &a).map_err(Into::into),
        Command::Restore(a) => cli::backup::restore(&args.global, &a).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("offhook: {e:#}");
            ExitCode::FAILURE
        }
    }
}
