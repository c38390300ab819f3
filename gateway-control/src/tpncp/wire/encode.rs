//! Encoding of whole messages over the layouts of [`super::structs`]: every field a
//! [`Command`] or [`Event`] names is written, every other byte is zero.

use std::net::{IpAddr, Ipv4Addr};

use super::structs::{self, AF_INET, AF_INET6, Field, Kind};
use super::{ByteOrder, Channel, Command, Event, Header, MIN_LEN, id};

/// The id of a command.
pub fn command_id(c: &Command) -> u32 {
    match c {
        Command::OpenChannel { .. } => id::OPEN_CHANNEL,
        Command::CloseChannel { .. } => id::CLOSE_CHANNEL,
        Command::ActivateRtp { .. } => id::ACTIVATE_RTP_RTCP,
        Command::Dial { .. } => id::DIAL,
        Command::DeactivateRtp { .. } => id::DEACTIVATE_RTP_RTCP,
        Command::PlayTone { .. } => id::PLAY_TONE,
        Command::StopTone { .. } => id::STOP_PLAY_TONE,
        Command::SendAnalogSignal { .. } => id::SEND_ANALOG_SIGNAL,
        Command::MessageWaiting { .. } => id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION,
        Command::QueryStatus { .. } => id::ANALOG_IF_QUERY_STATUS,
        Command::Ring { .. } => id::ANALOG_IF_DISTINCTIVE_RING,
    }
}

/// The id of an event.
pub fn event_id(e: &Event) -> u32 {
    match e {
        Event::Error { .. } => id::ERROR,
        Event::Digits(_) => id::DIGIT,
        Event::OnHook => id::ON_HOOK,
        Event::OffHook => id::OFF_HOOK,
        Event::KeepAlive { .. } => id::KEEP_ALIVE,
        Event::FlashHook => id::FLASH_HOOK,
        Event::CommandAck { .. } => id::COMMAND_ACK,
        Event::FxsStatus { .. } => id::ANALOG_IF_FXS_STATUS,
        Event::DialEnded => id::DIAL_ENDED,
        Event::CallerId(_) => id::DETECT_CALLER_ID,
        Event::FxoStatus { .. } => id::ANALOG_IF_FXO_STATUS,
        Event::PolarityReversal { .. } => id::ANALOG_IF_REVERSAL_POLARITY_DETECTED,
        Event::CurrentDisconnect => id::ANALOG_IF_CURRENT_DISCONNECT_DETECTED,
        Event::RingStart => id::ANALOG_IF_RING_START,
        Event::RingEnd => id::ANALOG_IF_RING_END,
    }
}

/// Writes fields into a zeroed structure in one byte order.
struct Writer<'a> {
    buf: &'a mut [u8],
    order: ByteOrder,
}

impl Writer<'_> {
    fn bytes(&mut self, f: Field, n: usize) -> &mut [u8] {
        debug_assert_eq!(f.bytes(), n, "{}", f.name);
        &mut self.buf[f.offset()..f.offset() + n]
    }

    fn u8(&mut self, f: Field, v: u8) {
        debug_assert!(matches!(f.kind, Kind::U8 | Kind::I8), "{}", f.name);
        self.bytes(f, 1)[0] = v;
    }

    fn u16(&mut self, f: Field, v: u16) {
        debug_assert!(matches!(f.kind, Kind::U16 | Kind::I16), "{}", f.name);
        let b = self.order.u16_bytes(v);
        self.bytes(f, 2).copy_from_slice(&b);
    }

    fn u32(&mut self, f: Field, v: u32) {
        debug_assert!(
            matches!(f.kind, Kind::U32 | Kind::I32 | Kind::Ip),
            "{}",
            f.name
        );
        let b = self.order.u32_bytes(v);
        self.bytes(f, 4).copy_from_slice(&b);
    }

    fn i32(&mut self, f: Field, v: i32) {
        self.u32(f, v as u32);
    }

    /// A bit field: big-endian messages fill a byte from its least significant bit up,
    /// little-endian ones from its most significant bit down (as Wireshark reads them).
    fn bits(&mut self, f: Field, v: u8) {
        let Kind::Bits(n) = f.kind else {
            unreachable!("{} is not a bit field", f.name)
        };
        let at = (f.bit_offset % 8) as u8;
        let shift = match self.order {
            ByteOrder::Big => at,
            ByteOrder::Little => 8 - at - n,
        };
        let mask = ((1u16 << n) - 1) as u8;
        self.buf[f.offset()] |= (v & mask) << shift;
    }

    /// Text, cut at its first NUL and to at most `max` bytes (on a character boundary); the
    /// rest of the field stays zero.
    fn text(&mut self, f: Field, text: &str, max: usize) -> usize {
        let Kind::Chars(n) = f.kind else {
            unreachable!("{} is not a character array", f.name)
        };
        debug_assert!(max <= n);
        let text = text.split('\0').next().unwrap_or_default();
        let mut end = text.len().min(max);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.buf[f.offset()..f.offset() + end].copy_from_slice(&text.as_bytes()[..end]);
        end
    }

    /// An IPv4 address as a 32-bit number in the message's order (as Wireshark reads the
    /// table's IP fields: a little-endian board keeps them in host order).
    fn ipv4(&mut self, at: usize, v4: Ipv4Addr) {
        let b = self.order.u32_bytes(u32::from(v4));
        self.buf[at..at + 4].copy_from_slice(&b);
    }

    /// An `AddressFamily` field and the 16-byte address after it: IPv4 in its first 4 bytes
    /// (in the message's order, as [`Self::ipv4`]), IPv6 as its 16 bytes.
    fn addr(&mut self, family: Field, addr_field: Field, ip: IpAddr) {
        debug_assert!(matches!(addr_field.kind, Kind::Addr), "{}", addr_field.name);
        let at = addr_field.offset();
        match ip {
            IpAddr::V4(v4) => {
                self.i32(family, AF_INET);
                self.ipv4(at, v4);
            }
            IpAddr::V6(v6) => {
                self.i32(family, AF_INET6);
                self.buf[at..at + 16].copy_from_slice(&v6.octets());
            }
        }
    }
}

/// Appends the header and id of a message with `body` bytes after them, zeroed; returns
/// where the body starts in `out`.
fn begin(header: &Header, id: u32, body: usize, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let total = MIN_LEN + body;
    debug_assert!(total <= super::MAX_LEN);
    out.resize(start + total, 0);
    let h = &mut out[start..start + MIN_LEN];
    let order = header.order;
    h[0..2].copy_from_slice(&order.u16_bytes(header.version));
    h[2..4].copy_from_slice(&order.u16_bytes((total - 4) as u16));
    h[4..6].copy_from_slice(&order.u16_bytes(header.seq.0));
    h[8..12].copy_from_slice(&order.u32_bytes(id));
    start + MIN_LEN
}

/// Appends one command message to `out`: the header (`length` computed), the id, and the
/// command's whole structure with the fields [`Command`] names set and every other byte zero,
/// except the offsets Wireshark (and the board) jump by: `security_cmd_offset` of
/// `acCMD_OPEN_CHANNEL` and `rtp_state_offset` of `acCMD_ACTIVATE_RTP_RTCP` hold their true
/// values, from the tables. Texts are cut at a NUL and to their fields (caller-id number 20
/// bytes, name 50, on a character boundary), and IPv6 flow labels and scopes are not carried.
pub fn encode_command(header: &Header, command: &Command, out: &mut Vec<u8>) {
    let id = command_id(command);
    let size = structs::command(id).map_or(0, structs::size);
    let at = begin(header, id, size, out);
    let mut w = Writer {
        buf: &mut out[at..],
        order: header.order,
    };
    // Every command's structure starts with `channel_id`.
    w.i32(structs::query_status::channel_id, command.channel().0);
    match command {
        Command::OpenChannel {
            coder,
            frames_per_packet,
            dtmf_payload_type,
            ..
        } => {
            use structs::open_channel as s;
            w.bits(s::active, 1);
            w.i32(s::m, *frames_per_packet);
            w.i32(s::coder, coder.code());
            w.u8(s::rtpdtmfrfc2833_payload_type, *dtmf_payload_type);
            // Where the security part starts, counted from `cmd_rev_lsb`.
            w.i32(
                s::security_cmd_offset,
                (s::rtp_authentication_algorithm.offset() - s::cmd_rev_lsb.offset()) as i32,
            );
        }
        Command::ActivateRtp {
            local_rtp_port,
            remote,
            tx_payload_type,
            rx_payload_type,
            ..
        } => {
            use structs::activate_rtp_rtcp as s;
            if let IpAddr::V4(v4) = remote.ip() {
                debug_assert_eq!(s::reserved_remote_rtpip_add.kind, Kind::Ip);
                w.ipv4(s::reserved_remote_rtpip_add.offset(), v4);
            }
            w.u16(s::local_rtp_port, *local_rtp_port);
            w.u16(s::remote_rtp_port, remote.port());
            w.u16(s::remote_rtcp_port, remote.port().wrapping_add(1));
            w.i32(s::tx_rtp_payload_type, *tx_payload_type);
            w.i32(s::rx_rtp_payload_type, *rx_payload_type);
            w.addr(
                s::remote_rtpip_add_address_family,
                s::remote_rtpip_add_i_pvx_addr32_addr,
                remote.ip(),
            );
            // Where the RTP state (`ssrc` …) starts, counted from just after `channel_id`.
            w.i32(
                s::rtp_state_offset,
                (s::ssrc.offset() - s::channel_id.bytes()) as i32,
            );
        }
        Command::PlayTone {
            tone, duration_ms, ..
        } => {
            use structs::play_tone as s;
            w.u32(s::tone_type, tone.code());
            w.i32(s::duration, *duration_ms);
        }
        Command::SendAnalogSignal {
            signal,
            duration_ms,
            ..
        } => {
            use structs::send_analog_signal as s;
            w.i32(s::duration, *duration_ms);
            w.i32(s::signal_code, signal.code());
        }
        Command::MessageWaiting { on, .. } => {
            w.i32(
                structs::message_waiting_indication::analog_if_polarity_state,
                i32::from(*on),
            );
        }
        Command::Ring {
            on,
            pattern,
            caller_id,
            ..
        } => {
            use structs::distinctive_ring as s;
            w.i32(s::ring_state, i32::from(*on));
            w.i32(s::ring_type, *pattern);
            if let Some(cid) = caller_id {
                w.i32(s::cid_available, 1);
                if let Some(number) = &cid.number {
                    w.text(s::number, number, s::number.bytes() - 1);
                    w.u8(s::number_availability, 1);
                }
                if let Some(name) = &cid.name {
                    w.text(s::name, name, s::name.bytes() - 1);
                    w.u8(s::name_availability, 1);
                }
            }
        }
        Command::Dial { digits, .. } => {
            use structs::{dial as s, digit_entry as e};
            let n = digits.len().min(structs::DIGITS);
            w.u16(s::num_digits, n as u16);
            for (i, entry) in digits.iter().take(n).enumerate() {
                let at = |f: Field| f.in_entry(s::entries, i);
                w.i32(at(e::digit_on_time), entry.on_time_ms);
                w.i32(at(e::inter_digit_time), entry.inter_digit_ms);
                w.i32(at(e::digit), entry.digit);
            }
        }
        Command::CloseChannel { .. }
        | Command::DeactivateRtp { .. }
        | Command::StopTone { .. }
        | Command::QueryStatus { .. } => {}
    }
}

/// Appends one event message for `channel` to `out`: header, id, channel id, and the event's
/// structure (if it has one) with the fields [`Event`] names set and every other byte zero.
/// Digits beyond the array's 40 are left out; `error_string` is cut to its 255 bytes.
pub fn encode_event(header: &Header, channel: Channel, event: &Event, out: &mut Vec<u8>) {
    let id = event_id(event);
    let size = structs::event(id).map_or(0, structs::size);
    let at = begin(header, id, 4 + size, out);
    out[at..at + 4].copy_from_slice(&header.order.u32_bytes(channel.0 as u32));
    let mut w = Writer {
        buf: &mut out[at + 4..],
        order: header.order,
    };
    match event {
        Event::Error { code, text } => {
            use structs::error as s;
            w.i32(s::error_code, *code);
            let written = w.text(s::error_string, text, s::error_string.bytes());
            w.u8(s::length, written as u8);
        }
        Event::Digits(entries) => {
            use structs::{digit as s, digit_entry as e};
            let n = entries.len().min(structs::DIGITS);
            w.i32(s::num_digits, n as i32);
            for (i, entry) in entries.iter().take(n).enumerate() {
                let at = |f: Field| f.in_entry(s::entries, i);
                w.i32(at(e::digit_on_time), entry.on_time_ms);
                w.i32(at(e::inter_digit_time), entry.inter_digit_ms);
                w.i32(at(e::digit), entry.digit);
            }
        }
        Event::KeepAlive { commands_processed } => {
            w.i32(structs::keep_alive::num_cmd_processed, *commands_processed);
        }
        Event::CommandAck { seq, command_id } => {
            use structs::command_ack as s;
            w.u16(s::seq_number, seq.0);
            w.u32(s::cmd_id, *command_id);
        }
        Event::CallerId(cid) => {
            use structs::detect_caller_id as s;
            if let Some(number) = &cid.number {
                w.text(s::number, number, s::number.bytes() - 1);
                w.u8(s::number_availability, 1);
            }
            if let Some(name) = &cid.name {
                w.text(s::name, name, s::name.bytes() - 1);
                w.u8(s::name_availability, 1);
            }
        }
        Event::FxoStatus { seized } => {
            w.i32(structs::fxo_status::seized_line, i32::from(*seized));
        }
        Event::PolarityReversal { reversed } => {
            w.i32(
                structs::reversal_polarity::line_polarity_state,
                i32::from(*reversed),
            );
        }
        Event::FxsStatus {
            off_hook,
            ringing,
            message_waiting,
        } => {
            use structs::fxs_status as s;
            w.i32(s::hook, i32::from(*off_hook));
            w.i32(s::ring, i32::from(*ringing));
            w.i32(s::message_waiting_indication, i32::from(*message_waiting));
        }
        // `event_trigger` 0 is `EVENT_TRIGGER_RING_DETECTION`.
        Event::RingStart
        | Event::RingEnd
        | Event::OnHook
        | Event::OffHook
        | Event::FlashHook
        | Event::DialEnded
        | Event::CurrentDisconnect => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit fields beyond the one Offhook sets (`active`): `open_channel_spare2`, 7 bits after
    /// it in the same byte.
    #[test]
    fn bit_fields_pack_from_either_end() {
        use structs::open_channel as s;
        for (order, want) in [
            (ByteOrder::Big, 0b1010_1011),
            (ByteOrder::Little, 0b1101_0101),
        ] {
            let mut buf = vec![0; structs::size(s::FIELDS)];
            let mut w = Writer {
                buf: &mut buf,
                order,
            };
            w.bits(s::active, 1);
            // Only the field's 7 bits are written.
            w.bits(s::open_channel_spare2, 0b1101_0101);
            assert_eq!(buf[7], want, "{order:?}");
        }
    }
}
