//! WAV (RIFF) files: 8/16-bit PCM at any rate, µ-law and A-law in.
