use super::*;

use codecs::wav::WavWriter;

/// A WAV file of `samples` at `rate` Hz with `channels` channels.
fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let frames = (samples.len() / usize::from(channels)) as u64;
    let mut w = WavWriter::new(Vec::new(), rate, channels, Some(frames)).unwrap();
    w.write_samples(samples).unwrap();
    w.finish().unwrap()
}

fn put_owner(dir: &Path, prompt: Prompt, bytes: &[u8]) {
    let path = owner_path(dir, prompt);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Every frame of `prompt` as PCM, in frames of `n`.
fn all_pcm(dir: &Path, prompt: Prompt, n: usize) -> Vec<i16> {
    let mut src = open(dir, prompt, Law::Ulaw, n).unwrap();
    let mut out = Vec::new();
    let mut frame = vec![0i16; n];
    while src.next_pcm(&mut frame).unwrap() {
        out.extend_from_slice(&frame);
    }
    out
}

#[test]
fn every_prompt_has_a_shipped_recording_that_decodes() {
    for prompt in Prompt::ALL {
        let pcm = decode(shipped(prompt)).unwrap_or_else(|e| panic!("{}: {e}", prompt.name()));
        // At least half a second, and not silence.
        assert!(
            pcm.len() >= 4000,
            "{}: {} samples",
            prompt.name(),
            pcm.len()
        );
        let peak = pcm.iter().map(|x| x.unsigned_abs()).max().unwrap();
        assert!(peak > 8000, "{}: peak {peak}", prompt.name());
    }
}

#[test]
fn the_script_speaks_each_prompt_s_own_text() {
    let script = include_str!("../../../scripts/prompts");
    for prompt in Prompt::ALL {
        let line = format!("{}\t{}", prompt.name(), prompt.text());
        assert!(
            script.lines().any(|l| l == line),
            "scripts/prompts has no line {line:?}"
        );
    }
}

#[test]
fn the_owner_s_recording_replaces_the_shipped_one() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<i16> = (0..300).map(|i| i * 10).collect();
    put_owner(dir.path(), Prompt::Menu, &wav(8000, 1, &samples));
    // As G.711 frames of 160: 300 samples are two frames, the second padded with silence.
    let mut src = open(dir.path(), Prompt::Menu, Law::Alaw, 160).unwrap();
    let mut frame = [0u8; 160];
    assert!(src.next_frame(&mut frame).unwrap());
    let want: Vec<u8> = samples[..160]
        .iter()
        .map(|&x| Law::Alaw.encode_sample(x))
        .collect();
    assert_eq!(frame.as_slice(), want.as_slice());
    assert!(src.next_frame(&mut frame).unwrap());
    let want: Vec<u8> = samples[160..]
        .iter()
        .map(|&x| Law::Alaw.encode_sample(x))
        .collect();
    assert_eq!(&frame[..140], want.as_slice());
    assert!(frame[140..].iter().all(|&c| c == Law::Alaw.silence()));
    assert!(!src.next_frame(&mut frame).unwrap());
    // As PCM for an Opus call.
    let mut pcm = samples.clone();
    pcm.resize(320, 0);
    assert_eq!(all_pcm(dir.path(), Prompt::Menu, 160), pcm);
    // Other prompts are still the shipped ones.
    let goodbye = decode(shipped(Prompt::Goodbye)).unwrap();
    assert_eq!(all_pcm(dir.path(), Prompt::Goodbye, 1)[..], goodbye[..]);
}

#[test]
fn a_bad_owner_file_is_refused_and_the_shipped_one_plays() {
    let shipped_pcm = |p| {
        let mut pcm = decode(shipped(p)).unwrap();
        pcm.resize(pcm.len().div_ceil(160) * 160, 0);
        pcm
    };
    let too_big = vec![0i16; (MAX_PROMPT_BYTES as usize) / 2];
    let cases: [(&str, Vec<u8>); 5] = [
        ("16 kHz", wav(16000, 1, &[1000; 400])),
        ("stereo", wav(8000, 2, &[1000; 400])),
        ("not a wav", b"RIFF\0\0\0\0WAVX".to_vec()),
        ("no audio", wav(8000, 1, &[])),
        ("too large", wav(8000, 1, &too_big)),
    ];
    for (what, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        put_owner(dir.path(), Prompt::Wrong, &bytes);
        let owner = read_owner(&owner_path(dir.path(), Prompt::Wrong));
        assert!(owner.is_err(), "{what}: {owner:?}");
        assert_eq!(
            all_pcm(dir.path(), Prompt::Wrong, 160),
            shipped_pcm(Prompt::Wrong),
            "{what}"
        );
    }
    // Just at the bound is taken.
    let dir = tempfile::tempdir().unwrap();
    let fits = vec![7i16; (MAX_PROMPT_BYTES as usize - 44) / 2];
    let bytes = wav(8000, 1, &fits);
    assert_eq!(bytes.len() as u64, MAX_PROMPT_BYTES);
    put_owner(dir.path(), Prompt::Wrong, &bytes);
    assert_eq!(all_pcm(dir.path(), Prompt::Wrong, 2), fits);
}

#[test]
fn empty_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(open(dir.path(), Prompt::Goodbye, Law::Ulaw, 0).is_err());
}
