//! On loopback, through a relay: every reply goes to giaddr:67 (here 127.0.0.x:67, one
//! address per test), so nothing is ever broadcast.

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

use tokio::sync::Semaphore;

use super::*;
use crate::Mac;
use crate::dhcp::wire::{DhcpOption, MessageType, Op, Repr, Xid, code};
use crate::dhcp::{Config, RateLimit, Subnet};

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const LIMIT: Duration = Duration::from_secs(10);

/// A store that waits for a permit before each save, and fails when told to.
struct GateStore {
    permits: Semaphore,
    entered: Notify,
    fail: AtomicBool,
    saved: Mutex<Vec<Lease>>,
}

impl Default for GateStore {
    fn default() -> Self {
        Self {
            permits: Semaphore::new(0),
            entered: Notify::new(),
            fail: AtomicBool::new(false),
            saved: Mutex::new(Vec::new()),
        }
    }
}

impl LeaseStore for GateStore {
    fn save(
        &self,
        leases: Vec<Lease>,
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
        Box::pin(async move {
            self.entered.notify_one();
            self.permits.acquire().await.expect("open").forget();
            if self.fail.load(Ordering::Relaxed) {
                return Err(StoreError::Store("disk on fire".into()));
            }
            self.saved.lock().unwrap().extend(leases);
            Ok(())
        })
    }
}

struct Setup {
    handle: Handle,
    store: Arc<GateStore>,
    relay: UdpSocket,
    server: SocketAddrV4,
    events: mpsc::Receiver<Event>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

/// The driver on 127.0.0.1:<any> for subnet 127.0.0.0/24, a relay socket on `relay`:67.
async fn setup(relay: Ipv4Addr, event_depth: usize) -> Setup {
    let mut config = Config::default();
    config
        .subnet(
            Subnet::new(Ipv4Addr::new(127, 0, 0, 0), 24)
                .unwrap()
                .range(Ipv4Addr::new(127, 0, 0, 100), Ipv4Addr::new(127, 0, 0, 199))
                .unwrap(),
        )
        .unwrap();
    config.new_clients(RateLimit {
        per_second: 0,
        burst: 0,
    });
    let handle = Handle::new(Server::new(config, SERVER, []).unwrap());
    let store = Arc::new(GateStore::default());
    let socket = bind(&DriverConfig {
        interface: None,
        listen: SocketAddrV4::new(SERVER, 0),
    })
    .unwrap();
    let SocketAddr::V4(server) = socket.local_addr().unwrap() else {
        unreachable!()
    };
    let relay = UdpSocket::bind(SocketAddrV4::new(relay, 67)).await.unwrap();
    let (events_tx, events) = mpsc::channel(event_depth);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        socket,
        handle.clone(),
        store.clone(),
        events_tx,
        async move {
            let _ = stopped.await;
        },
    ));
    Setup {
        handle,
        store,
        relay,
        server,
        events,
        stop: Some(stop),
        task,
    }
}

impl Setup {
    async fn send(&self, kind: MessageType, mac: Mac, xid: u32, options: Vec<DhcpOption<'_>>) {
        let SocketAddr::V4(relay) = self.relay.local_addr().unwrap() else {
            unreachable!()
        };
        let bytes = Repr {
            op: Op::Request,
            hops: 1,
            xid: Xid(xid),
            secs: 0,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: *relay.ip(),
            chaddr: mac,
            sname: Cow::Borrowed(&[]),
            file: Cow::Borrowed(&[]),
            message_type: kind,
            options,
        }
        .to_vec(1500)
        .unwrap();
        self.relay.send_to(&bytes, self.server).await.unwrap();
    }

    async fn recv(&self) -> Repr<'static> {
        let mut buf = vec![0u8; 2048];
        let (n, _) = tokio::time::timeout(LIMIT, self.relay.recv_from(&mut buf))
            .await
            .expect("a reply")
            .unwrap();
        buf.truncate(n);
        let repr = Repr::parse_bytes(&buf).unwrap();
        // Owned, so that the buffer can go.
        Repr {
            sname: Cow::Owned(repr.sname.into_owned()),
            file: Cow::Owned(repr.file.into_owned()),
            options: repr
                .options
                .into_iter()
                .map(|o| DhcpOption::new(o.code, o.data.into_owned()))
                .collect(),
            ..repr
        }
    }

    /// Nothing is waiting on the relay socket (loopback delivers at once).
    fn nothing_received(&self) -> bool {
        let mut buf = [0u8; 2048];
        self.relay.try_recv_from(&mut buf).is_err()
    }

    /// DISCOVER → OFFER, then REQUEST; returns the offered address.
    async fn discover_and_request(&self, mac: Mac, xid: u32) -> Ipv4Addr {
        self.send(MessageType::Discover, mac, xid, vec![]).await;
        let offer = self.recv().await;
        assert_eq!(offer.message_type, MessageType::Offer);
        self.send(
            MessageType::Request,
            mac,
            xid + 1,
            vec![
                DhcpOption::addresses(code::REQUESTED_IP, &[offer.yiaddr]),
                DhcpOption::addresses(code::SERVER_ID, &[SERVER]),
            ],
        )
        .await;
        offer.yiaddr
    }

    async fn stop(mut self) -> Handle {
        let _ = self.stop.take().expect("running").send(());
        self.store.permits.add_permits(1000);
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("stops")
            .unwrap()
            .unwrap();
        self.handle
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(LIMIT, async {
        while !f() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn an_ack_goes_out_only_once_its_lease_is_saved() {
    let s = setup(Ipv4Addr::new(127, 0, 0, 2), 64).await;
    let mac = Mac([2, 0, 0, 0, 0, 1]);
    let ip = s.discover_and_request(mac, 0x100).await;
    s.store.entered.notified().await;
    // The save has begun and not finished: the ACK must not be out.
    assert!(
        s.nothing_received(),
        "ACK sent before its lease was durable"
    );
    s.store.permits.add_permits(1);
    let ack = s.recv().await;
    assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, ip));
    let saved = s.store.saved.lock().unwrap().clone();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].mac, saved[0].ip), (mac, ip));
    let handle = s.stop().await;
    let stats = handle.driver_stats();
    assert_eq!((stats.saves, stats.saved_leases, stats.sent), (1, 1, 2));
    assert_eq!(handle.leases().len(), 1);
}

#[tokio::test]
async fn acks_waiting_for_one_save_go_out_together_after_the_next() {
    let s = setup(Ipv4Addr::new(127, 0, 0, 3), 64).await;
    // The first ACK's save is held; two more ACKs queue behind it.
    s.discover_and_request(Mac([2, 0, 0, 0, 1, 1]), 0x200).await;
    s.store.entered.notified().await;
    s.discover_and_request(Mac([2, 0, 0, 0, 1, 2]), 0x300).await;
    s.discover_and_request(Mac([2, 0, 0, 0, 1, 3]), 0x400).await;
    let handle = s.handle.clone();
    until("both REQUESTs handled", || {
        handle.driver_stats().received == 6
    })
    .await;
    assert!(s.nothing_received());
    s.store.permits.add_permits(1);
    assert_eq!(s.recv().await.xid, Xid(0x201));
    // The second save has both waiting leases.
    s.store.entered.notified().await;
    assert!(s.nothing_received());
    s.store.permits.add_permits(1);
    let xids = [s.recv().await.xid, s.recv().await.xid];
    assert_eq!(xids, [Xid(0x301), Xid(0x401)]);
    let handle = s.stop().await;
    let stats = handle.driver_stats();
    assert_eq!((stats.saves, stats.saved_leases), (2, 3));
}

#[tokio::test]
async fn a_failed_save_sends_nothing_and_is_counted() {
    let s = setup(Ipv4Addr::new(127, 0, 0, 4), 64).await;
    s.store.fail.store(true, Ordering::Relaxed);
    s.store.permits.add_permits(1);
    s.discover_and_request(Mac([2, 0, 0, 0, 2, 1]), 0x500).await;
    let handle = s.handle.clone();
    until("the failed save", || {
        handle.driver_stats().save_failures == 1
    })
    .await;
    assert!(
        s.nothing_received(),
        "an ACK whose lease is not durable went out"
    );
    let stats = s.stop().await.driver_stats();
    assert_eq!((stats.unsaved_replies, stats.saves), (1, 0));
}

#[tokio::test]
async fn a_full_event_channel_is_counted_and_does_not_stall_the_server() {
    let mut s = setup(Ipv4Addr::new(127, 0, 0, 5), 1).await;
    for i in 0..3u8 {
        s.send(
            MessageType::Discover,
            Mac([2, 0, 0, 0, 3, i]),
            0x600 + u32::from(i),
            vec![],
        )
        .await;
        assert_eq!(s.recv().await.message_type, MessageType::Offer);
    }
    // One DeviceSeen fits; the other two are dropped and counted.
    assert!(matches!(
        s.events.recv().await,
        Some(Event::DeviceSeen { .. })
    ));
    assert_eq!(s.handle.driver_stats().events_dropped, 2);
    s.stop().await;
}

#[tokio::test]
async fn reservations_set_through_the_handle_apply_at_once() {
    let s = setup(Ipv4Addr::new(127, 0, 0, 6), 64).await;
    let mac = Mac([2, 0, 0, 0, 4, 1]);
    let reserved = Ipv4Addr::new(127, 0, 0, 150);
    s.handle.set_reservations(vec![Reservation {
        mac,
        ip: reserved,
        hostname: None,
    }]);
    s.send(MessageType::Discover, mac, 0x700, vec![]).await;
    assert_eq!(s.recv().await.yiaddr, reserved);
    s.stop().await;
}
