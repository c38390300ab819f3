//! Every generated layout against Wireshark's `tpncp.dat` (installed with tshark).

use crate::tpncp::wire::id;
use crate::tpncp::wire::structs::{self, Field, Kind};

const DAT: &str = "/usr/share/wireshark/tpncp/tpncp.dat";

/// One field as the table describes it, with its offset computed the way Wireshark reads it:
/// bit fields packed into bytes, a 16-byte address for the four 32-bit fields after an
/// `AddressFamily`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    name: String,
    kind: Kind,
    bit_offset: usize,
}

/// The structures of one section (`3` events, `4` commands), by id.
fn structures(dat: &str, section: usize) -> std::collections::HashMap<u32, Vec<Row>> {
    let mut raw: std::collections::HashMap<u32, Vec<Vec<&str>>> = Default::default();
    for line in dat.split("#####").nth(section).unwrap().lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() == 7 {
            raw.entry(cols[0].parse().unwrap()).or_default().push(cols);
        }
    }
    raw.into_iter()
        .map(|(id, lines)| {
            let mut rows = Vec::new();
            let mut bits = 0;
            let mut i = 0;
            while i < lines.len() {
                let l = &lines[i];
                let (unsigned, size, dim, special) = (
                    l[2] == "1",
                    l[3].parse::<usize>().unwrap(),
                    l[4].parse::<usize>().unwrap(),
                    l[5] == "1",
                );
                let after_family = i > 0 && lines[i - 1][6] == "AddressFamily";
                let (name, kind, taken) = if after_family
                    && l[1].ends_with("_0")
                    && lines.len() >= i + 4
                    && (1..4).all(|k| lines[i + k][1].ends_with(&format!("_{k}")))
                {
                    (l[1].trim_end_matches("_0").to_owned(), Kind::Addr, 4)
                } else {
                    let kind = match (dim, size, unsigned) {
                        (d, 8, _) if d > 0 => Kind::Chars(d),
                        (_, 1..=7, _) => Kind::Bits(size as u8),
                        (_, 8, true) => Kind::U8,
                        (_, 8, false) => Kind::I8,
                        (_, 16, true) => Kind::U16,
                        (_, 16, false) => Kind::I16,
                        (_, 32, true) if special => Kind::Ip,
                        (_, 32, true) => Kind::U32,
                        (_, 32, false) => Kind::I32,
                        other => panic!("{id} {}: {other:?}", l[1]),
                    };
                    (l[1].to_owned(), kind, 1)
                };
                rows.push(Row {
                    name,
                    kind,
                    bit_offset: bits,
                });
                bits += kind.bits();
                i += taken;
            }
            (id, rows)
        })
        .collect()
}

/// Walks a generated layout over the table's rows from `at`, checking each field; returns
/// the index of the first row after it.
fn check(ours: &[Field], base_bits: usize, suffix: &str, rows: &[Row], mut at: usize) -> usize {
    for f in ours {
        let want = base_bits + f.bit_offset;
        match f.kind {
            Kind::Skip { last, bytes } => {
                let first = &rows[at];
                assert_eq!(first.name, format!("{}{suffix}", f.name));
                assert_eq!(first.bit_offset, want, "{}", f.name);
                let end = rows[at..]
                    .iter()
                    .position(|r| r.name == format!("{last}{suffix}"))
                    .unwrap_or_else(|| panic!("no {last} after {}", f.name));
                let last_row = &rows[at + end];
                assert_eq!(
                    last_row.bit_offset + last_row.kind.bits() - want,
                    8 * bytes,
                    "{} ..= {last}",
                    f.name
                );
                at += end + 1;
            }
            Kind::Repeat { fields, count } => {
                let group = structs::end_bits(fields);
                for i in 0..count {
                    at = check(fields, want + i * group, &format!("_{i}"), rows, at);
                }
            }
            kind => {
                let row = &rows[at];
                assert_eq!(row.name, format!("{}{suffix}", f.name));
                assert_eq!((row.kind, row.bit_offset), (kind, want), "{}", f.name);
                at += 1;
            }
        }
    }
    at
}

/// A section of the table (`3` events, `4` commands), an id, and our layout and size for it
/// (none: header and channel only).
type Ours = (usize, u32, Option<(&'static [Field], usize)>);

/// What each id of ours is.
fn ours() -> Vec<Ours> {
    use structs::*;
    vec![
        (
            4,
            id::OPEN_CHANNEL,
            Some((open_channel::FIELDS, open_channel::SIZE)),
        ),
        (
            4,
            id::CLOSE_CHANNEL,
            Some((close_channel::FIELDS, close_channel::SIZE)),
        ),
        (
            4,
            id::ACTIVATE_RTP_RTCP,
            Some((activate_rtp_rtcp::FIELDS, activate_rtp_rtcp::SIZE)),
        ),
        (4, id::DIAL, Some((dial::FIELDS, dial::SIZE))),
        (
            4,
            id::DEACTIVATE_RTP_RTCP,
            Some((deactivate_rtp_rtcp::FIELDS, deactivate_rtp_rtcp::SIZE)),
        ),
        (4, id::PLAY_TONE, Some((play_tone::FIELDS, play_tone::SIZE))),
        (
            4,
            id::STOP_PLAY_TONE,
            Some((stop_play_tone::FIELDS, stop_play_tone::SIZE)),
        ),
        (
            4,
            id::SEND_ANALOG_SIGNAL,
            Some((send_analog_signal::FIELDS, send_analog_signal::SIZE)),
        ),
        (
            4,
            id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION,
            Some((
                message_waiting_indication::FIELDS,
                message_waiting_indication::SIZE,
            )),
        ),
        (
            4,
            id::ANALOG_IF_QUERY_STATUS,
            Some((query_status::FIELDS, query_status::SIZE)),
        ),
        (
            4,
            id::ANALOG_IF_DISTINCTIVE_RING,
            Some((distinctive_ring::FIELDS, distinctive_ring::SIZE)),
        ),
        (3, id::ERROR, Some((error::FIELDS, error::SIZE))),
        (3, id::DIGIT, Some((digit::FIELDS, digit::SIZE))),
        (3, id::ON_HOOK, None),
        (3, id::OFF_HOOK, None),
        (
            3,
            id::KEEP_ALIVE,
            Some((keep_alive::FIELDS, keep_alive::SIZE)),
        ),
        (3, id::FLASH_HOOK, None),
        (
            3,
            id::COMMAND_ACK,
            Some((command_ack::FIELDS, command_ack::SIZE)),
        ),
        (
            3,
            id::ANALOG_IF_FXS_STATUS,
            Some((fxs_status::FIELDS, fxs_status::SIZE)),
        ),
        (
            3,
            id::ANALOG_IF_RING_START,
            Some((ring_trigger::FIELDS, ring_trigger::SIZE)),
        ),
        (
            3,
            id::ANALOG_IF_RING_END,
            Some((ring_trigger::FIELDS, ring_trigger::SIZE)),
        ),
        (3, id::DIAL_ENDED, None),
        (
            3,
            id::DETECT_CALLER_ID,
            Some((detect_caller_id::FIELDS, detect_caller_id::SIZE)),
        ),
        (
            3,
            id::ANALOG_IF_FXO_STATUS,
            Some((fxo_status::FIELDS, fxo_status::SIZE)),
        ),
        (
            3,
            id::ANALOG_IF_REVERSAL_POLARITY_DETECTED,
            Some((reversal_polarity::FIELDS, reversal_polarity::SIZE)),
        ),
        (3, id::ANALOG_IF_CURRENT_DISCONNECT_DETECTED, None),
    ]
}

/// The names the table gives our ids (`acEV_…` in section 0, `acCMD_…` in section 1).
fn names(dat: &str, section: usize) -> std::collections::HashMap<u32, String> {
    dat.split("#####")
        .nth(section)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (name, id) = l.trim().split_once(' ')?;
            Some((id.trim().parse().ok()?, name.to_owned()))
        })
        .collect()
}

#[test]
fn layouts_match_tpncp_dat() {
    // tshark is a real peer: `scripts/deps --test` installs it with this table, and without it
    // the test fails rather than passing unchecked (docs/TESTING.md).
    let dat = std::fs::read_to_string(DAT)
        .unwrap_or_else(|e| panic!("{DAT}: {e} (scripts/deps --test installs tshark)"));
    let (events, commands) = (structures(&dat, 3), structures(&dat, 4));
    let (event_names, command_names) = (names(&dat, 0), names(&dat, 1));
    for (section, id, layout) in ours() {
        let (table, names, prefix) = if section == 3 {
            (&events, &event_names, "acEV_")
        } else {
            (&commands, &command_names, "acCMD_")
        };
        assert!(
            names.get(&id).is_some_and(|n| n.starts_with(prefix)),
            "{prefix}… {id} is not in the table"
        );
        let Some((fields, size)) = layout else {
            assert!(
                !table.contains_key(&id),
                "{id} has a structure in the table"
            );
            continue;
        };
        let rows = &table[&id];
        let end = check(fields, 0, "", rows, 0);
        assert_eq!(
            end,
            rows.len(),
            "{id}: rows left after {}",
            rows[end - 1].name
        );
        let last = rows.last().unwrap();
        assert_eq!(last.bit_offset + last.kind.bits(), 8 * size, "{id}: size");
    }
}

/// Sizes and offsets a reader can check by hand against the table (and the issue: 736 bytes
/// for the whole `acCMD_ACTIVATE_RTP_RTCP`).
#[test]
fn sizes_and_special_offsets() {
    use structs::*;
    assert_eq!(open_channel::SIZE, 1092);
    assert_eq!(open_channel::active.bit_offset, 7 * 8);
    assert_eq!(open_channel::m.offset(), 12);
    assert_eq!(open_channel::rtpdtmfrfc2833_payload_type.offset(), 121);
    assert_eq!(open_channel::security_cmd_offset.offset(), 196);
    assert_eq!(open_channel::rtp_authentication_algorithm.offset(), 772);
    assert_eq!(activate_rtp_rtcp::SIZE + 12, 736);
    assert_eq!(activate_rtp_rtcp::remote_rtcp_port.offset(), 312);
    assert_eq!(
        activate_rtp_rtcp::remote_rtpip_add_i_pvx_addr32_addr.offset(),
        508
    );
    assert_eq!(activate_rtp_rtcp::rtp_state_offset.offset(), 628);
    assert_eq!(activate_rtp_rtcp::ssrc.offset(), 668);
    assert_eq!(distinctive_ring::SIZE, 240);
    assert_eq!(distinctive_ring::number.offset(), 26);
    assert_eq!(distinctive_ring::name.offset(), 47);
    assert_eq!(digit::SIZE, 4 + 40 * 20);
    assert_eq!(error::SIZE, 284);
    assert_eq!(fxs_status::SIZE, 76);
    assert_eq!(keep_alive::SIZE, 44);
    assert_eq!(command_ack::SIZE, 12);
    assert_eq!(play_tone::SIZE, 17);
    // The FXO structures: `acCMD_DIAL`'s array after two bytes and a 16-bit count.
    assert_eq!(dial::SIZE, 8 + 40 * 20 + 12);
    assert_eq!(dial::entries.offset(), 8);
    assert_eq!(detect_caller_id::number.offset(), 10);
    assert_eq!(detect_caller_id::name_availability.offset(), 84);
    assert_eq!(detect_caller_id::SIZE, 211);
    assert_eq!(fxo_status::seized_line.offset(), 20);
    assert_eq!(fxo_status::SIZE, 44);
    assert_eq!(reversal_polarity::SIZE, 8);
}
