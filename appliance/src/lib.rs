//! The `offhook` binary's library: the command line, the configuration file, the gateway
//! drivers, the stations subsystem, and the server that wires them to the voice-messaging core
//! (`offhook-domain`) and its HTTP front end (`offhook-web`).
//!
//! Imports run one way: this crate → `offhook-web` → `offhook-domain` → storage and codecs;
//! the stations subsystem depends on the core, never the reverse.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod front_panel;
pub mod gateways;
pub mod log_ring;
pub mod logging;
pub mod network;
pub mod prompts;
pub mod provisioning;
pub mod run_as;
pub mod server;
pub mod sip;
pub mod stations;
pub mod systemd;
