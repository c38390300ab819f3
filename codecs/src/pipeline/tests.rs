//! One pass from memory against two streaming passes: the same samples, the same message.
use std::io::{self, Cursor, Read, Seek, SeekFrom};

use super::*;

const ID: &[u8] = b"0b8c54e2-5b0e-4c57-9a57-3f1d2e5c9a10";

fn fixture_8k() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/speech-8k.wav"
    ))
    .expect("speech fixture")
}

/// The 8 kHz fixture resampled to `rate`, as a WAV.
fn fixture_at(rate: u32) -> Vec<u8> {
    let wav = fixture_8k();
    let mut reader = WavReader::new(Cursor::new(&wav)).unwrap();
    let mut pcm = Vec::new();
    let mut buf = [0i16; 4096];
    loop {
        let n = reader.read_mono(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        pcm.extend_from_slice(&buf[..n]);
    }
    let pcm = resample::resample(&pcm, 8000, rate).unwrap();
    let mut out = Cursor::new(Vec::new());
    let mut w = WavWriter::new(&mut out, rate, 1, Some(pcm.len() as u64)).unwrap();
    w.write_samples(&pcm).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

/// A reader that refuses to seek: a pass that needs to rewind fails.
struct NoRewind<R>(R);

impl<R: Read> Read for NoRewind<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R> Seek for NoRewind<R> {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Err(io::Error::other("this input cannot be read twice"))
    }
}

/// The cleaned PCM `Passes::run` delivers for `wav` holding at most `hold` samples.
fn cleaned<R: Read + Seek>(wav: R, source_rate: u32, hold: usize) -> Result<Vec<i16>, Error> {
    let rate = working_rate(source_rate);
    let passes = Passes {
        format: Format::Wav,
        opus_rate: opus_rate_for(rate),
        rate,
        limit: None,
        clean: true,
        hold,
    };
    let mut out = Vec::new();
    let mut wav = wav;
    passes.run(&mut wav, 0, |pcm| {
        out.extend_from_slice(pcm);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn one_pass_and_two_passes_clean_alike_sample_for_sample() {
    // 8 kHz stays at 8 kHz; 16 kHz stays; 22.05 kHz is resampled to 16 kHz on the way.
    for rate in [8000, 16000, 22050] {
        let wav = if rate == 8000 {
            fixture_8k()
        } else {
            fixture_at(rate)
        };
        let streamed = cleaned(Cursor::new(&wav), rate, 0).unwrap();
        // Held whole: a single pass, which never rewinds.
        let held = cleaned(NoRewind(Cursor::new(&wav)), rate, usize::MAX).unwrap();
        // Outgrows the bound after a second: the held samples are dropped, pass 2 streams.
        let outgrown = cleaned(Cursor::new(&wav), rate, working_rate(rate) as usize).unwrap();
        assert!(
            streamed.len() > 8 * working_rate(rate) as usize,
            "{rate} Hz: {}",
            streamed.len()
        );
        assert_eq!(held.len(), streamed.len(), "{rate} Hz");
        let first_diff = held.iter().zip(&streamed).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "{rate} Hz: first differing sample");
        assert_eq!(outgrown, streamed, "{rate} Hz");
        // A bound below the recording's length needs the second read.
        assert!(cleaned(NoRewind(Cursor::new(&wav)), rate, 8000).is_err());
    }
}

#[test]
fn ingest_stores_the_same_message_either_way() {
    let key = Key::from_bytes([7; 32]);
    let wav = fixture_8k();
    let stored = |in_memory: Duration| {
        let config = IngestConfig {
            in_memory,
            ..IngestConfig::default()
        };
        let mut sealed = Vec::new();
        let report = ingest(Cursor::new(&wav), &mut sealed, &key, ID, &config).unwrap();
        (
            seal::open(&key, ID, &sealed, MAX_STORED_LEN).unwrap(),
            report,
        )
    };
    let (one, one_report) = stored(IN_MEMORY_MAX);
    let (two, two_report) = stored(Duration::ZERO);
    assert_eq!(one_report.duration_ms, two_report.duration_ms);
    assert!(one_report.duration_ms > 9_000, "{}", one_report.duration_ms);
    assert!(one == two, "the Ogg Opus streams differ");
}
