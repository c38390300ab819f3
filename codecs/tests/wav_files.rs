//! WAV reader against files written by hound and by sox.

mod common;

use std::path::Path;
use std::process::Command;

use codecs::wav::{SampleFormat, WavReader, WavWriter};
use common::{read_wav_mono, require_sox, run, scratch, speech_8k_path};

fn read_interleaved(path: &Path) -> (codecs::wav::WavSpec, Vec<i16>) {
    let mut r = WavReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0i16; 1000];
    loop {
        let n = r.read_samples(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    (r.spec(), out)
}

#[test]
fn hound_files_read_back_equal() {
    let dir = scratch("hound");
    let samples: Vec<i16> = (0..20_000)
        .map(|i| ((i * 7919) % 65536 - 32768) as i16)
        .collect();
    for (rate, channels) in [(8000, 1u16), (16000, 2), (44100, 1), (11025, 2)] {
        let path = dir.join(format!("{rate}-{channels}.wav"));
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &s in &samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let (got_spec, got) = read_interleaved(&path);
        assert_eq!(got_spec.sample_rate, rate);
        assert_eq!(got_spec.channels, channels);
        assert_eq!(got, samples);
    }
    // 24-bit and float: reduced to 16 bits
    let path = dir.join("24.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for &s in &samples {
        w.write_sample(i32::from(s) << 8 | 0x7F).unwrap();
    }
    w.finalize().unwrap();
    let (spec24, got) = read_interleaved(&path);
    assert_eq!(spec24.format, SampleFormat::I24);
    assert_eq!(got, samples);
    let path = dir.join("f32.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for &s in &samples {
        w.write_sample(f32::from(s) / 32768.0).unwrap();
    }
    w.finalize().unwrap();
    let (specf, got) = read_interleaved(&path);
    assert_eq!(specf.format, SampleFormat::F32);
    assert_eq!(got, samples);
}

#[test]
fn our_writer_is_read_by_hound() {
    let samples: Vec<i16> = (0..3000).map(|i| (i * 11) as i16).collect();
    let mut w = WavWriter::new(Vec::new(), 16000, 2, Some(1500)).unwrap();
    w.write_samples(&samples).unwrap();
    let bytes = w.finish().unwrap();
    let mut r = hound::WavReader::new(&bytes[..]).unwrap();
    assert_eq!(r.spec().channels, 2);
    assert_eq!(r.spec().sample_rate, 16000);
    let got: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(got, samples);
}

/// sox converts the speech fixture to `args`; our reader must agree with sox's own decode of
/// the same file to 16-bit PCM.
fn sox_case(name: &str, encode_args: &[&str]) {
    let dir = scratch(&format!("sox-{name}"));
    let coded = dir.join("coded.wav");
    let reference = dir.join("ref.wav");
    let mut cmd = Command::new("sox");
    cmd.arg("-D")
        .arg(speech_8k_path())
        .args(encode_args)
        .arg(&coded);
    run(&mut cmd);
    run(Command::new("sox")
        .arg("-D")
        .arg(&coded)
        .args(["-e", "signed-integer", "-b", "16"])
        .arg(&reference));
    let (_, ours) = read_interleaved(&coded);
    let (_, theirs) = read_interleaved(&reference);
    assert_eq!(ours.len(), theirs.len(), "{name}");
    assert!(ours.len() > 80_000, "{name}: the clip is 11.4 s");
    let diff = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "{name}: {diff} samples differ from sox's decode");
}

#[test]
fn sox_mulaw() {
    require_sox();
    sox_case("mulaw", &["-e", "mu-law"]);
}

#[test]
fn sox_alaw() {
    require_sox();
    sox_case("alaw", &["-e", "a-law"]);
}

#[test]
fn sox_unsigned_8_bit() {
    require_sox();
    sox_case("u8", &["-e", "unsigned-integer", "-b", "8"]);
}

#[test]
fn sox_stereo_and_other_rates() {
    require_sox();
    let dir = scratch("sox-stereo");
    let stereo = dir.join("stereo.wav");
    // the same speech on both channels, at 22.05 kHz in a plain PCM header
    run(Command::new("sox")
        .arg("-D")
        .arg(speech_8k_path())
        .args(["-c", "2", "-r", "22050", "-t", "wavpcm"])
        .arg(&stereo));
    let mono_ref = dir.join("mono.wav");
    run(Command::new("sox")
        .arg("-D")
        .arg(&stereo)
        .arg(&mono_ref)
        .args(["remix", "1"]));
    let (rate, mono) = read_wav_mono(&stereo);
    assert_eq!(rate, 22050);
    let (_, reference) = read_wav_mono(&mono_ref);
    assert_eq!(
        mono, reference,
        "downmix of identical channels is the channel"
    );
    let (spec, inter) = read_interleaved(&stereo);
    assert_eq!(spec.channels, 2);
    assert_eq!(inter.len(), 2 * mono.len());
    // WAVE_FORMAT_EXTENSIBLE header, 24-bit, 3 channels, written by sox
    let ext = dir.join("ext.wav");
    run(Command::new("sox")
        .arg("-D")
        .arg(speech_8k_path())
        .args(["-b", "24", "-c", "3"])
        .arg(&ext));
    let bytes = std::fs::read(&ext).unwrap();
    assert_eq!(
        &bytes[20..22],
        &[0xFE, 0xFF],
        "sox writes 24-bit as extensible"
    );
    let (spec, _) = read_interleaved(&ext);
    assert_eq!((spec.format, spec.channels), (SampleFormat::I24, 3));
    let (_, speech) = read_wav_mono(&speech_8k_path());
    let (_, ext_mono) = read_wav_mono(&ext);
    assert_eq!(ext_mono, speech);
}

#[test]
fn truncated_speech_file_reports_truncation_without_panic() {
    let bytes = std::fs::read(speech_8k_path()).unwrap();
    for cut in [0, 3, 11, 20, 35, 43, 44, 45, 1000, bytes.len() - 1] {
        let cut_bytes = &bytes[..cut];
        match WavReader::new(cut_bytes) {
            Err(_) => assert!(cut < 44, "header complete at {cut}"),
            Ok(mut r) => {
                let mut buf = [0i16; 512];
                let mut total = 0;
                while let Ok(n @ 1..) = r.read_samples(&mut buf) {
                    total += n;
                }
                assert_eq!(total, (cut - 44) / 2);
                let t = r.truncation().expect("truncation reported");
                assert_eq!(t.read_bytes, (cut - 44) as u64);
            }
        }
    }
}
