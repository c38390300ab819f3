//! The pipeline end to end on real speech: ingest → sealed Ogg Opus → export / playout, and
//! file conversion between every pair of formats.
mod common;

use std::io::Cursor;

use codecs::g711::Law;
use codecs::pipeline::{
    self, ConvertOptions, Error, Format, G711Playout, IngestConfig, export, ingest,
};
use codecs::seal::Key;
use common::{best_correlation, speech_8k_path};

const ID: &[u8] = b"0b8c54e2-5b0e-4c57-9a57-3f1d2e5c9a10";

fn speech() -> (Vec<u8>, Vec<i16>) {
    let bytes = std::fs::read(speech_8k_path()).expect("speech fixture");
    let (rate, pcm) = common::read_wav_mono(&speech_8k_path());
    assert_eq!(rate, 8000);
    (bytes, pcm)
}

fn key() -> Key {
    Key::from_bytes([7; 32])
}

fn stored(config: &IngestConfig) -> (Vec<u8>, pipeline::IngestReport) {
    let (wav, _) = speech();
    let mut sealed = Vec::new();
    let report = ingest(Cursor::new(wav), &mut sealed, &key(), ID, config).expect("ingest");
    (sealed, report)
}

fn decode_wav(bytes: &[u8]) -> (u32, Vec<i16>) {
    let mut reader = codecs::wav::WavReader::new(Cursor::new(bytes)).expect("wav header");
    let rate = reader.spec().sample_rate;
    let mut pcm = Vec::new();
    let mut buf = [0i16; 4096];
    loop {
        let n = reader.read_mono(&mut buf).expect("wav data");
        if n == 0 {
            break;
        }
        pcm.extend_from_slice(&buf[..n]);
    }
    assert_eq!(reader.truncation(), None, "export wrote a lying WAV header");
    (rate, pcm)
}

#[test]
fn raw_message_keeps_duration_and_waveform() {
    let (_, original) = speech();
    let (sealed, report) = stored(&IngestConfig {
        clean: false,
        ..IngestConfig::default()
    });
    assert_eq!(report.sample_rate, 8000);
    assert_eq!(report.duration_ms, original.len() as u64 * 1000 / 8000);
    assert_eq!(report.stored_bytes, sealed.len() as u64);
    // 16 kbit/s for 11.4 s is about 23 kB of Opus; Ogg and sealing add little.
    assert!(sealed.len() < 30_000, "stored {} bytes", sealed.len());

    let mut wav = Vec::new();
    let out = export(Cursor::new(&sealed), &mut wav, &key(), ID, Format::Wav).expect("export");
    let (rate, pcm) = decode_wav(&wav);
    assert_eq!((rate, out.sample_rate), (8000, 8000));
    assert!(
        pcm.len().abs_diff(original.len()) <= 160,
        "{} vs {}",
        pcm.len(),
        original.len()
    );
    let (corr, lag) = best_correlation(&original, &pcm, 40);
    assert!(corr > 0.85, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn cleaned_message_is_trimmed_and_normalised() {
    let (_, original) = speech();
    let (sealed, report) = stored(&IngestConfig::default());
    assert!(
        report.duration_ms > 5_000 && report.duration_ms <= 11_400,
        "{report:?}"
    );
    let mut wav = Vec::new();
    export(Cursor::new(&sealed), &mut wav, &key(), ID, Format::Wav).expect("export");
    let (_, pcm) = decode_wav(&wav);
    assert_eq!(pcm.len() as u64 / 8, report.duration_ms);
    let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak < 32_767, "clipped");
    // Still the same speech: the cleaned output correlates with the stretch it was cut from.
    let (corr, _) = best_correlation(&pcm[..8000], &original, original.len() as isize);
    assert!(corr > 0.7, "correlation {corr:.3}");
}

#[test]
fn ogg_export_is_the_stored_stream_and_plays_back() {
    let (sealed, report) = stored(&IngestConfig::default());
    let mut ogg = Vec::new();
    export(Cursor::new(&sealed), &mut ogg, &key(), ID, Format::OggOpus).expect("export");
    assert_eq!(&ogg[..4], b"OggS");
    // The exported Ogg Opus is itself an acceptable upload, and keeps its length.
    let mut again = Vec::new();
    let config = IngestConfig {
        clean: false,
        ..IngestConfig::default()
    };
    let second = ingest(Cursor::new(ogg), &mut again, &key(), b"other", &config).expect("ingest");
    assert!(
        second.duration_ms.abs_diff(report.duration_ms) <= 20,
        "{second:?} vs {report:?}"
    );
}

#[test]
fn playout_frames_cover_the_message() {
    let (sealed, report) = stored(&IngestConfig {
        clean: false,
        ..IngestConfig::default()
    });
    let mut playout = G711Playout::new(Cursor::new(&sealed), &key(), ID, Law::Ulaw, 160).unwrap();
    let mut frame = [0u8; 160];
    let mut frames = 0u64;
    let mut pcm = Vec::new();
    while playout.next_frame(&mut frame).expect("frame") {
        frames += 1;
        pcm.extend(frame.iter().map(|&c| Law::Ulaw.decode_sample(c)));
    }
    assert_eq!(frames, (report.duration_ms * 8).div_ceil(160));
    assert!(
        !playout.next_frame(&mut frame).unwrap(),
        "ended stays ended"
    );
    let (_, original) = speech();
    let (corr, lag) = best_correlation(&original, &pcm, 40);
    assert!(corr > 0.85, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn a_waveform_is_the_peaks_of_the_wav_export_and_needs_the_key() {
    let (sealed, _) = stored(&IngestConfig::default());
    let mut wav = Vec::new();
    export(Cursor::new(&sealed), &mut wav, &key(), ID, Format::Wav).expect("export");
    let (rate, pcm) = decode_wav(&wav);
    let w = pipeline::peaks(Cursor::new(&sealed), &key(), ID, 300).expect("peaks");
    let mut spans = pipeline::Spans::new(pcm.len() as u64, 300);
    spans.push(&pcm);
    assert_eq!(w.peaks, spans.finish());
    assert_eq!(w.duration_ms, pcm.len() as u64 * 1000 / u64::from(rate));
    // Speech: loud words and quiet gaps.
    let (loud, quiet) = (w.peaks.iter().max().unwrap(), w.peaks.iter().min().unwrap());
    assert!(*loud > 100 && *quiet < loud / 4, "{:?}", w.peaks);
    let wrong = Key::from_bytes([8; 32]);
    assert!(matches!(
        pipeline::peaks(Cursor::new(&sealed), &wrong, ID, 300),
        Err(Error::Seal(_))
    ));
    let mut tampered = sealed.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x20;
    assert!(pipeline::peaks(Cursor::new(&tampered), &key(), ID, 300).is_err());
}

#[test]
fn wrong_key_id_or_tampering_is_refused_before_any_output() {
    let (sealed, _) = stored(&IngestConfig::default());
    let wrong = Key::from_bytes([8; 32]);
    for format in [Format::Wav, Format::OggOpus, Format::Ulaw] {
        let mut out = Vec::new();
        let e = export(Cursor::new(&sealed), &mut out, &wrong, ID, format).unwrap_err();
        assert!(matches!(e, Error::Seal(_)), "{e}");
        let e = export(
            Cursor::new(&sealed),
            &mut out,
            &key(),
            b"another id",
            format,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Seal(_)), "{e}");
        assert!(!e.is_input());
        assert!(out.is_empty());
    }
    for at in [0, 30, sealed.len() / 2, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x20;
        let mut out = Vec::new();
        let result = export(Cursor::new(&tampered), &mut out, &key(), ID, Format::Wav);
        assert!(result.is_err(), "tampered byte {at} accepted");
        assert!(out.is_empty(), "tampered byte {at}: output written");
    }
    let truncated = &sealed[..sealed.len() - 10];
    let mut out = Vec::new();
    assert!(
        export(
            Cursor::new(truncated),
            &mut out,
            &key(),
            ID,
            Format::OggOpus
        )
        .is_err()
    );
    assert!(out.is_empty());
}

#[test]
fn bad_uploads_are_input_errors() {
    let config = IngestConfig::default();
    let mut out = Vec::new();
    for junk in [
        &b""[..],
        b"hello world, not audio",
        b"RIFF\xff\xff\xff\xffWAVEfmt ",
    ] {
        let e = ingest(Cursor::new(junk), &mut out, &key(), ID, &config).unwrap_err();
        assert!(e.is_input(), "{junk:?}: {e}");
    }
    let (wav, _) = speech();
    let short = IngestConfig {
        max_duration: std::time::Duration::from_secs(2),
        ..config
    };
    let e = ingest(Cursor::new(wav), &mut out, &key(), ID, &short).unwrap_err();
    assert!(matches!(e, Error::TooLong { limit_ms: 2000 }), "{e}");
    assert!(e.is_input());
}

#[test]
fn convert_between_every_format() {
    let (wav, original) = speech();
    let options = ConvertOptions::default();
    for (format, tolerance) in [(Format::Ulaw, 0), (Format::Alaw, 0), (Format::OggOpus, 0)] {
        let mut encoded = Cursor::new(Vec::new());
        let report = pipeline::convert(
            Cursor::new(&wav),
            Format::Wav,
            &mut encoded,
            format,
            &options,
        )
        .expect("encode");
        assert_eq!(report.sample_rate, 8000);
        let mut back = Cursor::new(Vec::new());
        let encoded = encoded.into_inner();
        pipeline::convert(
            Cursor::new(&encoded),
            format,
            &mut back,
            Format::Wav,
            &options,
        )
        .expect("decode");
        let (rate, pcm) = decode_wav(&back.into_inner());
        assert_eq!(rate, 8000, "{format:?}");
        assert!(
            pcm.len().abs_diff(original.len()) <= tolerance,
            "{format:?}: {}",
            pcm.len()
        );
        let (corr, _) = best_correlation(&original, &pcm, 40);
        assert!(corr > 0.85, "{format:?}: correlation {corr:.3}");
    }
    // G.711 in a WAV round-trips to the raw codes bit for bit.
    let mut ulaw = Cursor::new(Vec::new());
    pipeline::convert(
        Cursor::new(&wav),
        Format::Wav,
        &mut ulaw,
        Format::Ulaw,
        &options,
    )
    .unwrap();
    let mut expected = vec![0u8; original.len()];
    Law::Ulaw.encode(&original, &mut expected).unwrap();
    assert_eq!(ulaw.into_inner(), expected);
}

#[test]
fn convert_checks_its_options() {
    assert!(ConvertOptions::default().bitrate(5_000).is_err());
    assert!(ConvertOptions::default().bitrate(600_000).is_err());
    assert!(ConvertOptions::default().bitrate(24_000).is_ok());
    assert_eq!(
        Format::from_path("a/B.OPUS".as_ref()),
        Some(Format::OggOpus)
    );
    assert_eq!(Format::from_path("x.ulaw".as_ref()), Some(Format::Ulaw));
    assert_eq!(Format::from_path("x.mp3".as_ref()), None);
    assert_eq!(Format::sniff(b"OggS\0\x02"), Some(Format::OggOpus));
}
