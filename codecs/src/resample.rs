//! Sample-rate conversion between 8, 16 and 48 kHz.
