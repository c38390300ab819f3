//! MEGACO / H.248.1 (ITU-T H.248.1 v1, RFC 3525): the message tree and its text encoding.
//!
//! [`Message`] is the tree of H.248.1 §7–§8 as the Annex B grammar shapes it; it borrows the
//! datagram it was read from. [`text`] reads and writes it in the Annex B text encoding, pretty
//! and compact. The binary encoding (Annex A), the transports (Annex D) and the controller come
//! later (issue 16).
//!
//! What the tree covers: messages with an mId of every kind, transaction requests, replies
//! (with `ImmAckRequired`, an error or action replies), pendings and response acks; actions with
//! any context id and the Priority and Emergency properties; the eight commands with `O-` and
//! `W-`; termination ids with wildcards; the Media (TerminationState, Stream, LocalControl,
//! Local and Remote with the session description kept as text), Events, Signals (and signal
//! lists), ObservedEvents, DigitMap, EventBuffer, ServiceChange, Audit, Statistics and Error
//! descriptors.
//!
//! What the text parser refuses, with [`text::ParseErrorKind::Unsupported`] (answered with
//! H.248.8 code 501, not implemented): the authentication header (`Authentication`, §10), the
//! Modem, Mux, Topology, Packages and ContextAudit descriptors, audit replies that list
//! terminations of a context (`AuditValue = Context {…}`), and bare audit items in an audit
//! reply. Embedded events and signals (`Embed {…}`) are kept as text, not modelled.

pub mod ber;
pub mod controller;
pub mod encoding;
pub mod packages;
pub mod text;
pub mod tpkt;
pub mod transaction;

mod message;

pub use message::*;
