//! RFC 4733 telephone-events: DTMF digits carried as RTP events.
