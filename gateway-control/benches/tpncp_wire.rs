//! TPNCP codec throughput: decode and encode a mix of the messages a busy host exchanges with
//! a board (an off-hook event, a digit event, a command acknowledgement, an activate-RTP, an
//! open-channel and a ring with caller id), in each byte order, and cut the same mix out of a
//! TCP stream. Criterion reports `thrpt` in messages per second on one core.
//!
//! `cargo bench -p gateway-control --bench tpncp_wire -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway_control::tpncp::wire::*;

enum Message {
    Command(Command),
    Event(Event),
}

fn mix() -> Vec<Message> {
    vec![
        Message::Event(Event::OffHook),
        Message::Event(Event::Digits(vec![DigitEntry {
            digit: 5,
            on_time_ms: 80,
            inter_digit_ms: 0,
        }])),
        Message::Event(Event::CommandAck {
            seq: Seq(7),
            command_id: id::ACTIVATE_RTP_RTCP,
        }),
        Message::Command(Command::ActivateRtp {
            channel: Channel(1),
            local_rtp_port: 4000,
            remote: "192.0.2.7:5004".parse().unwrap(),
            tx_payload_type: 0,
            rx_payload_type: 0,
        }),
        Message::Command(Command::OpenChannel {
            channel: Channel(1),
            coder: Coder::Mulaw,
            frames_per_packet: 2,
            dtmf_payload_type: 101,
        }),
        Message::Command(Command::Ring {
            channel: Channel(1),
            on: true,
            pattern: 0,
            caller_id: Some(CallerIdText {
                number: Some("5551234".into()),
                name: Some("Alice Smith".into()),
            }),
        }),
    ]
}

fn encode(header: &Header, messages: &[Message], out: &mut Vec<u8>) {
    for m in messages {
        match m {
            Message::Command(c) => encode_command(header, c, out),
            Message::Event(e) => encode_event(header, Channel(1), e, out),
        }
    }
}

fn bench(c: &mut Criterion) {
    let messages = mix();
    let mut group = c.benchmark_group("tpncp_wire");
    group.throughput(Throughput::Elements(messages.len() as u64));
    for (name, order) in [("big", ByteOrder::Big), ("little", ByteOrder::Little)] {
        let header = Header {
            order,
            version: VERSION,
            seq: Seq(7),
        };
        let encoded: Vec<(bool, Vec<u8>)> = messages
            .iter()
            .map(|m| {
                let mut out = Vec::new();
                encode(&header, std::slice::from_ref(m), &mut out);
                (matches!(m, Message::Command(_)), out)
            })
            .collect();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                for (is_command, bytes) in &encoded {
                    if *is_command {
                        black_box(decode_command(black_box(bytes)).expect("decodes"));
                    } else {
                        black_box(decode_event(black_box(bytes)).expect("decodes"));
                    }
                }
            })
        });
        let mut out = Vec::with_capacity(4096);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                encode(&header, black_box(&messages), &mut out);
                black_box(out.len())
            })
        });
        let stream: Vec<u8> = encoded.iter().flat_map(|(_, m)| m.clone()).collect();
        group.bench_function(format!("deframe/{name}"), |b| {
            let mut d = Deframer::new();
            b.iter(|| {
                d.push(black_box(&stream));
                while let Some(m) = d.next() {
                    black_box(m.expect("frames"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
