//! The tokio driver: runs a [`crate::Controller`] core on a UDP socket.
