//! The layouts of the TPNCP structures Offhook uses, described once, field by field, in the
//! order of Wireshark's `tpncp.dat` (release L7.40.016.001; see [`super::VERSION`]).
//!
//! Each structure is one `layout!` table. A row names a field and its [`Kind`]; the offset
//! of every field and the size of the structure are computed by the macro (each field starts
//! where the previous one ends, in bits, so that bit fields pack into bytes as the table packs
//! them), never written by hand. Runs of fields Offhook never sets are one
//! `first ..= last: skip(bytes)` row each, to keep the tables readable; the test
//! `tests::layouts_match_tpncp_dat` expands every table and checks it, name by name and
//! offset by offset, against `tpncp.dat` when that file is installed.
//!
//! Why a `macro_rules!` table rather than a build script over a text file: the tables are
//! short, the offsets come out as `const`s the compiler checks (a byte-sized field that is not
//! on a byte boundary fails to compile), and there is no generated file to read or keep in step.
//!
//! Offsets here count from the start of the structure: for a command that is right after the
//! id (the structure starts with `channel_id`), for an event right after the channel id.

/// How one row of a layout is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A signed byte.
    I8,
    /// An unsigned byte.
    U8,
    /// A signed 16-bit integer.
    I16,
    /// An unsigned 16-bit integer.
    U16,
    /// A signed 32-bit integer.
    I32,
    /// An unsigned 32-bit integer.
    U32,
    /// An unsigned 32-bit IPv4 address (`special` 1 in the table).
    Ip,
    /// A bit field of this many bits (1–7), packed with its neighbours into one byte.
    Bits(u8),
    /// A character array of this many bytes.
    Chars(usize),
    /// A 16-byte address: four 32-bit fields `NAME_0`..`NAME_3` after an `AddressFamily`.
    Addr,
    /// Untouched fields, from this row's name up to `last`, taking `bytes` bytes.
    Skip {
        /// The last field of the run.
        last: &'static str,
        /// The size of the run.
        bytes: usize,
    },
    /// A group of fields repeated `count` times, each name suffixed `_0`, `_1`…
    Repeat {
        /// The group's layout.
        fields: &'static [Field],
        /// How many times.
        count: usize,
    },
}

impl Kind {
    /// The size in bits.
    pub const fn bits(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 8,
            Self::I16 | Self::U16 => 16,
            Self::I32 | Self::U32 | Self::Ip => 32,
            Self::Bits(n) => n as usize,
            Self::Chars(n) => 8 * n,
            Self::Addr => 128,
            Self::Skip { bytes, .. } => 8 * bytes,
            Self::Repeat { fields, count } => count * end_bits(fields),
        }
    }
}

/// One row of a layout, with its computed position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's name in `tpncp.dat` (for a skip, the first field of the run).
    pub name: &'static str,
    /// How it is stored.
    pub kind: Kind,
    /// Where it starts, in bits from the start of the structure.
    pub bit_offset: usize,
}

impl Field {
    /// A field of `kind` starting at `bit_offset`. Fails to compile (in a `const`) when a
    /// field that is not a bit field would start inside a byte, or a bit field would cross one.
    pub const fn new(name: &'static str, kind: Kind, bit_offset: usize) -> Self {
        match kind {
            Bits(n) => assert!(n >= 1 && n <= 7 && bit_offset % 8 + n as usize <= 8),
            _ => assert!(bit_offset.is_multiple_of(8)),
        }
        Self {
            name,
            kind,
            bit_offset,
        }
    }

    /// The byte where the field starts.
    pub const fn offset(&self) -> usize {
        self.bit_offset / 8
    }

    /// The bit just after the field.
    pub const fn end_bits(&self) -> usize {
        self.bit_offset + self.kind.bits()
    }

    /// The size in bytes (rounded up for a bit field).
    pub const fn bytes(&self) -> usize {
        self.kind.bits().div_ceil(8)
    }

    /// This field (of a repeated group's layout) in entry `i` of `group`, the
    /// [`Kind::Repeat`] row.
    pub const fn in_entry(self, group: Self, i: usize) -> Self {
        let Kind::Repeat { fields, .. } = group.kind else {
            panic!("not a repeated group")
        };
        Self {
            bit_offset: group.bit_offset + i * end_bits(fields) + self.bit_offset,
            ..self
        }
    }
}

/// The size in bits of a layout: where its last field ends.
pub const fn end_bits(fields: &[Field]) -> usize {
    match fields.last() {
        Some(f) => f.end_bits(),
        None => 0,
    }
}

/// The size in bytes of a layout.
pub const fn size(fields: &[Field]) -> usize {
    end_bits(fields) / 8
}

/// `AddressFamily`: IPv4 (`IP_VERSION4_ADDR`).
pub const AF_INET: i32 = 2;
/// `AddressFamily`: IPv6 (`IP_VERSION6_ADDR`).
pub const AF_INET6: i32 = 10;

/// The layout of command `id`, if Offhook knows the command.
pub fn command(id: u32) -> Option<&'static [Field]> {
    Some(match id {
        id::OPEN_CHANNEL => open_channel::FIELDS,
        id::CLOSE_CHANNEL => close_channel::FIELDS,
        id::ACTIVATE_RTP_RTCP => activate_rtp_rtcp::FIELDS,
        id::DIAL => dial::FIELDS,
        id::DEACTIVATE_RTP_RTCP => deactivate_rtp_rtcp::FIELDS,
        id::PLAY_TONE => play_tone::FIELDS,
        id::STOP_PLAY_TONE => stop_play_tone::FIELDS,
        id::SEND_ANALOG_SIGNAL => send_analog_signal::FIELDS,
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => message_waiting_indication::FIELDS,
        id::ANALOG_IF_QUERY_STATUS => query_status::FIELDS,
        id::ANALOG_IF_DISTINCTIVE_RING => distinctive_ring::FIELDS,
        _ => return None,
    })
}

/// The layout of event `id` after its channel id (empty for an event without a structure),
/// if Offhook knows the event.
pub fn event(id: u32) -> Option<&'static [Field]> {
    Some(match id {
        id::ERROR => error::FIELDS,
        id::DIGIT => digit::FIELDS,
        id::ON_HOOK
        | id::OFF_HOOK
        | id::FLASH_HOOK
        | id::DIAL_ENDED
        | id::ANALOG_IF_CURRENT_DISCONNECT_DETECTED => &[],
        id::DETECT_CALLER_ID => detect_caller_id::FIELDS,
        id::ANALOG_IF_FXO_STATUS => fxo_status::FIELDS,
        id::ANALOG_IF_REVERSAL_POLARITY_DETECTED => reversal_polarity::FIELDS,
        id::KEEP_ALIVE => keep_alive::FIELDS,
        id::COMMAND_ACK => command_ack::FIELDS,
        id::ANALOG_IF_FXS_STATUS => fxs_status::FIELDS,
        id::ANALOG_IF_RING_START | id::ANALOG_IF_RING_END => ring_trigger::FIELDS,
        _ => return None,
    })
}

/// Builds one layout module: a `const` [`Field`] per row, `FIELDS` in order and `SIZE` in
/// bytes (the table's bits must fill whole bytes).
macro_rules! layout {
    ($(#[$meta:meta])* $name:ident { $($rows:tt)* }) => {
        $(#[$meta])*
        #[allow(non_upper_case_globals, dead_code)]
        pub mod $name {
            use super::*;
            layout!(@row 0usize; []; $($rows)*);
            /// The structure's size in bytes.
            pub const SIZE: usize = {
                assert!(super::end_bits(FIELDS).is_multiple_of(8));
                super::size(FIELDS)
            };
        }
    };
    (@row $at:expr; [$($done:ident)*]; ) => {
        /// Every row, in order.
        pub const FIELDS: &[Field] = &[$($done),*];
    };
    (@row $at:expr; [$($done:ident)*]; $first:ident ..= $last:ident : skip($bytes:expr), $($rest:tt)*) => {
        #[doc = concat!("`", stringify!($first), "` ..= `", stringify!($last), "`, untouched.")]
        pub const $first: Field = Field::new(
            stringify!($first),
            Kind::Skip { last: stringify!($last), bytes: $bytes },
            $at,
        );
        layout!(@row $first.end_bits(); [$($done)* $first]; $($rest)*);
    };
    (@row $at:expr; [$($done:ident)*]; $field:ident : $kind:expr, $($rest:tt)*) => {
        #[doc = concat!("`", stringify!($field), "`.")]
        pub const $field: Field = Field::new(stringify!($field), $kind, $at);
        layout!(@row $field.end_bits(); [$($done)* $field]; $($rest)*);
    };
}

use Kind::{Addr, Bits, Chars, I16, I32, Ip, U8, U16, U32};

use super::id;

// ----- Commands (host → board); each starts with `channel_id`. -----

layout! {
    /// `acCMD_OPEN_CHANNEL` (2).
    open_channel {
        channel_id: I32,
        cmd_rev_lsb: U8,
        cmd_rev_msb: U8,
        open_channel_spare1: U8,
        active: Bits(1),
        open_channel_spare2: Bits(7),
        test_mode: I32,
        m: I32,
        coder: I32,
        acoustic_echo_supp_attenuation_intensity ..= dj_buf_opt_factor: skip(100),
        rtp_redundancy_rfc2198_payload_type: U8,
        rtpdtmfrfc2833_payload_type: U8,
        tdm_bus_output_port ..= silk_max_average_bit_rate: skip(74),
        security_cmd_offset: I32,
        answer_detector_cmd ..= dtls_remote_fingerprint_alg: skip(572),
        rtp_authentication_algorithm: U8,
        rtp_encryption_algorithm ..= dtls_context_id: skip(319),
    }
}

layout! {
    /// `acCMD_CLOSE_CHANNEL` (3).
    close_channel {
        channel_id: I32,
        send_rtcp_bye_packet_mode ..= command_seq_number: skip(296),
    }
}

layout! {
    /// `acCMD_ACTIVATE_RTP_RTCP` (4).
    activate_rtp_rtcp {
        channel_id: I32,
        reserved_remote_rtpip_add: Ip,
        local_rtp_port: U16,
        remote_rtp_port: U16,
        reserved_remote_t38ip_add ..= reserved2: skip(16),
        tx_rtp_payload_type: I32,
        rx_rtp_payload_type: I32,
        rtcp_interval ..= reserved_remote_rtcpip_add: skip(276),
        remote_rtcp_port: U16,
        alignment2 ..= i_pvx_addr32_addr: skip(190),
        remote_rtpip_add_address_family: I32,
        remote_rtpip_add_i_pvx_addr32_addr: Addr,
        remote_t38ip_add_address_family ..= rtp_state_event_user_data: skip(104),
        rtp_state_offset: I32,
        local_interface_id ..= secure_param_b: skip(36),
        ssrc: U32,
        srtp_rtcp_index ..= state_update_time_stamp: skip(52),
    }
}

layout! {
    /// `acCMD_DIAL` (5): `num_digits` entries of the 40 (each the layout of
    /// [`digit_entry`]), played on the channel.
    dial {
        channel_id: I32,
        dial_timing: U8,
        ibs_tone_generation_interface: U8,
        num_digits: I16,
        entries: Kind::Repeat { fields: digit_entry::FIELDS, count: DIGITS },
        is_repeat_dial_string ..= ibs_transport_type: skip(12),
    }
}

layout! {
    /// `acCMD_DEACTIVATE_RTP_RTCP` (35).
    deactivate_rtp_rtcp {
        channel_id: I32,
        de_activation_option ..= dummy2: skip(300),
    }
}

layout! {
    /// `acCMD_PLAY_TONE` (47).
    play_tone {
        channel_id: I32,
        play_timing: U8,
        tone_generation_interface: U8,
        reserved: I16,
        tone_type: I32,
        duration: I32,
        add_tone_to_voice: U8,
    }
}

layout! {
    /// `acCMD_STOP_PLAY_TONE` (48).
    stop_play_tone {
        channel_id: I32,
        suppress_end_event: I32,
    }
}

layout! {
    /// `acCMD_SEND_ANALOG_SIGNAL` (212).
    send_analog_signal {
        channel_id: I32,
        duration: I32,
        signal_code: I32,
    }
}

layout! {
    /// `acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION` (220).
    message_waiting_indication {
        channel_id: I32,
        analog_if_polarity_state: I32,
    }
}

layout! {
    /// `acCMD_ANALOG_IF_QUERY_STATUS` (222).
    query_status {
        channel_id: I32,
    }
}

layout! {
    /// `acCMD_ANALOG_IF_DISTINCTIVE_RING` (229).
    distinctive_ring {
        channel_id: I32,
        ring_state: I32,
        ring_type: I32,
        cid_available: I32,
        date ..= time: skip(10),
        number: Chars(21),
        name: Chars(51),
        status: U8,
        number_availability: U8,
        name_availability: U8,
        zero_fill1 ..= duration: skip(139),
    }
}

// ----- Events (board → host); the channel id before them is the header's. -----

layout! {
    /// `acEV_ERROR` (1).
    error {
        error_code: I32,
        device_id: I32,
        cid: I32,
        origin: I32,
        line_in_file: I32,
        file_name: Chars(8),
        length: U8,
        error_string: Chars(255),
    }
}

layout! {
    /// One entry of `acEV_DIGIT`'s array.
    digit_entry {
        digit_on_time: I32,
        inter_digit_time: I32,
        digit: I32,
        signaling_system: I32,
        detection_direction: I32,
    }
}

/// The entries of `acEV_DIGIT`'s array.
pub const DIGITS: usize = 40;

layout! {
    /// `acEV_DIGIT` (2).
    digit {
        num_digits: I32,
        entries: Kind::Repeat { fields: digit_entry::FIELDS, count: DIGITS },
    }
}

layout! {
    /// `acEV_KEEP_ALIVE` (33).
    keep_alive {
        num_active ..= num_broken: skip(16),
        num_cmd_processed: I32,
        num_status_sent ..= num_active_to_nw: skip(24),
    }
}

layout! {
    /// `acEV_COMMAND_ACK` (45): the acknowledged command's header and id.
    command_ack {
        version: U16,
        length: U16,
        seq_number: U16,
        length_extention: U8,
        reserved: U8,
        cmd_id: I32,
    }
}

layout! {
    /// `acEV_ANALOG_IF_FXS_STATUS` (230).
    fxs_status {
        rev_num ..= temp: skip(20),
        hook: I32,
        board_temp ..= check_sum_lsb: skip(12),
        message_waiting_indication: I32,
        ring: I32,
        reversal_polarity ..= board_analog_voltages: skip(32),
    }
}

layout! {
    /// `acEV_DETECT_CALLER_ID` (34): the caller id an FXO port decoded.
    detect_caller_id {
        date ..= time: skip(10),
        number: Chars(21),
        name: Chars(51),
        status: U8,
        number_availability: U8,
        name_availability: U8,
        caller_id_type ..= caller_id_detection_result: skip(126),
    }
}

layout! {
    /// `acEV_ANALOG_IF_FXO_STATUS` (229).
    fxo_status {
        out_of_service ..= polarity_status: skip(20),
        seized_line: I32,
        remote_disconnect ..= registration_state: skip(20),
    }
}

layout! {
    /// `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED` (237).
    reversal_polarity {
        line_polarity: I32,
        line_polarity_state: I32,
    }
}

layout! {
    /// `acEV_ANALOG_IF_RING_START` (245) and `acEV_ANALOG_IF_RING_END` (246).
    ring_trigger {
        event_trigger: I32,
    }
}
