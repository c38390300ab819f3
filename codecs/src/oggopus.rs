//! Ogg Opus files (RFC 7845): OpusHead, OpusTags, granule positions and pre-skip.
