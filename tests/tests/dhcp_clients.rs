//! Our DHCP server against real clients, across a veth pair between two network namespaces the
//! test creates (server `s0` 10.99.0.1/24, client `c0`): busybox `udhcpc` and ISC `dhclient`
//! get leases with every option as configured, renew them, keep them across a restart of the
//! server (which never gives a held address to another MAC); a relay's DISCOVER and REQUEST
//! (giaddr, option 82) are answered at giaddr:67 with option 82 echoed; tshark reads the whole
//! exchange with nothing malformed; a client cycling MACs gets no more offers than the rate
//! limit allows.
//!
//! The server is provisioning's example `dhcpd` (leases in a file, fsynced before each ACK),
//! started inside the server namespace with `ip netns exec`; build it first (`cargo build -p
//! provisioning --example dhcpd`; `cargo test --workspace` builds it). The clients, `ip` and
//! tshark are real peers: without them the tests fail (Debian packages iproute2, udhcpc,
//! isc-dhcp-client, tshark).

// Real processes over real sockets: bounded waits need the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use offhook_tests::netns::{Netns, veth_pair};
use offhook_tests::{DEADLINE, check_fresh, wait_for};
use provisioning::Mac;
use provisioning::dhcp::wire::{DhcpOption, MessageType, Op, Repr, Xid, code};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const URL: &str = "http://10.99.0.1:8080/prov/";

/// The options every test's server hands out, after `--subnet`.
const OPTIONS: &[&str] = &[
    "--range",
    "10.99.0.100-10.99.0.199",
    "--router",
    "10.99.0.1",
    "--dns",
    "10.99.0.53,10.99.0.54",
    "--domain",
    "lan.example",
    "--ntp",
    "10.99.0.123",
    "--tftp-server",
    "10.99.0.1",
    "--cisco-tftp",
    "10.99.0.5,10.99.0.6",
    "--url",
    URL,
    "--lease-time",
    "600",
];

/// The example server beside this test executable (`<target>/debug/examples/dhcpd`).
fn dhcpd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps")
        .join("examples/dhcpd");
    assert!(
        bin.exists(),
        "{} does not exist: run `cargo build -p provisioning --example dhcpd` first",
        bin.display()
    );
    check_fresh(&bin);
    bin
}

/// Two namespaces joined by a veth pair: `s0` (10.99.0.1/24) in `srv`, `c0` in `cli`.
struct Lan {
    cli: Netns,
    srv: Netns,
    dir: tempfile::TempDir,
}

impl Lan {
    fn new(tag: &str) -> Self {
        let srv = Netns::new(&format!("{tag}s"));
        let cli = Netns::new(&format!("{tag}c"));
        veth_pair(&srv, "s0", &cli, "c0");
        srv.addr("s0", "10.99.0.1/24");
        Self {
            cli,
            srv,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the server with `extra` flags after the common ones, on `leases`.
    fn dhcpd(&self, extra: &[&str]) -> Dhcpd {
        let mut child = self
            .srv
            .exec(dhcpd_bin())
            .args(["--interface", "s0", "--leases"])
            .arg(self.path("leases"))
            .args(["--subnet", "10.99.0.0/24"])
            .args(OPTIONS)
            .args(extra)
            .env("DHCPD_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.path("dhcpd.log")).expect("log"))
            .spawn()
            .expect("spawn dhcpd");
        let lines = lines_of(child.stdout.take().expect("stdout"));
        let ready = lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("dhcpd did not start: {}", self.log()));
        assert_eq!(ready, format!("ready {SERVER}"));
        Dhcpd { child, lines }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("dhcpd.log")).unwrap_or_default()
    }

    /// Writes the udhcpc script: the environment of each call to `udhcpc.<reason>`, and the
    /// address configured on bound/renew (the renewal is unicast to it).
    fn udhcpc_script(&self) -> PathBuf {
        let script = self.path("udhcpc.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 case \"$1\" in bound|renew)\n\
                 ip addr flush dev \"$interface\"\n\
                 ip addr add \"$ip/$mask\" dev \"$interface\" ;;\n\
                 esac\n\
                 env > {dir}/udhcpc.$1.tmp && mv {dir}/udhcpc.$1.tmp {dir}/udhcpc.$1\n",
                dir = self.dir.path().display()
            ),
        )
        .expect("write script");
        chmod_x(&script);
        script
    }

    /// udhcpc in the client namespace; `once`: get a lease and quit (`-q`).
    fn udhcpc(&self, once: bool) -> Child {
        let script = self.udhcpc_script();
        let _ = std::fs::remove_file(self.path("udhcpc.bound"));
        let _ = std::fs::remove_file(self.path("udhcpc.renew"));
        let mut c = self.cli.exec("udhcpc");
        c.args(["-i", "c0", "-f", "-n", "-t", "5", "-T", "1", "-s"])
            .arg(&script)
            .args(["-O", "66", "-O", "150", "-O", "160", "-O", "42"]);
        if once {
            c.arg("-q");
        }
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("udhcpc (busybox's udhcpc package) is installed")
    }

    /// Runs udhcpc until it has a lease and quits; the environment its script saw.
    fn udhcpc_lease(&self) -> HashMap<String, String> {
        self.cli.flush("c0");
        let mut child = self.udhcpc(true);
        let status = wait_for("udhcpc to get a lease", || child.try_wait().expect("wait"));
        assert!(
            status.success(),
            "udhcpc: {status}; server log:\n{}",
            self.log()
        );
        self.env("udhcpc.bound")
    }

    /// The `KEY=VALUE` lines a script saved in `name`, once it exists.
    fn env(&self, name: &str) -> HashMap<String, String> {
        let path = self.path(name);
        let text = wait_for(name, || std::fs::read_to_string(&path).ok());
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// A running example server.
struct Dhcpd {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Dhcpd {
    /// Stops it (SIGTERM) and returns its counters.
    fn stop(mut self) -> HashMap<String, u64> {
        signal(&self.child, "TERM");
        let status = self.child.wait().expect("wait dhcpd");
        assert!(status.success(), "dhcpd exited with {status}");
        self.lines
            .iter()
            .filter_map(|l| {
                let mut w = l.strip_prefix("stat ")?.split(' ');
                Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
            })
            .collect()
    }

    /// Kills it (SIGKILL): nothing is flushed on the way out.
    fn kill(mut self) {
        self.child.kill().expect("kill dhcpd");
        self.child.wait().expect("wait dhcpd");
    }
}

impl Drop for Dhcpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn in_range(ip: Ipv4Addr) -> bool {
    (Ipv4Addr::new(10, 99, 0, 100)..=Ipv4Addr::new(10, 99, 0, 199)).contains(&ip)
}

/// The options every client should have been given, in udhcpc's environment.
fn assert_udhcpc_options(env: &HashMap<String, String>) {
    let get = |k: &str| env.get(k).map(String::as_str).unwrap_or_default();
    let ip: Ipv4Addr = get("ip").parse().expect("an address");
    assert!(in_range(ip), "{ip} is outside the range");
    assert_eq!(get("subnet"), "255.255.255.0");
    assert_eq!(get("router"), "10.99.0.1");
    assert_eq!(get("dns"), "10.99.0.53 10.99.0.54");
    assert_eq!(get("domain"), "lan.example");
    assert_eq!(get("ntpsrv"), "10.99.0.123");
    assert_eq!(get("serverid"), "10.99.0.1");
    assert_eq!(get("lease"), "600");
    // 66 is a string (udhcpc decodes it as one), 150 a list of addresses, 160 a string URL.
    assert_eq!(get("tftp"), "10.99.0.1");
    assert_eq!(get("opt150"), "0a6300050a630006");
    assert_eq!(get("opt160"), hex(URL.as_bytes()));
}

#[test]
fn udhcpc_gets_a_lease_with_every_option_and_renews_it() {
    let lan = Lan::new("udh");
    let server = lan.dhcpd(&[]);
    let mut client = lan.udhcpc(false);
    let bound = lan.env("udhcpc.bound");
    assert_udhcpc_options(&bound);
    let ip: Ipv4Addr = bound["ip"].parse().unwrap();
    assert_eq!(lan.cli.ipv4_addrs("c0"), [ip]);

    // SIGUSR1: renew now (a unicast REQUEST from ciaddr, RENEWING).
    signal(&client, "USR1");
    let renewed = lan.env("udhcpc.renew");
    assert_eq!(
        renewed["ip"], bound["ip"],
        "the renewal changed the address"
    );
    assert_udhcpc_options(&renewed);
    client.kill().expect("kill udhcpc");
    client.wait().expect("wait udhcpc");

    let stats = server.stop();
    assert_eq!(stats["offers"], 1, "{stats:?}");
    assert_eq!(stats["acks"], 2, "{stats:?}");
    assert_eq!(stats["naks"], 0, "{stats:?}");
    assert_eq!(stats["driver_saves"], 2, "each ACK saved first: {stats:?}");
}

#[test]
fn dhclient_gets_a_lease_with_every_option_and_keeps_it_on_reboot() {
    let lan = Lan::new("dhc");
    let server = lan.dhcpd(&[]);
    let conf = lan.path("dhclient.conf");
    std::fs::write(
        &conf,
        "option cisco-tftp code 150 = array of ip-address;\n\
         option polycom-url code 160 = text;\n\
         request subnet-mask, routers, domain-name-servers, domain-name, ntp-servers,\n\
         \ttftp-server-name, cisco-tftp, polycom-url, dhcp-lease-time;\n",
    )
    .expect("write conf");
    let script = lan.path("dhclient.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > {dir}/dhclient.$reason.tmp && mv {dir}/dhclient.$reason.tmp {dir}/dhclient.$reason\n",
            dir = lan.dir.path().display()
        ),
    )
    .expect("write script");
    chmod_x(&script);
    let run = |reason: &str| {
        let mut child = lan
            .cli
            .exec("dhclient")
            .args(["-d", "-1", "-v", "-sf"])
            .arg(&script)
            .arg("-lf")
            .arg(lan.path("dhclient.leases"))
            .arg("-pf")
            .arg(lan.path("dhclient.pid"))
            .arg("-cf")
            .arg(&conf)
            .arg("c0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(lan.path(&format!("dhclient.{reason}.log"))).unwrap())
            .spawn()
            .expect("dhclient (isc-dhcp-client) is installed");
        let name = format!("dhclient.{reason}");
        let path = lan.path(&name);
        let end = Instant::now() + DEADLINE;
        // Until its script is called with `reason`; if it exits first or never calls it, what it
        // said and what the server did.
        while !path.exists() {
            let exited = child.try_wait().expect("wait dhclient");
            assert!(
                exited.is_none() && Instant::now() < end,
                "no {name} (dhclient {}):\n{}\nserver log:\n{}",
                exited.map_or("still running".into(), |s| s.to_string()),
                std::fs::read_to_string(lan.path(&format!("{name}.log"))).unwrap_or_default(),
                lan.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let env = lan.env(&name);
        let _ = child.kill();
        child.wait().expect("wait dhclient");
        env
    };

    let bound = run("BOUND");
    let get = |k: &str| bound.get(k).map(String::as_str).unwrap_or_default();
    let ip: Ipv4Addr = get("new_ip_address").parse().expect("an address");
    assert!(in_range(ip), "{ip} is outside the range");
    assert_eq!(get("new_subnet_mask"), "255.255.255.0");
    assert_eq!(get("new_routers"), "10.99.0.1");
    assert_eq!(get("new_domain_name_servers"), "10.99.0.53 10.99.0.54");
    assert_eq!(get("new_domain_name"), "lan.example");
    assert_eq!(get("new_ntp_servers"), "10.99.0.123");
    assert_eq!(get("new_dhcp_lease_time"), "600");
    assert_eq!(get("new_dhcp_server_identifier"), "10.99.0.1");
    assert_eq!(get("new_tftp_server_name"), "10.99.0.1");
    assert_eq!(get("new_cisco_tftp"), "10.99.0.5 10.99.0.6");
    assert_eq!(get("new_polycom_url"), URL);

    // A second run with its lease file: INIT-REBOOT, the same address confirmed.
    let reboot = run("REBOOT");
    assert_eq!(
        reboot.get("new_ip_address"),
        bound.get("new_ip_address"),
        "the reboot changed the address"
    );
    let stats = server.stop();
    assert_eq!(stats["acks"], 2, "{stats:?}");
    assert_eq!(stats["naks"], 0, "{stats:?}");
}

#[test]
fn a_held_lease_survives_a_restart_and_is_not_given_to_another_mac() {
    let lan = Lan::new("rst");
    let (a, b) = ("02:00:00:aa:00:01", "02:00:00:bb:00:02");
    lan.cli.set_mac("c0", a);
    let server = lan.dhcpd(&[]);
    let first = lan.udhcpc_lease();
    // SIGKILL: whatever the ACK promised must already be on disk.
    server.kill();

    let server = lan.dhcpd(&[]);
    // Another MAC first: a server that forgot the lease would give it the same (first) address.
    lan.cli.set_mac("c0", b);
    let other = lan.udhcpc_lease();
    assert_ne!(
        other["ip"], first["ip"],
        "the held address went to another MAC"
    );
    lan.cli.set_mac("c0", a);
    let again = lan.udhcpc_lease();
    assert_eq!(again["ip"], first["ip"], "the MAC lost its address");
    let stats = server.stop();
    assert_eq!(stats["naks"], 0, "{stats:?}");
}

/// A relayed message as a relay agent forwards it: giaddr, one hop, option 82.
fn relayed<'a>(
    kind: MessageType,
    xid: u32,
    mac: Mac,
    agent_info: &'a [u8],
    extra: Vec<DhcpOption<'a>>,
) -> Vec<u8> {
    let mut options = extra;
    options.push(DhcpOption::new(
        code::PARAMETER_REQUEST_LIST,
        vec![1, 3, 6, 15, 42, 66, 150, 160],
    ));
    // RFC 3046 §2.1: the relay agent option is the last one.
    options.push(DhcpOption::new(code::RELAY_AGENT_INFO, agent_info));
    Repr {
        op: Op::Request,
        hops: 1,
        xid: Xid(xid),
        secs: 0,
        broadcast: false,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: RELAY,
        chaddr: mac,
        sname: Cow::Borrowed(&[]),
        file: Cow::Borrowed(&[]),
        message_type: kind,
        options,
    }
    .to_vec(1500)
    .expect("emit")
}

/// Option 82 as a relay would add it: circuit id and remote id.
const AGENT_INFO: &[u8] = &[
    1, 8, b'e', b't', b'h', b'0', b'/', b'1', b'/', b'7', // circuit id
    2, 6, 0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e, // remote id
];

/// Receives the next reply with `xid` on `socket`.
fn reply(socket: &UdpSocket, xid: u32) -> (Vec<u8>, std::net::SocketAddr) {
    let mut buf = [0u8; 2048];
    let end = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < end, "no reply for xid {xid:#x}");
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if Repr::parse_bytes(&buf[..n]).is_ok_and(|r| r.xid == Xid(xid)) {
            return (buf[..n].to_vec(), from);
        }
    }
}

/// DISCOVER then REQUEST through a relay at 10.99.0.2:67 (a socket in the client namespace).
fn relay_exchange(lan: &Lan) {
    lan.cli.addr("c0", "10.99.0.2/24");
    let mac = Mac([0x02, 0x00, 0x00, 0x82, 0x00, 0x01]);
    lan.cli.run(|| {
        let socket = UdpSocket::bind(SocketAddrV4::new(RELAY, 67)).expect("bind relay :67");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let to = SocketAddrV4::new(SERVER, 67);
        let discover = relayed(MessageType::Discover, 0x8201, mac, AGENT_INFO, vec![]);
        socket.send_to(&discover, to).expect("send");
        let (offer, from) = reply(&socket, 0x8201);
        assert_eq!(from, to.into(), "the reply comes from the server's port 67");
        let offer = Repr::parse_bytes(&offer).expect("offer parses");
        assert_eq!(offer.message_type, MessageType::Offer);
        assert_eq!(offer.giaddr, RELAY);
        assert!(in_range(offer.yiaddr), "{}", offer.yiaddr);
        assert_eq!(
            offer.option(code::RELAY_AGENT_INFO).map(|o| &*o.data),
            Some(AGENT_INFO),
            "option 82 echoed verbatim"
        );
        let request = relayed(
            MessageType::Request,
            0x8202,
            mac,
            AGENT_INFO,
            vec![
                DhcpOption::addresses(code::REQUESTED_IP, &[offer.yiaddr]),
                DhcpOption::addresses(code::SERVER_ID, &[SERVER]),
            ],
        );
        socket.send_to(&request, to).expect("send");
        let (ack, _) = reply(&socket, 0x8202);
        let ack = Repr::parse_bytes(&ack).expect("ack parses");
        assert_eq!(ack.message_type, MessageType::Ack);
        assert_eq!(ack.yiaddr, offer.yiaddr);
        assert_eq!(
            ack.option(code::RELAY_AGENT_INFO).map(|o| &*o.data),
            Some(AGENT_INFO)
        );
        assert_eq!(
            ack.option(code::TFTP_SERVER).map(|o| &*o.data),
            Some(&b"10.99.0.1"[..])
        );
    });
}

#[test]
fn a_relayed_exchange_is_answered_at_giaddr_with_option_82_echoed() {
    let lan = Lan::new("rly");
    let server = lan.dhcpd(&[]);
    relay_exchange(&lan);
    let stats = server.stop();
    assert_eq!((stats["offers"], stats["acks"]), (1, 1), "{stats:?}");
}

/// tshark capturing `count` DHCP packets on `ifname` in `ns` into `pcap`, once it has started
/// (its messages go to `pcap` + `.log`). It stops by itself after `count`: a SIGINT could lose
/// the packets dumpcap still buffers.
fn capture(ns: &Netns, ifname: &str, pcap: &Path, count: u32) -> Child {
    let log = pcap.with_extension("log");
    let child = ns
        .exec("tshark")
        .args(["-i", ifname, "-w"])
        .arg(pcap)
        .args(["-f", "udp port 67 or udp port 68", "-c", &count.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("tshark log"))
        .spawn()
        .expect("tshark is installed (scripts/deps --test installs it)");
    // tshark 4.0 says "Capturing on 'IF'", then "Capture started." once dumpcap captures.
    wait_for("tshark to start capturing", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("Capture started"))
    });
    child
}

fn tshark_read(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark is installed");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_reads_our_replies_with_nothing_malformed_and_option_66_a_string() {
    let lan = Lan::new("tsh");
    let pcap = lan.path("dhcp.pcap");
    let server = lan.dhcpd(&[]);
    // udhcpc's DORA, then the relay's.
    let mut tshark = capture(&lan.srv, "s0", &pcap, 8);
    lan.udhcpc_lease();
    relay_exchange(&lan);
    let status = wait_for("tshark to capture both exchanges", || {
        tshark.try_wait().expect("wait tshark")
    });
    assert!(status.success(), "tshark: {status}");
    server.stop();

    let types = tshark_read(
        &pcap,
        &["-Y", "dhcp", "-T", "fields", "-e", "dhcp.option.dhcp"],
    );
    let types: Vec<&str> = types.lines().collect();
    assert_eq!(
        types,
        ["1", "2", "3", "5", "1", "2", "3", "5"],
        "{}{}",
        tshark_read(&pcap, &[]),
        std::fs::read_to_string(pcap.with_extension("log")).unwrap_or_default()
    );
    let flagged = tshark_read(
        &pcap,
        &[
            "-Y",
            "_ws.malformed || _ws.expert",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(flagged.trim().is_empty(), "tshark flagged:\n{flagged}");
    // Option 66 decoded as the string it is, in every OFFER and ACK.
    let tftp = tshark_read(
        &pcap,
        &[
            "-Y",
            "dhcp.option.dhcp == 2 || dhcp.option.dhcp == 5",
            "-T",
            "fields",
            "-e",
            "dhcp.option.tftp_server_name",
        ],
    );
    assert_eq!(tftp.lines().collect::<Vec<_>>(), ["10.99.0.1"; 4]);
    let relay_agent = tshark_read(
        &pcap,
        &[
            "-Y",
            "dhcp.option.dhcp == 2 && dhcp.ip.relay == 10.99.0.2",
            "-T",
            "fields",
            "-e",
            "dhcp.option.agent_information_option.agent_circuit_id",
        ],
    );
    assert_eq!(relay_agent.trim().replace(':', ""), hex(b"eth0/1/7"));
}

#[test]
fn a_client_cycling_macs_gets_no_more_offers_than_the_rate_limit() {
    const SENT: u32 = 300;
    const PER_SECOND: u64 = 5;
    const BURST: u64 = 20;
    let lan = Lan::new("stv");
    let server = lan.dhcpd(&["--rate", &format!("{PER_SECOND}/{BURST}")]);
    lan.cli.addr("c0", "10.99.0.2/24");
    let (offers, elapsed) = lan.cli.run(|| {
        // The replies are broadcast to 255.255.255.255:68 (no giaddr, no ciaddr).
        let socket = UdpSocket::bind("0.0.0.0:68").expect("bind :68");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let start = Instant::now();
        for i in 0..SENT {
            let mac = Mac([0x02, 0x5a, 0, 0, (i >> 8) as u8, i as u8]);
            let discover = Repr {
                op: Op::Request,
                hops: 0,
                xid: Xid(0x5a00_0000 | i),
                secs: 0,
                broadcast: true,
                ciaddr: Ipv4Addr::UNSPECIFIED,
                yiaddr: Ipv4Addr::UNSPECIFIED,
                siaddr: Ipv4Addr::UNSPECIFIED,
                giaddr: Ipv4Addr::UNSPECIFIED,
                chaddr: mac,
                sname: Cow::Borrowed(&[]),
                file: Cow::Borrowed(&[]),
                message_type: MessageType::Discover,
                options: vec![],
            }
            .to_vec(1500)
            .expect("emit");
            socket
                .send_to(&discover, SocketAddrV4::new(SERVER, 67))
                .expect("send");
        }
        let mut offers = 0u64;
        let mut buf = [0u8; 2048];
        // Until half a second passes with nothing more.
        while let Ok(n) = socket.recv(&mut buf) {
            if Repr::parse_bytes(&buf[..n])
                .is_ok_and(|r| r.message_type == MessageType::Offer && r.xid.0 >> 24 == 0x5a)
            {
                offers += 1;
            }
        }
        (offers, start.elapsed())
    });
    let stats = server.stop();
    // An upper bound: the whole time the flood lasted, rounded up, at the sustained rate.
    let allowed = BURST + PER_SECOND * (elapsed.as_secs() + 1);
    assert!(
        offers >= BURST && offers <= allowed,
        "{offers} offers in {elapsed:?} (at most {allowed})"
    );
    assert_eq!(stats["offers"], offers, "{stats:?}");
    assert_eq!(stats["rate_limited"], u64::from(SENT) - offers, "{stats:?}");
}
