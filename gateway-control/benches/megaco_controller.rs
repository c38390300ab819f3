//! The MEGACO controller core's cost per gateway request: an off-hook line's hook flash
//! (`Notify` with `al/fl`) from a registered gateway, read, executed (a model event), answered
//! (the reply encoded and kept for duplicates) — in pretty text, compact text and binary.
//! Criterion reports `thrpt` in requests a second on one core.
//!
//! `cargo bench -p gateway-control --bench megaco_controller -- --warm-up-time 1 --measurement-time 3`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gateway_control::Controller;
use gateway_control::megaco::controller::{Config, GatewayConfig, MediaGatewayController};
use gateway_control::megaco::{
    ActionReply, Body, Command, Message, ReplyResult, Transaction, TransactionReply, ber, text,
};
use gateway_control::model::GatewayId;

const LINE: &str = "00000000/00000000/00000001";

/// Answers every request of the controller with success, in text, until it is quiet.
fn answer_all(mgc: &mut MediaGatewayController, now: Instant, mg: SocketAddr) {
    for _ in 0..16 {
        let sent: Vec<Vec<u8>> = std::iter::from_fn(|| mgc.poll_transmit())
            .map(|t| t.contents)
            .collect();
        if sent.is_empty() {
            return;
        }
        for bytes in sent {
            let Ok(m) = text::parse(&bytes) else { continue };
            let Body::Transactions(ts) = m.body else {
                continue;
            };
            for t in ts {
                let Transaction::Request(r) = t else { continue };
                let reply = Message {
                    version: 1,
                    mid: gateway_control::megaco::MessageId::Device("mg1"),
                    body: Body::Transactions(vec![Transaction::Reply(TransactionReply {
                        id: r.id,
                        imm_ack_required: false,
                        result: ReplyResult::Actions(
                            r.actions
                                .iter()
                                .map(|a| ActionReply {
                                    context: a.context,
                                    properties: Vec::new(),
                                    commands: a
                                        .commands
                                        .iter()
                                        .map(|c| Command {
                                            verb: c.command.verb,
                                            termination: c.command.termination,
                                            descriptors: Vec::new(),
                                        })
                                        .collect(),
                                    error: None,
                                })
                                .collect(),
                        ),
                    })]),
                };
                let mut out = Vec::new();
                text::encode(&reply, text::Form::Pretty, &mut out);
                mgc.handle_datagram(now, mg, &out);
            }
        }
    }
}

/// A controller with one registered MG whose line is off-hook.
#[allow(clippy::disallowed_methods)] // a base instant for virtual time
fn registered() -> (MediaGatewayController, Instant, SocketAddr) {
    let now = Instant::now();
    let mg: SocketAddr = "192.0.2.2:2944".parse().unwrap();
    let config = Config {
        mid: "[192.0.2.1]:2944".into(),
        gateways: vec![GatewayConfig {
            id: GatewayId::new("mg1"),
            mid: "mg1".into(),
            address: None,
            lines: vec![LINE.into()],
        }],
        ..Config::default()
    };
    let mut mgc = MediaGatewayController::new(config, now).unwrap();
    let register = b"MEGACO/1 mg1\nTransaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart, Reason = \"901\" } } } }";
    mgc.handle_datagram(now, mg, register);
    answer_all(&mut mgc, now, mg);
    let off = format!(
        "MEGACO/1 mg1\nTransaction = 2 {{ Context = - {{ Notify = {LINE} {{ ObservedEvents = 1 {{ al/of }} }} }} }}"
    );
    mgc.handle_datagram(now, mg, off.as_bytes());
    answer_all(&mut mgc, now, mg);
    while mgc.poll_event().is_some() {}
    (mgc, now, mg)
}

/// The flash Notify with transaction `id`, in `form` (`None`: binary).
fn flash(id: u32, form: Option<text::Form>, out: &mut Vec<u8>) {
    let source = format!(
        "MEGACO/1 mg1\nTransaction = {id} {{ Context = - {{ Notify = {LINE} {{ ObservedEvents = 2 {{ 20261205T12000000:al/fl }} }} }} }}"
    );
    let m = text::parse(source.as_bytes()).unwrap();
    out.clear();
    match form {
        Some(f) => text::encode(&m, f, out),
        None => ber::encode(&m, out).unwrap(),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("megaco_controller");
    group.throughput(Throughput::Elements(1));
    for (name, form) in [
        ("notify_pretty", Some(text::Form::Pretty)),
        ("notify_compact", Some(text::Form::Compact)),
        ("notify_binary", None),
    ] {
        let (mut mgc, mut now, mg) = registered();
        let mut id = 1000u32;
        group.bench_function(name, |b| {
            // Each request is new (its own transaction id), written before the clock starts.
            b.iter_batched(
                || {
                    id = id.wrapping_add(1).max(1000);
                    let mut buf = Vec::new();
                    flash(id, form, &mut buf);
                    buf
                },
                |buf| {
                    now += Duration::from_micros(10);
                    mgc.handle_datagram(now, mg, &buf);
                    let reply = mgc.poll_transmit().expect("a reply");
                    assert!(mgc.poll_event().is_some(), "the flash is reported");
                    reply.contents.len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
