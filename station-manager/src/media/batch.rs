//! Batched UDP receive for the media engine: one `recvmmsg` per readiness (through
//! `quinn-udp`), into buffers shared by every call a worker thread runs.
//!
//! `quinn-udp` turns UDP generic receive offload (GRO) on where the kernel has it, so one
//! buffer may hold several datagrams of one flow, `stride` bytes apart; each buffer is
//! therefore 64 KiB, the most GRO ever coalesces (64 segments, 64 KiB). The buffers are
//! per worker thread, not per call: a thousand calls cost no more memory than two.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;

use quinn_udp::{RecvMeta, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Bytes per receive buffer: the largest GRO batch the kernel delivers.
const SLOT: usize = 64 * 1024;
/// Datagrams (or GRO batches) one `recvmmsg` takes at most.
pub const SLOTS: usize = 8;

thread_local! {
    static BUFFERS: RefCell<Vec<u8>> = RefCell::new(vec![0u8; SLOT * SLOTS]);
}

/// A UDP socket read with `recvmmsg`.
#[derive(Debug)]
pub struct BatchSocket {
    socket: UdpSocket,
    state: UdpSocketState,
}

impl BatchSocket {
    /// Binds `addr` and sets the socket up for batched receive.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let state = UdpSocketState::new((&socket).into())?;
        Ok(Self { socket, state })
    }

    /// The socket, for sending.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Waits until datagrams are queued (cancel-safe).
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Takes what is queued, at most `rounds` `recvmmsg` calls of [`SLOTS`] datagrams, and
    /// calls `f(at, from, datagram)` for each datagram in order, `at` being `clock()` read when
    /// the `recvmmsg` call that returned it did (the receive instant). Never waits. Returns the
    /// number of `recvmmsg` calls that returned datagrams.
    pub fn recv_batch<T: Copy>(
        &self,
        rounds: usize,
        clock: impl Fn() -> T,
        mut f: impl FnMut(T, SocketAddr, &[u8]),
    ) -> io::Result<u32> {
        let mut calls = 0;
        BUFFERS.with(|cell| {
            let mut buffers = cell.borrow_mut();
            for _ in 0..rounds {
                let mut meta = [RecvMeta::default(); SLOTS];
                // A short batch means the queue was empty when `recvmmsg` returned: that is
                // reported to tokio as `WouldBlock` (the count kept aside), so that it clears
                // the socket's readiness now instead of after one more, empty, `recvmmsg` and
                // one more wake-up of the task. No datagram can be missed: the socket is
                // edge-triggered, and every datagram queued after this call raises a new
                // readiness event.
                let mut short = None;
                let result = {
                    let mut chunks = buffers.chunks_mut(SLOT);
                    let mut slices: [IoSliceMut<'_>; SLOTS] = std::array::from_fn(|_| {
                        chunks
                            .next()
                            .map_or_else(|| IoSliceMut::new(&mut []), IoSliceMut::new)
                    });
                    self.socket.try_io(Interest::READABLE, || {
                        let n = self
                            .state
                            .recv((&self.socket).into(), &mut slices, &mut meta)?;
                        if n < SLOTS {
                            short = Some(n);
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        Ok(n)
                    })
                };
                let n = match (result, short) {
                    (_, Some(0)) => break,
                    (_, Some(n)) | (Ok(n), None) => n,
                    (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => break,
                    (Err(e), None) => return Err(e),
                };
                calls += 1;
                let at = clock();
                for (m, slot) in meta.iter().zip(buffers.chunks(SLOT)).take(n) {
                    let data = &slot[..m.len.min(SLOT)];
                    if data.is_empty() {
                        // An empty datagram is still one (and malformed RTP).
                        f(at, m.addr, data);
                        continue;
                    }
                    for datagram in data.chunks(m.stride.max(1)) {
                        f(at, m.addr, datagram);
                    }
                }
                if n < SLOTS {
                    break;
                }
            }
            Ok(calls)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_a_burst_in_few_calls_and_in_order() {
        let rx = BatchSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let to = rx.socket().local_addr().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..20u8 {
            tx.send_to(&[i; 172], to).unwrap();
        }
        rx.readable().await.unwrap();
        let mut seen = Vec::new();
        let mut calls = 0;
        while seen.len() < 20 {
            rx.readable().await.unwrap();
            let got = rx
                .recv_batch(
                    8,
                    || (),
                    |(), from, d| {
                        assert_eq!(from, tx.local_addr().unwrap());
                        assert_eq!(d.len(), 172);
                        seen.push(d[0]);
                    },
                )
                .unwrap();
            calls += got;
        }
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        // Twenty datagrams queued before the first read need at most three calls of eight.
        assert!(calls <= 3, "{calls} recvmmsg calls");
    }

    #[tokio::test]
    async fn a_short_batch_leaves_the_socket_waiting_and_the_next_datagram_wakes_it() {
        let rx = BatchSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let to = rx.socket().local_addr().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..3u8 {
            tx.send_to(&[i; 172], to).unwrap();
        }
        rx.readable().await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            rx.readable().await.unwrap();
            rx.recv_batch(8, || (), |(), _, d| seen.push(d[0])).unwrap();
        }
        // The short batch cleared the readiness: no empty `recvmmsg` is needed to find out.
        let mut readable = std::pin::pin!(rx.readable());
        let pending = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(readable.as_mut().poll(cx).is_pending())
        })
        .await;
        assert!(pending, "readiness left set after a short batch");
        tx.send_to(&[9; 172], to).unwrap();
        readable.await.unwrap();
        rx.recv_batch(8, || (), |(), _, d| seen.push(d[0])).unwrap();
        assert_eq!(seen, [0, 1, 2, 9]);
    }

    #[tokio::test]
    async fn nothing_queued_is_no_call_and_no_error() {
        let rx = BatchSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let got = rx
            .recv_batch(4, || (), |(), _, _| panic!("no datagram"))
            .unwrap();
        assert_eq!(got, 0, "no recvmmsg call returned data");
    }
}
