//! `offhook demo`: the appliance plus a simulated analog gateway (MGCP) with four lines, and the
//! users alice, bob, carol and dave on lines 1–4, so that a newcomer can try everything with no
//! hardware. The simulator's line commands (`offhook 1`, `digits 1 12#`, `say 1 FILE.wav`,
//! `onhook 1`, …) are typed at the demo's own prompt; its events print as JSON lines. `quit` (or
//! Ctrl-C, or the end of input) stops both.

use std::net::SocketAddr;

use clap::Args;
use gateway_control::sim::{self, DriverConfig};
use tokio::sync::{mpsc, oneshot};

use super::{Error, Global, runtime};
use crate::config::Config;
use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::{self, Paths, users};

/// The demo users, their lines and passwords.
pub const USERS: [(&str, &str, &str); 4] = [
    ("alice", "aaln/1", "alice-demo"),
    ("bob", "aaln/2", "bob-demo"),
    ("carol", "aaln/3", "carol-demo"),
    ("dave", "aaln/4", "dave-demo"),
];

/// The simulated gateway's name in the demo configuration.
pub const GATEWAY: &str = "gw1";

/// `offhook demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the simulated gateway listens for MGCP.
    #[arg(long, default_value = "127.0.0.1:2427")]
    gateway: SocketAddr,
    /// The simulated gateway's RTP ports (kept apart from the appliance's media range).
    #[arg(long, default_value = "40000-40999", value_parser = super::gateway_sim::port_range)]
    gateway_rtp_ports: std::ops::RangeInclusive<u16>,
}

/// The demo's configuration: the given `--config` (or the embedded defaults) plus the gateway,
/// its four stations, and the call agent on loopback.
fn demo_config(g: &Global, args: &DemoArgs) -> Result<(Config, SocketAddr), Error> {
    let mut text = match &g.config {
        Some(path) => std::fs::read_to_string(path).map_err(|source| Error::File {
            path: path.display().to_string(),
            source,
        })?,
        None => String::new(),
    };
    if !text.contains("[mgcp]") {
        text.push_str("\n[mgcp]\nlisten = \"127.0.0.1:2727\"\n");
    }
    text.push_str(&format!(
        "\n[[gateway]]\nname = \"{GATEWAY}\"\nprotocol = \"mgcp\"\naddress = \"{}\"\n",
        args.gateway
    ));
    for (user, endpoint, _) in USERS {
        text.push_str(&format!(
            "\n[[station]]\nuser = \"{user}\"\ngateway = \"{GATEWAY}\"\nendpoint = \"{endpoint}\"\n"
        ));
    }
    let config = Config::parse("demo configuration", &text)?;
    let controller = match config.mgcp_listen {
        a if a.ip().is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), a.port()),
        a => a,
    };
    Ok((config, controller))
}

/// Creates the demo users that do not exist yet.
fn demo_users(g: &Global) -> Result<(), Error> {
    let paths = Paths::new(&g.data_dir);
    std::fs::create_dir_all(&g.data_dir).map_err(|source| Error::File {
        path: g.data_dir.display().to_string(),
        source,
    })?;
    let conn = db::connect(&paths)?;
    for (name, endpoint, password) in USERS {
        if users::by_name(&conn, name)?.is_some() {
            continue;
        }
        let new = users::NewUser {
            username: name.to_owned(),
            display: None,
            password: password.to_owned(),
            admin: name == "alice",
            line: Some((GATEWAY.to_owned(), endpoint.to_owned())),
        };
        users::add(&conn, &new, SystemClock.now_ms())?;
    }
    Ok(())
}

/// Runs `offhook demo` until `quit`, Ctrl-C or the end of input.
pub fn run(g: &Global, args: DemoArgs) -> Result<(), Error> {
    let (config, controller) = demo_config(g, &args)?;
    demo_users(g)?;
    let web = config.http_listen;
    eprintln!("Offhook demo: the web UI and API are at http://{web}");
    eprintln!(
        "Users (password): alice (alice-demo, admin), bob (bob-demo), carol (carol-demo), dave (dave-demo)"
    );
    eprintln!(
        "Their phones are lines 1-4 of a simulated MGCP gateway at {}. Type line commands:",
        args.gateway
    );
    eprintln!(
        "  offhook N | onhook N | digits N 123# | flash N | say N FILE.wav | hear N FILE.wav | autoanswer N on|off | quit"
    );

    let mut gateway = sim::Config::new(4, controller).map_err(|e| Error::Usage(e.to_string()))?;
    gateway
        .domain(&format!("[{}]", args.gateway.ip()))
        .map_err(|e| Error::Usage(e.to_string()))?;
    gateway.media_address(args.gateway.ip());
    let mut driver = DriverConfig::new(gateway);
    driver.listen = args.gateway;
    driver.rtp_ports = args.gateway_rtp_ports;

    let rt = runtime(tokio::runtime::Builder::new_multi_thread())?;
    rt.block_on(async move {
        // The prompt: stdin lines go to the simulator; `quit` or the end of input stops the demo.
        let (line_tx, line_rx) = mpsc::channel(64);
        let (quit_tx, quit_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("demo-prompt".into())
            .spawn(move || {
                for line in std::io::stdin().lines() {
                    let Ok(line) = line else { break };
                    let quit = line.trim() == "quit";
                    if line_tx.blocking_send(line).is_err() || quit {
                        break;
                    }
                }
                let _ = quit_tx.send(());
            })
            .map_err(|source| Error::File {
                path: "stdin".into(),
                source,
            })?;
        let stop = async move {
            tokio::select! {
                _ = quit_rx => "quit",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            }
        };
        let data_dir = g.data_dir.clone();
        let server =
            tokio::spawn(async move { crate::server::serve_until(&data_dir, config, stop).await });
        let gateway = tokio::spawn(sim::run_with(driver, line_rx, sim::Stdout));
        let served = server
            .await
            .map_err(|e| Error::Usage(format!("the appliance task failed: {e}")))?;
        gateway.abort();
        served.map_err(Error::from)
    })
}
