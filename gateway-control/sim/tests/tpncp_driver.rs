//! The TPNCP board's driver on loopback against a hand-written host, in paused tokio time:
//! over TCP the host connects, opens a channel and activates RTP to its own UDP socket, where
//! the `say` of a WAV made here arrives; hook events and keep-alives come on the connection;
//! broken framing closes it; a new connection finds the channel's state kept; UDP on the same
//! port is answered; a connection from another address than the controller's is refused.
#![cfg(feature = "driver")]

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use codecs::wav::WavWriter;
use gateway_control::tpncp::wire::{
    self, ByteOrder, Channel, Coder, Command, Deframer, Event, Header, Seq, VERSION,
};
use gateway_sim::tpncp::{self, Config, DriverConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

struct Out(Lines<BufReader<DuplexStream>>);

impl Out {
    /// The next JSON line containing `needle`.
    async fn until(&mut self, needle: &str) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.0.next_line())
                .await
                .expect("no output")
                .unwrap()
                .expect("output ended");
            if line.contains(needle) {
                return line;
            }
        }
    }
}

fn sleep(d: Duration) -> tokio::time::Sleep {
    tokio::time::sleep_until(tokio::time::Instant::now() + d)
}

/// A free address for the board's TCP and UDP (checked free for both, then released), and a
/// first RTP port whose two channels' ports are free too.
fn free_ports() -> (SocketAddr, u16) {
    let listen = loop {
        let tcp = StdTcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        if StdUdpSocket::bind(addr).is_ok() {
            break addr;
        }
    };
    let rtp = loop {
        let probe = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let p = probe.local_addr().unwrap().port() & !1;
        drop(probe);
        if p < 65000
            && StdUdpSocket::bind(("127.0.0.1", p)).is_ok()
            && StdUdpSocket::bind(("127.0.0.1", p + 10)).is_ok()
        {
            break p;
        }
    };
    (listen, rtp)
}

/// The host's end of the TCP connection.
struct Host {
    stream: TcpStream,
    deframer: Deframer,
    seq: u16,
}

impl Host {
    async fn connect(board: SocketAddr) -> Self {
        let stream = TcpStream::connect(board).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            deframer: Deframer::new(),
            seq: 0,
        }
    }

    async fn send(&mut self, c: &Command) -> Seq {
        self.seq += 1;
        let mut out = Vec::new();
        let header = Header {
            order: ByteOrder::Big,
            version: VERSION,
            seq: Seq(self.seq),
        };
        wire::encode_command(&header, c, &mut out);
        self.stream.write_all(&out).await.unwrap();
        Seq(self.seq)
    }

    /// The next event; `None` when the board closed the connection.
    async fn event(&mut self) -> Option<(Channel, Event)> {
        let mut buf = vec![0u8; 4096];
        loop {
            if let Some(m) = self.deframer.next() {
                let (_, channel, event) = wire::decode_event(&m.unwrap()).unwrap();
                return Some((channel, event));
            }
            let n = tokio::time::timeout(Duration::from_secs(60), self.stream.read(&mut buf))
                .await
                .expect("the board sent nothing")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.deframer.push(&buf[..n]);
        }
    }

    /// The next event that is not a keep-alive.
    async fn next(&mut self) -> (Channel, Event) {
        loop {
            match self.event().await.expect("connection closed") {
                (_, Event::KeepAlive { .. }) => {}
                e => return e,
            }
        }
    }

    /// Sends `c` and expects its acknowledgement.
    async fn ok(&mut self, c: &Command) {
        let seq = self.send(c).await;
        assert_eq!(
            self.next().await,
            (
                c.channel(),
                Event::CommandAck {
                    seq,
                    command_id: wire::command_id(c)
                }
            ),
            "{c:?}"
        );
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("offhook-tpncp-{}-{name}", std::process::id()))
}

/// 100 ms of a 440 Hz tone at 8 kHz: five 20 ms packets.
fn write_tone(path: &PathBuf) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = WavWriter::new(file, 8000, 1, Some(800)).unwrap();
    let samples: Vec<i16> = (0..800)
        .map(|i| (8000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin()) as i16)
        .collect();
    w.write_samples(&samples).unwrap();
    w.finish().unwrap();
}

#[tokio::test(start_paused = true)]
async fn tcp_host_opens_activates_and_receives_the_say() {
    let (listen, rtp_port) = free_ports();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(2).unwrap();
    config.rtp_port(rtp_port).unwrap();
    config.keepalive(Some(Duration::from_secs(5))).unwrap();
    config.controller = Some("127.0.0.1".parse().unwrap());
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(tpncp::run_with(
        DriverConfig {
            board: config,
            listen,
        },
        rx,
        writer,
    ));
    let mut out = Out(BufReader::new(reader).lines());
    // The driver is up once it answers a line command.
    input.send("onhook 1".into()).await.unwrap();
    out.until("already on-hook").await;

    let mut host = Host::connect(listen).await;
    let me = host.stream.local_addr().unwrap();
    assert_eq!(
        out.until("connected").await,
        format!(r#"{{"event":"connected","peer":"{me}"}}"#)
    );
    host.ok(&Command::OpenChannel {
        channel: Channel(0),
        coder: Coder::Mulaw,
        frames_per_packet: 2,
        dtmf_payload_type: 101,
    })
    .await;
    assert_eq!(
        out.until("command").await,
        r#"{"line":1,"event":"command","verb":"acCMD_OPEN_CHANNEL","seq":1,"code":0}"#
    );
    host.ok(&Command::ActivateRtp {
        channel: Channel(0),
        local_rtp_port: rtp_port,
        remote: media.local_addr().unwrap(),
        tx_payload_type: 0,
        rx_payload_type: 0,
    })
    .await;
    let created = out.until("\"created\"").await;
    assert!(
        created.contains(&format!("\"local\":\"127.0.0.1:{rtp_port}\"")),
        "{created}"
    );

    let wav = temp("tone.wav");
    write_tone(&wav);
    input
        .send(format!("say 1 {}", wav.display()))
        .await
        .unwrap();
    let mut buf = vec![0u8; 2048];
    for i in 0..5 {
        let (n, from) = tokio::time::timeout(Duration::from_secs(10), media.recv_from(&mut buf))
            .await
            .expect("RTP")
            .unwrap();
        assert_eq!(from.port(), rtp_port, "from the channel's port");
        let p = codecs::rtp::Repr::parse_bytes(&buf[..n]).unwrap();
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.marker, i == 0);
    }
    let done = out.until("say_done").await;
    assert!(done.contains("\"packets\":5"), "{done}");

    // Hook events and keep-alives on the connection.
    input.send("offhook 1".into()).await.unwrap();
    assert_eq!(host.next().await, (Channel(0), Event::OffHook));
    sleep(Duration::from_secs(6)).await;
    assert!(matches!(
        host.event().await,
        Some((
            Channel(-1),
            Event::KeepAlive {
                commands_processed: 2
            }
        ))
    ));

    // Broken framing (a length below the header's) closes the connection.
    host.stream
        .write_all(&[0x1c, 0xe9, 0, 2, 0, 1, 0, 0, 0, 0, 0, 2])
        .await
        .unwrap();
    while host.event().await.is_some() {}
    let gone = out.until("disconnected").await;
    assert!(gone.contains("\"reason\":\"framing"), "{gone}");

    // A new connection: the board kept the line off-hook.
    let mut host = Host::connect(listen).await;
    out.until("\"connected\"").await;
    host.ok(&Command::QueryStatus {
        channel: Channel(0),
    })
    .await;
    assert_eq!(
        host.next().await,
        (
            Channel(0),
            Event::FxsStatus {
                off_hook: true,
                ringing: false,
                message_waiting: false
            }
        )
    );

    // UDP on the same port, little-endian: answered by UDP in that order.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut m = Vec::new();
    let header = Header {
        order: ByteOrder::Little,
        version: VERSION,
        seq: Seq(77),
    };
    wire::encode_command(
        &header,
        &Command::CloseChannel {
            channel: Channel(1),
        },
        &mut m,
    );
    udp.send_to(&m, listen).await.unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), udp.recv_from(&mut buf))
        .await
        .expect("a UDP answer")
        .unwrap();
    let (h, channel, event) = wire::decode_event(&buf[..n]).unwrap();
    assert_eq!(h.order, ByteOrder::Little);
    assert_eq!(channel, Channel(1));
    assert_eq!(
        event,
        Event::CommandAck {
            seq: Seq(77),
            command_id: wire::id::CLOSE_CHANNEL
        }
    );

    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();
    let _ = std::fs::remove_file(wav);
}

#[tokio::test(start_paused = true)]
async fn a_new_connection_replaces_the_old_and_strangers_are_refused() {
    let (listen, rtp_port) = free_ports();
    let mut config = Config::new(1).unwrap();
    config.rtp_port(rtp_port).unwrap();
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(tpncp::run_with(
        DriverConfig {
            board: config.clone(),
            listen,
        },
        rx,
        writer,
    ));
    let mut out = Out(BufReader::new(reader).lines());
    input.send("onhook 1".into()).await.unwrap();
    out.until("already on-hook").await;

    let mut first = Host::connect(listen).await;
    out.until("\"connected\"").await;
    let mut second = Host::connect(listen).await;
    let replaced = out.until("disconnected").await;
    assert!(replaced.contains("\"reason\":\"replaced\""), "{replaced}");
    out.until("\"connected\"").await;
    assert_eq!(first.event().await, None, "the first connection is closed");
    input.send("offhook 1".into()).await.unwrap();
    assert_eq!(second.next().await, (Channel(0), Event::OffHook));
    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();

    // Only 127.0.0.2 may drive this one.
    let (listen, rtp_port) = free_ports();
    config.rtp_port(rtp_port).unwrap();
    config.controller = Some("127.0.0.2".parse().unwrap());
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(tpncp::run_with(
        DriverConfig {
            board: config,
            listen,
        },
        rx,
        writer,
    ));
    let mut out = Out(BufReader::new(reader).lines());
    input.send("onhook 1".into()).await.unwrap();
    out.until("already on-hook").await;
    let mut stranger = Host::connect(listen).await;
    let refused = out.until("refused").await;
    assert!(refused.contains("not the controller"), "{refused}");
    assert_eq!(stranger.event().await, None);
    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();
}
