//! `offhook convert IN OUT [--bitrate BPS] [--clean]`: audio conversion by file extension.
//!
//! WAV in at any rate (PCM, µ-law, A-law), raw G.711 (`.ulaw`, `.alaw`, 8 kHz) and Ogg Opus
//! (`.ogg`, `.opus`) both ways. `--clean` applies the same clean-up (trim, gain, noise) that
//! recorded messages get before they are stored.
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use clap::Args;
use codecs::pipeline::{self, ConvertOptions, Format};

use super::Error;

/// Arguments of `offhook convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
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

fn format_of(path: &Path) -> Result<Format, Error> {
    Format::from_path(path).ok_or_else(|| {
        Error::Usage(format!(
            "{}: unknown audio format (use .wav, .ulaw, .alaw, .ogg or .opus)",
            path.display()
        ))
    })
}

/// A file error naming what was being done to which file.
fn file_error(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = format!("{what}{}", path.display());
    move |source| Error::File { path, source }
}

/// Runs the conversion and prints a one-line summary on stderr.
pub fn run(args: &ConvertArgs) -> Result<(), Error> {
    let in_format = format_of(&args.input)?;
    let out_format = format_of(&args.output)?;
    let options = ConvertOptions::default()
        .bitrate(args.bitrate)
        .map_err(|e| Error::Usage(format!("--bitrate {}: {e}", args.bitrate)))?
        .clean(args.clean);
    let input = File::open(&args.input).map_err(file_error("cannot open ", &args.input))?;
    // Write beside the target and rename, so a failed conversion never leaves half a file.
    let partial = args.output.with_extension(format!(
        "{}.partial",
        args.output
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
    ));
    let output = File::create(&partial).map_err(file_error("cannot create ", &partial))?;
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
            return Err(Error::Usage(format!("{}: {error:#}", args.input.display())));
        }
    };
    std::fs::rename(&partial, &args.output).map_err(file_error("cannot write ", &args.output))?;
    eprintln!(
        "{} -> {}: {} ms at {} Hz",
        args.input.display(),
        args.output.display(),
        report.duration_ms,
        report.sample_rate
    );
    Ok(())
}
