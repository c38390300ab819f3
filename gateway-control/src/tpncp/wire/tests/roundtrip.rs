//! Proptest round trips: `decode(encode(x)) == x` for every command and event, both orders.

use proptest::prelude::*;

use super::strategies::{command, event, header};
use crate::tpncp::wire::*;

proptest! {
    #[test]
    fn commands_round_trip(h in header(), c in command()) {
        let mut out = vec![0xAA];
        encode_command(&h, &c, &mut out);
        prop_assert_eq!(out[0], 0xAA, "appends");
        let out = &out[1..];
        prop_assert_eq!(decode_command(out), Ok((h, c.clone())));
        // The id, read in the detected order, is the command's.
        let id = match h.order {
            ByteOrder::Big => u32::from_be_bytes([out[8], out[9], out[10], out[11]]),
            ByteOrder::Little => u32::from_le_bytes([out[8], out[9], out[10], out[11]]),
        };
        prop_assert_eq!(id, command_id(&c));
        // A command is not an event.
        prop_assert!(decode_event(out).is_err());
    }

    #[test]
    fn events_round_trip(h in header(), ch in any::<i32>(), e in event()) {
        let mut out = vec![0xAA];
        encode_event(&h, Channel(ch), &e, &mut out);
        let out = &out[1..];
        prop_assert_eq!(decode_event(out), Ok((h, Channel(ch), e.clone())));
        let id = match h.order {
            ByteOrder::Big => u32::from_be_bytes([out[8], out[9], out[10], out[11]]),
            ByteOrder::Little => u32::from_le_bytes([out[8], out[9], out[10], out[11]]),
        };
        prop_assert_eq!(id, event_id(&e));
    }
}
