//! xz (LZMA2) compression with a cap on decompressed size.
