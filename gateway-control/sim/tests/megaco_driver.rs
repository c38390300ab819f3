//! The MEGACO side's driver on loopback against a scripted controller, in paused tokio time:
//! over UDP, registration, arming, off-hook → Notify, Add with RTP that really flows, Subtract;
//! over TCP (TPKT, in real time), registration, a Notify, and a lost connection that is made
//! again and announced with `Method = Disconnected`.
#![cfg(feature = "driver")]

use std::net::SocketAddr;
use std::time::Duration;

use gateway_control::megaco::tpkt::{self, Deframer};
use gateway_sim::megaco::{self, Config, DriverConfig, Transport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
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

/// The id after `Transaction = ` in a message.
fn transaction(m: &str) -> u32 {
    let at = m.find("Transaction = ").expect("a request") + "Transaction = ".len();
    m[at..].split_whitespace().next().unwrap().parse().unwrap()
}

struct Udp {
    sock: UdpSocket,
    mg: Option<SocketAddr>,
}

impl Udp {
    async fn expect(&mut self, needle: &str) -> String {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) =
                tokio::time::timeout(Duration::from_secs(30), self.sock.recv_from(&mut buf))
                    .await
                    .expect("the gateway sent nothing")
                    .unwrap();
            self.mg = Some(from);
            let m = String::from_utf8(buf[..n].to_vec()).unwrap();
            if m.contains(needle) {
                return m;
            }
        }
    }

    async fn send(&mut self, text: &str) {
        let text = format!("MEGACO/1 [127.0.0.1]:2944\n{text}\n");
        self.sock
            .send_to(text.as_bytes(), self.mg.unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn udp_register_arm_offhook_add_rtp_subtract() {
    let mgc = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_addr = media.local_addr().unwrap();
    let mut config = Config::new(2, mgc.local_addr().unwrap()).unwrap();
    config.seed(42);
    let mut driver = DriverConfig::new(config);
    driver.listen = "127.0.0.1:0".parse().unwrap();
    driver.rtp_ports = 42000..=42998;
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(megaco::run_with(driver, rx, writer));
    let mut out = Out(BufReader::new(reader).lines());
    let mut c = Udp {
        sock: mgc,
        mg: None,
    };

    let sc = c.expect("ServiceChange = ROOT").await;
    let port = c.mg.unwrap().port();
    assert!(
        sc.starts_with(&format!("MEGACO/1 [127.0.0.1]:{port}\n")),
        "the default mId is the control socket's address: {sc}"
    );
    c.send(&format!(
        "Reply = {} {{ Context = - {{ ServiceChange = ROOT }} }}",
        transaction(&sc)
    ))
    .await;
    assert_eq!(
        out.until("rsip").await,
        r#"{"event":"rsip","method":"restart","acknowledged":true,"code":200}"#
    );

    c.send("Transaction = 10 { Context = - { Modify = aaln/1 { Events = 3 { al/of } } } }")
        .await;
    c.expect("Reply = 10").await;
    input.send("offhook 1".into()).await.unwrap();
    let n = c.expect("Notify = aaln/1").await;
    assert!(n.contains("ObservedEvents = 3"), "{n}");
    c.send(&format!(
        "Reply = {} {{ Context = - {{ Notify = aaln/1 }} }}",
        transaction(&n)
    ))
    .await;

    c.send(&format!(
        "Transaction = 11 {{ Context = $ {{ Add = aaln/1, Add = $ {{ Media {{ Stream = 1 {{ \
         LocalControl {{ Mode = SendReceive }}, Local {{\nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0\n}}, \
         Remote {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio {} RTP/AVP 0\n}} }} }} }} }} }}",
        media_addr.port()
    ))
    .await;
    let r = c.expect("Reply = 11").await;
    let m = r.find("m=audio ").expect("a Local SDP") + "m=audio ".len();
    let rtp_port: u16 = r[m..].split_whitespace().next().unwrap().parse().unwrap();
    assert!((42000..=42998).contains(&rtp_port), "{r}");
    let created = out.until("\"created\"").await;
    assert!(created.contains("\"id\":\"rtp/1\""), "{created}");
    let ctx: u32 = r[r.find("Context = ").unwrap() + 10..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // RTP from the far end reaches the context's port and is counted.
    media
        .send_to(
            &[0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0xCA, 0xFE, 0xFF, 0xFF],
            SocketAddr::from(([127, 0, 0, 1], rtp_port)),
        )
        .await
        .unwrap();
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(50)).await;
    c.send(&format!(
        "Transaction = 12 {{ Context = {ctx} {{ Subtract = rtp/1, Subtract = aaln/1 }} }}"
    ))
    .await;
    let r = c.expect("Reply = 12").await;
    assert!(r.contains("rtp/pr = 1"), "{r}");
    out.until("\"deleted\"").await;

    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();
}

async fn read_tpkt(s: &mut TcpStream, d: &mut Deframer) -> Option<String> {
    let mut buf = vec![0u8; 65536];
    loop {
        if let Some(m) = d.next() {
            return Some(String::from_utf8(m.unwrap()).unwrap());
        }
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
            .await
            .expect("nothing from the gateway")
            .unwrap();
        if n == 0 {
            return None;
        }
        d.push(&buf[..n]);
    }
}

async fn write_tpkt(s: &mut TcpStream, text: &str) {
    let mut framed = Vec::new();
    tpkt::frame(
        format!("MEGACO/1 [127.0.0.1]:2944\n{text}\n").as_bytes(),
        &mut framed,
    )
    .unwrap();
    s.write_all(&framed).await.unwrap();
}

// Real time: paused time jumps over the waits for TCP I/O. The reconnection takes a second.
#[tokio::test]
async fn tcp_registers_notifies_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(1, listener.local_addr().unwrap()).unwrap();
    config.seed(43).transport(Transport::Tcp);
    config.mid("mg7").unwrap();
    let mut driver = DriverConfig::new(config);
    // A fixed local port: reconnections come from it again.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    driver.listen = probe.local_addr().unwrap();
    drop(probe);
    driver.rtp_ports = 43000..=43998;
    let (input, rx) = mpsc::channel::<String>(16);
    let (writer, reader) = tokio::io::duplex(1 << 16);
    let sim = tokio::spawn(megaco::run_with(driver, rx, writer));
    let mut out = Out(BufReader::new(reader).lines());

    let (mut s, _) = listener.accept().await.unwrap();
    let mut d = Deframer::new();
    let sc = read_tpkt(&mut s, &mut d).await.unwrap();
    assert!(sc.starts_with("MEGACO/1 mg7\n"), "{sc}");
    assert!(sc.contains("Method = Restart"), "{sc}");
    write_tpkt(
        &mut s,
        &format!(
            "Reply = {} {{ Context = - {{ ServiceChange = ROOT }} }}",
            transaction(&sc)
        ),
    )
    .await;
    out.until("rsip").await;
    write_tpkt(
        &mut s,
        "Transaction = 20 { Context = - { Modify = aaln/1 { Events = 1 { al/of } } } }",
    )
    .await;
    loop {
        let m = read_tpkt(&mut s, &mut d).await.unwrap();
        if m.contains("Reply = 20") {
            break;
        }
    }
    input.send("offhook 1".into()).await.unwrap();
    let n = loop {
        let m = read_tpkt(&mut s, &mut d).await.unwrap();
        if m.contains("Notify") {
            break m;
        }
    };
    assert!(n.contains("al/of"), "{n}");
    // The controller drops the connection: the gateway connects again and says so.
    drop(s);
    let (mut s, _) = listener.accept().await.unwrap();
    let mut d = Deframer::new();
    let sc = loop {
        let m = read_tpkt(&mut s, &mut d).await.unwrap();
        if m.contains("ServiceChange") {
            break m;
        }
    };
    assert!(sc.contains("Method = Disconnected"), "{sc}");
    write_tpkt(
        &mut s,
        &format!(
            "Reply = {} {{ Context = - {{ ServiceChange = ROOT }} }}",
            transaction(&sc)
        ),
    )
    .await;
    assert_eq!(
        out.until("disconnected").await,
        r#"{"event":"rsip","method":"disconnected","acknowledged":true,"code":200}"#
    );
    input.send("quit".into()).await.unwrap();
    sim.await.unwrap().unwrap();
}
