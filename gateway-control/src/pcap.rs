//! A writer for classic libpcap capture files, so that test harnesses can hand what the cores
//! exchanged to tshark (STYLE.md: "Harnesses can write pcaps").
//!
//! The format is the original one from libpcap's `savefile.c`, documented in
//! draft-ietf-opsawg-pcap: a 24-byte file header (magic `0xa1b2c3d4`, microsecond timestamps,
//! version 2.4), then per packet a 16-byte record header and the packet. The link type is
//! `LINKTYPE_RAW` (101): each packet starts with its IP header, here IPv4 (RFC 791) carrying UDP
//! (RFC 768). The IPv4 header checksum is computed; the UDP checksum is 0, which RFC 768 allows
//! over IPv4 and means "not computed". Everything is written in little-endian order, which the
//! magic number tells readers.

use std::io::{self, Write};
use std::net::SocketAddrV4;
use std::time::Duration;

/// `LINKTYPE_RAW`: packets begin with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;

/// The largest UDP payload one IPv4 packet carries (65,535 minus the 20-byte IPv4 and the
/// 8-byte UDP headers).
pub const MAX_UDP_PAYLOAD: usize = 65_535 - 20 - 8;

const SNAPLEN: u32 = 65_535;

/// Writes UDP datagrams as IPv4 packets into a libpcap file.
///
/// ```
/// use std::time::Duration;
/// use gateway_control::pcap::PcapWriter;
/// let mut pcap = PcapWriter::new(Vec::new())?;
/// pcap.write_udp(
///     Duration::from_millis(1500),
///     "127.0.0.1:2427".parse().unwrap(),
///     "127.0.0.1:2727".parse().unwrap(),
///     b"200 1 OK\r\n",
/// )?;
/// assert_eq!(pcap.into_inner().len(), 24 + 16 + 20 + 8 + 10);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    /// The IPv4 identification field of the next packet.
    ip_id: u16,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header to `out` and returns the writer.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&header)?;
        Ok(Self { out, ip_id: 1 })
    }

    /// Writes one UDP datagram from `src` to `dst`, stamped `ts` after the epoch (a scenario's
    /// virtual time). Fails with [`io::ErrorKind::InvalidInput`] if the payload is larger than
    /// [`MAX_UDP_PAYLOAD`].
    pub fn write_udp(
        &mut self,
        ts: Duration,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "UDP payload too large for one IPv4 packet",
            ));
        }
        // Both fit: checked against MAX_UDP_PAYLOAD above.
        let udp_len = (payload.len() + 8) as u16;
        let total_len = udp_len + 20;

        let secs = u32::try_from(ts.as_secs())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp beyond 2106"))?;
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_le_bytes());
        record[4..8].copy_from_slice(&ts.subsec_micros().to_le_bytes());
        record[8..12].copy_from_slice(&u32::from(total_len).to_le_bytes());
        record[12..16].copy_from_slice(&u32::from(total_len).to_le_bytes());

        let mut ip = [0u8; 20];
        ip[0] = 0x45; // version 4, 5 words of header
        ip[2..4].copy_from_slice(&total_len.to_be_bytes());
        ip[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
        ip[8] = 64; // TTL
        ip[9] = 17; // UDP
        ip[12..16].copy_from_slice(&src.ip().octets());
        ip[16..20].copy_from_slice(&dst.ip().octets());
        let checksum = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);

        let mut udp = [0u8; 8];
        udp[0..2].copy_from_slice(&src.port().to_be_bytes());
        udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
        udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
        // udp[6..8]: checksum 0, not computed (RFC 768).

        self.out.write_all(&record)?;
        self.out.write_all(&ip)?;
        self.out.write_all(&udp)?;
        self.out.write_all(payload)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The RFC 791 header checksum: the one's complement of the one's-complement sum of the
/// header's 16-bit words (the checksum field itself taken as 0).
fn ipv4_checksum(header: &[u8; 20]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_record_layout() {
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        pcap.write_udp(
            Duration::new(3, 250_000_999),
            "192.0.2.1:2427".parse().unwrap(),
            "192.0.2.2:2727".parse().unwrap(),
            b"abc",
        )
        .unwrap();
        pcap.write_udp(
            Duration::ZERO,
            "192.0.2.2:2727".parse().unwrap(),
            "192.0.2.1:2427".parse().unwrap(),
            b"",
        )
        .unwrap();
        let bytes = pcap.into_inner();
        assert_eq!(
            bytes[..24],
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101,
                0, 0, 0
            ]
        );
        let record = &bytes[24..40];
        assert_eq!(record[0..4], 3u32.to_le_bytes());
        assert_eq!(record[4..8], 250_000u32.to_le_bytes());
        assert_eq!(record[8..12], 31u32.to_le_bytes());
        assert_eq!(record[12..16], 31u32.to_le_bytes());
        let mut ip = bytes[40..60].to_vec();
        ip[10..12].fill(0); // the checksum, checked below
        assert_eq!(
            ip,
            [
                0x45, 0, 0, 31, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2
            ]
        );
        let udp = &bytes[60..68];
        assert_eq!(udp, [0x09, 0x7b, 0x0a, 0xa7, 0, 11, 0, 0]);
        assert_eq!(&bytes[68..71], b"abc");
        // The second packet: the next IP id, no payload.
        assert_eq!(bytes.len(), 71 + 16 + 28);
        assert_eq!(bytes[71 + 16 + 4..71 + 16 + 6], [0, 2]);
    }

    #[test]
    fn header_checksum_verifies() {
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        pcap.write_udp(
            Duration::ZERO,
            "198.51.100.3:1".parse().unwrap(),
            "203.0.113.9:65535".parse().unwrap(),
            &[0u8; 1000],
        )
        .unwrap();
        let bytes = pcap.into_inner();
        let ip: [u8; 20] = bytes[40..60].try_into().unwrap();
        // Summing a header that includes its checksum gives 0xffff, whose complement is 0.
        assert_eq!(ipv4_checksum(&ip), 0);
        assert_ne!(u16::from_be_bytes([ip[10], ip[11]]), 0);
    }

    #[test]
    fn known_checksum_vector() {
        // The worked example header from RFC 1071 discussions / Wikipedia "IPv4 header
        // checksum": 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00,
            0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&header), 0xb861);
    }

    #[test]
    fn oversize_payload_is_refused() {
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        let err = pcap
            .write_udp(
                Duration::ZERO,
                "192.0.2.1:1".parse().unwrap(),
                "192.0.2.2:2".parse().unwrap(),
                &vec![0; MAX_UDP_PAYLOAD + 1],
            )
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(pcap.into_inner().len(), 24);
    }
}
