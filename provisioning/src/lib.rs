//! Offhook's LAN provisioning: what an IP phone needs to come up configured.
//!
//! - [`dhcp`]: a DHCPv4 server (RFC 2131, options RFC 2132 and the phone vendors' 66/67/150/160).
//! - [`tftp`]: a read-only TFTP server (RFC 1350 with the option extensions of RFC 2347/2348/2349
//!   and RFC 7440's windowsize).
//! - [`templates`]: the phones' configuration files, generated per vendor and per device.
//! - `http` (feature `driver`): the same files, and firmware, over HTTP.
//! - [`files`]: a served directory that no request can leave (TFTP, firmware over HTTP).
//!
//! The protocol cores are sans-IO, as the gateway cores are: plain structs fed datagrams and the
//! time, drained for what to send. The tokio drivers (feature `driver`) are thin loops around
//! them. Where leases and devices are stored is the caller's business (the appliance keeps
//! them in its database), reached through the traits each module defines.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod dhcp;
pub mod files;
#[cfg(feature = "driver")]
pub mod http;
pub mod mac;
pub mod templates;
pub mod tftp;

pub use mac::Mac;
