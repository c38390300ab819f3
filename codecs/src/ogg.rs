//! Ogg pages and packets (RFC 3533).
