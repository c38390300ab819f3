//! A stand-alone TFTP server over a directory, for benchmarks and trials:
//!
//! ```text
//! cargo run --release -p provisioning --example tftpd -- --listen 127.0.0.1:6969 --root DIR \
//!     [--max-blksize N] [--max-windowsize N] [--threads N] [--lockstep-threads N]
//! ```
//!
//! Prints the bound address on stdout, serves until SIGINT or SIGTERM, then prints its counters
//! on stderr.

use std::net::SocketAddr;
use std::sync::Arc;

use provisioning::files::Root;
use provisioning::tftp::driver::{DriverConfig, Tftpd};

fn usage() -> ! {
    eprintln!(
        "usage: tftpd --root DIR [--listen ADDR] [--max-blksize N] [--max-windowsize N] [--threads N] \
         [--lockstep-threads N]"
    );
    std::process::exit(2)
}

fn main() -> std::io::Result<()> {
    let mut config = DriverConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 6969)),
        ..DriverConfig::default()
    };
    let mut root = None;
    let mut threads = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--root" => root = Some(value.clone()),
            "--listen" => config.listen = value.parse().unwrap_or_else(|_| usage()),
            "--max-blksize" => {
                let n = u16::try_from(number()).unwrap_or_else(|_| usage());
                config.transfer.max_blksize(n).unwrap_or_else(|_| usage());
            }
            "--max-windowsize" => {
                let n = u16::try_from(number()).unwrap_or_else(|_| usage());
                config
                    .transfer
                    .max_windowsize(n)
                    .unwrap_or_else(|_| usage());
            }
            "--lockstep-threads" => {
                config.lockstep_threads = usize::try_from(number()).unwrap_or_else(|_| usage());
            }
            "--threads" => threads = usize::try_from(number()).unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let root = Root::new(root.unwrap_or_else(|| usage()))?;
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            b.worker_threads(threads);
        }
        b
    }
    .enable_all()
    .build()?;
    runtime.block_on(async {
        let server = Tftpd::bind(config, Arc::new(root))?;
        println!("{}", server.local_addr()?);
        let handle = server.handle();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        server
            .run(async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            })
            .await?;
        eprintln!("{:#?}", handle.stats());
        Ok(())
    })
}
