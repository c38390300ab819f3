//! RTCP (RFC 3550 §6.4): what our reports say, when they go, and what the gateway's do.

use codecs::rtcp::{NtpTime, ReportBlock, SenderInfo};

use super::*;

const GATEWAY_RTCP: &str = "127.0.0.1:4001";

/// The reports sent, each checked to go to the gateway's RTCP port (RTP port + 1).
fn reports(h: &Harness) -> usize {
    h.sent
        .iter()
        .filter(|t| t.rtcp)
        .inspect(|t| assert_eq!(t.destination, GATEWAY_RTCP.parse().unwrap()))
        .count()
}

fn first_block(payload: &[u8]) -> Option<ReportBlock> {
    match &rtcp::parse_compound(payload).unwrap()[0] {
        rtcp::Repr::ReceiverReport { reports, .. } | rtcp::Repr::SenderReport { reports, .. } => {
            reports.first().copied()
        }
        other => panic!("{other:?}"),
    }
}

/// Runs until the next report is sent and returns when it was sent and its bytes.
fn next_report(h: &mut Harness) -> (Duration, Vec<u8>) {
    let before = h.sent.iter().filter(|t| t.rtcp).count();
    while let Some(t) = h.s.poll_timeout() {
        h.s.handle_timeout(t);
        h.drain();
        if h.sent.iter().filter(|t| t.rtcp).count() > before {
            let last = h.sent.iter().rev().find(|t| t.rtcp).unwrap();
            return (t.duration_since(h.t0), last.payload.clone());
        }
    }
    panic!("no report")
}

#[test]
fn reports_come_every_half_to_one_and_a_half_intervals_and_are_counted() {
    let mut h = Harness::new();
    let mut last = Duration::ZERO;
    let mut gaps = Vec::new();
    for _ in 0..20 {
        let (at, payload) = next_report(&mut h);
        gaps.push(at - last);
        last = at;
        let parsed = rtcp::parse_compound(&payload).unwrap();
        assert!(matches!(parsed[0], rtcp::Repr::ReceiverReport { .. }));
        match &parsed[1] {
            rtcp::Repr::SourceDescription(chunks) => {
                assert_eq!(chunks[0].ssrc, h.s.ssrc());
                assert_eq!(chunks[0].cname(), Some(&b"offhook"[..]));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        gaps.iter()
            .all(|g| *g >= Duration::from_millis(2500) && *g <= Duration::from_millis(7500)),
        "{gaps:?}"
    );
    assert!(gaps.windows(2).any(|w| w[0] != w[1]), "randomized");
    assert_eq!(h.s.stats().rtcp_sent, 20);
    assert_eq!(reports(&h), 20);
}

#[test]
fn no_report_block_for_a_source_still_on_probation() {
    let mut h = Harness::new();
    // One packet: RFC 3550 A.1 waits for a second in sequence before counting a source.
    h.recv(0, &audio(0));
    let (_, payload) = next_report(&mut h);
    assert_eq!(first_block(&payload), None);
    h.recv(8000, &audio(1));
    h.recv(8020, &audio(2));
    let (_, payload) = next_report(&mut h);
    let block = first_block(&payload).unwrap();
    assert_eq!(
        (block.ssrc, block.extended_highest_seq),
        (Ssrc(0x1234), 1002)
    );
}

#[test]
fn losses_show_in_the_reception_report() {
    let mut h = Harness::new();
    for n in (0..20u16).filter(|&n| n != 5 && n != 6) {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    let (_, payload) = next_report(&mut h);
    let block = first_block(&payload).unwrap();
    assert_eq!(block.cumulative_lost, 2);
    assert_eq!(block.extended_highest_seq, 1019);
    assert_eq!(block.fraction_lost, (2 * 256 / 19) as u8);
}

#[test]
fn a_new_ssrc_from_a_new_address_starts_a_new_reception_report() {
    let mut h = Harness::new();
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // The gateway moved the connection: a new address, SSRC, sequence and timestamp.
    let moved: SocketAddr = "127.0.0.1:4010".parse().unwrap();
    h.s.handle_remote(
        h.at(200),
        Media {
            address: moved,
            ..media()
        },
    );
    for k in 0..10u16 {
        let p = rtp_from(
            Ssrc(0x5678),
            40_000 + k,
            90_000 + u32::from(k) * 160,
            0,
            k == 0,
            &[0xff; 160],
        );
        h.run_until(200 + u64::from(k) * 20);
        h.s.handle_datagram(h.at(200 + u64::from(k) * 20), moved, &p);
        h.drain();
    }
    let (_, payload) = next_report(&mut h);
    let block = first_block(&payload).unwrap();
    assert_eq!(block.ssrc, Ssrc(0x5678));
    assert_eq!(block.extended_highest_seq, 40_009);
    assert_eq!(block.cumulative_lost, 0);
}

/// The gateway's SR, from `ssrc`, with an NTP time whose middle 32 bits are 0x1234_5678.
fn gateway_sr(ssrc: Ssrc) -> Vec<u8> {
    let sr = rtcp::Repr::SenderReport {
        ssrc,
        info: SenderInfo {
            ntp_time: NtpTime(0x0000_1234_5678_0000),
            rtp_time: 1,
            packet_count: 2,
            octet_count: 320,
        },
        reports: vec![],
        extension: &[],
    };
    let mut b = vec![0; 1500];
    let n = rtcp::emit_compound(&[sr], &mut b).unwrap();
    b.truncate(n);
    b
}

#[test]
fn the_gateways_sender_report_is_answered_with_lsr_and_dlsr() {
    let mut h = Harness::new();
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    let from: SocketAddr = GATEWAY_RTCP.parse().unwrap();
    // Another source's SR says nothing about this one.
    h.s.handle_rtcp(h.at(200), from, &gateway_sr(Ssrc(0x9999)));
    let (at, payload) = next_report(&mut h);
    let block = first_block(&payload).unwrap();
    assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
    h.s.handle_rtcp(h.t0 + at, from, &gateway_sr(Ssrc(0x1234)));
    let (next, payload) = next_report(&mut h);
    let block = first_block(&payload).unwrap();
    assert_eq!(block.last_sr, 0x1234_5678);
    // DLSR in 1/65536 s.
    let dlsr = (next - at).as_secs_f64() * 65536.0;
    assert!((f64::from(block.delay_since_last_sr) - dlsr).abs() < 2.0);
    assert_eq!(h.s.stats().rtcp_received, 2);
}

#[test]
fn rtcp_from_the_rtp_port_or_before_the_remote_is_dropped() {
    let t0 = Instant::now_for_tests();
    let line = LineId::new(gateway_control::model::GatewayId::new("gw"), "aaln/1");
    let mut s = Stream::new(
        t0,
        Duration::ZERO,
        CallId(1),
        line,
        20_000,
        &Config::default(),
    );
    let sr = gateway_sr(Ssrc(0x1234));
    s.handle_rtcp(t0, GATEWAY_RTCP.parse().unwrap(), &sr);
    s.handle_remote(t0, media());
    s.handle_rtcp(t0, GATEWAY.parse().unwrap(), &sr);
    s.handle_rtcp(t0, GATEWAY_RTCP.parse().unwrap(), &sr);
    s.handle_rtcp(t0, GATEWAY_RTCP.parse().unwrap(), &sr[..7]);
    s.handle_rtcp(t0, GATEWAY_RTCP.parse().unwrap(), &sr);
    let st = s.stats();
    assert_eq!(
        (st.rtcp_wrong_source, st.rtcp_received, st.rtcp_malformed),
        (2, 2, 1)
    );
}

#[test]
fn sender_reports_carry_the_wall_clock_and_what_was_sent() {
    let t0 = Instant::now_for_tests();
    let line = LineId::new(gateway_control::model::GatewayId::new("gw"), "aaln/1");
    // 1.7e9 s and a quarter since 1970.
    let wall = Duration::from_millis(1_700_000_000_250);
    let mut s = Stream::new(t0, wall, CallId(7), line, 20_000, &Config::default());
    s.handle_remote(t0, media());
    s.handle_play_message(t0, Box::new(Frames(0, 1000)));
    let mut rtp = Vec::new();
    let (at, report) = loop {
        let t = s.poll_timeout().unwrap();
        s.handle_timeout(t);
        let mut sr = None;
        while let Some(x) = s.poll_transmit() {
            if x.rtcp {
                sr = Some(x.payload);
            } else {
                rtp.push(rtp::Repr::parse_bytes(&x.payload).unwrap().timestamp);
            }
        }
        if let Some(sr) = sr {
            break (t - t0, sr);
        }
    };
    let sent = rtp.len() as u32;
    assert_eq!(s.stats().rtp_sent, u64::from(sent));
    match &rtcp::parse_compound(&report).unwrap()[0] {
        rtcp::Repr::SenderReport { ssrc, info, .. } => {
            assert_eq!(*ssrc, s.ssrc());
            assert_eq!(info.packet_count, sent);
            assert_eq!(info.octet_count, 160 * sent);
            assert_eq!(info.rtp_time, rtp.last().unwrap().wrapping_add(160).0);
            // RFC 3550 §4: seconds since 1900 (2,208,988,800 s before 1970), then the
            // fraction of a second in units of 2^-32 s.
            let t = wall + at;
            assert_eq!(info.ntp_time.0 >> 32, t.as_secs() + 2_208_988_800);
            let frac = (info.ntp_time.0 & 0xffff_ffff) as f64 / 4_294_967_296.0;
            let expected = f64::from(t.subsec_nanos()) / 1e9;
            assert!((frac - expected).abs() < 1e-9, "{frac} for {expected}");
            assert!(expected > 0.0);
        }
        other => panic!("{other:?}"),
    }
}
