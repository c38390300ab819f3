//! The gateway simulator's driver on loopback against a scripted call agent, in paused tokio
//! time: RSIP, RQNT, off-hook → NTFY, CRCX, `say` → paced RTP, `hear` → WAV, DLCX, `quit`.
#![cfg(feature = "driver")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use codecs::rtp;
use codecs::wav::{WavReader, WavWriter};
use gateway_control::mgcp::wire::{self, AudioDescription, Message, Param};
use gateway_sim::{Config, DriverConfig, run_with};
use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream, Lines};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

struct CallAgent {
    sock: UdpSocket,
    gateway: Option<SocketAddr>,
    next_tx: u32,
}

impl CallAgent {
    /// Receives one MGCP datagram, as text.
    async fn recv(&mut self) -> String {
        let mut buf = vec![0u8; 8192];
        let (n, from) =
            tokio::time::timeout(Duration::from_secs(30), self.sock.recv_from(&mut buf))
                .await
                .expect("the gateway sent nothing")
                .unwrap();
        self.gateway = Some(from);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Receives until a datagram starts with `prefix` (skipping retransmissions of others).
    async fn expect(&mut self, prefix: &str) -> String {
        loop {
            let m = self.recv().await;
            if m.starts_with(prefix) {
                return m;
            }
        }
    }

    async fn answer(&mut self, command: &str, code: u16) {
        let tx = command.split_whitespace().nth(1).unwrap();
        self.send_raw(&format!("{code} {tx} OK\r\n")).await;
    }

    async fn send_raw(&mut self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.gateway.unwrap())
            .await
            .unwrap();
    }

    /// Sends a command (`{tx}` replaced) and returns its final response.
    async fn command(&mut self, text: &str) -> String {
        self.next_tx += 1;
        let tx = self.next_tx.to_string();
        self.send_raw(&text.replace("{tx}", &tx)).await;
        loop {
            let m = self.recv().await;
            let mut words = m.split_whitespace();
            let code = words.next().unwrap_or_default();
            if words.next() == Some(tx.as_str()) && !code.starts_with('1') {
                return m;
            }
        }
    }
}

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

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("offhook-sim-{}-{name}", std::process::id()))
}

/// 100 ms of a 440 Hz tone, 16 kHz stereo: the driver must downmix and resample it.
fn write_tone(path: &PathBuf) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = WavWriter::new(file, 16000, 2, Some(1600)).unwrap();
    let mut samples = Vec::new();
    for i in 0..1600 {
        let v = (8000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 16000.0).sin()) as i16;
        samples.extend([v, v]);
    }
    w.write_samples(&samples).unwrap();
    w.finish().unwrap();
}

fn rtp_packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let repr = rtp::Repr {
        marker: seq == 0,
        payload_type: 0,
        sequence_number: rtp::SequenceNumber(seq),
        timestamp: rtp::Timestamp(u32::from(seq) * 160),
        ssrc: rtp::Ssrc(0xCAFE),
        csrcs: Default::default(),
        extension: None,
        payload,
        padding: 0,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    buf
}

#[tokio::test(start_paused = true)]
async fn rsip_rqnt_offhook_crcx_say_hear_dlcx() {
    let ca_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ca_addr = ca_sock.local_addr().unwrap();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_addr = media.local_addr().unwrap();

    let mut config = Config::new(2, ca_addr).unwrap();
    config.seed(42);
    let mut driver = DriverConfig::new(config);
    driver.listen = "127.0.0.1:0".parse().unwrap();
    driver.rtp_ports = 41000..=41998;
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(run_with(driver, rx, writer));
    let mut out = Out(BufReader::new(reader).lines());
    let mut ca = CallAgent {
        sock: ca_sock,
        gateway: None,
        next_tx: 500,
    };

    // The restart announcement, then its acknowledgement reported.
    let rsip = ca.expect("RSIP").await;
    assert!(rsip.contains("*@[127.0.0.1] MGCP 1.0"), "{rsip}");
    assert!(rsip.contains("RM: restart"), "{rsip}");
    ca.answer(&rsip, 200).await;
    assert_eq!(
        out.until("rsip").await,
        r#"{"event":"rsip","method":"restart","acknowledged":true,"code":200}"#
    );

    // Arm line 1 for off-hook; pick up; the NTFY arrives with our X:.
    let r = ca
        .command("RQNT {tx} aaln/1@[127.0.0.1] MGCP 1.0\r\nX: 7A\r\nR: L/hd(N)\r\n")
        .await;
    assert!(r.starts_with("200 "), "{r}");
    input.send("offhook 1".into()).await.unwrap();
    assert_eq!(
        out.until("offhook").await,
        r#"{"line":1,"event":"offhook"}"#
    );
    let ntfy = ca.expect("NTFY").await;
    assert!(ntfy.contains("aaln/1@[127.0.0.1]"), "{ntfy}");
    assert!(ntfy.contains("X: 7A") && ntfy.contains("O: L/hd"), "{ntfy}");
    ca.answer(&ntfy, 200).await;

    // A connection towards our media socket, PCMU.
    let crcx = format!(
        "CRCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: 1C\r\nL: p:20, a:PCMU\r\nM: sendrecv\r\n\r\n\
         v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\n",
        media_addr.port()
    );
    let r = ca.command(&crcx).await;
    assert!(r.starts_with("200 "), "{r}");
    let parsed = wire::parse(r.as_bytes()).unwrap();
    let Message::Response(resp) = &parsed[0] else {
        panic!("{r}")
    };
    let id = wire::find(&resp.params, |p| match p {
        Param::ConnectionId(i) => Some(i.to_string()),
        _ => None,
    })
    .unwrap();
    let local = AudioDescription::from_sdp(resp.sdp.as_ref().unwrap())
        .unwrap()
        .address;
    assert!((41000..=41998).contains(&local.port()), "{local}");
    let created = out.until("\"created\"").await;
    assert!(created.contains(&format!("\"id\":\"{id}\"")), "{created}");

    // say: 100 ms at 16 kHz stereo → 800 samples at 8 kHz → 5 packets of 160, 20 ms apart.
    let wav = temp("tone.wav");
    write_tone(&wav);
    input
        .send(format!("say 1 {}", wav.display()))
        .await
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let mut got = Vec::new();
    for _ in 0..5 {
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), media.recv_from(&mut buf))
            .await
            .expect("RTP")
            .unwrap();
        assert_eq!(from, local, "RTP comes from the connection's port");
        got.push((tokio::time::Instant::now(), buf[..n].to_vec()));
    }
    let first = rtp::Repr::parse_bytes(&got[0].1).unwrap();
    for (i, (_, bytes)) in got.iter().enumerate() {
        let r = rtp::Repr::parse_bytes(bytes).unwrap();
        assert_eq!(r.payload_type, 0);
        assert_eq!(r.ssrc, first.ssrc);
        assert_eq!(r.marker, i == 0);
        assert_eq!(r.payload.len(), 160);
        assert_eq!(
            r.sequence_number.0,
            first.sequence_number.0.wrapping_add(i as u16)
        );
        assert_eq!(
            r.timestamp.0,
            first.timestamp.0.wrapping_add(160 * i as u32)
        );
    }
    // Paced in (virtual) real time: 20 ms between packets.
    let span = got[4].0 - got[0].0;
    assert!(
        span >= Duration::from_millis(80) && span < Duration::from_millis(100),
        "{span:?}"
    );
    // The tone survived resampling and µ-law: not silence.
    let loud = first
        .payload
        .iter()
        .filter(|&&b| codecs::g711::ulaw_decode_sample(b).unsigned_abs() > 2000)
        .count();
    assert!(loud > 40, "{loud} loud samples");
    let done = out.until("say_done").await;
    assert!(done.contains("\"packets\":5"), "{done}");

    // hear: 10 packets of 160 samples → 200 ms in the WAV once the connection is deleted.
    let heard = temp("heard.wav");
    input
        .send(format!("hear 1 {}", heard.display()))
        .await
        .unwrap();
    // The command is taken before the media arrives.
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(5)).await;
    for seq in 0..10u16 {
        media
            .send_to(&rtp_packet(seq, &[0x20; 160]), local)
            .await
            .unwrap();
    }
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(50)).await;
    let r = ca
        .command(&format!(
            "DLCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: 1C\r\nI: {id}\r\n"
        ))
        .await;
    assert!(r.starts_with("250 "), "{r}");
    assert!(r.contains("P: PS=5, OS=800, PR=10, OR=1600, PL=0"), "{r}");
    let done = out.until("hear_done").await;
    assert!(done.contains("\"ms\":200"), "{done}");
    let mut reader = WavReader::new(std::fs::File::open(&heard).unwrap()).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    let mut pcm = vec![0i16; 4000];
    let n = reader.read_samples(&mut pcm).unwrap();
    assert_eq!(n, 1600);
    assert!(
        pcm[..n]
            .iter()
            .all(|&s| s == codecs::g711::ulaw_decode_sample(0x20))
    );

    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();
    let _ = std::fs::remove_file(wav);
    let _ = std::fs::remove_file(heard);
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_reported_and_end_of_input_stops() {
    let ca_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(1, ca_sock.local_addr().unwrap()).unwrap();
    config.seed(3);
    let mut driver = DriverConfig::new(config);
    driver.listen = "127.0.0.1:0".parse().unwrap();
    driver.rtp_ports = 42000..=42010;
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(run_with(driver, rx, writer));
    let mut out = Out(BufReader::new(reader).lines());
    input.send("dance 1".into()).await.unwrap();
    assert!(out.until("error").await.contains("unknown command"));
    input.send("say 1 /nonexistent/x.wav".into()).await.unwrap();
    assert!(out.until("error").await.contains("\"line\":1"));
    input.send("digits 1 5".into()).await.unwrap();
    assert_eq!(
        out.until("error").await,
        r#"{"line":1,"error":"line is on-hook"}"#
    );
    drop(input);
    sim.await.unwrap().unwrap();
}

/// At the end of input the driver finishes a `say` in progress before it stops.
#[tokio::test(start_paused = true)]
async fn end_of_input_waits_for_say_to_finish() {
    let ca_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ca_addr = ca_sock.local_addr().unwrap();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(1, ca_addr).unwrap();
    config.seed(11);
    let mut driver = DriverConfig::new(config);
    driver.listen = "127.0.0.1:0".parse().unwrap();
    driver.rtp_ports = 43000..=43098;
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(run_with(driver, rx, writer));
    let mut out = Out(BufReader::new(reader).lines());
    let mut ca = CallAgent {
        sock: ca_sock,
        gateway: None,
        next_tx: 900,
    };
    let rsip = ca.expect("RSIP").await;
    ca.answer(&rsip, 200).await;
    let crcx = format!(
        "CRCX {{tx}} aaln/1@[127.0.0.1] MGCP 1.0\r\nC: 2\r\nM: sendonly\r\n\r\n\
         v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio {} RTP/AVP 8\r\n",
        media.local_addr().unwrap().port()
    );
    assert!(ca.command(&crcx).await.starts_with("200 "));
    let wav = temp("eof.wav");
    write_tone(&wav);
    input
        .send(format!("say 1 {}", wav.display()))
        .await
        .unwrap();
    drop(input);
    let done = out.until("say_done").await;
    assert!(done.contains("\"packets\":5"), "{done}");
    let mut buf = [0u8; 512];
    let mut packets = 0;
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(100), media.recv_from(&mut buf)).await
    {
        let r = rtp::Repr::parse_bytes(&buf[..n]).unwrap();
        assert_eq!(r.payload_type, 8, "the connection's codec, PCMA");
        packets += 1;
    }
    assert_eq!(packets, 5);
    sim.await.unwrap().unwrap();
    let _ = std::fs::remove_file(wav);
}
