//! The host against a scripted board, in virtual time.
