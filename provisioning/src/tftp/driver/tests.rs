//! The driver on loopback: both paths of a transfer, limits, stopping.

use super::*;
use crate::tftp::wire::Repr;
use std::time::Duration;

struct One;

impl Files for One {
    fn open(&self, name: &str, _peer: SocketAddr) -> Result<Content, crate::files::Refusal> {
        match name {
            "big" => Ok(Content::Memory((0..100_000u32).map(|i| i as u8).collect())),
            _ => Err(crate::files::Refusal::NotFound),
        }
    }
}

async fn start(config: DriverConfig) -> (SocketAddr, Handle, tokio::sync::oneshot::Sender<()>) {
    let d = Tftpd::bind(config, Arc::new(One)).unwrap();
    let addr = d.local_addr().unwrap();
    let handle = d.handle();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(d.run(async {
        let _ = rx.await;
    }));
    (addr, handle, tx)
}

fn loopback() -> DriverConfig {
    DriverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..DriverConfig::default()
    }
}

/// A lockstep client on loopback; returns the file.
async fn fetch(server: SocketAddr, name: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rrq = b"\x00\x01".to_vec();
    for s in [name, "octet"]
        .into_iter()
        .chain(options.iter().flat_map(|(a, b)| [*a, *b]))
    {
        rrq.extend_from_slice(s.as_bytes());
        rrq.push(0);
    }
    sock.send_to(&rrq, server).await.unwrap();
    let mut data = Vec::new();
    let mut buf = vec![0u8; 70_000];
    let mut blksize = 512;
    let mut expected = 1u16;
    loop {
        let (n, from) = sock.recv_from(&mut buf).await.unwrap();
        assert_ne!(from, server, "a transfer answers from its own port");
        match Repr::parse(&buf[..n]).unwrap() {
            Repr::Oack { options } => {
                for o in options {
                    if o.name == "blksize" {
                        blksize = o.value.parse().unwrap();
                    }
                }
                sock.send_to(b"\x00\x04\x00\x00", from).await.unwrap();
            }
            Repr::Data { block, data: d } => {
                // A block sent again (the ACK was late on a loaded machine) is
                // acknowledged again and not kept twice.
                if block == expected {
                    data.extend_from_slice(d);
                    expected = expected.wrapping_add(1);
                }
                let ack = Repr::Ack { block }.to_vec().unwrap();
                sock.send_to(&ack, from).await.unwrap();
                if block == expected.wrapping_sub(1) && d.len() < blksize {
                    return data;
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A client asking for `window` blocks per ACK (RFC 7440), acknowledging every window.
async fn fetch_windowed(server: SocketAddr, name: &str, window: u16) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let rrq = format!("\0\x01{name}\0octet\0windowsize\0{window}\0");
    sock.send_to(rrq.as_bytes(), server).await.unwrap();
    let mut data = Vec::new();
    let mut buf = vec![0u8; 2000];
    let mut last = 0u16;
    loop {
        let (n, from) = sock.recv_from(&mut buf).await.unwrap();
        match Repr::parse(&buf[..n]).unwrap() {
            Repr::Oack { .. } => {
                sock.send_to(b"\x00\x04\x00\x00", from).await.unwrap();
            }
            Repr::Data { block, data: d } => {
                // Out of order (a window sent again on a loaded machine): acknowledge the
                // last block kept, so that the server goes on from there (RFC 7440).
                let in_order = block == last.wrapping_add(1);
                if in_order {
                    last = block;
                    data.extend_from_slice(d);
                }
                let end = in_order && d.len() < 512;
                if end || !in_order || block % window == 0 {
                    let ack = Repr::Ack { block: last }.to_vec().unwrap();
                    sock.send_to(&ack, from).await.unwrap();
                }
                if end {
                    return data;
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn serves_on_loopback_and_counts() {
    serves_and_counts(loopback()).await;
}

#[tokio::test]
async fn serves_lockstep_transfers_as_tasks_past_the_thread_limit() {
    serves_and_counts(DriverConfig {
        lockstep_threads: 0,
        ..loopback()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockstep_and_windowed_transfers_at_once_each_get_their_file() {
    let (addr, handle, _stop) = start(DriverConfig {
        lockstep_threads: 2,
        ..loopback()
    })
    .await;
    let want: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut all = JoinSet::new();
    for i in 0..8 {
        all.spawn(async move {
            if i % 2 == 0 {
                fetch(addr, "big", &[]).await
            } else {
                fetch_windowed(addr, "big", 4).await
            }
        });
    }
    while let Some(got) = all.join_next().await {
        assert!(got.unwrap() == want, "every client gets the file");
    }
    while handle.active() > 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(handle.stats().completed, 8);
}

#[tokio::test]
async fn a_silent_client_on_a_thread_is_given_up_and_frees_its_slot() {
    let mut config = DriverConfig {
        lockstep_threads: 1,
        ..loopback()
    };
    config
        .transfer
        .retries(1)
        .timeout(Duration::from_millis(20))
        .unwrap();
    let (addr, handle, _stop) = start(config).await;
    for _ in 0..2 {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(b"\x00\x01big\x00octet\x00", addr)
            .await
            .unwrap();
        let mut buf = [0u8; 1000];
        let mut datas = 0;
        loop {
            let (n, _) = sock.recv_from(&mut buf).await.unwrap();
            match Repr::parse(&buf[..n]).unwrap() {
                Repr::Data { block: 1, .. } => {
                    datas += 1;
                    assert_eq!(handle.on_threads(), 1);
                }
                Repr::Error { code, .. } => {
                    assert_eq!(code, ErrorCode::UNDEFINED);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(datas, 2, "sent once and retried once");
        // Each in turn had the one thread, and gave it back.
        while handle.active() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(handle.on_threads(), 0);
    }
    while handle.active() > 0 {
        tokio::task::yield_now().await;
    }
    let s = handle.stats();
    assert_eq!((s.failed, s.timed_out), (2, 2));
}

#[tokio::test]
async fn a_transfer_on_a_thread_ends_with_an_error_when_the_server_stops() {
    let (addr, handle, stop) = start(loopback()).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\x00\x01big\x00octet\x00", addr)
        .await
        .unwrap();
    let mut buf = [0u8; 1000];
    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
    assert!(matches!(
        Repr::parse(&buf[..n]),
        Ok(Repr::Data { block: 1, .. })
    ));
    assert_eq!(handle.on_threads(), 1);
    stop.send(()).unwrap();
    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"\x00\x05\x00\x00Server stopping\x00");
    while handle.active() > 0 {
        tokio::task::yield_now().await;
    }
    let s = handle.stats();
    assert_eq!((s.failed, s.timed_out), (1, 0));
}

async fn serves_and_counts(config: DriverConfig) {
    let (addr, handle, stop) = start(config).await;
    let want: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    assert_eq!(fetch(addr, "big", &[]).await, want);
    assert_eq!(
        fetch(addr, "big", &[("blksize", "1468"), ("tsize", "0")]).await,
        want
    );
    // Completion is counted when the task ends, right after the final ACK.
    while handle.active() > 0 {
        tokio::task::yield_now().await;
    }
    let s = handle.stats();
    assert_eq!((s.started, s.completed, s.bytes), (2, 2, 200_000));
    // A missing file: ERROR 1 from the server's port.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\x00\x01nope\x00octet\x00", addr)
        .await
        .unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = sock.recv_from(&mut buf).await.unwrap();
    assert_eq!(from, addr);
    assert!(matches!(
        Repr::parse(&buf[..n]),
        Ok(Repr::Error {
            code: ErrorCode::FILE_NOT_FOUND,
            ..
        })
    ));
    assert_eq!(handle.stats().refused.not_found, 1);
    stop.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_given_up() {
    // On a task, where the paused clock runs the timers.
    let mut config = DriverConfig {
        lockstep_threads: 0,
        ..loopback()
    };
    config.transfer.retries(2);
    let (addr, handle, _stop) = start(config).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\x00\x01big\x00octet\x00", addr)
        .await
        .unwrap();
    let mut buf = [0u8; 1000];
    let mut datas = 0;
    loop {
        let (n, _) = sock.recv_from(&mut buf).await.unwrap();
        match Repr::parse(&buf[..n]).unwrap() {
            Repr::Data { block: 1, .. } => datas += 1,
            Repr::Error { code, .. } => {
                assert_eq!(code, ErrorCode::UNDEFINED);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(datas, 3, "sent once and retried twice");
    while handle.active() > 0 {
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(1)).await;
    }
    let s = handle.stats();
    assert_eq!((s.failed, s.timed_out, s.retransmits), (1, 1, 2));
}

#[tokio::test]
async fn the_transfer_limit_answers_busy() {
    let mut config = loopback();
    config.max_transfers = 1;
    let (addr, handle, _stop) = start(config).await;
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.send_to(b"\x00\x01big\x00octet\x00", addr).await.unwrap();
    let mut buf = [0u8; 1000];
    a.recv_from(&mut buf).await.unwrap(); // DATA 1, and no ACK: it stays running
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    b.send_to(b"\x00\x01big\x00octet\x00", addr).await.unwrap();
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(
        &buf[..n],
        b"\x00\x05\x00\x00Server busy, try again later\x00"
    );
    assert_eq!(handle.stats().refused.busy, 1);
}
