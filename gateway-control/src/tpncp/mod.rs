//! AudioCodes TPNCP (Trunk Pack Network Control Protocol): the binary protocol a host uses to
//! drive AudioCodes boards (MediaPack and Mediant analog gateways) over TCP or UDP port 2424.
//! The host sends commands (`acCMD_…`: open a channel, start RTP, ring, play a tone) and the
//! board reports events (`acEV_…`: off-hook, digits, acknowledgements, keep-alives).
//!
//! AudioCodes publishes no specification; the layouts follow the structure table Wireshark's
//! TPNCP dissector reads (`tpncp.dat`, release L7.40.016.001), which Offhook's own tables in
//! [`wire::structs`] are checked against.
//!
//! - [`wire`]: the messages and their encoding, syntax only.
//! - [`controller`]: the host: sessions with boards, translated to the common model.

pub mod controller;
pub mod wire;
