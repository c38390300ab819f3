//! A stand-alone DHCP server on one interface, its leases in an append-only file fsynced before
//! each ACK: what the real-client tests (`tests/tests/dhcp_clients.rs`) and `scripts/bench-dhcp`
//! run inside a network namespace. The appliance wires the same driver to its database instead.
//!
//! ```text
//! dhcpd --interface IF --leases FILE --subnet 10.99.0.0/24 --range 10.99.0.100-10.99.0.199
//!       [--listen 0.0.0.0:67] [--server-ip IP] [--exclude A-B] [--router IP] [--dns IP,IP]
//!       [--domain NAME] [--ntp IP,IP] [--tftp-server NAME] [--boot-file NAME] [--cisco-tftp IP,IP]
//!       [--url URL] [--vendor-specific HEX] [--lease-time SECS] [--reserve MAC=IP]
//!       [--rate PER_SECOND/BURST] [--vendor-class CLASS=TFTP_SERVER]
//! ```
//! `--subnet` starts a subnet; the options after it are that subnet's (repeat for relayed
//! subnets). Prints `ready <server-ip>` once listening; on SIGTERM or SIGINT it stops, saving what
//! is pending, and prints every counter as `stat <name> <value>`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provisioning::Mac;
use provisioning::dhcp::driver::{self, DriverConfig, Handle, LeaseStore, StoreError};
use provisioning::dhcp::{
    Config, Lease, LeaseState, Options, RateLimit, Reservation, Server, Subnet, UnixTime,
    VendorMatch, VendorRule,
};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DHCPD_LOG")
                .unwrap_or_else(|_| "warn,provisioning::dhcp::driver=info".into()),
        )
        .with_writer(io::stderr)
        .init();
    let args = Args::parse(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> Result<(), Error> {
    let server_ip = match args.server_ip {
        Some(ip) => ip,
        None => driver::interface_ipv4(&args.interface)?,
    };
    let (store, leases) = FileStore::open(&args.leases)?;
    let server = Server::new(args.config, server_ip, leases)?;
    let handle = Handle::new(server);
    let driver_config = DriverConfig {
        interface: Some(args.interface),
        listen: args.listen,
    };
    let socket = driver::bind(&driver_config)?;
    let (events_tx, mut events) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            tracing::debug!(?event, "DHCP event");
        }
    });
    println!("ready {server_ip}");
    io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    driver::serve(socket, handle.clone(), Arc::new(store), events_tx, shutdown).await?;
    let mut out = io::stdout().lock();
    for (name, value) in handle.with_server(|s| s.stats().counters()) {
        writeln!(out, "stat {name} {value}")?;
    }
    for (name, value) in handle.driver_stats().counters() {
        writeln!(out, "stat driver_{name} {value}")?;
    }
    writeln!(out, "stat leases {}", handle.leases().len())?;
    out.flush()?;
    Ok(())
}

/// Leases as lines appended to a file, one `sync_data` per batch; compacted when opened.
struct FileStore {
    file: Arc<Mutex<File>>,
}

impl FileStore {
    /// Reads the leases in `path` (the last line for a MAC wins, then the last for an address),
    /// rewrites the file with just those, and opens it for appending.
    fn open(path: &Path) -> io::Result<(Self, Vec<Lease>)> {
        let mut by_mac: HashMap<Mac, (usize, Lease)> = HashMap::new();
        if let Ok(f) = File::open(path) {
            for (n, line) in BufReader::new(f).lines().enumerate() {
                if let Some(lease) = parse_lease(&line?) {
                    by_mac.insert(lease.mac, (n, lease));
                }
            }
        }
        let mut by_ip: HashMap<Ipv4Addr, (usize, Lease)> = HashMap::new();
        for (n, lease) in by_mac.into_values() {
            if by_ip.get(&lease.ip).is_none_or(|(m, _)| *m < n) {
                by_ip.insert(lease.ip, (n, lease));
            }
        }
        let mut leases: Vec<(usize, Lease)> = by_ip.into_values().collect();
        leases.sort_by_key(|(n, _)| *n);
        let leases: Vec<Lease> = leases.into_iter().map(|(_, l)| l).collect();
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            for lease in &leases {
                f.write_all(format_lease(lease).as_bytes())?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        let file = OpenOptions::new().append(true).open(path)?;
        Ok((
            Self {
                file: Arc::new(Mutex::new(file)),
            },
            leases,
        ))
    }
}

impl LeaseStore for FileStore {
    fn save(
        &self,
        leases: Vec<Lease>,
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
        let file = self.file.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || -> io::Result<()> {
                let text: String = leases.iter().map(format_lease).collect();
                let mut f = file.lock().map_err(|_| io::Error::other("poisoned"))?;
                f.write_all(text.as_bytes())?;
                f.sync_data()
            })
            .await
            .map_err(|e| StoreError::Store(e.to_string()))??;
            Ok(())
        })
    }
}

/// `MAC IP EXPIRES STATE HOSTNAME VENDOR_CLASS`, strings escaped, `-` for none.
fn format_lease(lease: &Lease) -> String {
    let state = match lease.state {
        LeaseState::Bound => "bound",
        LeaseState::Released => "released",
        LeaseState::Declined => "declined",
        #[allow(unreachable_patterns)]
        _ => "released",
    };
    format!(
        "{} {} {} {state} {} {}\n",
        lease.mac,
        lease.ip,
        lease.expires.0,
        escape(lease.hostname.as_deref()),
        escape(lease.vendor_class.as_deref()),
    )
}

fn parse_lease(line: &str) -> Option<Lease> {
    let mut w = line.split(' ');
    let mac = w.next()?.parse().ok()?;
    let ip = w.next()?.parse().ok()?;
    let expires = UnixTime(w.next()?.parse().ok()?);
    let state = match w.next()? {
        "bound" => LeaseState::Bound,
        "released" => LeaseState::Released,
        "declined" => LeaseState::Declined,
        _ => return None,
    };
    let hostname = unescape(w.next()?)?;
    let vendor_class = unescape(w.next()?)?;
    Some(Lease {
        mac,
        ip,
        expires,
        state,
        hostname,
        vendor_class,
    })
}

/// Percent-escapes everything but printable ASCII other than `%`; `-` for none, `%-` for "-".
fn escape(s: Option<&str>) -> String {
    let Some(s) = s else { return "-".into() };
    if s == "-" {
        return "%-".into();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    if out.is_empty() { "%".into() } else { out }
}

fn unescape(s: &str) -> Option<Option<String>> {
    match s {
        "-" => return Some(None),
        "%-" => return Some(Some("-".into())),
        "%" => return Some(Some(String::new())),
        _ => {}
    }
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok().map(Some)
}

struct Args {
    interface: String,
    leases: PathBuf,
    listen: SocketAddrV4,
    server_ip: Option<Ipv4Addr>,
    config: Config,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Error> {
        let mut interface = None;
        let mut leases = None;
        let mut listen = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67);
        let mut server_ip = None;
        let mut config = Config::default();
        let mut subnets: Vec<Subnet> = Vec::new();
        let mut vendors = Vec::new();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let subnet = subnets.last_mut();
            match flag.as_str() {
                "--interface" => interface = Some(value),
                "--leases" => leases = Some(PathBuf::from(value)),
                "--listen" => listen = value.parse()?,
                "--server-ip" => server_ip = Some(value.parse()?),
                "--subnet" => {
                    let (network, prefix) = value.split_once('/').ok_or("--subnet A.B.C.D/N")?;
                    subnets.push(Subnet::new(network.parse()?, prefix.parse()?)?);
                }
                "--range" | "--exclude" => {
                    let (a, b) = value.split_once('-').ok_or("a range is A-B")?;
                    let s = subnets.pop().ok_or("--range before --subnet")?;
                    subnets.push(if flag == "--range" {
                        s.range(a.parse()?, b.parse()?)?
                    } else {
                        s.exclude(a.parse()?, b.parse()?)?
                    });
                }
                "--router" => opts(subnet)?.routers = ips(&value)?,
                "--dns" => opts(subnet)?.dns = ips(&value)?,
                "--ntp" => opts(subnet)?.ntp = ips(&value)?,
                "--cisco-tftp" => opts(subnet)?.cisco_tftp = ips(&value)?,
                "--domain" => opts(subnet)?.domain = Some(value),
                "--tftp-server" => opts(subnet)?.tftp_server = Some(value),
                "--boot-file" => opts(subnet)?.boot_file = Some(value),
                "--url" => opts(subnet)?.provisioning_url = Some(value),
                "--vendor-specific" => opts(subnet)?.vendor_specific = Some(hex(&value)?),
                "--lease-time" => {
                    opts(subnet)?.lease_time = Some(Duration::from_secs(value.parse()?));
                }
                "--reserve" => {
                    let (mac, ip) = value.split_once('=').ok_or("--reserve MAC=IP")?;
                    config.reservations.push(Reservation {
                        mac: mac.parse().map_err(|_| format!("bad MAC {mac}"))?,
                        ip: ip.parse()?,
                        hostname: None,
                    });
                }
                "--rate" => {
                    let (rate, burst) = value.split_once('/').ok_or("--rate PER_SECOND/BURST")?;
                    config.new_clients = RateLimit {
                        per_second: rate.parse()?,
                        burst: burst.parse()?,
                    };
                }
                "--vendor-class" => {
                    let (class, tftp) = value.split_once('=').ok_or("--vendor-class C=TFTP")?;
                    vendors.push(VendorRule {
                        matches: VendorMatch::VendorClass(class.into()),
                        options: Options {
                            tftp_server: Some(tftp.into()),
                            ..Options::default()
                        },
                    });
                }
                _ => return Err(format!("unknown flag {flag}").into()),
            }
        }
        for s in subnets {
            config.subnet(s)?;
        }
        for v in vendors {
            config.vendor(v)?;
        }
        Ok(Self {
            interface: interface.ok_or("--interface is required")?,
            leases: leases.ok_or("--leases is required")?,
            listen,
            server_ip,
            config,
        })
    }
}

/// The options of the subnet being described.
fn opts(subnet: Option<&mut Subnet>) -> Result<&mut Options, Error> {
    Ok(&mut subnet.ok_or("an option before --subnet")?.options)
}

fn ips(list: &str) -> Result<Vec<Ipv4Addr>, Error> {
    Ok(list.split(',').map(str::parse).collect::<Result<_, _>>()?)
}

fn hex(s: &str) -> Result<Vec<u8>, Error> {
    if !s.len().is_multiple_of(2) {
        return Err("odd hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(s.get(i..i + 2).ok_or("hex")?, 16)?))
        .collect()
}
