//! The TPNCP messages Offhook sends and reads, as Rust values: the header fields a session
//! needs, one enum of commands (host → board) and one of events (board → host), each with the
//! fields Offhook sets or reads. Every other field of the structure is zero when encoded and
//! ignored when decoded; the layouts themselves (ids, offsets, sizes, bit fields) are the
//! generated tables of [`super::structs`], checked against Wireshark's `tpncp.dat`.

use std::net::SocketAddr;

/// The byte order of one message. Boards speak one or the other; each message is read in the
/// order it was detected in (as Wireshark does: the id's upper 16 bits, big-endian, are zero)
/// and answered in the order the peer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// Network order (AudioCodes' boards, and Offhook's default).
    #[default]
    Big,
    /// Little-endian.
    Little,
}

impl ByteOrder {
    /// The order of a message from its first [`MIN_LEN`](super::MIN_LEN) bytes, as Wireshark
    /// tells it: the id's upper 16 bits, read big-endian, are zero in a big-endian message
    /// (every id is below 65536).
    pub(super) fn of(head: &[u8]) -> Self {
        if head[8] == 0 && head[9] == 0 {
            Self::Big
        } else {
            Self::Little
        }
    }

    /// The first two bytes of `b` as a number in this order.
    pub(super) fn u16(self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        match self {
            Self::Big => u16::from_be_bytes(b),
            Self::Little => u16::from_le_bytes(b),
        }
    }

    /// The first four bytes of `b` as a number in this order.
    pub(super) fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        match self {
            Self::Big => u32::from_be_bytes(b),
            Self::Little => u32::from_le_bytes(b),
        }
    }

    /// `v` as bytes in this order.
    pub(super) fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            Self::Big => v.to_be_bytes(),
            Self::Little => v.to_le_bytes(),
        }
    }

    /// `v` as bytes in this order.
    pub(super) fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            Self::Big => v.to_be_bytes(),
            Self::Little => v.to_le_bytes(),
        }
    }
}

/// A sequence number (header bytes 4–5): the host numbers its commands, the board its events;
/// `acEV_COMMAND_ACK` echoes the command's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Seq(pub u16);

impl Seq {
    /// The next number, wrapping after 65535.
    pub fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }
}

/// A channel (an analog port: MediaPack port N is channel N − 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(pub i32);

/// The header of one message, as read or to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the whole message.
    pub order: ByteOrder,
    /// The protocol version field (bytes 0–1); see [`VERSION`].
    pub version: u16,
    /// Sequence number.
    pub seq: Seq,
}

/// The version Offhook writes: the `tpncp.dat` release its layouts follow (L7.40.016.001),
/// which also tells Wireshark that `acCMD_ACTIVATE_RTP_RTCP` carries `secondary_rtp_seq_num`
/// (present from 7401).
pub const VERSION: u16 = 7401;

/// The voice coder of a channel (`coder` of `acCMD_OPEN_CHANNEL`, the `Coders` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coder {
    /// G.711 A-law (`G711_ALAW_64`, 0).
    Alaw,
    /// G.711 µ-law (`G711_MULAW`, 1).
    Mulaw,
}

/// A tone of `acCMD_PLAY_TONE` (`tone_type`, the `ToneType` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToneType {
    /// `DIAL_TONE` (1).
    Dial,
    /// `RINGING_TONE` (2): ringback.
    Ringing,
    /// `BUSY_TONE` (3).
    Busy,
    /// `REORDER_TONE` (7).
    Reorder,
    /// `CONFIRMATION_TONE` (8).
    Confirmation,
    /// `WAITING_TONE` (9): call waiting.
    Waiting,
    /// `STUTTER_DIAL_TONE` (15).
    StutterDial,
    /// Any other value, kept as read.
    Other(u32),
}

impl Coder {
    /// The `Coders` value.
    pub fn code(self) -> i32 {
        match self {
            Self::Alaw => 0,
            Self::Mulaw => 1,
        }
    }

    /// The coder of a `Coders` value, if it is one of these.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(Self::Alaw),
            1 => Some(Self::Mulaw),
            _ => None,
        }
    }
}

impl ToneType {
    /// The `ToneType` value.
    pub fn code(self) -> u32 {
        match self {
            Self::Dial => 1,
            Self::Ringing => 2,
            Self::Busy => 3,
            Self::Reorder => 7,
            Self::Confirmation => 8,
            Self::Waiting => 9,
            Self::StutterDial => 15,
            Self::Other(v) => v,
        }
    }

    /// The tone of a `ToneType` value (named when it has a name here).
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::Dial,
            2 => Self::Ringing,
            3 => Self::Busy,
            7 => Self::Reorder,
            8 => Self::Confirmation,
            9 => Self::Waiting,
            15 => Self::StutterDial,
            v => Self::Other(v),
        }
    }
}

/// `signal_code` of `acCMD_SEND_ANALOG_SIGNAL` (the `AnalogSignalCode` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalogSignal {
    /// `ANALOG_SIGNAL_HOOKFLASH` (16).
    HookFlash,
    /// `ANALOG_SIGNAL_OFFHOOK` (64).
    OffHook,
    /// `ANALOG_SIGNAL_ONHOOK` (65).
    OnHook,
    /// Any other value, kept as read.
    Other(i32),
}

impl AnalogSignal {
    /// The `AnalogSignalCode` value.
    pub fn code(self) -> i32 {
        match self {
            Self::HookFlash => 16,
            Self::OffHook => 64,
            Self::OnHook => 65,
            Self::Other(v) => v,
        }
    }

    /// The signal of an `AnalogSignalCode` value (named when it has a name here).
    pub fn from_code(code: i32) -> Self {
        match code {
            16 => Self::HookFlash,
            64 => Self::OffHook,
            65 => Self::OnHook,
            v => Self::Other(v),
        }
    }
}

/// Caller-id text sent with a ring (`acCMD_ANALOG_IF_DISTINCTIVE_RING`): at most 20 bytes of
/// number and 50 of name (the fields are 21 and 51 bytes, NUL-terminated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerIdText {
    /// `number`, with `number_availability` set when present.
    pub number: Option<String>,
    /// `name`, with `name_availability` set when present.
    pub name: Option<String>,
}

/// A command, host → board. The channel is the structure's first field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `acCMD_OPEN_CHANNEL` (2): make the channel ready for voice.
    OpenChannel {
        /// Which channel.
        channel: Channel,
        /// The voice coder.
        coder: Coder,
        /// `m`: coder frames per packet (G.711: 10 ms frames, so 2 is 20 ms).
        frames_per_packet: i32,
        /// `rtpdtmfrfc2833_payload_type`: RFC 4733 payload type, 0 for none.
        dtmf_payload_type: u8,
    },
    /// `acCMD_CLOSE_CHANNEL` (3).
    CloseChannel {
        /// Which channel.
        channel: Channel,
    },
    /// `acCMD_ACTIVATE_RTP_RTCP` (4): start RTP between the channel and `remote`.
    ActivateRtp {
        /// Which channel.
        channel: Channel,
        /// `local_rtp_port`: the board's RTP port for this channel (RTCP is the next one).
        local_rtp_port: u16,
        /// Where the board sends RTP: `remote_rtpip_add_*` (and `reserved_remote_rtpip_add`
        /// for IPv4) with `remote_rtp_port`; RTCP goes to the next port (`remote_rtcp_port`).
        remote: SocketAddr,
        /// `tx_rtp_payload_type`.
        tx_payload_type: i32,
        /// `rx_rtp_payload_type`.
        rx_payload_type: i32,
    },
    /// `acCMD_DIAL` (5): digits played on the channel as DTMF (`signaling_system` 0), answered
    /// by `acEV_DIAL_ENDED` once the last is out. An FXO port dials its number so.
    Dial {
        /// Which channel.
        channel: Channel,
        /// `num_digits` entries of the array (at most [`DIGITS`](super::structs::DIGITS):
        /// more are left out when encoded), coded as in `acEV_DIGIT`.
        digits: Vec<DigitEntry>,
    },
    /// `acCMD_DEACTIVATE_RTP_RTCP` (35).
    DeactivateRtp {
        /// Which channel.
        channel: Channel,
    },
    /// `acCMD_PLAY_TONE` (47).
    PlayTone {
        /// Which channel.
        channel: Channel,
        /// Which tone.
        tone: ToneType,
        /// `duration` in milliseconds; 0 plays until stopped.
        duration_ms: i32,
    },
    /// `acCMD_STOP_PLAY_TONE` (48).
    StopTone {
        /// Which channel.
        channel: Channel,
    },
    /// `acCMD_SEND_ANALOG_SIGNAL` (212).
    SendAnalogSignal {
        /// Which channel.
        channel: Channel,
        /// The signal.
        signal: AnalogSignal,
        /// `duration` in milliseconds.
        duration_ms: i32,
    },
    /// `acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION` (220): the lamp on or off.
    MessageWaiting {
        /// Which channel.
        channel: Channel,
        /// `analog_if_polarity_state`: 1 lights the lamp, 0 puts it out.
        on: bool,
    },
    /// `acCMD_ANALOG_IF_QUERY_STATUS` (222): answered by `acEV_ANALOG_IF_FXS_STATUS`.
    QueryStatus {
        /// Which channel.
        channel: Channel,
    },
    /// `acCMD_ANALOG_IF_DISTINCTIVE_RING` (229): ring (with caller id) or stop ringing.
    Ring {
        /// Which channel.
        channel: Channel,
        /// `ring_state`: true rings, false stops.
        on: bool,
        /// `ring_type`: the distinctive pattern, 0 for the normal ring.
        pattern: i32,
        /// Caller id (`cid_available`, `number`, `name`), if any.
        caller_id: Option<CallerIdText>,
    },
}

impl Command {
    /// The channel the command is for.
    pub fn channel(&self) -> Channel {
        match self {
            Self::OpenChannel { channel, .. }
            | Self::CloseChannel { channel }
            | Self::ActivateRtp { channel, .. }
            | Self::Dial { channel, .. }
            | Self::DeactivateRtp { channel }
            | Self::PlayTone { channel, .. }
            | Self::StopTone { channel }
            | Self::SendAnalogSignal { channel, .. }
            | Self::MessageWaiting { channel, .. }
            | Self::QueryStatus { channel }
            | Self::Ring { channel, .. } => *channel,
        }
    }
}

/// One entry of `acEV_DIGIT`'s 40-entry array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEntry {
    /// `digit_N`: 0–9 for the digits, 10 `*`, 11 `#`, 12–15 `A`–`D`.
    pub digit: i32,
    /// `digit_on_time_N`, milliseconds.
    pub on_time_ms: i32,
    /// `inter_digit_time_N`, milliseconds.
    pub inter_digit_ms: i32,
}

/// An event, board → host. Its channel is the header's (bytes 12–15), -1 for the board.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `acEV_DIGIT` (2): `num_digits` entries (at most 40) of the array.
    Digits(Vec<DigitEntry>),
    /// `acEV_ON_HOOK` (14).
    OnHook,
    /// `acEV_OFF_HOOK` (15).
    OffHook,
    /// `acEV_KEEP_ALIVE` (33): the board is alive; `num_cmd_processed` so far.
    KeepAlive {
        /// Commands the board has processed.
        commands_processed: i32,
    },
    /// `acEV_FLASH_HOOK` (35).
    FlashHook,
    /// `acEV_COMMAND_ACK` (45): the command with this header and id was carried out.
    CommandAck {
        /// The acknowledged command's sequence number.
        seq: Seq,
        /// Its command id (`acCMD_…`).
        command_id: u32,
    },
    /// `acEV_ANALOG_IF_FXS_STATUS` (230), the answer to `acCMD_ANALOG_IF_QUERY_STATUS`.
    FxsStatus {
        /// `hook`: true when off-hook.
        off_hook: bool,
        /// `ring`: true while ringing.
        ringing: bool,
        /// `message_waiting_indication`: the lamp.
        message_waiting: bool,
    },
    /// `acEV_DIAL_ENDED` (4): the digits of `acCMD_DIAL` are out.
    DialEnded,
    /// `acEV_DETECT_CALLER_ID` (34): caller id an FXO port decoded (`number` and `name` with
    /// their availability flags, as `acCMD_ANALOG_IF_DISTINCTIVE_RING` carries them).
    CallerId(CallerIdText),
    /// `acEV_ANALOG_IF_FXO_STATUS` (229), an FXO port's answer to
    /// `acCMD_ANALOG_IF_QUERY_STATUS`.
    FxoStatus {
        /// `seized_line`: the port is off hook towards the line.
        seized: bool,
    },
    /// `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED` (237): the line's polarity changed.
    PolarityReversal {
        /// `line_polarity_state`: 1 reversed (from the polarity at seizure), 0 normal again.
        reversed: bool,
    },
    /// `acEV_ANALOG_IF_CURRENT_DISCONNECT_DETECTED` (264): an off-hook FXO port lost loop
    /// current for a moment.
    CurrentDisconnect,
    /// `acEV_ANALOG_IF_RING_START` (245).
    RingStart,
    /// `acEV_ANALOG_IF_RING_END` (246).
    RingEnd,
    /// `acEV_ERROR` (1): a command failed.
    Error {
        /// `error_code`.
        code: i32,
        /// `error_string`, up to its NUL (at most 255 bytes).
        text: String,
    },
}
