use super::*;

/// Builds a canonical header: PCM `tag`, `channels`, `rate`, `bits`, followed by `data`.
fn wav_bytes(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data_size: u32,
    data: &[u8],
) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_size.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn read_all(bytes: &[u8]) -> Result<(WavReader<&[u8]>, Vec<i16>), Error> {
    let mut r = WavReader::new(bytes)?;
    let mut out = Vec::new();
    let mut buf = [0i16; 7 * 2]; // odd chunk sizes exercise the partial-frame carry
    loop {
        let n = r.read_samples(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok((r, out))
}

#[test]
fn pcm16_round_trips_through_writer() {
    let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 18000) as i16).collect();
    let mut w = WavWriter::new(Vec::new(), 8000, 2, Some(500)).unwrap();
    w.write_samples(&samples[..300]).unwrap();
    w.write_samples(&samples[300..]).unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(bytes.len(), WRITER_HEADER_LEN + 2000);
    let (r, out) = read_all(&bytes).unwrap();
    assert_eq!(
        r.spec(),
        WavSpec {
            sample_rate: 8000,
            channels: 2,
            format: SampleFormat::I16
        }
    );
    assert_eq!(r.declared_frames(), Some(500));
    assert_eq!(out, samples);
    assert_eq!(r.truncation(), None);
}

#[test]
fn writer_checks_declared_length() {
    let mut w = WavWriter::new(Vec::new(), 8000, 1, Some(10)).unwrap();
    w.write_samples(&[0; 9]).unwrap();
    assert!(matches!(
        w.finish(),
        Err(Error::LengthMismatch {
            declared: 10,
            written: 9
        })
    ));
    let mut w = WavWriter::new(Vec::new(), 8000, 1, Some(10)).unwrap();
    assert!(matches!(
        w.write_samples(&[0; 11]),
        Err(Error::LengthMismatch { .. })
    ));
    let mut w = WavWriter::new(Vec::new(), 8000, 2, None).unwrap();
    assert!(matches!(
        w.write_samples(&[0; 3]),
        Err(Error::PartialFrame {
            len: 3,
            channels: 2
        })
    ));
    assert!(matches!(
        WavWriter::new(Vec::new(), 8000, 3, None),
        Err(Error::InvalidSpec(_))
    ));
}

#[test]
fn streamed_writer_is_read_to_eof_and_seekable_finish_patches_sizes() {
    let mut w = WavWriter::new(Vec::new(), 16000, 1, None).unwrap();
    w.write_samples(&[1, 2, 3]).unwrap();
    let streamed = w.finish().unwrap();
    assert_eq!(&streamed[40..44], &u32::MAX.to_le_bytes());
    let (r, out) = read_all(&streamed).unwrap();
    assert_eq!(r.declared_frames(), None);
    assert_eq!(out, [1, 2, 3]);

    let mut w = WavWriter::new(io::Cursor::new(Vec::new()), 16000, 1, None).unwrap();
    w.write_samples(&[1, 2, 3]).unwrap();
    let patched = w.finish_seekable().unwrap().into_inner();
    assert_eq!(&patched[4..8], &42u32.to_le_bytes());
    assert_eq!(&patched[40..44], &6u32.to_le_bytes());
    let (r, out) = read_all(&patched).unwrap();
    assert_eq!(r.declared_frames(), Some(3));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn lying_data_size_stops_at_eof_and_reports() {
    let bytes = wav_bytes(1, 1, 8000, 16, 1_000_000, &[1, 0, 2, 0, 3]);
    let (r, out) = read_all(&bytes).unwrap();
    assert_eq!(out, [1, 2], "trailing half sample is dropped");
    assert_eq!(
        r.truncation(),
        Some(Truncation {
            declared_bytes: 1_000_000,
            read_bytes: 5
        })
    );
}

#[test]
fn zero_data_size_means_streamed() {
    let bytes = wav_bytes(1, 1, 8000, 16, 0, &[1, 0, 2, 0]);
    let (r, out) = read_all(&bytes).unwrap();
    assert_eq!(out, [1, 2]);
    assert_eq!(r.truncation(), None);
}

#[test]
fn data_size_smaller_than_file_stops_at_declared_end() {
    let bytes = wav_bytes(1, 1, 8000, 16, 4, &[1, 0, 2, 0, b'L', b'I', b'S', b'T']);
    let (_, out) = read_all(&bytes).unwrap();
    assert_eq!(out, [1, 2]);
}

#[test]
fn odd_unknown_chunk_pad_byte_is_skipped() {
    let mut bytes = wav_bytes(1, 1, 8000, 16, 2, &[5, 0]);
    // insert "junk" chunk of 3 bytes + pad before "data" (at offset 36)
    let junk = [b'j', b'u', b'n', b'k', 3, 0, 0, 0, 9, 9, 9, 0];
    bytes.splice(36..36, junk);
    let (_, out) = read_all(&bytes).unwrap();
    assert_eq!(out, [5]);
}

#[test]
fn eight_bit_and_g711_decode() {
    let bytes = wav_bytes(1, 1, 8000, 8, 3, &[0, 128, 255]);
    assert_eq!(read_all(&bytes).unwrap().1, [-32768, 0, 32512]);
    // G.191 reference values: µ-law 0x00 = -32124, 0xFF = 0 ... A-law 0xD5 = 8, 0x55 = -8, 0xAA = 32256
    let bytes = wav_bytes(7, 1, 8000, 8, 3, &[0x00, 0x80, 0xFF]);
    assert_eq!(read_all(&bytes).unwrap().1, [-32124, 32124, 0]);
    let bytes = wav_bytes(6, 1, 8000, 8, 3, &[0xD5, 0x55, 0xAA]);
    assert_eq!(read_all(&bytes).unwrap().1, [8, -8, 32256]);
}

#[test]
fn extensible_float_and_24_bit() {
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
    v.extend_from_slice(&40u32.to_le_bytes());
    v.extend_from_slice(&0xFFFEu16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&48000u32.to_le_bytes());
    v.extend_from_slice(&(48000u32 * 4).to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&32u16.to_le_bytes());
    v.extend_from_slice(&22u16.to_le_bytes());
    v.extend_from_slice(&32u16.to_le_bytes());
    v.extend_from_slice(&4u32.to_le_bytes());
    v.extend_from_slice(&3u16.to_le_bytes());
    v.extend_from_slice(&SUBTYPE_TAIL);
    v.extend_from_slice(b"data");
    v.extend_from_slice(&12u32.to_le_bytes());
    for f in [0.5f32, -1.0, 2.0] {
        v.extend_from_slice(&f.to_le_bytes());
    }
    let (r, out) = read_all(&v).unwrap();
    assert_eq!(r.spec().format, SampleFormat::F32);
    assert_eq!(out, [16384, -32768, 32767]);

    let bytes = wav_bytes(1, 1, 8000, 24, 6, &[0xAA, 0x34, 0x12, 0x00, 0x00, 0x80]);
    assert_eq!(read_all(&bytes).unwrap().1, [0x1234, -32768]);
}

#[test]
fn downmix_averages() {
    let mut out = [0i16; 2];
    assert_eq!(
        downmix_to_mono(&[100, 200, -32768, -32768, 7], 2, &mut out),
        2
    );
    assert_eq!(out, [150, -32768]);
    let bytes = wav_bytes(1, 2, 8000, 16, 8, &[100, 0, 200, 0, 0, 1, 0, 3]);
    let mut r = WavReader::new(&bytes[..]).unwrap();
    let mut mono = [0i16; 10];
    assert_eq!(r.read_mono(&mut mono).unwrap(), 2);
    assert_eq!(&mono[..2], &[150, 512]);
}

#[test]
fn bad_headers_give_typed_errors() {
    let good = wav_bytes(1, 1, 8000, 16, 2, &[0, 0]);
    for cut in 0..44 {
        assert!(
            matches!(WavReader::new(&good[..cut]), Err(Error::Truncated { .. })),
            "cut at {cut}"
        );
    }
    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Malformed {
            field: "RIFF id",
            offset: 0,
            ..
        })
    ));
    let mut b = good.clone();
    b[16..20].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::TooLarge {
            field: "fmt chunk",
            offset: 16,
            ..
        })
    ));
    let mut b = good.clone();
    b[20] = 0x55; // MP3
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Unsupported {
            field: "fmt format_tag",
            value: 0x55,
            ..
        })
    ));
    let mut b = good.clone();
    b[22] = 0; // zero channels
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Malformed {
            field: "fmt channels",
            offset: 22,
            ..
        })
    ));
    let mut b = good.clone();
    b[24..28].copy_from_slice(&0x6300_1F40u32.to_le_bytes()); // found by fuzzing
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Unsupported {
            field: "fmt sample_rate",
            offset: 24,
            value: 0x6300_1F40
        })
    ));
    let mut b = good.clone();
    b[32] = 3; // block_align 3 for mono 16-bit
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Unsupported { .. } | Error::Malformed { .. })
    ));
    // a huge unknown chunk in a short file: skipped without allocating, then truncated
    let mut b = good.clone();
    b.splice(36..36, *b"junk\x00\x00\x00\x10");
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::TooLarge {
            field: "chunks before data",
            ..
        })
    ));
    let mut b = good;
    b.splice(36..36, *b"junk\x00\x10\x00\x00");
    assert!(matches!(
        WavReader::new(&b[..]),
        Err(Error::Truncated {
            field: "skipped chunk",
            ..
        })
    ));
    // data before fmt
    let mut v = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\0\0".to_vec();
    v.truncate(20);
    assert!(matches!(
        WavReader::new(&v[..]),
        Err(Error::Malformed {
            field: "data chunk",
            offset: 12,
            ..
        })
    ));
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn writer_reader_round_trip(
            rate in 1u32..=MAX_SAMPLE_RATE,
            channels in 1u16..=2,
            frames in proptest::collection::vec(any::<(i16, i16)>(), 0..500),
            declared in any::<bool>(),
            chunk in 1usize..300,
        ) {
            let samples: Vec<i16> = frames
                .iter()
                .flat_map(|&(a, b)| if channels == 1 { vec![a] } else { vec![a, b] })
                .collect();
            let n = (samples.len() / usize::from(channels)) as u64;
            let mut w = WavWriter::new(Vec::new(), rate, channels, declared.then_some(n)).unwrap();
            w.write_samples(&samples).unwrap();
            let bytes = w.finish().unwrap();
            let mut r = WavReader::new(&bytes[..]).unwrap();
            prop_assert_eq!(r.spec(), WavSpec { sample_rate: rate, channels, format: SampleFormat::I16 });
            let mut back = Vec::new();
            let mut buf = vec![0i16; chunk * usize::from(channels)];
            loop {
                let k = r.read_samples(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..k]);
            }
            prop_assert_eq!(back, samples);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut with_header = wav_bytes(1, 1, 8000, 16, 0, &[]);
            with_header.truncate(36);
            with_header.extend_from_slice(&bytes);
            for input in [&bytes[..], &with_header[..]] {
                if let Ok(mut r) = WavReader::new(input) {
                    let mut buf = [0i16; 64];
                    while let Ok(1..) = r.read_mono(&mut buf) {}
                }
            }
        }
    }
}
