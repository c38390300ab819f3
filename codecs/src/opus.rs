//! Opus encode and decode through libopus (RFC 6716).
