//! The dial-in prompts ([`station_manager::Prompt`]) as the media engine plays them.
//!
//! The appliance ships one recording per prompt, `appliance/prompts/<name>.wav`, embedded in
//! the binary: spoken by espeak-ng from [`Prompt::text`] and converted by sox to 8 kHz mono
//! 16-bit PCM (`scripts/prompts` regenerates them and documents how). An owner replaces one by
//! putting a file of the same name in `<data dir>/prompts/`; it must be a WAV of that same
//! format (8 kHz is G.711's sampling rate, ITU-T G.711 §1; the RIFF/WAVE `fmt ` chunk with
//! format tag 1, PCM, as Microsoft's "Multimedia Programming Interface and Data
//! Specifications 1.0" defines it) of at most [`MAX_PROMPT_BYTES`]. A file that is not is
//! refused with a `warn!` naming the file and the cause, and the shipped recording plays
//! instead: a caller always hears something.
//!
//! [`open`] decodes the whole file to PCM up front (it runs on the engine's blocking thread)
//! and then hands out frames without I/O, as G.711 codes or as 8 kHz PCM for an Opus call.

use std::io::{Cursor, Read};
use std::path::Path;

use codecs::g711::Law;
use codecs::wav::{SampleFormat, WavReader};
use station_manager::Prompt;
use station_manager::media::{FrameSource, SourceError};
use tracing::warn;

/// The largest prompt file read, in bytes: about 65 s of 8 kHz 16-bit audio, more than any
/// prompt needs, and a bound on what one `open` holds in memory.
pub const MAX_PROMPT_BYTES: u64 = 1 << 20;

/// The sampling rate a prompt file must have (G.711's).
pub const PROMPT_RATE: u32 = 8000;

/// The recording shipped for `prompt` (a WAV file's bytes).
pub fn shipped(prompt: Prompt) -> &'static [u8] {
    match prompt {
        Prompt::EnterNumber => include_bytes!("../prompts/enter-number.wav"),
        Prompt::EnterPin => include_bytes!("../prompts/enter-pin.wav"),
        Prompt::Wrong => include_bytes!("../prompts/wrong.wav"),
        Prompt::Goodbye => include_bytes!("../prompts/goodbye.wav"),
        Prompt::Menu => include_bytes!("../prompts/menu.wav"),
        Prompt::NoMessages => include_bytes!("../prompts/no-messages.wav"),
        Prompt::EnterRecipient => include_bytes!("../prompts/enter-recipient.wav"),
        Prompt::UnknownRecipient => include_bytes!("../prompts/unknown-recipient.wav"),
        Prompt::SpeakAfterTone => include_bytes!("../prompts/speak-after-tone.wav"),
        // `Prompt` is non-exhaustive: a prompt added later without a recording says so.
        _ => &[],
    }
}

/// Where the owner's replacement for `prompt` is looked for: `<data_dir>/prompts/<name>.wav`.
pub fn owner_path(data_dir: &Path, prompt: Prompt) -> std::path::PathBuf {
    data_dir
        .join("prompts")
        .join(format!("{}.wav", prompt.name()))
}

/// Opens `prompt` for playout as `law` frames of `frame_samples` samples: the owner's
/// recording if there is one and it is valid (see the module docs), else the shipped one.
/// Fails only if neither decodes (a prompt with no shipped recording).
pub fn open(
    data_dir: &Path,
    prompt: Prompt,
    law: Law,
    frame_samples: usize,
) -> Result<Box<dyn FrameSource>, SourceError> {
    if frame_samples == 0 {
        return Err(SourceError("a prompt's frames cannot be empty".into()));
    }
    let path = owner_path(data_dir, prompt);
    let pcm = match read_owner(&path) {
        Ok(Some(pcm)) => pcm,
        Ok(None) => decode_shipped(prompt)?,
        Err(why) => {
            warn!(file = %path.display(), error = %why, "prompt file refused; playing the shipped one");
            decode_shipped(prompt)?
        }
    };
    Ok(Box::new(PromptAudio { pcm, at: 0, law }))
}

fn decode_shipped(prompt: Prompt) -> Result<Vec<i16>, SourceError> {
    decode(shipped(prompt)).map_err(|why| {
        SourceError(format!(
            "the shipped {} prompt does not decode: {why}",
            prompt.name()
        ))
    })
}

/// The owner's file at `path` decoded, `None` if there is none, or why it is refused.
fn read_owner(path: &Path) -> Result<Option<Vec<i16>>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let mut bytes = Vec::new();
    // One byte past the bound tells a file too large from one just at it.
    file.take(MAX_PROMPT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_PROMPT_BYTES {
        return Err(format!("it is larger than {MAX_PROMPT_BYTES} bytes"));
    }
    decode(&bytes).map(Some)
}

/// Decodes a WAV file that must be 8 kHz mono 16-bit PCM; the error says what it is instead.
pub fn decode(bytes: &[u8]) -> Result<Vec<i16>, String> {
    let mut reader = WavReader::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    if spec.sample_rate != PROMPT_RATE || spec.channels != 1 || spec.format != SampleFormat::I16 {
        return Err(format!(
            "it is {} Hz, {} channel(s), {:?}: prompts must be {PROMPT_RATE} Hz mono 16-bit PCM \
             (sox IN -r 8000 -c 1 -b 16 OUT.wav)",
            spec.sample_rate, spec.channels, spec.format
        ));
    }
    let mut pcm = Vec::with_capacity(bytes.len() / 2);
    let mut buf = [0i16; 1024];
    loop {
        let n = reader.read_samples(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        pcm.extend_from_slice(&buf[..n]);
    }
    if pcm.is_empty() {
        return Err("it holds no audio".into());
    }
    Ok(pcm)
}

/// A decoded prompt, handed out frame by frame.
struct PromptAudio {
    pcm: Vec<i16>,
    at: usize,
    law: Law,
}

impl PromptAudio {
    /// The next `n` samples (fewer at the end), or `None` once all were given.
    fn take(&mut self, n: usize) -> Option<&[i16]> {
        if self.at >= self.pcm.len() {
            return None;
        }
        let end = self.pcm.len().min(self.at.saturating_add(n));
        let chunk = &self.pcm[self.at..end];
        self.at = end;
        Some(chunk)
    }
}

impl FrameSource for PromptAudio {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        let law = self.law;
        let Some(chunk) = self.take(out.len()) else {
            return Ok(false);
        };
        let (head, tail) = out.split_at_mut(chunk.len());
        for (code, &x) in head.iter_mut().zip(chunk) {
            *code = law.encode_sample(x);
        }
        tail.fill(law.silence());
        Ok(true)
    }

    fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, SourceError> {
        let Some(chunk) = self.take(out.len()) else {
            return Ok(false);
        };
        let (head, tail) = out.split_at_mut(chunk.len());
        head.copy_from_slice(chunk);
        tail.fill(0);
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
