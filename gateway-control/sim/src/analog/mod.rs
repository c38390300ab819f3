//! The protocol-free analog-line core: what every simulated gateway shares whatever protocol
//! controls it — the stdin command language ([`Input`], [`LineCommand`]), the phone (hook,
//! the bell's ring cadence, autoanswer), RTP connections that say and hear G.711 audio (RFC 3550/3551), the JSON lines
//! reported for each [`Output`], and FXO ports facing a simulated PBX ([`fxo`]). A protocol side (see [`crate::mgcp`]) owns the lines' hook
//! state and maps its commands and events onto these pieces.

mod bell;
mod command;
mod connection;
pub mod fxo;
mod output;
mod phone;

pub(crate) use bell::Bell;
pub(crate) use command::key_index;
pub use command::{Input, InputError, LineCommand, MAX_DIGITS, MAX_INPUT_LINE};
pub use connection::MAX_SAY_SAMPLES;
pub(crate) use connection::{Connection, Mode};
pub use fxo::{FxoConfig, Supervision, TrunkCommand};
pub use output::{ConnectionAction, Output, StopReason, error_line, file_done, say_done};
pub(crate) use phone::Phone;
