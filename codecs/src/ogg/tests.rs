use proptest::prelude::*;

use super::*;

#[test]
fn crc_check_value() {
    // CRC-32 with poly 0x04c11db7, init 0, no reflection, no final XOR: the complement of the
    // CRC-32/CKSUM check value 0x765E7680.
    assert_eq!(crc32(b"123456789"), !0x765E_7680);
}

#[test]
fn page_emit_parse_round_trip_and_vector() {
    let body = [1u8, 2, 3];
    let page = Page {
        header_type: FLAG_BOS,
        granule: 0x0102_0304_0506_0708,
        serial: 0xDEAD_BEEF,
        sequence: 7,
        segments: &[3],
        body: &body,
    };
    let mut out = Vec::new();
    page.emit(&mut out);
    assert_eq!(out.len(), page.buffer_len());
    assert_eq!(&out[..6], b"OggS\x00\x02");
    assert_eq!(&out[6..14], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&out[14..18], &[0xEF, 0xBE, 0xAD, 0xDE]);
    assert_eq!(out[26], 1);
    let (parsed, len) = Page::parse(&out, 0).unwrap();
    assert_eq!(parsed, page);
    assert_eq!(len, out.len());
    // every truncation is Incomplete, every bit flip in the covered bytes is caught
    for cut in 0..out.len() {
        assert!(matches!(
            Page::parse(&out[..cut], 0),
            Err(Error::Incomplete { .. })
        ));
    }
    for i in 0..out.len() {
        let mut bad = out.clone();
        bad[i] ^= 0x10;
        assert!(Page::parse(&bad, 0).is_err(), "flip at {i} accepted");
    }
    let mut bad = out.clone();
    bad[4] = 1;
    assert!(matches!(
        Page::parse(&bad, 100),
        Err(Error::Field {
            field: "stream_structure_version",
            offset: 104,
            value: 1
        })
    ));
}

fn write_stream(packets: &[Vec<u8>], flush_every: usize) -> Vec<u8> {
    let mut w = PacketWriter::new(Vec::new(), 42);
    for (i, p) in packets.iter().enumerate() {
        let last = i + 1 == packets.len();
        w.write_packet(p, i as u64 * 960, last).unwrap();
        if flush_every != 0 && i % flush_every == flush_every - 1 {
            w.flush_page().unwrap();
        }
    }
    w.finish().unwrap()
}

/// A packet's bytes, granule, BOS and EOS.
type ReadPacket = (Vec<u8>, Option<u64>, bool, bool);

fn read_stream(bytes: &[u8]) -> (Vec<ReadPacket>, Stats) {
    let mut r = PacketReader::new(bytes);
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        out.push((p.data.to_vec(), p.granule, p.bos, p.eos));
    }
    (out, r.stats())
}

#[test]
fn lacing_edge_cases_round_trip() {
    let sizes = [
        0usize,
        1,
        254,
        255,
        256,
        510,
        255 * 254,
        255 * 255,
        70_000,
        3,
        255 * 255 * 2,
    ];
    let packets: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (i * 31 + j) as u8).collect())
        .collect();
    let bytes = write_stream(&packets, 0);
    let (got, stats) = read_stream(&bytes);
    assert_eq!(got.len(), packets.len());
    for (i, (g, p)) in got.iter().zip(&packets).enumerate() {
        assert_eq!(g.0.len(), p.len(), "packet {i}");
        assert_eq!(&g.0, p, "packet {i}");
    }
    assert!(got[0].2 && !got[1].2, "bos only on the first packet");
    assert!(got.last().unwrap().3, "eos on the last packet");
    assert_eq!(got.last().unwrap().1, Some(10 * 960));
    assert_eq!(
        stats.lost_packets + stats.bad_pages + stats.garbage_bytes,
        0
    );
    // Every page parses, sequence numbers count up, flags are right.
    let mut at = 0;
    let mut seq = 0;
    while at < bytes.len() {
        let (page, len) = Page::parse(&bytes[at..], at as u64).unwrap();
        assert_eq!(page.sequence, seq);
        assert_eq!(page.is_bos(), seq == 0);
        assert_eq!(page.is_eos(), at + len == bytes.len());
        if page.segments.iter().all(|&l| l == 255) {
            assert_eq!(page.granule, GRANULE_NONE, "page {seq} completes no packet");
        }
        seq += 1;
        at += len;
    }
}

#[test]
fn packet_ending_on_full_lacing_table_does_not_mark_next_page_continued() {
    // 254 lacing values of 255 + final 0 = exactly 255 values; the next packet starts fresh.
    let packets = vec![vec![7u8; 255 * 254], vec![1, 2, 3]];
    let bytes = write_stream(&packets, 0);
    let (page, len) = Page::parse(&bytes, 0).unwrap();
    assert_eq!(page.segments.len(), 255);
    let (second, _) = Page::parse(&bytes[len..], len as u64).unwrap();
    assert!(!second.is_continued());
    assert_eq!(read_stream(&bytes).0.len(), 2);
}

#[test]
fn resyncs_after_garbage_and_bad_crc() {
    let packets: Vec<Vec<u8>> = (0..6).map(|i| vec![i as u8; 100]).collect();
    let clean = write_stream(&packets, 1);
    let mut bytes = b"garbage OggS nonsense".to_vec();
    bytes.extend_from_slice(&clean);
    // corrupt the body of the third page (packet 2)
    let mut at = 21;
    for _ in 0..2 {
        at += Page::parse(&bytes[at..], 0).unwrap().1;
    }
    bytes[at + 40] ^= 0xFF;
    let (got, stats) = read_stream(&bytes);
    let ids: Vec<u8> = got.iter().map(|g| g.0[0]).collect();
    assert_eq!(ids, [0, 1, 3, 4, 5]);
    // the false "OggS" in the garbage and the corrupted page
    assert_eq!(stats.bad_pages, 2);
    assert!(stats.garbage_bytes >= 21);
}

#[test]
fn lost_page_drops_the_spanning_packet_only() {
    let packets = [vec![1u8; 10], vec![2u8; 600], vec![3u8; 10]];
    let mut w = PacketWriter::new(Vec::new(), 9);
    w.write_packet(&packets[0], 1, false).unwrap();
    w.flush_page().unwrap();
    // force the 600-byte packet across two pages by writing it with a nearly full table
    w.write_packet(&vec![9u8; 255 * 253], 2, false).unwrap();
    w.write_packet(&packets[1], 3, false).unwrap();
    w.flush_page().unwrap();
    w.write_packet(&packets[2], 4, true).unwrap();
    let bytes = w.finish().unwrap();
    // pages: [p0] [filler + head of p1] [tail of p1] [p2]
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = Page::parse(&bytes[at..], 0).unwrap().1;
        spans.push(at..at + len);
        at += len;
    }
    assert_eq!(spans.len(), 4);
    assert!(
        Page::parse(&bytes[spans[2].clone()], 0)
            .unwrap()
            .0
            .is_continued()
    );
    let mut cut = bytes[..spans[1].start].to_vec();
    cut.extend_from_slice(&bytes[spans[2].start..]);
    let (got, stats) = read_stream(&cut);
    let ids: Vec<u8> = got.iter().map(|g| g.0[0]).collect();
    assert_eq!(ids, [1, 3]);
    assert_eq!(stats.lost_packets, 1);
}

#[test]
fn packet_cap_is_enforced_and_reading_continues() {
    let packets = vec![vec![1u8; 5000], vec![2u8; 10]];
    let bytes = write_stream(&packets, 0);
    let mut r = PacketReader::with_max_packet_len(&bytes[..], 1000);
    assert!(matches!(
        r.next_packet(),
        Err(Error::PacketTooLarge { limit: 1000, .. })
    ));
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(p.data, &[2u8; 10]);
    assert!(r.next_packet().unwrap().is_none());
}

#[test]
fn foreign_serial_and_truncated_tail_are_skipped() {
    let a = write_stream(&[vec![1u8; 20], vec![2u8; 20]], 1);
    let mut other = PacketWriter::new(Vec::new(), 1234);
    other.write_packet(&[9; 30], 0, true).unwrap();
    let other = other.finish().unwrap();
    let (p0, _) = Page::parse(&a, 0).unwrap();
    let first_len = p0.buffer_len();
    let mut bytes = a[..first_len].to_vec();
    bytes.extend_from_slice(&other);
    bytes.extend_from_slice(&a[first_len..]);
    bytes.extend_from_slice(&a[..10]); // a truncated page at the end
    let (got, stats) = read_stream(&bytes);
    assert_eq!(got.len(), 2);
    assert_eq!(stats.foreign_pages, 1);
}

#[test]
fn write_after_eos_is_refused() {
    let mut w = PacketWriter::new(Vec::new(), 1);
    w.write_packet(&[1], 0, true).unwrap();
    assert!(matches!(w.write_packet(&[1], 0, false), Err(Error::Ended)));
}

proptest! {
    #[test]
    fn packets_round_trip(
        sizes in proptest::collection::vec(0usize..2000, 1..40),
        flush in 0usize..5,
    ) {
        let packets: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| vec![i as u8; n]).collect();
        let bytes = write_stream(&packets, flush);
        let (got, _) = read_stream(&bytes);
        let got: Vec<Vec<u8>> = got.into_iter().map(|g| g.0).collect();
        prop_assert_eq!(got, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut with_capture = b"OggS\0".to_vec();
        with_capture.extend_from_slice(&bytes);
        for input in [&bytes[..], &with_capture[..]] {
            let mut r = PacketReader::new(input);
            for _ in 0..100 {
                match r.next_packet() {
                    Ok(Some(_)) | Err(_) => {}
                    Ok(None) => break,
                }
            }
        }
    }
}
