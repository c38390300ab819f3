//! Interop with a real MGCP gateway nobody here wrote: osmo-mgw (Osmocom), started on loopback.
//!
//! Our call agent (the sans-IO core on the tokio driver, exactly as the appliance runs it)
//! audits osmo-mgw's endpoints, creates connections on them — one on a named endpoint, one on a
//! wildcard that osmo-mgw resolves — modifies and deletes them, and RTP actually flows through
//! osmo-mgw's endpoint and back to our socket (loopback mode). osmo-mgw has no line package
//! (MACHINE-NOTES.md): it accepts our notification requests and never notifies.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::Duration;

use codecs::rtp::{Packet, Packetizer, Repr, SequenceNumber, Ssrc, Timestamp};
use gateway_control::driver;
use gateway_control::mgcp::{CallAgent, Config, GatewayConfig};
use gateway_control::model::{
    CallId, Codec, Command, ConnectionMode, Event, GatewayId, LineId, Media,
};
use offhook_tests::osmo::{DOMAIN, OsmoMgw};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// The next event matching `want`, skipping others; fails after [`WAIT`].
async fn expect<T>(
    events: &mut mpsc::Receiver<Event>,
    what: &str,
    mut want: impl FnMut(&Event) -> Option<T>,
) -> T {
    let found = timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            if let Some(t) = want(&e) {
                return Some(t);
            }
            if let Event::CommandFailed { .. } = e {
                panic!("while waiting for {what}: {e:?}");
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(t)) => t,
        Ok(None) => panic!("driver stopped while waiting for {what}"),
        Err(_) => panic!("no {what} within {WAIT:?}"),
    }
}

fn media(address: SocketAddr) -> Media {
    Media {
        address,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: None,
    }
}

/// Sends `count` PCMU packets from `rtp` to `to` and returns the payloads that come back from
/// `to` (osmo-mgw's one-byte keep-alive "dummy" packets are skipped).
async fn loop_rtp(rtp: &UdpSocket, to: SocketAddr, count: u16) -> Vec<(u16, Vec<u8>)> {
    let mut packetizer = Packetizer::new(Ssrc(0x0ff1_0ff1), 0, SequenceNumber(1000), Timestamp(0));
    let mut back = Vec::new();
    let mut buf = [0u8; 2048];
    for n in 0..count {
        let payload = [n as u8; 160];
        let repr: Repr<'_> = packetizer.packet(&payload, 160);
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut out).expect("emit RTP");
        rtp.send_to(&out, to).await.expect("send RTP");
        // Collect whatever has come back so far, without blocking on a lost packet.
        while let Ok(Ok((len, from))) =
            timeout(Duration::from_millis(200), rtp.recv_from(&mut buf)).await
        {
            // Skip osmo-mgw's one-byte keep-alives and late packets of an earlier connection.
            if len <= 1 || from != to {
                continue;
            }
            let packet = Packet::new_checked(&buf[..len]).expect("osmo-mgw sent valid RTP");
            assert_eq!(packet.payload_type(), 0);
            back.push((packet.sequence_number().0, packet.payload().to_vec()));
            if back.len() as u16 > n {
                break;
            }
        }
    }
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_agent_drives_osmo_mgw() {
    let mgw = OsmoMgw::start();
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind call agent");
    let me = socket.local_addr().expect("local addr");
    let gateway = GatewayId::new("mgw");
    let named = LineId::new(gateway.clone(), "rtpbridge/1");
    let config = Config {
        gateways: vec![GatewayConfig {
            id: gateway.clone(),
            address: mgw.mgcp,
            domain: DOMAIN.to_owned(),
            lines: vec!["rtpbridge/1".to_owned()],
        }],
        notified_entity: format!("offhook@[127.0.0.1]:{}", me.port()),
        rng_seed: 7,
        // osmo-mgw 1.10 reads only the first message of a datagram (RFC 3435 §3.5.5
        // piggy-backing): it drops a command that follows a response, ignores a second
        // command, and parses one after a CRCX as the CRCX's parameters (539). Checked against
        // it with piggy-backed AUEP/RQNT/CRCX datagrams.
        piggyback: false,
        ..Config::default()
    };
    let agent = CallAgent::new(config, driver::now()).expect("valid config");
    let (handle, mut events, task) = driver::spawn(agent, socket, |_| {});

    // Start-up: the line is audited (osmo-mgw answers AUEP 200) and armed; the gateway is up.
    expect(&mut events, "GatewayUp", |e| {
        matches!(e, Event::GatewayUp { gateway: g } if *g == gateway).then_some(())
    })
    .await;
    handle
        .send(Command::Audit {
            line: named.clone(),
        })
        .await
        .expect("driver running");
    expect(&mut events, "LineStatus after Audit", |e| {
        matches!(e, Event::LineStatus { line, off_hook: false } if *line == named).then_some(())
    })
    .await;

    // A connection on the named endpoint, in loopback: RTP goes through osmo-mgw and back.
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("bind RTP");
    let ours = rtp.local_addr().expect("RTP addr");
    let call = CallId(0x1A);
    handle
        .send(Command::CreateConnection {
            line: named.clone(),
            call,
            mode: ConnectionMode::Loopback,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: Some(media(ours)),
        })
        .await
        .expect("driver running");
    let local = expect(&mut events, "ConnectionCreated", |e| match e {
        Event::ConnectionCreated {
            line,
            call: c,
            local,
        } if *c == call => {
            assert_eq!(*line, named);
            Some(*local)
        }
        _ => None,
    })
    .await;
    assert_eq!(local.address.ip(), mgw.mgcp.ip());
    assert!(
        (mgw.rtp_ports.0..=mgw.rtp_ports.1).contains(&local.address.port()),
        "osmo-mgw's RTP port {} is in its configured range {:?}",
        local.address.port(),
        mgw.rtp_ports
    );
    assert_eq!(local.codec, Codec::Pcmu);
    let back = loop_rtp(&rtp, local.address, 20).await;
    assert!(
        back.len() >= 18,
        "at least 18 of 20 RTP packets came back through osmo-mgw (got {}):\n{}",
        back.len(),
        mgw.log_text()
    );
    for (seq, payload) in &back {
        assert_eq!(payload.len(), 160);
        assert!(
            payload.iter().all(|b| *b == payload[0]),
            "payload intact at seq {seq}"
        );
    }

    // Modify it, then delete it.
    handle
        .send(Command::ModifyConnection {
            line: named.clone(),
            call,
            mode: Some(ConnectionMode::RecvOnly),
            remote: None,
        })
        .await
        .expect("driver running");
    expect(&mut events, "ConnectionModified", |e| {
        matches!(e, Event::ConnectionModified { call: c, .. } if *c == call).then_some(())
    })
    .await;
    handle
        .send(Command::DeleteConnection {
            line: named.clone(),
            call,
        })
        .await
        .expect("driver running");
    expect(&mut events, "ConnectionDeleted", |e| {
        matches!(e, Event::ConnectionDeleted { call: c, .. } if *c == call).then_some(())
    })
    .await;

    // A wildcard CreateConnection: osmo-mgw picks the endpoint and names it (Z:).
    let wild = LineId::new(gateway.clone(), "rtpbridge/*");
    let call2 = CallId(0x2B);
    handle
        .send(Command::CreateConnection {
            line: wild,
            call: call2,
            mode: ConnectionMode::Loopback,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: Some(media(ours)),
        })
        .await
        .expect("driver running");
    let (line2, local2) = expect(&mut events, "wildcard ConnectionCreated", |e| match e {
        Event::ConnectionCreated { line, call, local } if *call == call2 => {
            Some((line.clone(), *local))
        }
        _ => None,
    })
    .await;
    assert!(
        line2.endpoint.starts_with("rtpbridge/") && !line2.endpoint.contains('*'),
        "the event names the endpoint osmo-mgw chose: {line2}"
    );
    let back = loop_rtp(&rtp, local2.address, 10).await;
    assert!(
        back.len() >= 8,
        "RTP loops through the wildcard-created connection too"
    );
    handle
        .send(Command::DeleteConnection {
            line: line2.clone(),
            call: call2,
        })
        .await
        .expect("driver running");
    expect(&mut events, "wildcard ConnectionDeleted", |e| {
        matches!(e, Event::ConnectionDeleted { call, .. } if *call == call2).then_some(())
    })
    .await;

    drop(handle);
    drop(events);
    timeout(WAIT, task)
        .await
        .expect("driver stops when its handle is dropped")
        .expect("driver task")
        .expect("driver socket");
}
