//! Decoding of exactly one message over the layouts of [`super::structs`]: the header, the
//! length it announces, the id's structure to its last byte, and the fields Offhook reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::deframer::announced_len;
use super::structs::{self, AF_INET, AF_INET6, Field};
use super::{
    AnalogSignal, ByteOrder, CallerIdText, Channel, Coder, Command, DecodeError, DecodeErrorKind,
    DigitEntry, Event, Header, MIN_LEN, Seq, ToneType, id,
};

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
        self.order.u16(self.bytes(f, 2))
    }

    fn u32(&self, f: Field) -> u32 {
        self.order.u32(self.bytes(f, 4))
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
        Ipv4Addr::from(self.order.u32(&self.buf[at..at + 4]))
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
    layout_of: fn(u32) -> Option<&'static [Field]>,
    extra: usize,
) -> Result<(Header, u32, &'static [Field]), DecodeError> {
    if data.len() < MIN_LEN {
        return Err(DecodeError {
            kind: DecodeErrorKind::Truncated(header_field(data.len())),
            offset: data.len(),
            header: None,
            id: None,
        });
    }
    let order = ByteOrder::of(data);
    let header = Header {
        order,
        version: order.u16(&data[0..2]),
        seq: Seq(order.u16(&data[4..6])),
    };
    let id = order.u32(&data[8..12]);
    let fail = |kind, offset| DecodeError {
        kind,
        offset,
        header: Some(header),
        id: Some(id),
    };
    let says = announced_len(data, order);
    if says != data.len() {
        return Err(fail(
            DecodeErrorKind::Length {
                says,
                have: data.len(),
            },
            2,
        ));
    }
    let Some(layout) = layout_of(id) else {
        return Err(fail(DecodeErrorKind::UnknownId(id), 8));
    };
    let expected = MIN_LEN + extra + structs::size(layout);
    if data.len() > expected {
        return Err(fail(
            DecodeErrorKind::Trailing {
                expected,
                have: data.len(),
            },
            expected,
        ));
    }
    Ok((header, id, layout))
}

/// The first field of `fields` (at `base` in the message) that `len` bytes do not hold.
fn truncated_in(fields: &[Field], base: usize, len: usize) -> (&'static str, usize) {
    fields
        .iter()
        .find(|f| base + f.offset() + f.bytes() > len)
        .map_or(("", len), |f| (f.name, base + f.offset()))
}

/// Decodes exactly one command message: `data` must be as long as its `length` field says
/// and as its id's structure, in the byte order bytes 8–9 show. Fields Offhook does not read
/// are ignored; a value it cannot represent (a coder other than G.711, an address family
/// other than 0, 2 and 10, caller-id text without its NUL or not UTF-8) is
/// [`DecodeErrorKind::BadValue`].
pub fn decode_command(data: &[u8]) -> Result<(Header, Command), DecodeError> {
    let (header, id, layout) = open(data, structs::command, 0)?;
    let fail = |(kind, offset)| DecodeError {
        kind,
        offset,
        header: Some(header),
        id: Some(id),
    };
    if data.len() < MIN_LEN + structs::size(layout) {
        let (field, offset) = truncated_in(layout, MIN_LEN, data.len());
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
            let Some(coder) = Coder::from_code(r.i32(s::coder)) else {
                return Err(fail(r.bad(s::coder)));
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
        id::DIAL => {
            use structs::{dial as s, digit_entry as e};
            let n = r.u16(s::num_digits) as i16;
            let Some(n) = usize::try_from(n).ok().filter(|&n| n <= structs::DIGITS) else {
                return Err(fail(r.bad(s::num_digits)));
            };
            let digits = (0..n)
                .map(|i| {
                    let at = |f: Field| f.in_entry(s::entries, i);
                    DigitEntry {
                        digit: r.i32(at(e::digit)),
                        on_time_ms: r.i32(at(e::digit_on_time)),
                        inter_digit_ms: r.i32(at(e::inter_digit_time)),
                    }
                })
                .collect();
            Command::Dial { channel, digits }
        }
        id::DEACTIVATE_RTP_RTCP => Command::DeactivateRtp { channel },
        id::PLAY_TONE => {
            use structs::play_tone as s;
            Command::PlayTone {
                channel,
                tone: ToneType::from_code(r.u32(s::tone_type)),
                duration_ms: r.i32(s::duration),
            }
        }
        id::STOP_PLAY_TONE => Command::StopTone { channel },
        id::SEND_ANALOG_SIGNAL => {
            use structs::send_analog_signal as s;
            Command::SendAnalogSignal {
                channel,
                signal: AnalogSignal::from_code(r.i32(s::signal_code)),
                duration_ms: r.i32(s::duration),
            }
        }
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => Command::MessageWaiting {
            channel,
            on: r.i32(structs::message_waiting_indication::analog_if_polarity_state) != 0,
        },
        id::ANALOG_IF_QUERY_STATUS => Command::QueryStatus { channel },
        // The last id [`structs::command`] knows.
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

/// Decodes exactly one event message, as [`decode_command`] does a command; the channel is
/// the one after the id. `num_digits` above 40 or below 0 and an `error_string` that is not
/// UTF-8 are [`DecodeErrorKind::BadValue`].
pub fn decode_event(data: &[u8]) -> Result<(Header, Channel, Event), DecodeError> {
    let (header, id, layout) = open(data, structs::event, 4)?;
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
    if data.len() < base + structs::size(layout) {
        let (field, offset) = truncated_in(layout, base, data.len());
        return Err(fail((DecodeErrorKind::Truncated(field), offset)));
    }
    let channel = Channel(header.order.u32(&data[MIN_LEN..base]) as i32);
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
                    let at = |f: Field| f.in_entry(s::entries, i);
                    DigitEntry {
                        digit: r.i32(at(e::digit)),
                        on_time_ms: r.i32(at(e::digit_on_time)),
                        inter_digit_ms: r.i32(at(e::inter_digit_time)),
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
        id::DIAL_ENDED => Event::DialEnded,
        id::DETECT_CALLER_ID => {
            use structs::detect_caller_id as s;
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
            Event::CallerId(CallerIdText { number, name })
        }
        id::ANALOG_IF_FXO_STATUS => Event::FxoStatus {
            seized: r.i32(structs::fxo_status::seized_line) != 0,
        },
        id::ANALOG_IF_REVERSAL_POLARITY_DETECTED => Event::PolarityReversal {
            reversed: r.i32(structs::reversal_polarity::line_polarity_state) != 0,
        },
        id::ANALOG_IF_CURRENT_DISCONNECT_DETECTED => Event::CurrentDisconnect,
        id::ANALOG_IF_RING_START => Event::RingStart,
        // The last id [`structs::event`] knows.
        _ => Event::RingEnd,
    };
    Ok((header, channel, event))
}
