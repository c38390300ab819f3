//! RTCP (RFC 3550 §6): receiver reports, sender reports while playing, the gateway's reports.

use std::net::SocketAddr;
use std::time::Instant;

use codecs::rtcp::{self, NtpTime, SdesChunk, SdesItem, SenderInfo};
use tracing::{debug, trace};

use super::{MAX_TRANSMIT, NTP_UNIX_OFFSET, Stream, Transmit};

impl Stream {
    pub(super) fn ntp(&self, now: Instant) -> NtpTime {
        let t = self.wall.1 + now.saturating_duration_since(self.wall.0);
        let secs = t.as_secs() + NTP_UNIX_OFFSET;
        let frac = (u64::from(t.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    pub(super) fn send_report(&mut self, now: Instant) {
        let Some(remote) = self.remote else {
            return;
        };
        let reports: Vec<_> = self
            .reception
            .as_mut()
            .filter(|r| r.received() > 0)
            .map(|r| r.report_block(now))
            .into_iter()
            .collect();
        let report = if self.play.is_some() {
            rtcp::Repr::SenderReport {
                ssrc: self.ssrc,
                info: SenderInfo {
                    ntp_time: self.ntp(now),
                    rtp_time: self.next_ts.0,
                    packet_count: self.stats.rtp_sent as u32,
                    octet_count: self.sent_octets,
                },
                reports,
                extension: &[],
            }
        } else {
            rtcp::Repr::ReceiverReport {
                ssrc: self.ssrc,
                reports,
                extension: &[],
            }
        };
        let cname = self.config.cname.as_bytes();
        let sdes = rtcp::Repr::SourceDescription(vec![SdesChunk {
            ssrc: self.ssrc,
            items: vec![SdesItem {
                kind: rtcp::SDES_CNAME,
                value: cname,
            }],
        }]);
        let mut buf = vec![0; MAX_TRANSMIT];
        match rtcp::emit_compound(&[report, sdes], &mut buf) {
            Ok(len) => {
                buf.truncate(len);
                self.stats.rtcp_sent += 1;
                let mut to = remote.address;
                to.set_port(to.port().wrapping_add(1));
                trace!(call = %self.call, len, "rtcp report");
                self.transmits.push_back(Transmit {
                    destination: to,
                    rtcp: true,
                    payload: buf,
                });
            }
            Err(error) => debug!(call = %self.call, %error, "RTCP report not emitted"),
        }
    }

    /// A datagram arrived on the RTCP port from `from` at `now`.
    pub fn handle_rtcp(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let expected = self.remote.map(|r| {
            let mut a = r.address;
            a.set_port(a.port().wrapping_add(1));
            a
        });
        if expected != Some(from) {
            self.stats.rtcp_wrong_source += 1;
            debug!(call = %self.call, %from, "RTCP from the wrong source: dropped");
            return;
        }
        match rtcp::parse_compound(datagram) {
            Ok(packets) => {
                self.stats.rtcp_received += 1;
                for p in packets {
                    match p {
                        rtcp::Repr::SenderReport { ssrc, info, .. } => {
                            if let Some(r) = self.reception.as_mut()
                                && r.ssrc() == ssrc
                            {
                                r.handle_sender_report(now, info.ntp_time);
                            }
                        }
                        rtcp::Repr::Goodbye { .. } => {
                            debug!(call = %self.call, "RTCP BYE");
                        }
                        _ => {}
                    }
                }
            }
            Err(error) => {
                self.stats.rtcp_malformed += 1;
                debug!(call = %self.call, %error, "malformed RTCP: dropped");
            }
        }
    }
}
