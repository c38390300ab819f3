//! `offhook gateway-sim`: a simulated analog media gateway (see the `gateway-sim` crate).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::time::Duration;

use clap::{Args, ValueEnum};
use gateway_sim::{self as sim, Config, DriverConfig};

use super::Error;

/// The control protocol the simulated gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// MGCP (RFC 3435) residential gateway, lines `aaln/1`…`aaln/N`.
    Mgcp,
    /// MEGACO/H.248.1 media gateway, terminations `aaln/1`…`aaln/N` and `rtp/N`.
    Megaco,
    /// AudioCodes TPNCP board (MediaPack FXS): listens on 2424; line N is channel N-1.
    Tpncp,
}

/// The byte order of a TPNCP board's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByteOrder {
    /// Network order.
    Big,
    /// Little-endian.
    Little,
}

/// Which real gateway the MGCP side behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// RFC 3435 to the letter: `MGCP 1.0`, packages L, D and G.
    Rfc3435,
    /// Cisco IOS (VG2xx, ISR) on its default `service-type mgcp version 0.1`: sends `MGCP 0.1`,
    /// takes 0.1 and 1.0, answers audits with an empty `I:` and a vendor `X-` line, and sends
    /// a keep-alive `NTFY *@DOMAIN` with an empty `O:` after `--keepalive` seconds of silence.
    Cisco,
    /// PacketCable NCS 1.0 MTA (ITU-T J.162): `MGCP 1.0 NCS 1.0` both ways (other versions are
    /// answered 528), the line package L only (D and G are answered 518), digits as `L/5`.
    Ncs,
}

/// How the MEGACO gateway reaches its controller (H.248.1 Annex D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// Datagrams, retransmitted until answered.
    Udp,
    /// One TCP connection to the controller, each message in a TPKT.
    Tcp,
}

/// The encoding of the messages the MEGACO gateway sends (replies take the request's form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// Annex B text, long tokens, one item per line.
    Pretty,
    /// Annex B text, short tokens.
    Compact,
    /// Annex A ASN.1 BER; terminations then have OTP's bit-string ids: lines
    /// `00000000/00000000/0000000N`, RTP terminations `00000001/…`.
    Binary,
}

impl From<Profile> for sim::Profile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::Rfc3435 => Self::Rfc3435,
            Profile::Cisco => Self::Cisco,
            Profile::Ncs => Self::Ncs,
        }
    }
}

const AFTER_HELP: &str = "\
Commands on stdin, one a line:
  offhook N | onhook N | flash N | digits N 123#
  say N FILE.wav      send the file (any rate) as 20 ms G.711 RTP on line N's connection
  hear N FILE.wav     save what line N receives as 8 kHz WAV (until DLCX or `hear N off`)
  autoanswer N on|off pick up 1 s after ringing starts
  quit                stop now (end of input: stop once every `say` has finished)

FXO ports (--fxo 3-4), lines facing a simulated PBX:
  after the call agent seizes port N and dials, {\"line\":N,\"event\":\"dialed\",\"number\":\"2041\"}
  offhook N           the far phone answers (polarity reversal with --fxo-supervision full)
  onhook N            the far end (or an incoming caller) hangs up (loop-current drop; with
                      --fxo-supervision none the PBX plays reorder tone on the connection)
  busy N              the number dialled is busy: busy tone on the connection
  ring N [NUMBER]     an incoming call with that caller id; {\"line\":N,\"event\":\"answered\"}
                      when the call agent answers it
  digits N 1234#      the far party's keys; autoanswer N on: the far phone answers by itself

Vendor profiles (--profile), as the call agent sees them:
  rfc3435  RSIP 1 *@[127.0.0.1] MGCP 1.0         audit F: I with no connection: no I: line
  cisco    RSIP 1 *@[127.0.0.1] MGCP 0.1         F: I gets an empty I:, F: A adds X-ServiceType:
           NTFY 2 *@[127.0.0.1] MGCP 0.1 + O:    (keep-alive: empty O:, no X:, answered 200)
  ncs      RSIP 1 *@[127.0.0.1] MGCP 1.0 NCS 1.0 digits requested L/[0-9#*T], notified L/5

MEGACO (--protocol megaco): registers with ServiceChange on ROOT (Method=Restart) to
--controller (the appliance's MGC is on 2944), over --transport udp|tcp, in --encoding
pretty|compact|binary; its mId is --mid (default [IP]:port of --listen, 127.0.0.1:2946). The same
commands and output lines: \"rsip\" is the ServiceChange (method restart|disconnected|handoff),
\"command\" has verb Add|Modify|Subtract|AuditValue… and code 200 or the H.248.8 error,
\"notify\" has the RequestID and events such as al/of or dd/ce{ds=\"123F\",Meth=UM}, signals
are al/ri and cg/dt|rt|bt|ct|wt…, a connection's id is its termination (rtp/1), its call the
context.

TPNCP (--protocol tpncp): plays an AudioCodes FXS board: listens for the host on --listen
(default 127.0.0.1:2424, TCP and UDP), from --controller's address only; line N is channel N-1,
whose RTP port is the first of --rtp-ports (default 6000, AudioCodes' BaseUDPPort) + 10 x (N-1).
Every command is acknowledged (acEV_COMMAND_ACK) or refused (acEV_ERROR); \"command\" lines have
verb acCMD_OPEN_CHANNEL|acCMD_ACTIVATE_RTP_RTCP|acCMD_ANALOG_IF_DISTINCTIVE_RING… and code 0 or
the error; --keepalive SECS sends acEV_KEEP_ALIVE that often; --byte-order big|little.

Output on stdout, one JSON object a line, for example:
  {\"event\":\"rsip\",\"method\":\"restart\",\"acknowledged\":true,\"code\":200}
  {\"event\":\"keepalive\",\"code\":200}       (\"timeout\":true when unanswered; --profile cisco)
  {\"line\":1,\"event\":\"offhook\"}              (\"auto\":true when autoanswer picked up)
  {\"line\":1,\"event\":\"digit\",\"digit\":\"5\"}     {\"line\":1,\"event\":\"flash\"}
  {\"line\":1,\"event\":\"command\",\"verb\":\"RQNT\",\"transaction\":12,\"code\":200}
  {\"line\":1,\"event\":\"notify\",\"request\":\"A1\",\"observed\":[\"L/hd\"]}
  {\"line\":1,\"signal\":\"L/rg\"}                 {\"line\":1,\"signal\":\"L/rg\",\"stopped\":true,\"reason\":\"hook\"}
  {\"line\":1,\"event\":\"ringing\",\"on\":true}
  {\"line\":1,\"event\":\"connection\",\"action\":\"created\",\"id\":\"1F\",\"call\":\"A3\",
   \"mode\":\"sendrecv\",\"codec\":\"PCMU\",\"local\":\"127.0.0.1:16384\",\"remote\":\"127.0.0.1:16400\"}
  {\"line\":1,\"event\":\"say_done\",\"file\":\"a.wav\",\"packets\":50}
  {\"line\":1,\"event\":\"hear_done\",\"file\":\"b.wav\",\"ms\":1000}
  {\"error\":\"...\"}";

/// `offhook gateway-sim`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GatewaySimArgs {
    /// The control protocol.
    #[arg(long, value_enum, default_value = "mgcp")]
    protocol: Protocol,
    /// The vendor whose quirks the MGCP gateway has.
    #[arg(long, value_enum, default_value = "rfc3435")]
    profile: Profile,
    /// Seconds of silence towards the call agent after which a keep-alive `NTFY *@DOMAIN` is
    /// sent; 0 for none (default: 10 with `--profile cisco`, none otherwise).
    #[arg(long, value_name = "SECS")]
    keepalive: Option<u64>,
    /// The call agent / controller, HOST:PORT (the appliance's MGCP call agent is on 2727, its
    /// MEGACO controller on 2944; a TPNCP board takes its host's connection only from HOST).
    #[arg(long, value_name = "HOST:PORT")]
    controller: String,
    /// Number of analog lines.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=i64::from(sim::MAX_LINES)))]
    lines: u16,
    /// The gateway's control socket (default 127.0.0.1:2427 for MGCP, 127.0.0.1:2946 for
    /// MEGACO, over TCP the local end of the connection; 127.0.0.1:2424 for TPNCP, where the
    /// board listens).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// MEGACO: the mId in every message header (`mg1`, `[192.0.2.1]:2944`,
    /// `<mg1.example.net>:2944`; default `[IP]:port` of --listen).
    #[arg(long, value_name = "NAME")]
    mid: Option<String>,
    /// MEGACO: the transport to the controller.
    #[arg(long, value_enum, default_value = "udp")]
    transport: Transport,
    /// MEGACO: the encoding of the messages the gateway starts.
    #[arg(long, value_enum, default_value = "pretty")]
    encoding: Encoding,
    /// Endpoint domain: endpoints are `aaln/N@DOMAIN` (default `[<listen ip>]`).
    #[arg(long, value_name = "NAME")]
    domain: Option<String>,
    /// TPNCP: the byte order of the board's messages (it answers in the host's).
    #[arg(long, value_enum, default_value = "big")]
    byte_order: ByteOrder,
    /// RTP ports to use, A-B (even ports; one per connection; default 40000-44999). Kept apart
    /// from the appliance's own media range (16384-32767) so both can run on one host. TPNCP:
    /// channel N uses A + 10 x N (default A = 6000, the boards' default).
    #[arg(long, value_name = "A-B", value_parser = port_range)]
    rtp_ports: Option<RangeInclusive<u16>>,
    /// Seed for transaction ids, connection ids and RTP SSRCs (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Lines that are FXO ports facing a simulated PBX instead of phones: `3-4`, `3`, `3-4,7`.
    #[arg(long, value_name = "RANGE")]
    fxo: Option<String>,
    /// What the simulated PBX signals on the FXO ports: `full` (answer by polarity reversal,
    /// far-end hang-up by a loop-current drop) or `none` (answer only heard; reorder tone
    /// after the far end hangs up).
    #[arg(long, value_name = "full|none", default_value = "full")]
    fxo_supervision: String,
}

/// The `--fxo` and `--fxo-supervision` options as the simulator's [`sim::FxoConfig`].
fn fxo_config(args: &GatewaySimArgs) -> Result<sim::FxoConfig, Error> {
    let mut fxo = sim::FxoConfig::new();
    if let Some(ranges) = &args.fxo {
        fxo.lines(ranges)
            .map_err(|e| Error::Usage(format!("--fxo: {e}")))?;
    }
    let supervision = args
        .fxo_supervision
        .parse()
        .map_err(|e| Error::Usage(format!("--fxo-supervision: {e}")))?;
    fxo.supervision(supervision);
    Ok(fxo)
}

/// Parses a port range `A-B`.
pub(super) fn port_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let (a, b) = s.split_once('-').ok_or("expected A-B")?;
    let a: u16 = a.trim().parse().map_err(|_| "bad first port")?;
    let b: u16 = b.trim().parse().map_err(|_| "bad last port")?;
    if a == 0 || b < a {
        return Err("expected 1 <= A <= B".into());
    }
    Ok(a..=b)
}

/// Runs `offhook gateway-sim` until `quit` or the end of stdin.
pub fn run(args: GatewaySimArgs) -> Result<(), Error> {
    let fxo = fxo_config(&args)?;
    match args.protocol {
        Protocol::Mgcp => {}
        Protocol::Megaco => return run_megaco(args, fxo),
        Protocol::Tpncp => return run_tpncp(args, fxo),
    }
    let controller = controller(&args.controller)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2427)));
    let mut config =
        Config::new(args.lines, controller).map_err(|e| Error::Usage(format!("--lines: {e}")))?;
    let media_ip = media_ip(listen);
    let domain = args.domain.unwrap_or_else(|| format!("[{media_ip}]"));
    config
        .domain(&domain)
        .map_err(|e| Error::Usage(format!("--domain: {e}")))?;
    config.media_address(media_ip);
    config.seed(args.seed.unwrap_or_else(clock_seed));
    config.profile(args.profile.into());
    config
        .fxo(fxo)
        .map_err(|e| Error::Usage(format!("--fxo: {e}")))?;
    if let Some(secs) = args.keepalive {
        config.keepalive(Duration::from_secs(secs));
    }
    let mut driver = DriverConfig::new(config);
    driver.listen = listen;
    driver.rtp_ports = args.rtp_ports.unwrap_or(DEFAULT_RTP_PORTS);
    super::runtime(tokio::runtime::Builder::new_current_thread())?
        .block_on(sim::run(driver))
        .map_err(|source| Error::File {
            path: format!("gateway-sim on {listen}"),
            source,
        })
}

/// `--protocol megaco`: the H.248.1 media gateway.
fn run_megaco(args: GatewaySimArgs, fxo: sim::FxoConfig) -> Result<(), Error> {
    use sim::megaco;
    let controller = controller(&args.controller)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2946)));
    let mut config = megaco::Config::new(args.lines, controller)
        .map_err(|e| Error::Usage(format!("--lines: {e}")))?;
    if let Some(mid) = &args.mid {
        config
            .mid(mid)
            .map_err(|e| Error::Usage(format!("--mid: {e}")))?;
    }
    config.transport(match args.transport {
        Transport::Udp => megaco::Transport::Udp,
        Transport::Tcp => megaco::Transport::Tcp,
    });
    config.encoding(match args.encoding {
        Encoding::Pretty => megaco::Encoding::Pretty,
        Encoding::Compact => megaco::Encoding::Compact,
        Encoding::Binary => megaco::Encoding::Binary,
    });
    config.media_address(media_ip(listen));
    config.seed(args.seed.unwrap_or_else(clock_seed));
    config.fxo(fxo);
    let mut driver = megaco::DriverConfig::new(config);
    driver.listen = listen;
    driver.rtp_ports = args.rtp_ports.unwrap_or(DEFAULT_RTP_PORTS);
    super::runtime(tokio::runtime::Builder::new_current_thread())?
        .block_on(megaco::run(driver))
        .map_err(|source| Error::File {
            path: format!("gateway-sim on {listen}"),
            source,
        })
}

/// `--protocol tpncp`: the AudioCodes board.
fn run_tpncp(args: GatewaySimArgs, fxo: sim::FxoConfig) -> Result<(), Error> {
    use gateway_control::tpncp::wire;
    use sim::tpncp;
    let controller = controller(&args.controller)?;
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2424)));
    let rtp_port = args.rtp_ports.map_or(6000, |r| *r.start());
    let mut config = tpncp::Config::new(usize::from(args.lines))
        .map_err(|e| Error::Usage(format!("--lines: {e}")))?;
    config
        .rtp_port(rtp_port)
        .map_err(|e| Error::Usage(format!("--rtp-ports: {e}")))?;
    config
        .fxo(fxo)
        .map_err(|e| Error::Usage(format!("--fxo: {e}")))?;
    config.byte_order = match args.byte_order {
        ByteOrder::Big => wire::ByteOrder::Big,
        ByteOrder::Little => wire::ByteOrder::Little,
    };
    config.keepalive = args.keepalive.filter(|s| *s > 0).map(Duration::from_secs);
    config.controller = (!controller.ip().is_unspecified()).then_some(controller.ip());
    config.media_address = media_ip(listen);
    let driver = tpncp::DriverConfig {
        board: config,
        listen,
    };
    super::runtime(tokio::runtime::Builder::new_current_thread())?
        .block_on(tpncp::run(driver))
        .map_err(|source| Error::File {
            path: format!("gateway-sim on {listen}"),
            source,
        })
}

/// RTP ports of the MGCP and MEGACO sides when `--rtp-ports` is not given.
const DEFAULT_RTP_PORTS: RangeInclusive<u16> = 40000..=44999;

fn controller(text: &str) -> Result<SocketAddr, Error> {
    text.to_socket_addrs()
        .map_err(|e| Error::Usage(format!("--controller {text}: {e}")))?
        .next()
        .ok_or_else(|| Error::Usage(format!("--controller {text}: no address")))
}

/// Where RTP is announced: the listening IP, or loopback when it is unspecified.
fn media_ip(listen: SocketAddr) -> IpAddr {
    let ip = listen.ip();
    if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    }
}

/// A seed that differs between runs, so a restarted simulator does not reuse the transaction
/// ids its call agent still remembers.
#[allow(clippy::disallowed_methods)] // The seed is the only use of the clock here.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
