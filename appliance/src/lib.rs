//! The Offhook appliance: configuration, server engine, database, client manager, REST/WebSocket
//! API and the command-line client, all behind the `offhook` binary.
#![forbid(unsafe_code)]

pub mod accept;
pub mod api;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod db;
pub mod engine;
pub mod gateways;
pub mod intercom;
pub mod media;
pub mod messaging;
pub mod metrics;
pub mod stations;
pub mod transcode;
