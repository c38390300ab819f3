//! Voice clean-up for recorded messages: voice activity, trimming, loudness and noise reduction.
