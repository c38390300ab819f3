//! Encodes a WAV file to Ogg Opus with our writer and decodes it back with our reader.
//!
//! `opus_roundtrip [--complexity N] IN.wav OUT.wav [BITRATE_BPS] [OUT.opus]`
//!
//! `--complexity` sets the encoder complexity (0..=10); without it the stored-message setting
//! for the encoding rate ([`codecs::opus::stored_complexity`]) is used. The bit rate defaults to
//! the stored messages' ([`codecs::opus::STORED_BITRATE`]). The encoder's CPU time is printed (stderr).
//!
//! The input may be any format our WAV reader takes; it is downmixed to mono. Rates Opus does
//! not take are resampled to 16 kHz for encoding and back afterwards. OUT.wav is 16-bit mono at
//! the input rate and has the input's length (±1 sample when resampled). Used by
//! `scripts/opus_pesq.py`.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

use codecs::oggopus::{OggOpusReader, OggOpusWriter, WriterConfig};
use codecs::opus::{STORED_BITRATE, SampleRate, stored_complexity};
use codecs::resample::Resampler;
use codecs::wav::{WavReader, WavWriter};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let mut complexity = None;
    if let Some(i) = args.iter().position(|a| a == "--complexity") {
        match args.get(i + 1).and_then(|c| c.parse().ok()) {
            Some(c) => complexity = Some(c),
            None => {
                eprintln!("opus_roundtrip: --complexity takes a number 0..=10");
                return ExitCode::from(2);
            }
        }
        args.drain(i..i + 2);
    }
    if args.len() < 3 {
        eprintln!("usage: opus_roundtrip [--complexity N] IN.wav OUT.wav [BITRATE_BPS] [OUT.opus]");
        return ExitCode::from(2);
    }
    match run(&args, complexity) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opus_roundtrip: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CPU time of the calling thread (Linux), for the encoder's figure.
fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn run(args: &[String], complexity: Option<u8>) -> Result<(), Box<dyn std::error::Error>> {
    let bitrate = match args.get(3) {
        Some(b) => b.parse()?,
        None => STORED_BITRATE,
    };
    let mut reader = WavReader::new(BufReader::new(File::open(&args[1])?))?;
    let in_rate = reader.spec().sample_rate;
    let codec_rate = SampleRate::from_hz(in_rate).unwrap_or(SampleRate::Hz16000);
    let mut to_codec = Resampler::new(in_rate, codec_rate.hz())?;
    let complexity = complexity.unwrap_or_else(|| stored_complexity(codec_rate.hz()));
    let mut cfg = WriterConfig::new(codec_rate.hz(), 1)?;
    cfg.encoder = cfg.encoder.bitrate(bitrate)?.complexity(complexity)?;
    cfg.original_sample_rate = Some(in_rate);
    let mut writer = OggOpusWriter::new(Vec::new(), cfg)?;
    let mut buf = [0i16; 4096];
    let mut resampled = Vec::new();
    let mut input_len = 0u64;
    let cpu0 = thread_cpu_s();
    loop {
        let n = reader.read_mono(&mut buf)?;
        if n == 0 {
            break;
        }
        input_len += n as u64;
        resampled.clear();
        to_codec.process(&buf[..n], &mut resampled)?;
        writer.write(&resampled)?;
    }
    resampled.clear();
    to_codec.finish(&mut resampled)?;
    writer.write(&resampled)?;
    let opus = writer.finish()?;
    let encode_s = cpu0.zip(thread_cpu_s()).map(|(a, b)| b - a);
    if let Some(path) = args.get(4) {
        std::fs::write(path, &opus)?;
    }

    let mut decoder = OggOpusReader::new(&opus[..], codec_rate)?;
    let mut from_codec = Resampler::new(codec_rate.hz(), in_rate)?;
    let frames = Resampler::new(in_rate, codec_rate.hz())?.output_len_for(input_len);
    let frames = from_codec.output_len_for(frames);
    let mut wav = WavWriter::new(
        BufWriter::new(File::create(&args[2])?),
        in_rate,
        1,
        Some(frames),
    )?;
    let mut out = Vec::new();
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        from_codec.process(&buf[..n], &mut out)?;
        wav.write_samples(&out)?;
    }
    out.clear();
    from_codec.finish(&mut out)?;
    wav.write_samples(&out)?;
    wav.finish()?;
    eprintln!(
        "{}: {input_len} samples at {in_rate} Hz -> {} bytes of Ogg Opus at {bitrate} bit/s, complexity {complexity}",
        args[1],
        opus.len()
    );
    if let Some(s) = encode_s {
        let seconds = input_len as f64 / f64::from(in_rate);
        eprintln!(
            "encode CPU {:.1} ms ({:.0}x real time on one core)",
            s * 1000.0,
            seconds / s.max(1e-9)
        );
    }
    Ok(())
}
