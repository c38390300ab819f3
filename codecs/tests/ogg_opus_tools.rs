//! Ogg Opus against the real opus-tools (`opusdec`, `opusenc`, `opusinfo`), and a WAV → Opus →
//! WAV round trip of real speech.

mod common;

use std::process::Command;

use codecs::oggopus::{OggOpusReader, OggOpusWriter, WriterConfig};
use codecs::opus::SampleRate;
use codecs::wav::WavWriter;
use common::{best_correlation, read_wav_mono, require_opus_tool, run, scratch, speech_8k_path};

/// One 20 ms frame at 8 kHz.
const FRAME_8K: usize = 160;

fn encode_ours(pcm: &[i16], rate: u32) -> Vec<u8> {
    let mut cfg = WriterConfig::new(rate, 0x0FF0_0C0C).unwrap();
    cfg.comments.push("TITLE=speech".into());
    let mut w = OggOpusWriter::new(Vec::new(), cfg).unwrap();
    for chunk in pcm.chunks(1000) {
        w.write(chunk).unwrap();
    }
    w.finish().unwrap()
}

fn decode_ours(bytes: &[u8], rate: SampleRate) -> Vec<i16> {
    let mut r = OggOpusReader::new(bytes, rate).unwrap();
    let mut out = Vec::new();
    let mut buf = [0i16; 2048];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(r.corrupt_packets(), 0);
    out
}

#[test]
fn our_file_decodes_with_opusdec() {
    require_opus_tool("opusdec");
    require_opus_tool("opusinfo");
    let dir = scratch("opusdec");
    let (_, speech) = read_wav_mono(&speech_8k_path());
    let file = dir.join("ours.opus");
    std::fs::write(&file, encode_ours(&speech, 8000)).unwrap();

    let info = run(Command::new("opusinfo").arg(&file));
    assert!(
        !info.contains("WARNING") && !info.contains("ERROR"),
        "opusinfo:\n{info}"
    );
    assert!(info.contains("offhook"), "vendor string missing:\n{info}");

    let out = dir.join("decoded.wav");
    run(Command::new("opusdec")
        .args(["--rate", "8000"])
        .arg(&file)
        .arg(&out));
    let (rate, decoded) = read_wav_mono(&out);
    assert_eq!(rate, 8000);
    let diff = decoded.len().abs_diff(speech.len());
    assert!(
        diff <= FRAME_8K,
        "opusdec gave {} samples for {} in ({diff} off)",
        decoded.len(),
        speech.len()
    );
    let (corr, lag) = best_correlation(&speech, &decoded, 40);
    eprintln!("opusdec: correlation {corr:.4} at lag {lag}");
    assert!(
        corr > 0.9,
        "opusdec output correlation {corr:.3} at lag {lag}"
    );
}

#[test]
fn opusenc_file_reads_back_with_the_right_length() {
    require_opus_tool("opusenc");
    let dir = scratch("opusenc");
    let file = dir.join("theirs.opus");
    run(Command::new("opusenc")
        .args(["--quiet", "--bitrate", "16"])
        .arg(speech_8k_path())
        .arg(&file));
    let (_, speech) = read_wav_mono(&speech_8k_path());
    let bytes = std::fs::read(&file).unwrap();
    let r = OggOpusReader::new(&bytes[..], SampleRate::Hz8000).unwrap();
    assert_eq!(r.head().input_sample_rate, 8000);
    assert!(
        r.tags().vendor.contains("libopus"),
        "vendor {:?}",
        r.tags().vendor
    );
    let at8k = decode_ours(&bytes, SampleRate::Hz8000);
    assert!(
        at8k.len().abs_diff(speech.len()) <= FRAME_8K,
        "8 kHz: {} vs {}",
        at8k.len(),
        speech.len()
    );
    let at48k = decode_ours(&bytes, SampleRate::Hz48000);
    assert!(
        at48k.len().abs_diff(6 * speech.len()) <= 6 * FRAME_8K,
        "48 kHz: {} vs {}",
        at48k.len(),
        6 * speech.len()
    );
    let (corr, lag) = best_correlation(&speech, &at8k, 40);
    eprintln!("opusenc file: correlation {corr:.4} at lag {lag}");
    assert!(corr > 0.95, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn wav_opus_wav_round_trip_keeps_duration_and_waveform() {
    let (rate, speech) = read_wav_mono(&speech_8k_path());
    assert_eq!(rate, 8000);
    let opus = encode_ours(&speech, rate);
    let decoded = decode_ours(&opus, SampleRate::Hz8000);
    let mut w = WavWriter::new(Vec::new(), 8000, 1, Some(decoded.len() as u64)).unwrap();
    w.write_samples(&decoded).unwrap();
    let wav = w.finish().unwrap();
    let dir = scratch("roundtrip");
    let path = dir.join("rt.wav");
    std::fs::write(&path, &wav).unwrap();
    let (_, back) = read_wav_mono(&path);
    assert!(
        back.len().abs_diff(speech.len()) <= FRAME_8K,
        "{} vs {}",
        back.len(),
        speech.len()
    );
    // 16 kbit/s Opus keeps speech waveform-close once aligned (measured 0.936 here at lag -1;
    // a silent, shifted or garbled path is far below). With the pre-skip removed the codec's
    // residual delay is within a sample or two; a missed pre-skip would be 52 samples.
    let (corr, lag) = best_correlation(&speech, &back, 40);
    eprintln!(
        "round trip: {} bytes of Opus, correlation {corr:.4} at lag {lag}",
        opus.len()
    );
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
    assert!(lag.abs() <= 2, "pre-skip not compensated: lag {lag}");
}
