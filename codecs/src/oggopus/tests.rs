use super::*;
use crate::ogg::{GRANULE_NONE, Page};

fn speechlike(rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            (env * 6000.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()
                + env * 2000.0 * (2.0 * std::f64::consts::PI * 1100.0 * t).sin()) as i16
        })
        .collect()
}

fn encode(rate: u32, pcm: &[i16], chunk: usize) -> (Vec<u8>, u16) {
    let mut cfg = WriterConfig::new(rate, 0x1234_5678).unwrap();
    cfg.comments.push("TITLE=test".into());
    let mut w = OggOpusWriter::new(Vec::new(), cfg).unwrap();
    for c in pcm.chunks(chunk.max(1)) {
        w.write(c).unwrap();
    }
    let pre_skip = w.pre_skip();
    (w.finish().unwrap(), pre_skip)
}

fn decode(bytes: &[u8], rate: SampleRate) -> Vec<i16> {
    let mut r = OggOpusReader::new(bytes, rate).unwrap();
    assert_eq!(r.tags().vendor, VENDOR);
    let mut out = Vec::new();
    let mut buf = [0i16; 333];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn pages(bytes: &[u8]) -> Vec<(u8, u64, usize)> {
    let mut at = 0;
    let mut v = Vec::new();
    while at < bytes.len() {
        let (p, len) = Page::parse(&bytes[at..], at as u64).unwrap();
        v.push((p.header_type, p.granule, p.segments.len()));
        at += len;
    }
    v
}

#[test]
fn decoded_length_equals_input_length_at_every_rate() {
    for n in [0usize, 1, 159, 160, 161, 8037] {
        let pcm = speechlike(8000, n);
        let (bytes, pre_skip) = encode(8000, &pcm, 100);
        assert_eq!(decode(&bytes, SampleRate::Hz8000).len(), n, "n={n} at 8k");
        assert_eq!(
            decode(&bytes, SampleRate::Hz16000).len(),
            2 * n,
            "n={n} at 16k"
        );
        assert_eq!(
            decode(&bytes, SampleRate::Hz48000).len(),
            6 * n,
            "n={n} at 48k"
        );
        let p = pages(&bytes);
        assert_eq!(p.last().unwrap().1, u64::from(pre_skip) + 6 * n as u64);
        assert_eq!(p.last().unwrap().0 & ogg::FLAG_EOS, ogg::FLAG_EOS);
    }
}

#[test]
fn header_pages_and_granules_follow_rfc7845() {
    let pcm = speechlike(16000, 16000 * 3 + 100);
    let (bytes, pre_skip) = encode(16000, &pcm, 4096);
    let p = pages(&bytes);
    // OpusHead alone on a BOS page, OpusTags ends its page, both with granule 0.
    assert_eq!((p[0].0, p[0].1, p[0].2), (ogg::FLAG_BOS, 0, 1));
    assert_eq!((p[1].0, p[1].1), (0, 0));
    let (head_page, _) = Page::parse(&bytes, 0).unwrap();
    let head = OpusHead::parse(head_page.body).unwrap();
    assert_eq!(head.channels, 1);
    assert_eq!(head.pre_skip, pre_skip);
    assert_eq!(head.input_sample_rate, 16000);
    assert_eq!(head.output_gain, 0);
    assert_eq!(head_page.body[8], 1, "version 1");
    // Audio pages: about one per second, granules increase by whole 20 ms frames (960).
    let audio = &p[2..];
    assert!(
        (3..=5).contains(&audio.len()),
        "{} audio pages",
        audio.len()
    );
    let mut prev = 0;
    for (i, &(_, g, nseg)) in audio.iter().enumerate() {
        assert_ne!(g, GRANULE_NONE);
        assert!(g > prev);
        if i + 1 < audio.len() {
            assert_eq!(g % 960, 0);
            assert_eq!(
                (g - prev) / 960,
                nseg as u64,
                "one packet per lacing value here"
            );
        }
        prev = g;
    }
    assert_eq!(prev, u64::from(pre_skip) + 3 * (16000 * 3 + 100));
    // the decoded audio resembles the input (aligned, since pre-skip is removed)
    let out = decode(&bytes, SampleRate::Hz16000);
    assert_eq!(out.len(), pcm.len());
    let dot: f64 = pcm
        .iter()
        .zip(&out)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    let na: f64 = pcm.iter().map(|&a| f64::from(a).powi(2)).sum();
    let nb: f64 = out.iter().map(|&b| f64::from(b).powi(2)).sum();
    let corr = dot / (na * nb).sqrt();
    assert!(corr > 0.9, "correlation {corr}");
}

#[test]
fn head_and_tags_parse_errors() {
    let mut head = Vec::new();
    OpusHead {
        channels: 1,
        pre_skip: 312,
        input_sample_rate: 8000,
        output_gain: 0,
        mapping_family: 0,
    }
    .emit(&mut head);
    assert_eq!(head.len(), 19);
    assert!(OpusHead::parse(&head).is_ok());
    for cut in 0..19 {
        assert!(matches!(
            OpusHead::parse(&head[..cut]),
            Err(Error::Header { .. })
        ));
    }
    let mut h = head.clone();
    h[8] = 0x10;
    assert!(matches!(
        OpusHead::parse(&h),
        Err(Error::Unsupported { .. })
    ));
    let mut h = head.clone();
    h[18] = 1;
    assert!(matches!(
        OpusHead::parse(&h),
        Err(Error::Unsupported {
            field: "channel mapping family",
            ..
        })
    ));
    let mut h = head;
    h[9] = 0;
    assert!(matches!(
        OpusHead::parse(&h),
        Err(Error::Header {
            field: "channel count",
            offset: 9,
            ..
        })
    ));

    let tags = OpusTags {
        vendor: "x".into(),
        comments: vec!["A=b".into(), "C=".into()],
    };
    let mut t = Vec::new();
    tags.emit(&mut t);
    assert_eq!(OpusTags::parse(&t).unwrap(), tags);
    for cut in 0..t.len() {
        assert!(OpusTags::parse(&t[..cut]).is_err(), "cut {cut}");
    }
    let mut lying = t.clone();
    lying[13..17].copy_from_slice(&u32::MAX.to_le_bytes()); // comment count
    assert!(matches!(
        OpusTags::parse(&lying),
        Err(Error::Header {
            field: "comment count",
            ..
        })
    ));
    let mut lying = t;
    lying[8..12].copy_from_slice(&u32::MAX.to_le_bytes()); // vendor length
    assert!(matches!(
        OpusTags::parse(&lying),
        Err(Error::Header {
            field: "vendor length",
            ..
        })
    ));
}

#[test]
fn writer_rejects_bad_comments_and_reader_rejects_non_opus() {
    let mut cfg = WriterConfig::new(8000, 1).unwrap();
    cfg.comments.push("no equals sign".into());
    assert!(matches!(
        OggOpusWriter::new(Vec::new(), cfg),
        Err(Error::Comment(_))
    ));
    let mut w = PacketWriter::new(Vec::new(), 5);
    w.write_packet(b"\x01vorbis", 0, true).unwrap();
    let bytes = w.finish().unwrap();
    assert!(matches!(
        OggOpusReader::new(&bytes[..], SampleRate::Hz8000),
        Err(Error::Header {
            packet: "OpusHead",
            field: "magic",
            ..
        })
    ));
    assert!(matches!(
        OggOpusReader::new(&b""[..], SampleRate::Hz8000),
        Err(Error::Header {
            packet: "OpusHead",
            reason: "stream ends before it",
            ..
        })
    ));
}

#[test]
fn corrupt_audio_packet_is_concealed_not_fatal() {
    let pcm = speechlike(8000, 8000);
    let (bytes, _) = encode(8000, &pcm, 160);
    // Rebuild the stream with packet 10 replaced by an invalid Opus packet.
    let mut r = PacketReader::new(&bytes[..]);
    let mut w = PacketWriter::new(Vec::new(), 1);
    let mut i = 0;
    while let Some(p) = r.next_packet().unwrap() {
        let data: Vec<u8> = if i == 12 {
            vec![0x03, 0x00]
        } else {
            p.data.to_vec()
        };
        w.write_packet(&data, p.granule.unwrap_or(i * 960), p.eos)
            .unwrap();
        if i < 2 {
            w.flush_page().unwrap();
        }
        i += 1;
    }
    let bytes = w.finish().unwrap();
    let mut rd = OggOpusReader::new(&bytes[..], SampleRate::Hz8000).unwrap();
    let mut buf = vec![0i16; 20000];
    let mut total = 0;
    loop {
        let n = rd.read(&mut buf[total..]).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(rd.corrupt_packets(), 1);
    assert_eq!(total, pcm.len());
}
