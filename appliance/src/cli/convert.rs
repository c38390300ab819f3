//! `offhook convert IN OUT [--bitrate BPS] [--clean]`: audio conversion by file extension.
//!
//! WAV in at any rate (PCM, µ-law, A-law), raw G.711 (`.ulaw`, `.alaw`, 8 kHz) and Ogg Opus
//! (`.ogg`, `.opus`) both ways. `--clean` applies the same clean-up (trim, gain, noise) that
//! recorded messages get before they are stored.
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use codecs::pipeline::{self, ConvertOptions, Format};

/// Arguments of `offhook convert`.
#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The input file: .wav, .ulaw, .alaw, .ogg or .opus.
    input: PathBuf,
    /// The output file: .wav, .ulaw, .alaw, .ogg or .opus.
    output: PathBuf,
    /// The Opus bit rate for .ogg/.opus output, in bits per second.
    #[arg(long, default_value_t = codecs::opus::DEFAULT_BITRATE)]
    bitrate: u32,
    /// Trim silence, remove noise and normalise loudness, as for a stored message.
    #[arg(long)]
    clean: bool,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    let Some(format) = Format::from_path(path) else {
        bail!(
            "{}: unknown audio format (use .wav, .ulaw, .alaw, .ogg or .opus)",
            path.display()
        );
    };
    Ok(format)
}

/// Runs the conversion and prints a one-line summary on stderr.
pub(crate) fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    let in_format = format_of(&args.input)?;
    let out_format = format_of(&args.output)?;
    let options = ConvertOptions::default()
        .bitrate(args.bitrate)
        .with_context(|| format!("--bitrate {}", args.bitrate))?
        .clean(args.clean);
    let input =
        File::open(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    // Write beside the target and rename, so a failed conversion never leaves half a file.
    let partial = args.output.with_extension(format!(
        "{}.partial",
        args.output
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
    ));
    let output =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let report = pipeline::convert(
        BufReader::new(input),
        in_format,
        BufWriter::new(output),
        out_format,
        &options,
    );
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error).with_context(|| format!("{}", args.input.display()));
        }
    };
    std::fs::rename(&partial, &args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{} -> {}: {} ms at {} Hz",
        args.input.display(),
        args.output.display(),
        report.duration_ms,
        report.sample_rate
    );
    Ok(())
}
