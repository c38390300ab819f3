//! `offhook demo`: the appliance plus a simulated analog gateway (MGCP, or MEGACO with
//! `--protocol megaco`, or an AudioCodes TPNCP board with `--protocol tpncp`) with four lines,
//! and the
//! users alice, bob, carol and dave on lines 1–4, so that a newcomer can try everything with no
//! hardware. The simulator's line commands (`offhook 1`, `digits 1 12#`, `say 1 FILE.wav`,
//! `onhook 1`, …) are typed at the demo's own prompt; its events print as JSON lines. `quit`,
//! SIGINT (Ctrl-C) or SIGTERM stops both. The end of input does not: started without a terminal
//! (under `nohup`, a pipe or a service manager, stdin at end of file) the demo keeps serving.

use std::net::SocketAddr;
use std::path::Path;

use clap::Args;
use gateway_sim::{self as sim, DriverConfig};
use tokio::sync::{mpsc, oneshot};

use super::{Error, Global, runtime};
use crate::config::{Config, Plain, Tls};
use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::{self, Paths, users};

/// The demo users, their lines (MGCP endpoint names and MEGACO terminations; a TPNCP board's
/// are its channels: `0`–`3`) and passwords.
pub const USERS: [(&str, &str, &str); 4] = [
    ("alice", "aaln/1", "alice-demo"),
    ("bob", "aaln/2", "bob-demo"),
    ("carol", "aaln/3", "carol-demo"),
    ("dave", "aaln/4", "dave-demo"),
];

/// The simulated gateway's name in the demo configuration.
pub const GATEWAY: &str = "gw1";

/// The protocols the demo's simulated gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoProtocol {
    /// MGCP (RFC 3435).
    Mgcp,
    /// MEGACO / H.248.1 (text over UDP).
    Megaco,
    /// AudioCodes TPNCP (the appliance connects to the board, over TCP).
    Tpncp,
}

/// User `i`'s (0–3) line on the demo gateway: `aaln/N`, or channel `N−1` of a TPNCP board
/// (its port N).
fn endpoint(protocol: DemoProtocol, i: usize) -> String {
    match protocol {
        DemoProtocol::Tpncp => i.to_string(),
        _ => USERS[i].1.to_owned(),
    }
}

/// `offhook demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The protocol between the appliance and the simulated gateway.
    #[arg(long, value_enum, default_value = "mgcp")]
    protocol: DemoProtocol,
    /// Where the simulated gateway listens (default 127.0.0.1:2427 for MGCP, 127.0.0.1:2946
    /// for MEGACO, 127.0.0.1:2424 for TPNCP).
    #[arg(long)]
    gateway: Option<SocketAddr>,
    /// The simulated gateway's RTP ports (kept apart from the appliance's media range).
    #[arg(long, default_value = "40000-40999", value_parser = super::gateway_sim::port_range)]
    gateway_rtp_ports: std::ops::RangeInclusive<u16>,
}

impl DemoArgs {
    fn gateway(&self) -> SocketAddr {
        self.gateway.unwrap_or_else(|| match self.protocol {
            DemoProtocol::Megaco => SocketAddr::from(([127, 0, 0, 1], 2946)),
            DemoProtocol::Tpncp => SocketAddr::from(([127, 0, 0, 1], 2424)),
            DemoProtocol::Mgcp => SocketAddr::from(([127, 0, 0, 1], 2427)),
        })
    }
}

/// The demo's configuration: the given `--config` (or the embedded defaults) plus the gateway,
/// its four stations, and the controller (call agent or MGC) on loopback.
fn demo_config(g: &Global, args: &DemoArgs) -> Result<(Config, SocketAddr), Error> {
    let mut text = match &g.config {
        Some(path) => std::fs::read_to_string(path).map_err(|source| Error::File {
            path: path.display().to_string(),
            source,
        })?,
        None => String::new(),
    };
    let protocol = match args.protocol {
        DemoProtocol::Mgcp => {
            if !text.contains("[mgcp]") {
                text.push_str("\n[mgcp]\nlisten = \"127.0.0.1:2727\"\n");
            }
            "mgcp"
        }
        DemoProtocol::Megaco => {
            if !text.contains("[megaco]") {
                text.push_str("\n[megaco]\nlisten = \"127.0.0.1:2944\"\n");
            }
            "megaco"
        }
        // The host connects out to the board: nothing to listen on.
        DemoProtocol::Tpncp => "tpncp",
    };
    // Softphones on this machine may register as the demo users.
    if !text.contains("[sip]") {
        text.push_str("\n[sip]\nlisten = \"127.0.0.1:5060\"\n");
    }
    // A MEGACO gateway's mId is `[IP]:port` of its address, as the simulator registers.
    text.push_str(&format!(
        "\n[[gateway]]\nname = \"{GATEWAY}\"\nprotocol = \"{protocol}\"\naddress = \"{}\"\n",
        args.gateway()
    ));
    if args.protocol == DemoProtocol::Tpncp {
        text.push_str(&format!(
            "rtp_port = {}\n",
            tpncp_rtp_port(&args.gateway_rtp_ports)
        ));
    }
    for (i, (user, _, _)) in USERS.iter().enumerate() {
        let endpoint = endpoint(args.protocol, i);
        text.push_str(&format!(
            "\n[[station]]\nuser = \"{user}\"\ngateway = \"{GATEWAY}\"\nendpoint = \"{endpoint}\"\n"
        ));
    }
    let config = Config::parse("demo configuration", &text)?;
    let listen = match args.protocol {
        DemoProtocol::Megaco => config.megaco.listen,
        // The board takes the host's connection from loopback.
        DemoProtocol::Tpncp => SocketAddr::from(([127, 0, 0, 1], 0)),
        DemoProtocol::Mgcp => config.mgcp.listen,
    };
    let controller = match listen {
        a if a.ip().is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), a.port()),
        a => a,
    };
    Ok((config, controller))
}

/// The TPNCP board's first RTP port: the first even port of `--gateway-rtp-ports`.
fn tpncp_rtp_port(range: &std::ops::RangeInclusive<u16>) -> u16 {
    range.start().next_multiple_of(2)
}

/// Creates the demo users that do not exist yet, and gives each their line on this demo's
/// gateway (a TPNCP board names its lines by channel, the others `aaln/N`).
fn demo_users(g: &Global, protocol: DemoProtocol) -> Result<(), Error> {
    let paths = Paths::new(&g.data_dir);
    std::fs::create_dir_all(&g.data_dir).map_err(|source| Error::File {
        path: g.data_dir.display().to_string(),
        source,
    })?;
    let conn = db::connect(&paths)?;
    let key = db::load_or_create_key(&paths)?;
    for (i, (name, _, password)) in USERS.into_iter().enumerate() {
        let endpoint = endpoint(protocol, i);
        if let Some(user) = users::by_name(&conn, name)? {
            let line = format!("{GATEWAY}/{endpoint}");
            if user.stations != [line] {
                users::set_stations(&conn, name, &[(GATEWAY.to_owned(), endpoint)])?;
            }
            continue;
        }
        let new = users::NewUser {
            username: name.to_owned(),
            display: None,
            password: password.to_owned(),
            admin: name == "alice",
            line: Some((GATEWAY.to_owned(), endpoint)),
        };
        users::add(&conn, &key, &new, SystemClock.now_ms())?;
    }
    Ok(())
}

/// What the demo prints on start: where things are (over HTTPS when `tls` says so), who can sign
/// in, and what to try.
fn banner(
    web: SocketAddr,
    tls: &Tls,
    gateway: SocketAddr,
    protocol: &str,
    data_dir: &Path,
) -> String {
    let users = USERS
        .iter()
        .map(|(name, _, password)| {
            let admin = if *name == "alice" { ", admin" } else { "" };
            format!("{name} ({password}{admin})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (http, ws) = match tls {
        Tls::Off => ("http", "ws"),
        Tls::On { .. } => ("https", "wss"),
    };
    // Where the CLI reaches the server in plain HTTP, when `listen` speaks HTTPS.
    let (https_note, cli_server) = match tls {
        Tls::Off => (String::new(), String::new()),
        Tls::On { files, plain } => {
            let certificate = if files.is_some() {
                "the owner's certificate (http.tls_cert)"
            } else {
                "a self-signed certificate: check its SHA-256 fingerprint (logged at start, and in \
                 the admin console) before you accept it in the browser"
            };
            let local = match plain {
                Some(Plain::Listener(a)) => {
                    format!("  plain HTTP for the CLI on this machine: http://{a}\n")
                }
                Some(Plain::Listen) => {
                    format!(
                        "  plain HTTP for the CLI on this machine: http://127.0.0.1:{}\n",
                        web.port()
                    )
                }
                None => String::new(),
            };
            let server = match plain {
                Some(Plain::Listener(a)) => format!("OFFHOOK_SERVER=http://{a} "),
                Some(Plain::Listen) => format!("OFFHOOK_SERVER=http://127.0.0.1:{} ", web.port()),
                None => String::new(),
            };
            // From another machine, the CLI speaks HTTPS and must trust the certificate.
            let trust = match files {
                None => data_dir.join("tls/cert.pem").display().to_string(),
                Some((cert, _)) => format!("{} (or the authority that signed it)", cert.display()),
            };
            let remote =
                format!("  the CLI from elsewhere: --server https://{web} --cacert {trust}\n");
            (
                format!("  HTTPS with {certificate}\n{local}{remote}"),
                server,
            )
        }
    };
    format!(
        "Offhook demo, serving at {http}://{web}
  web UI       {http}://{web}/  (sign in as a user below)
  REST API     {http}://{web}/api/v1/  (sign in: POST /api/v1/session)
  WebSocket    {ws}://{web}/api/v1/ws
  OpenAPI      {http}://{web}/api/v1/openapi.json
  health       {http}://{web}/api/v1/health    metrics  {http}://{web}/metrics
{https_note}Users (password): {users}
Their phones are lines 1-4 of a simulated {protocol} gateway at {gateway}.
Try, in another terminal:
  {cli_server}OFFHOOK_USER=alice OFFHOOK_PASSWORD=alice-demo offhook send --to bob FILE.wav
  {cli_server}OFFHOOK_USER=bob OFFHOOK_PASSWORD=bob-demo offhook inbox
  {cli_server}OFFHOOK_USER=bob OFFHOOK_PASSWORD=bob-demo offhook listen
and here, at the prompt, work bob's phone (line 2):
  offhook 2 | digits 2 1# | onhook 2    (also: say N FILE.wav, hear N FILE.wav, flash N,
  autoanswer N on|off)
quit, Ctrl-C or SIGTERM stops the demo; docs/CLI.md and docs/API.md say more."
    )
}

/// The demo's simulated gateway, ready to run.
enum Simulator {
    Mgcp(DriverConfig),
    Megaco(sim::megaco::DriverConfig),
    Tpncp(sim::tpncp::DriverConfig),
}

/// Runs `offhook demo` until `quit`, SIGINT or SIGTERM.
pub fn run(g: &Global, args: DemoArgs) -> Result<(), Error> {
    let (config, controller) = demo_config(g, &args)?;
    demo_users(g, args.protocol)?;
    config.warn_not_built();
    eprintln!(
        "{}",
        banner(
            config.http.listen,
            &config.http.tls,
            args.gateway(),
            match args.protocol {
                DemoProtocol::Mgcp => "MGCP",
                DemoProtocol::Megaco => "MEGACO",
                DemoProtocol::Tpncp => "TPNCP",
            },
            &g.data_dir
        )
    );

    let gateway_addr = args.gateway();
    let simulator = match args.protocol {
        DemoProtocol::Megaco => {
            let mut mg =
                sim::megaco::Config::new(4, controller).map_err(|e| Error::Usage(e.to_string()))?;
            mg.media_address(gateway_addr.ip());
            let mut driver = sim::megaco::DriverConfig::new(mg);
            driver.listen = gateway_addr;
            driver.rtp_ports = args.gateway_rtp_ports.clone();
            Simulator::Megaco(driver)
        }
        DemoProtocol::Tpncp => {
            let mut board =
                sim::tpncp::Config::new(USERS.len()).map_err(|e| Error::Usage(e.to_string()))?;
            board
                .rtp_port(tpncp_rtp_port(&args.gateway_rtp_ports))
                .map_err(|e| Error::Usage(e.to_string()))?;
            board.controller = Some(controller.ip());
            board.media_address = gateway_addr.ip();
            Simulator::Tpncp(sim::tpncp::DriverConfig {
                board,
                listen: gateway_addr,
            })
        }
        DemoProtocol::Mgcp => {
            let mut gateway =
                sim::Config::new(4, controller).map_err(|e| Error::Usage(e.to_string()))?;
            gateway
                .domain(&format!("[{}]", gateway_addr.ip()))
                .map_err(|e| Error::Usage(e.to_string()))?;
            gateway.media_address(gateway_addr.ip());
            let mut driver = DriverConfig::new(gateway);
            driver.listen = gateway_addr;
            driver.rtp_ports = args.gateway_rtp_ports.clone();
            Simulator::Mgcp(driver)
        }
    };

    let rt = runtime(tokio::runtime::Builder::new_multi_thread())?;
    rt.block_on(async move {
        // The prompt: stdin lines go to the simulator; `quit` stops the demo. At the end of input
        // the thread ends without a word (dropping `quit_tx`), and the demo serves on until a
        // signal: that is how it runs under nohup or a service manager.
        let (line_tx, line_rx) = mpsc::channel(64);
        // The simulator finishes when its input closes; this sender keeps it open, whatever
        // stdin does, until the appliance has stopped.
        let _keep_gateway = line_tx.clone();
        let (quit_tx, quit_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("demo-prompt".into())
            .spawn(move || {
                for line in std::io::stdin().lines() {
                    let Ok(line) = line else { break };
                    if line.trim() == "quit" {
                        let _ = quit_tx.send(());
                        return;
                    }
                    if line_tx.blocking_send(line).is_err() {
                        return;
                    }
                }
            })
            .map_err(|source| Error::File {
                path: "stdin".into(),
                source,
            })?;
        let stop = async move {
            tokio::select! {
                // A dropped sender (end of input) disables this branch instead of stopping.
                Ok(()) = quit_rx => "quit",
                why = crate::server::shutdown_signal() => why,
            }
        };
        let data_dir = g.data_dir.clone();
        let server =
            tokio::spawn(async move { crate::server::serve_until(&data_dir, config, stop).await });
        let gateway = match simulator {
            Simulator::Mgcp(driver) => tokio::spawn(sim::run_with(driver, line_rx, sim::Stdout)),
            Simulator::Megaco(driver) => {
                tokio::spawn(sim::megaco::run_with(driver, line_rx, sim::Stdout))
            }
            Simulator::Tpncp(driver) => {
                tokio::spawn(sim::tpncp::run_with(driver, line_rx, sim::Stdout))
            }
        };
        let served = server
            .await
            .map_err(|e| Error::Usage(format!("the appliance task failed: {e}")))?;
        gateway.abort();
        served.map(drop).map_err(Error::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_scheme_the_server_speaks() {
        let (web, gw) = (
            "127.0.0.1:8080".parse().unwrap(),
            "127.0.0.1:2427".parse().unwrap(),
        );
        let data = Path::new("/var/lib/offhook");
        let plain = banner(web, &Tls::Off, gw, "MGCP", data);
        assert!(
            plain.starts_with("Offhook demo, serving at http://127.0.0.1:8080\n"),
            "{plain}"
        );
        assert!(plain.contains("ws://127.0.0.1:8080/api/v1/ws"));
        assert!(
            !plain.contains("https") && !plain.contains("OFFHOOK_SERVER"),
            "{plain}"
        );

        let all: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let tls = Tls::On {
            files: None,
            plain: Some(Plain::Listener("127.0.0.1:8080".parse().unwrap())),
        };
        let secure = banner(all, &tls, gw, "MGCP", data);
        assert!(
            secure.starts_with("Offhook demo, serving at https://0.0.0.0:8443\n"),
            "{secure}"
        );
        assert!(secure.contains("wss://0.0.0.0:8443/api/v1/ws"));
        assert!(secure.contains("self-signed certificate"), "{secure}");
        assert!(secure.contains("plain HTTP for the CLI on this machine: http://127.0.0.1:8080"));
        assert!(secure.contains("OFFHOOK_SERVER=http://127.0.0.1:8080 OFFHOOK_USER=bob"));
        assert!(
            secure.contains("--server https://0.0.0.0:8443 --cacert /var/lib/offhook/tls/cert.pem"),
            "{secure}"
        );
        assert!(!plain.contains("--cacert"), "{plain}");
        let same_port = Tls::On {
            files: Some(("c.pem".into(), "k.pem".into())),
            plain: Some(Plain::Listen),
        };
        let owner = banner(all, &same_port, gw, "MGCP", data);
        assert!(owner.contains("the owner's certificate"), "{owner}");
        assert!(
            owner.contains("--cacert c.pem (or the authority"),
            "{owner}"
        );
        assert!(
            owner.contains("OFFHOOK_SERVER=http://127.0.0.1:8443 "),
            "{owner}"
        );
    }
}
