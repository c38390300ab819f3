//! A boot storm: N simulated Cisco phones (MACs 00:1b:d4:xx:xx:xx) booting at once against a
//! provisioning server, as `scripts/bench-boot-storm` runs it across a veth pair.
//!
//! ```text
//! phone_storm --server 10.97.0.1 --relay 10.97.0.2 --pool 10.97.1.0-10.97.255.254
//!             [--phones 1000] [--window 10] [--seed 1] [--http] [--blksize N]
//!             [--dhcp-tries 4] [--tftp-timeout-ms 1000] [--tftp-retries 5] [--first-mac N]
//!             [--settle-ms 0]
//! ```
//!
//! Each phone starts at a time drawn uniformly over `--window` seconds (seeded), then:
//! - DISCOVER → OFFER → REQUEST → ACK (RFC 2131 §3.1), retransmitting each message after 4 s,
//!   8 s, 16 s … (at most 64 s), each wait randomized by ±1 s (RFC 2131 §4.1), `--dhcp-tries`
//!   sends in all before the phone gives up;
//! - waits `--settle-ms` (default 0: a real phone spends a moment checking its address, RFC
//!   5227, before it asks for its file; 0 asks at once, the hardest case for the server), then
//!   fetches `SEP<MAC>.cnf.xml` by TFTP (RFC 1350, lockstep, octet; `--blksize` asks for RFC
//!   2348's option) from the address in option 66, re-sending its last packet after
//!   `--tftp-timeout-ms` of silence, `--tftp-retries` times at most;
//! - with `--http`, fetches the same file from option 160's URL with an HTTP/1.1 GET, and checks
//!   it is byte for byte the TFTP one.
//!
//! The simulator needs no raw sockets: it is the phones' DHCP relay agent (RFC 2131 §4.1,
//! RFC 1542): every message carries `giaddr` = `--relay` and goes from `--relay`:67 to
//! `--server`:67; the replies come back to `--relay`:67, one socket demultiplexed by xid. Every
//! reply is checked (source, op, xid, chaddr, message type, yiaddr in `--pool`, giaddr, server
//! id, the ACK's address being the offered one, option 66), anything else counted and ignored.
//! TFTP uses one socket per transfer, all phones at once.
//!
//! Prints phones, completed, failed by stage, the wall time from the first DISCOVER to the last
//! file, per-phone boot times (first DISCOVER to last file) p50/p90/p99/max, DHCP
//! retransmissions, TFTP retries and invalid replies. Exits with status 1 if any phone failed.

// A load generator measures real time and waits on real timers.
#![allow(clippy::disallowed_methods)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use provisioning::Mac;
use provisioning::dhcp::wire::{self as dhcp, DhcpOption, MessageType, Op, Xid, code};
use provisioning::tftp::wire::{self as tftp, Mode, Request, TftpOption};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

type Error = Box<dyn std::error::Error>;

/// DHCP's ports (RFC 2131 §4.1): a relay agent sends from and receives on the server port.
const DHCP_PORT: u16 = 67;
/// The TFTP server port (RFC 1350 §4).
const TFTP_PORT: u16 = 69;
/// Largest configuration file accepted, by TFTP or HTTP.
const MAX_FILE: usize = 1 << 20;
/// The relay socket's receive buffer asked for.
const RELAY_RCVBUF: usize = 16 << 20;
/// Replies queued for one phone before more are dropped.
const PHONE_QUEUE: usize = 8;
/// The first retransmission wait and the longest (RFC 2131 §4.1).
const DHCP_FIRST_WAIT: Duration = Duration::from_secs(4);
const DHCP_MAX_WAIT: Duration = Duration::from_secs(64);
/// An HTTP fetch, connection included, ends by then.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// What the phones ask for (option 55) and say they are (option 60).
const PARAMETERS: &[u8] = &[1, 3, 6, 15, 42, 66, 150, 160];
const VENDOR_CLASS: &str = "Cisco Systems, Inc. IP Phone CP-8841";

struct Args {
    server: Ipv4Addr,
    relay: Ipv4Addr,
    pool: (Ipv4Addr, Ipv4Addr),
    phones: u32,
    window: Duration,
    seed: u64,
    http: bool,
    blksize: Option<u16>,
    dhcp_tries: u32,
    tftp_timeout: Duration,
    tftp_retries: u32,
    first_mac: u32,
    settle: Duration,
}

impl Args {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, Error> {
        let mut a = Self {
            server: Ipv4Addr::UNSPECIFIED,
            relay: Ipv4Addr::UNSPECIFIED,
            pool: (Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST),
            phones: 1000,
            window: Duration::from_secs(10),
            seed: 1,
            http: false,
            blksize: None,
            dhcp_tries: 4,
            tftp_timeout: Duration::from_secs(1),
            tftp_retries: 5,
            first_mac: 1,
            settle: Duration::ZERO,
        };
        while let Some(flag) = it.next() {
            if flag == "--http" {
                a.http = true;
                continue;
            }
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--server" => a.server = v.parse()?,
                "--relay" => a.relay = v.parse()?,
                "--pool" => {
                    let (lo, hi) = v.split_once('-').ok_or("--pool A-B")?;
                    a.pool = (lo.parse()?, hi.parse()?);
                }
                "--phones" => a.phones = v.parse()?,
                "--window" => a.window = Duration::from_secs_f64(v.parse()?),
                "--seed" => a.seed = v.parse()?,
                "--blksize" => a.blksize = Some(v.parse()?),
                "--dhcp-tries" => a.dhcp_tries = v.parse::<u32>()?.max(1),
                "--tftp-timeout-ms" => a.tftp_timeout = Duration::from_millis(v.parse()?),
                "--tftp-retries" => a.tftp_retries = v.parse()?,
                "--first-mac" => a.first_mac = v.parse()?,
                "--settle-ms" => a.settle = Duration::from_millis(v.parse()?),
                other => return Err(format!("unknown flag {other}").into()),
            }
        }
        if a.server.is_unspecified() || a.relay.is_unspecified() {
            return Err("--server and --relay are required".into());
        }
        if u64::from(a.first_mac) + u64::from(a.phones) > 1 << 24 {
            return Err("--first-mac + --phones must stay within 24 bits".into());
        }
        Ok(a)
    }
}

/// Where a phone's boot ended, when it did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Stage {
    /// No valid OFFER after every DISCOVER.
    Discover,
    /// No valid ACK after every REQUEST.
    Request,
    /// The server refused the REQUEST.
    Nak,
    /// The ACK named no usable TFTP server (option 66), or no URL (option 160) with `--http`.
    Options,
    /// The TFTP fetch failed (ERROR, silence, a bad file).
    Tftp,
    /// The HTTP fetch failed, or gave another file.
    Http,
}

/// Counters the phones share.
#[derive(Default)]
struct Counters {
    discover_retx: AtomicU64,
    request_retx: AtomicU64,
    tftp_retries: AtomicU64,
    /// Datagrams on the relay socket that are not DHCP replies we can route.
    unroutable: AtomicU64,
    /// Replies dropped because a phone's queue was full.
    queue_full: AtomicU64,
    /// Replies routed to a phone that failed its checks, by reason.
    invalid: Mutex<HashMap<&'static str, u64>>,
}

impl Counters {
    fn invalid(&self, why: &'static str) {
        *self
            .invalid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(why)
            .or_default() += 1;
    }
}

/// What every phone shares: the relay socket, the xid routes and the counters.
struct Shared {
    args: Args,
    relay: UdpSocket,
    routes: Mutex<HashMap<u32, mpsc::Sender<Vec<u8>>>>,
    counters: Counters,
}

/// One phone's result.
struct Outcome {
    mac: Mac,
    started: Instant,
    ended: Instant,
    failed: Option<(Stage, String)>,
}

fn main() -> Result<(), Error> {
    let args = Args::parse(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let failed = runtime.block_on(storm(args))?;
    std::process::exit(i32::from(failed));
}

async fn storm(args: Args) -> Result<bool, Error> {
    let relay = relay_socket(args.relay)?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let window = args.window;
    let phones: Vec<(Mac, Duration, u64)> = (0..args.phones)
        .map(|i| {
            let n = (args.first_mac + i).to_be_bytes();
            let mac = Mac([0x00, 0x1b, 0xd4, n[1], n[2], n[3]]);
            let offset = window.mul_f64(rng.r#gen::<f64>());
            (mac, offset, rng.r#gen())
        })
        .collect();
    let shared = Arc::new(Shared {
        args,
        relay,
        routes: Mutex::new(HashMap::new()),
        counters: Counters::default(),
    });
    let receiver = tokio::spawn(route_replies(shared.clone()));
    let t0 = Instant::now();
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|(mac, offset, seed)| tokio::spawn(boot(shared.clone(), mac, t0 + offset, seed)))
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(t.await?);
    }
    receiver.abort();
    Ok(report(&shared, &outcomes))
}

/// The relay agent's socket, `relay`:67, with a receive buffer for a storm's replies (the
/// default one drops some once thousands of phones are booting in the same second).
fn relay_socket(relay: Ipv4Addr) -> Result<UdpSocket, Error> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Capped by net.core.rmem_max; what the kernel grants is enough for the usual storms.
    socket.set_recv_buffer_size(RELAY_RCVBUF)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddrV4::new(relay, DHCP_PORT).into())?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// Hands each datagram on the relay socket to the phone whose xid it carries.
async fn route_replies(shared: Arc<Shared>) {
    let mut buf = vec![0u8; dhcp::MAX_DATAGRAM + 1];
    loop {
        let Ok((n, from)) = shared.relay.recv_from(&mut buf).await else {
            continue;
        };
        let datagram = &buf[..n];
        let xid = (n <= dhcp::MAX_DATAGRAM)
            .then(|| dhcp::Packet::new_checked(datagram).ok())
            .flatten()
            .map(|p| p.xid().0);
        let sender = xid.and_then(|x| {
            shared
                .routes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&x)
                .cloned()
        });
        let Some(sender) = sender else {
            shared.counters.unroutable.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if from != SocketAddr::V4(SocketAddrV4::new(shared.args.server, DHCP_PORT)) {
            shared.counters.invalid("reply from elsewhere");
            continue;
        }
        if sender.try_send(datagram.to_vec()).is_err() {
            shared.counters.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn boot(shared: Arc<Shared>, mac: Mac, start: Instant, seed: u64) -> Outcome {
    sleep_until(start).await;
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let (tx, mut rx) = mpsc::channel(PHONE_QUEUE);
    let xid = {
        let mut routes = shared
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut xid: u32 = rng.r#gen();
        while routes.contains_key(&xid) {
            xid = rng.r#gen();
        }
        routes.insert(xid, tx);
        xid
    };
    let phone = Phone {
        shared: &shared,
        mac,
        xid: Xid(xid),
    };
    let failed = phone.run(&mut rng, &mut rx).await.err();
    shared
        .routes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&xid);
    Outcome {
        mac,
        started,
        ended: Instant::now(),
        failed,
    }
}

struct Phone<'a> {
    shared: &'a Shared,
    mac: Mac,
    xid: Xid,
}

/// What the ACK told the phone.
struct Ack {
    tftp: Ipv4Addr,
    url: Option<String>,
}

impl Phone<'_> {
    async fn run(
        &self,
        rng: &mut StdRng,
        rx: &mut mpsc::Receiver<Vec<u8>>,
    ) -> Result<(), (Stage, String)> {
        let args = &self.shared.args;
        let discover = self.message(MessageType::Discover, vec![]);
        let (server_id, offered) = self
            .exchange(&discover, rng, rx, Stage::Discover, |r| self.check_offer(r))
            .await?;
        let request = self.message(
            MessageType::Request,
            vec![
                DhcpOption::addresses(code::REQUESTED_IP, &[offered]),
                DhcpOption::addresses(code::SERVER_ID, &[server_id]),
            ],
        );
        let ack = self
            .exchange(&request, rng, rx, Stage::Request, |r| {
                self.check_ack(r, offered, server_id)
            })
            .await??;
        if !args.settle.is_zero() {
            sleep_until(Instant::now() + args.settle).await;
        }
        let name = format!("SEP{}.cnf.xml", self.mac.hex_upper());
        let by_tftp = self
            .tftp(SocketAddrV4::new(ack.tftp, TFTP_PORT), &name)
            .await
            .map_err(|e| (Stage::Tftp, e))?;
        check_file(&by_tftp).map_err(|e| (Stage::Tftp, e.to_owned()))?;
        if args.http {
            let url = ack
                .url
                .ok_or((Stage::Options, "no option 160".to_owned()))?;
            let by_http = timeout(HTTP_TIMEOUT, http_get(args.relay, &url, &name))
                .await
                .map_err(|_| (Stage::Http, "timed out".to_owned()))?
                .map_err(|e| (Stage::Http, e))?;
            if by_http != by_tftp {
                return Err((Stage::Http, "not the file TFTP gave".to_owned()));
            }
        }
        Ok(())
    }

    /// A relayed client message, as a Cisco phone fills it.
    fn message(&self, kind: MessageType, mut options: Vec<DhcpOption<'static>>) -> Vec<u8> {
        options.push(DhcpOption::new(code::PARAMETER_REQUEST_LIST, PARAMETERS));
        options.push(DhcpOption::string(code::VENDOR_CLASS, VENDOR_CLASS));
        options.push(DhcpOption::new(
            code::HOST_NAME,
            format!("SEP{}", self.mac.hex_upper()).into_bytes(),
        ));
        dhcp::Repr {
            op: Op::Request,
            hops: 1,
            xid: self.xid,
            secs: 0,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: self.shared.args.relay,
            chaddr: self.mac,
            sname: Cow::Borrowed(&[]),
            file: Cow::Borrowed(&[]),
            message_type: kind,
            options,
        }
        .to_vec(dhcp::MAX_DATAGRAM)
        .expect("a client message fits a datagram")
    }

    /// Sends `msg` and waits for a reply `check` accepts, retransmitting with RFC 2131's
    /// backoff. Replies `check` refuses are counted and ignored.
    async fn exchange<T>(
        &self,
        msg: &[u8],
        rng: &mut StdRng,
        rx: &mut mpsc::Receiver<Vec<u8>>,
        stage: Stage,
        check: impl Fn(&dhcp::Repr<'_>) -> Result<T, &'static str>,
    ) -> Result<T, (Stage, String)> {
        let s = self.shared;
        let to = SocketAddrV4::new(s.args.server, DHCP_PORT);
        let mut wait = DHCP_FIRST_WAIT;
        for attempt in 0..s.args.dhcp_tries {
            if attempt > 0 {
                let retx = match stage {
                    Stage::Discover => &s.counters.discover_retx,
                    _ => &s.counters.request_retx,
                };
                retx.fetch_add(1, Ordering::Relaxed);
            }
            s.relay
                .send_to(msg, to)
                .await
                .map_err(|e| (stage, format!("send: {e}")))?;
            let jitter = rng.gen_range(-1.0..=1.0);
            let deadline = Instant::now() + Duration::from_secs_f64(wait.as_secs_f64() + jitter);
            wait = (wait * 2).min(DHCP_MAX_WAIT);
            while let Ok(Some(datagram)) = timeout_at(deadline, rx.recv()).await {
                let checked = dhcp::Repr::parse_bytes(&datagram)
                    .map_err(|_| "unparseable")
                    .and_then(|r| self.check_reply(&r).and_then(|()| check(&r)));
                match checked {
                    Ok(v) => return Ok(v),
                    Err(why) => s.counters.invalid(why),
                }
            }
        }
        Err((stage, format!("no reply to {} sends", s.args.dhcp_tries)))
    }

    /// What any reply to this phone must be.
    fn check_reply(&self, r: &dhcp::Repr<'_>) -> Result<(), &'static str> {
        if r.op != Op::Reply {
            return Err("op is not BOOTREPLY");
        }
        if r.xid != self.xid {
            return Err("wrong xid");
        }
        if r.chaddr != self.mac {
            return Err("wrong chaddr");
        }
        if r.giaddr != self.shared.args.relay {
            return Err("wrong giaddr");
        }
        Ok(())
    }

    fn in_pool(&self, ip: Ipv4Addr) -> bool {
        let (lo, hi) = self.shared.args.pool;
        (lo..=hi).contains(&ip)
    }

    /// An OFFER: the server's id and the address offered.
    fn check_offer(&self, r: &dhcp::Repr<'_>) -> Result<(Ipv4Addr, Ipv4Addr), &'static str> {
        if r.message_type != MessageType::Offer {
            return Err("not an OFFER");
        }
        if !self.in_pool(r.yiaddr) {
            return Err("yiaddr outside the pool");
        }
        let id = r.server_id().ok_or("no server id")?;
        Ok((id, r.yiaddr))
    }

    /// An ACK for `offered` from `server_id` (a NAK ends the boot).
    fn check_ack(
        &self,
        r: &dhcp::Repr<'_>,
        offered: Ipv4Addr,
        server_id: Ipv4Addr,
    ) -> Result<Result<Ack, (Stage, String)>, &'static str> {
        if r.message_type == MessageType::Nak {
            return Ok(Err((Stage::Nak, "REQUEST refused".to_owned())));
        }
        if r.message_type != MessageType::Ack {
            return Err("not an ACK");
        }
        if r.yiaddr != offered {
            return Err("ACK for another address than offered");
        }
        if r.server_id() != Some(server_id) {
            return Err("ACK from another server id");
        }
        let tftp = r
            .option(code::TFTP_SERVER)
            .and_then(|o| std::str::from_utf8(&o.data).ok())
            .and_then(|s| s.trim_end_matches('\0').parse::<Ipv4Addr>().ok());
        let Some(tftp) = tftp else {
            return Ok(Err((Stage::Options, "no usable option 66".to_owned())));
        };
        let url = r
            .option(code::PROVISIONING_URL)
            .and_then(|o| String::from_utf8(o.data.to_vec()).ok());
        Ok(Ok(Ack { tftp, url }))
    }

    /// A lockstep TFTP read of `name` from `server` (RFC 1350), with `--blksize` asked if set.
    async fn tftp(&self, server: SocketAddrV4, name: &str) -> Result<Vec<u8>, String> {
        let args = &self.shared.args;
        let socket = UdpSocket::bind(SocketAddrV4::new(args.relay, 0))
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let blksize = args.blksize.map(|b| b.to_string());
        let mut options = vec![];
        if let Some(b) = &blksize {
            options.push(TftpOption {
                name: "blksize",
                value: b,
            });
        }
        let rrq = tftp::Repr::Rrq(Request {
            filename: name,
            mode: Mode::Octet,
            options,
        })
        .to_vec()
        .map_err(|e| format!("RRQ: {e}"))?;
        let mut last = rrq;
        let mut to = SocketAddr::V4(server);
        let mut peer: Option<SocketAddr> = None;
        let mut block_len = 512usize;
        let mut next: u16 = 1;
        let mut file = Vec::new();
        let mut silences = 0;
        let mut buf = vec![0u8; tftp::MAX_PACKET_LEN];
        socket.send_to(&last, to).await.map_err(|e| e.to_string())?;
        loop {
            let Ok(got) = timeout(args.tftp_timeout, socket.recv_from(&mut buf)).await else {
                silences += 1;
                if silences > args.tftp_retries {
                    return Err(format!("silence after {} retries", args.tftp_retries));
                }
                self.shared
                    .counters
                    .tftp_retries
                    .fetch_add(1, Ordering::Relaxed);
                socket.send_to(&last, to).await.map_err(|e| e.to_string())?;
                continue;
            };
            let (n, from) = got.map_err(|e| format!("recv: {e}"))?;
            if from.ip() != *server.ip() || peer.is_some_and(|p| p != from) {
                self.shared.counters.invalid("TFTP from another TID");
                continue;
            }
            let Ok(packet) = tftp::Repr::parse(&buf[..n]) else {
                self.shared.counters.invalid("TFTP unparseable");
                continue;
            };
            match packet {
                tftp::Repr::Oack { options } if next == 1 && peer.is_none() => {
                    for o in options {
                        if o.name.eq_ignore_ascii_case("blksize") {
                            block_len = o.value.parse().map_err(|_| "bad blksize in OACK")?;
                        }
                    }
                    peer = Some(from);
                    to = from;
                    last = tftp::Repr::Ack { block: 0 }
                        .to_vec()
                        .map_err(|e| e.to_string())?;
                }
                tftp::Repr::Data { block, data } if block == next => {
                    peer = Some(from);
                    to = from;
                    if file.len() + data.len() > MAX_FILE {
                        return Err(format!("file over {MAX_FILE} bytes"));
                    }
                    file.extend_from_slice(data);
                    next = next.wrapping_add(1);
                    last = tftp::Repr::Ack { block }
                        .to_vec()
                        .map_err(|e| e.to_string())?;
                    if data.len() < block_len {
                        socket.send_to(&last, to).await.map_err(|e| e.to_string())?;
                        return Ok(file);
                    }
                }
                // A duplicate of the block before (our ACK was lost): ACK it again below.
                tftp::Repr::Data { block, .. } if block == next.wrapping_sub(1) => {}
                tftp::Repr::Error { code, message } => {
                    return Err(format!("ERROR {code}: {message}"));
                }
                _ => {
                    self.shared.counters.invalid("TFTP unexpected packet");
                    continue;
                }
            }
            silences = 0;
            socket.send_to(&last, to).await.map_err(|e| e.to_string())?;
        }
    }
}

/// The generated Cisco file, whole.
fn check_file(body: &[u8]) -> Result<(), &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "file is not UTF-8")?;
    if !text.starts_with("<?xml") || !text.trim_end().ends_with("</device>") {
        return Err("file is not a whole <device> document");
    }
    Ok(())
}

/// `GET <url><name>` over HTTP/1.1 from `bind`: the body of a 200.
async fn http_get(bind: Ipv4Addr, url: &str, name: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("option 160 is not http://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: SocketAddr = if authority.contains(':') {
        authority.parse()
    } else {
        format!("{authority}:80").parse()
    }
    .map_err(|_| format!("option 160's host {authority} is not an address"))?;
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::V4(SocketAddrV4::new(bind, 0)))
        .map_err(|e| format!("bind: {e}"))?;
    let mut stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let request = format!(
        "GET /{path}{name} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: phone_storm\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_FILE as u64 + 4096)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&response[..end]).map_err(|_| "headers not UTF-8")?;
    let body = &response[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("status {status}"));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body);
    }
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
        if body.len() != len {
            return Err(format!("{} bytes, Content-Length {len}", body.len()));
        }
    }
    Ok(body.to_vec())
}

/// A chunked body (RFC 9112 §7.1), whole.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line unterminated")?;
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or("bad chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("chunk cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("chunk cut short")?;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Prints the table; whether any phone failed.
fn report(shared: &Shared, outcomes: &[Outcome]) -> bool {
    let c = &shared.counters;
    let mut boot: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.failed.is_none())
        .map(|o| o.ended - o.started)
        .collect();
    boot.sort();
    let mut by_stage: HashMap<Stage, usize> = HashMap::new();
    for o in outcomes {
        if let Some((stage, _)) = &o.failed {
            *by_stage.entry(*stage).or_default() += 1;
        }
    }
    let failed: usize = by_stage.values().sum();
    let first = outcomes.iter().map(|o| o.started).min();
    let last = outcomes.iter().map(|o| o.ended).max();
    let wall = first.zip(last).map(|(f, l)| l - f).unwrap_or_default();
    let a = &shared.args;
    println!(
        "phones                  {} (started over {:.1} s, seed {}{})",
        outcomes.len(),
        a.window.as_secs_f64(),
        a.seed,
        if a.http { ", TFTP then HTTP" } else { ", TFTP" }
    );
    println!("completed               {}", boot.len());
    let mut stages: Vec<_> = by_stage.into_iter().collect();
    stages.sort();
    let detail: Vec<String> = stages.iter().map(|(s, n)| format!("{s:?} {n}")).collect();
    println!("failed                  {failed} [{}]", detail.join(", "));
    println!(
        "wall time               {:.3} s (first DISCOVER to last file)",
        wall.as_secs_f64()
    );
    println!(
        "boot time               p50 {}, p90 {}, p99 {}, max {}",
        ms(percentile(&boot, 50.0)),
        ms(percentile(&boot, 90.0)),
        ms(percentile(&boot, 99.0)),
        ms(boot.last().copied().unwrap_or_default())
    );
    println!(
        "DHCP retransmissions    {} (DISCOVER {}, REQUEST {})",
        c.discover_retx.load(Ordering::Relaxed) + c.request_retx.load(Ordering::Relaxed),
        c.discover_retx.load(Ordering::Relaxed),
        c.request_retx.load(Ordering::Relaxed)
    );
    println!(
        "TFTP retries            {}",
        c.tftp_retries.load(Ordering::Relaxed)
    );
    let invalid = c
        .invalid
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut reasons: Vec<_> = invalid.iter().map(|(k, v)| format!("{k} {v}")).collect();
    reasons.sort();
    println!(
        "invalid replies         {} [{}]; unroutable {}, queue full {}",
        invalid.values().sum::<u64>(),
        reasons.join(", "),
        c.unroutable.load(Ordering::Relaxed),
        c.queue_full.load(Ordering::Relaxed)
    );
    for o in outcomes.iter().filter(|o| o.failed.is_some()).take(10) {
        if let Some((stage, why)) = &o.failed {
            println!("  failed {} at {stage:?}: {why}", o.mac);
        }
    }
    failed > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_cut_ones_refused() {
        assert_eq!(
            dechunk(b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n").unwrap(),
            b"abcdefg"
        );
        assert!(dechunk(b"10\r\nabcd").is_err());
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"4\r\nabcd").is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&d, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&d, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn only_a_whole_device_file_passes() {
        assert!(check_file(b"<?xml version=\"1.0\"?>\n<device>\n</device>\n").is_ok());
        assert!(check_file(b"<?xml version=\"1.0\"?>\n<device>").is_err());
        assert!(check_file(b"\xff").is_err());
    }

    #[test]
    fn arguments_need_the_server_and_the_relay() {
        let parse = |s: &str| Args::parse(s.split_whitespace().map(String::from));
        assert!(parse("--phones 10").is_err());
        let a = parse("--server 10.97.0.1 --relay 10.97.0.2 --pool 10.97.1.0-10.97.1.9 --http")
            .unwrap();
        assert_eq!(a.pool.1, Ipv4Addr::new(10, 97, 1, 9));
        assert!(a.http);
        assert!(parse("--server 10.97.0.1 --relay 10.97.0.2 --phones 16777216").is_err());
    }
}
