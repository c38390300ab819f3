//! Encoding and decoding of whole messages over the layouts of [`super::structs`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::structs::{self, Field, Kind};
use super::{
    AnalogSignal, ByteOrder, CallerIdText, Channel, Coder, Command, DecodeError, DecodeErrorKind,
    DigitEntry, Event, Header, MIN_LEN, Seq, ToneType, id,
};

/// `AddressFamily` values (`AF_INET`, `AF_INET6` as AudioCodes numbers them).
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

/// The id of a command.
pub fn command_id(c: &Command) -> u32 {
    match c {
        Command::OpenChannel { .. } => id::OPEN_CHANNEL,
        Command::CloseChannel { .. } => id::CLOSE_CHANNEL,
        Command::ActivateRtp { .. } => id::ACTIVATE_RTP_RTCP,
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
        Event::RingStart => id::ANALOG_IF_RING_START,
        Event::RingEnd => id::ANALOG_IF_RING_END,
    }
}

/// The size of a command's structure, or `None` for an id Offhook does not know.
fn command_size(id: u32) -> Option<usize> {
    Some(match id {
        id::OPEN_CHANNEL => structs::open_channel::SIZE,
        id::CLOSE_CHANNEL => structs::close_channel::SIZE,
        id::ACTIVATE_RTP_RTCP => structs::activate_rtp_rtcp::SIZE,
        id::DEACTIVATE_RTP_RTCP => structs::deactivate_rtp_rtcp::SIZE,
        id::PLAY_TONE => structs::play_tone::SIZE,
        id::STOP_PLAY_TONE => structs::stop_play_tone::SIZE,
        id::SEND_ANALOG_SIGNAL => structs::send_analog_signal::SIZE,
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => {
            structs::message_waiting_indication::SIZE
        }
        id::ANALOG_IF_QUERY_STATUS => structs::query_status::SIZE,
        id::ANALOG_IF_DISTINCTIVE_RING => structs::distinctive_ring::SIZE,
        _ => return None,
    })
}

/// The size of an event's structure (after the channel id), or `None` for an unknown id.
fn event_size(id: u32) -> Option<usize> {
    Some(match id {
        id::ERROR => structs::error::SIZE,
        id::DIGIT => structs::digit::SIZE,
        id::ON_HOOK | id::OFF_HOOK | id::FLASH_HOOK => 0,
        id::KEEP_ALIVE => structs::keep_alive::SIZE,
        id::COMMAND_ACK => structs::command_ack::SIZE,
        id::ANALOG_IF_FXS_STATUS => structs::fxs_status::SIZE,
        id::ANALOG_IF_RING_START | id::ANALOG_IF_RING_END => structs::ring_trigger::SIZE,
        _ => return None,
    })
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
        let b = match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
        self.bytes(f, 2).copy_from_slice(&b);
    }

    fn u32(&mut self, f: Field, v: u32) {
        debug_assert!(
            matches!(f.kind, Kind::U32 | Kind::I32 | Kind::Ip),
            "{}",
            f.name
        );
        let b = match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
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
        let b = match self.order {
            ByteOrder::Big => v4.octets(),
            ByteOrder::Little => u32::from(v4).to_le_bytes(),
        };
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

/// Reads fields from a structure whose size was checked.
struct Reader<'a> {
    buf: &'a [u8],
    order: ByteOrder,
    /// Where the structure starts in the message, for error offsets.
    base: usize,
}

impl Reader<'_> {
    fn bad(&self, f: Field) -> (DecodeErrorKind, usize) {
        (DecodeErrorKind::BadValue(f.name), self.base + f.offset())
    }

    fn bytes(&self, f: Field, n: usize) -> &[u8] {
        &self.buf[f.offset()..f.offset() + n]
    }

    fn u8(&self, f: Field) -> u8 {
        self.bytes(f, 1)[0]
    }

    fn u16(&self, f: Field) -> u16 {
        let b = [self.bytes(f, 2)[0], self.bytes(f, 2)[1]];
        match self.order {
            ByteOrder::Big => u16::from_be_bytes(b),
            ByteOrder::Little => u16::from_le_bytes(b),
        }
    }

    fn u32(&self, f: Field) -> u32 {
        read_u32(self.bytes(f, 4), self.order)
    }

    fn i32(&self, f: Field) -> i32 {
        self.u32(f) as i32
    }

    /// Text up to its NUL; `terminated` requires one within the field.
    fn text(&self, f: Field, terminated: bool) -> Result<String, (DecodeErrorKind, usize)> {
        let bytes = self.bytes(f, f.bytes());
        let end = match bytes.iter().position(|&b| b == 0) {
            Some(end) => end,
            None if terminated => return Err(self.bad(f)),
            None => bytes.len(),
        };
        std::str::from_utf8(&bytes[..end])
            .map(str::to_owned)
            .map_err(|_| self.bad(f))
    }

    /// An IPv4 address held as a 32-bit number in the message's order.
    fn ipv4(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::from(read_u32(&self.buf[at..at + 4], self.order))
    }

    fn addr(&self, family: Field, addr_field: Field) -> Result<IpAddr, (DecodeErrorKind, usize)> {
        let b = self.bytes(addr_field, 16);
        match self.i32(family) {
            AF_INET => Ok(IpAddr::V4(self.ipv4(addr_field.offset()))),
            AF_INET6 => {
                let mut octets = [0; 16];
                octets.copy_from_slice(b);
                Ok(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => Err(self.bad(family)),
        }
    }
}

fn read_u32(b: &[u8], order: ByteOrder) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    match order {
        ByteOrder::Big => u32::from_be_bytes(b),
        ByteOrder::Little => u32::from_le_bytes(b),
    }
}

fn read_u16(b: &[u8], order: ByteOrder) -> u16 {
    let b = [b[0], b[1]];
    match order {
        ByteOrder::Big => u16::from_be_bytes(b),
        ByteOrder::Little => u16::from_le_bytes(b),
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
    let (version, length, seq, id) = match header.order {
        ByteOrder::Big => (
            header.version.to_be_bytes(),
            ((total - 4) as u16).to_be_bytes(),
            header.seq.0.to_be_bytes(),
            id.to_be_bytes(),
        ),
        ByteOrder::Little => (
            header.version.to_le_bytes(),
            ((total - 4) as u16).to_le_bytes(),
            header.seq.0.to_le_bytes(),
            id.to_le_bytes(),
        ),
    };
    h[0..2].copy_from_slice(&version);
    h[2..4].copy_from_slice(&length);
    h[4..6].copy_from_slice(&seq);
    h[8..12].copy_from_slice(&id);
    start + MIN_LEN
}

/// Appends one command message to `out`.
pub fn encode_command(header: &Header, command: &Command, out: &mut Vec<u8>) {
    let id = command_id(command);
    let size = command_size(id).unwrap_or_default();
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
            w.i32(
                s::coder,
                match coder {
                    Coder::Alaw => 0,
                    Coder::Mulaw => 1,
                },
            );
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
            w.u32(s::tone_type, tone_code(*tone));
            w.i32(s::duration, *duration_ms);
        }
        Command::SendAnalogSignal {
            signal,
            duration_ms,
            ..
        } => {
            use structs::send_analog_signal as s;
            w.i32(s::duration, *duration_ms);
            w.i32(s::signal_code, signal_code(*signal));
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
        Command::CloseChannel { .. }
        | Command::DeactivateRtp { .. }
        | Command::StopTone { .. }
        | Command::QueryStatus { .. } => {}
    }
}

/// Appends one event message for `channel` to `out`.
pub fn encode_event(header: &Header, channel: Channel, event: &Event, out: &mut Vec<u8>) {
    let id = event_id(event);
    let size = event_size(id).unwrap_or_default();
    let at = begin(header, id, 4 + size, out);
    let channel_bytes = match header.order {
        ByteOrder::Big => channel.0.to_be_bytes(),
        ByteOrder::Little => channel.0.to_le_bytes(),
    };
    out[at..at + 4].copy_from_slice(&channel_bytes);
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
                let shift = |f: Field| Field {
                    bit_offset: f.bit_offset + s::entries.bit_offset + i * 8 * e::SIZE,
                    ..f
                };
                w.i32(shift(e::digit_on_time), entry.on_time_ms);
                w.i32(shift(e::inter_digit_time), entry.inter_digit_ms);
                w.i32(shift(e::digit), entry.digit);
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
        Event::RingStart | Event::RingEnd | Event::OnHook | Event::OffHook | Event::FlashHook => {}
    }
}

fn tone_code(tone: ToneType) -> u32 {
    match tone {
        ToneType::Dial => 1,
        ToneType::Ringing => 2,
        ToneType::Busy => 3,
        ToneType::Reorder => 7,
        ToneType::Confirmation => 8,
        ToneType::Waiting => 9,
        ToneType::StutterDial => 15,
        ToneType::Other(v) => v,
    }
}

fn tone_from(code: u32) -> ToneType {
    match code {
        1 => ToneType::Dial,
        2 => ToneType::Ringing,
        3 => ToneType::Busy,
        7 => ToneType::Reorder,
        8 => ToneType::Confirmation,
        9 => ToneType::Waiting,
        15 => ToneType::StutterDial,
        v => ToneType::Other(v),
    }
}

fn signal_code(signal: AnalogSignal) -> i32 {
    match signal {
        AnalogSignal::HookFlash => 16,
        AnalogSignal::OffHook => 64,
        AnalogSignal::OnHook => 65,
        AnalogSignal::Other(v) => v,
    }
}

fn signal_from(code: i32) -> AnalogSignal {
    match code {
        16 => AnalogSignal::HookFlash,
        64 => AnalogSignal::OffHook,
        65 => AnalogSignal::OnHook,
        v => AnalogSignal::Other(v),
    }
}

/// The names of the header's fields by their first byte, for truncation errors.
fn header_field(at: usize) -> &'static str {
    match at {
        0..=1 => "version",
        2..=3 => "length",
        4..=5 => "seq",
        6 => "length_extension",
        7 => "reserved",
        _ => "id",
    }
}

/// Reads the header and id, checks the length field, and finds the structure's size.
fn open(
    data: &[u8],
    size_of: fn(u32) -> Option<usize>,
    extra: usize,
) -> Result<(Header, u32, usize), DecodeError> {
    if data.len() < MIN_LEN {
        return Err(DecodeError {
            kind: DecodeErrorKind::Truncated(header_field(data.len())),
            offset: data.len(),
            header: None,
            id: None,
        });
    }
    // Wireshark's test: the id's upper half, read big-endian, is zero in big-endian messages.
    let order = if data[8] == 0 && data[9] == 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let header = Header {
        order,
        version: read_u16(&data[0..2], order),
        seq: Seq(read_u16(&data[4..6], order)),
    };
    let id = read_u32(&data[8..12], order);
    let fail = |kind, offset| DecodeError {
        kind,
        offset,
        header: Some(header),
        id: Some(id),
    };
    let says = (usize::from(data[6]) << 16 | usize::from(read_u16(&data[2..4], order))) + 4;
    if says != data.len() {
        return Err(fail(
            DecodeErrorKind::Length {
                says,
                have: data.len(),
            },
            2,
        ));
    }
    let Some(size) = size_of(id) else {
        return Err(fail(DecodeErrorKind::UnknownId(id), 8));
    };
    let expected = MIN_LEN + extra + size;
    if data.len() > expected {
        return Err(fail(
            DecodeErrorKind::Trailing {
                expected,
                have: data.len(),
            },
            expected,
        ));
    }
    Ok((header, id, size))
}

/// The first field of `fields` (at `base` in the message) that `len` bytes do not hold.
fn truncated_in(fields: &[Field], base: usize, len: usize) -> (&'static str, usize) {
    fields
        .iter()
        .find(|f| base + f.offset() + f.bytes() > len)
        .map_or(("", len), |f| (f.name, base + f.offset()))
}

fn layout_of_command(id: u32) -> &'static [Field] {
    match id {
        id::OPEN_CHANNEL => structs::open_channel::FIELDS,
        id::CLOSE_CHANNEL => structs::close_channel::FIELDS,
        id::ACTIVATE_RTP_RTCP => structs::activate_rtp_rtcp::FIELDS,
        id::DEACTIVATE_RTP_RTCP => structs::deactivate_rtp_rtcp::FIELDS,
        id::PLAY_TONE => structs::play_tone::FIELDS,
        id::STOP_PLAY_TONE => structs::stop_play_tone::FIELDS,
        id::SEND_ANALOG_SIGNAL => structs::send_analog_signal::FIELDS,
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => {
            structs::message_waiting_indication::FIELDS
        }
        id::ANALOG_IF_QUERY_STATUS => structs::query_status::FIELDS,
        _ => structs::distinctive_ring::FIELDS,
    }
}

fn layout_of_event(id: u32) -> &'static [Field] {
    match id {
        id::ERROR => structs::error::FIELDS,
        id::DIGIT => structs::digit::FIELDS,
        id::KEEP_ALIVE => structs::keep_alive::FIELDS,
        id::COMMAND_ACK => structs::command_ack::FIELDS,
        id::ANALOG_IF_FXS_STATUS => structs::fxs_status::FIELDS,
        _ => structs::ring_trigger::FIELDS,
    }
}

/// Decodes exactly one command message.
pub fn decode_command(data: &[u8]) -> Result<(Header, Command), DecodeError> {
    let (header, id, size) = open(data, command_size, 0)?;
    let fail = |(kind, offset)| DecodeError {
        kind,
        offset,
        header: Some(header),
        id: Some(id),
    };
    if data.len() < MIN_LEN + size {
        let (field, offset) = truncated_in(layout_of_command(id), MIN_LEN, data.len());
        return Err(fail((DecodeErrorKind::Truncated(field), offset)));
    }
    let r = Reader {
        buf: &data[MIN_LEN..],
        order: header.order,
        base: MIN_LEN,
    };
    let channel = Channel(r.i32(structs::query_status::channel_id));
    let command = match id {
        id::OPEN_CHANNEL => {
            use structs::open_channel as s;
            let coder = match r.i32(s::coder) {
                0 => Coder::Alaw,
                1 => Coder::Mulaw,
                _ => return Err(fail(r.bad(s::coder))),
            };
            Command::OpenChannel {
                channel,
                coder,
                frames_per_packet: r.i32(s::m),
                dtmf_payload_type: r.u8(s::rtpdtmfrfc2833_payload_type),
            }
        }
        id::CLOSE_CHANNEL => Command::CloseChannel { channel },
        id::ACTIVATE_RTP_RTCP => {
            use structs::activate_rtp_rtcp as s;
            // A board that predates the 16-byte address leaves its family 0 and sets only
            // the IPv4 field.
            let ip = if r.i32(s::remote_rtpip_add_address_family) == 0 {
                IpAddr::V4(r.ipv4(s::reserved_remote_rtpip_add.offset()))
            } else {
                r.addr(
                    s::remote_rtpip_add_address_family,
                    s::remote_rtpip_add_i_pvx_addr32_addr,
                )
                .map_err(fail)?
            };
            Command::ActivateRtp {
                channel,
                local_rtp_port: r.u16(s::local_rtp_port),
                remote: SocketAddr::new(ip, r.u16(s::remote_rtp_port)),
                tx_payload_type: r.i32(s::tx_rtp_payload_type),
                rx_payload_type: r.i32(s::rx_rtp_payload_type),
            }
        }
        id::DEACTIVATE_RTP_RTCP => Command::DeactivateRtp { channel },
        id::PLAY_TONE => {
            use structs::play_tone as s;
            Command::PlayTone {
                channel,
                tone: tone_from(r.u32(s::tone_type)),
                duration_ms: r.i32(s::duration),
            }
        }
        id::STOP_PLAY_TONE => Command::StopTone { channel },
        id::SEND_ANALOG_SIGNAL => {
            use structs::send_analog_signal as s;
            Command::SendAnalogSignal {
                channel,
                signal: signal_from(r.i32(s::signal_code)),
                duration_ms: r.i32(s::duration),
            }
        }
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => Command::MessageWaiting {
            channel,
            on: r.i32(structs::message_waiting_indication::analog_if_polarity_state) != 0,
        },
        id::ANALOG_IF_QUERY_STATUS => Command::QueryStatus { channel },
        _ => {
            use structs::distinctive_ring as s;
            let caller_id = if r.i32(s::cid_available) != 0 {
                let number = if r.u8(s::number_availability) != 0 {
                    Some(r.text(s::number, true).map_err(fail)?)
                } else {
                    None
                };
                let name = if r.u8(s::name_availability) != 0 {
                    Some(r.text(s::name, true).map_err(fail)?)
                } else {
                    None
                };
                Some(CallerIdText { number, name })
            } else {
                None
            };
            Command::Ring {
                channel,
                on: r.i32(s::ring_state) != 0,
                pattern: r.i32(s::ring_type),
                caller_id,
            }
        }
    };
    Ok((header, command))
}

/// Decodes exactly one event message.
pub fn decode_event(data: &[u8]) -> Result<(Header, Channel, Event), DecodeError> {
    let (header, id, size) = open(data, event_size, 4)?;
    let fail = |(kind, offset)| DecodeError {
        kind,
        offset,
        header: Some(header),
        id: Some(id),
    };
    if data.len() < MIN_LEN + 4 {
        return Err(fail((DecodeErrorKind::Truncated("channel_id"), MIN_LEN)));
    }
    let base = MIN_LEN + 4;
    if data.len() < base + size {
        let (field, offset) = truncated_in(layout_of_event(id), base, data.len());
        return Err(fail((DecodeErrorKind::Truncated(field), offset)));
    }
    let channel = Channel(read_u32(&data[MIN_LEN..base], header.order) as i32);
    let r = Reader {
        buf: &data[base..],
        order: header.order,
        base,
    };
    let event = match id {
        id::ERROR => {
            use structs::error as s;
            Event::Error {
                code: r.i32(s::error_code),
                text: r.text(s::error_string, false).map_err(fail)?,
            }
        }
        id::DIGIT => {
            use structs::{digit as s, digit_entry as e};
            let n = r.i32(s::num_digits);
            let Some(n) = usize::try_from(n).ok().filter(|&n| n <= structs::DIGITS) else {
                return Err(fail(r.bad(s::num_digits)));
            };
            let entries = (0..n)
                .map(|i| {
                    let shift = |f: Field| Field {
                        bit_offset: f.bit_offset + s::entries.bit_offset + i * 8 * e::SIZE,
                        ..f
                    };
                    DigitEntry {
                        digit: r.i32(shift(e::digit)),
                        on_time_ms: r.i32(shift(e::digit_on_time)),
                        inter_digit_ms: r.i32(shift(e::inter_digit_time)),
                    }
                })
                .collect();
            Event::Digits(entries)
        }
        id::ON_HOOK => Event::OnHook,
        id::OFF_HOOK => Event::OffHook,
        id::FLASH_HOOK => Event::FlashHook,
        id::KEEP_ALIVE => Event::KeepAlive {
            commands_processed: r.i32(structs::keep_alive::num_cmd_processed),
        },
        id::COMMAND_ACK => {
            use structs::command_ack as s;
            Event::CommandAck {
                seq: Seq(r.u16(s::seq_number)),
                command_id: r.u32(s::cmd_id),
            }
        }
        id::ANALOG_IF_FXS_STATUS => {
            use structs::fxs_status as s;
            Event::FxsStatus {
                off_hook: r.i32(s::hook) != 0,
                ringing: r.i32(s::ring) != 0,
                message_waiting: r.i32(s::message_waiting_indication) != 0,
            }
        }
        id::ANALOG_IF_RING_START => Event::RingStart,
        _ => Event::RingEnd,
    };
    Ok((header, channel, event))
}
