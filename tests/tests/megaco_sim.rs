//! The station manager's record flow over MEGACO (issue 16): the real `offhook serve` and
//! `offhook gateway-sim --protocol megaco` as separate processes on loopback, in pretty text
//! over UDP, compact text over TCP (TPKT), and binary (BER) over UDP.
//!
//! The MG registers and shows up in `/api/v1/health` as `protocol: "megaco"`; alice's
//! `offhook record --to carol` rings her line 1 (`al/ri`), the simulator picks up, says the
//! speech fixture into the connection (an Add of the line and `$` into a new context) and hangs
//! up; the stored message rings carol's line 2, which picks up and hears it to its end.

use offhook_tests::sim::free_tcp_and_udp_port;
use offhook_tests::sim::{
    GatewaySim, record_in_background, record_then_hear, server_with_megaco_phones,
    server_with_megaco_phones_at,
};
use offhook_tests::{Server, wait_for};

fn flow(sim_args: &[&str], lines: [&str; 2]) -> (Server, GatewaySim) {
    let (alice, carol) = (format!("mg1/{}", lines[0]), format!("mg1/{}", lines[1]));
    let (server, mut sim, _, _) = server_with_megaco_phones(
        &[
            ("alice", Some(alice.as_str())),
            ("carol", Some(carol.as_str())),
        ],
        sim_args,
    );
    record_then_hear(&server, &mut sim, "mg1", "megaco");
    // Nothing the MG refused, and the controller counted what it did.
    let refused: Vec<_> = sim
        .seen
        .iter()
        .filter(|v| v["event"] == "command" && v["code"].as_u64().is_some_and(|c| c >= 400))
        .collect();
    assert!(refused.is_empty(), "the MG refused: {refused:#?}");
    assert!(server.metric("offhook_megaco_total{kind=\"registrations\"}") >= 1);
    // Off- and on-hook of both lines (the last may still be on its way).
    wait_for("four notifies counted", || {
        (server.metric("offhook_megaco_total{kind=\"notifies\"}") >= 4).then_some(())
    });
    (server, sim)
}

#[test]
fn pretty_text_over_udp() {
    let (_server, sim) = flow(&[], ["aaln/1", "aaln/2"]);
    sim.quit();
}

#[test]
fn compact_text_over_tcp() {
    let (_server, sim) = flow(
        &["--transport", "tcp", "--encoding", "compact"],
        ["aaln/1", "aaln/2"],
    );
    sim.quit();
}

#[test]
fn binary_over_udp() {
    let (_server, sim) = flow(
        &["--encoding", "binary"],
        ["00000000/00000000/00000001", "00000000/00000000/00000010"],
    );
    sim.quit();
}

/// `[megaco] listen_binary`: a gateway speaking binary registers there and its line rings and
/// answers; a text message there is dropped unread, while the main address reads it.
#[test]
fn the_binary_only_address_takes_binary_and_drops_text() {
    let line = "mg1/00000000/00000000/00000001";
    let binary: std::net::SocketAddr = format!("127.0.0.1:{}", free_tcp_and_udp_port())
        .parse()
        .unwrap();
    let (server, mut sim, main, _) = server_with_megaco_phones_at(
        &[("alice", Some(line)), ("carol", None)],
        &["--encoding", "binary"],
        Some(binary),
    );
    let token = server.login("alice");
    wait_for("alice's phone available", || {
        let h = server.health(Some(&token))?;
        (h["stations"][0]["available"] == true).then_some(())
    });
    let record = record_in_background(&server, "alice", "carol");
    sim.answer_ring(1);
    sim.send("onhook 1");
    let _ = record.join();

    let metric =
        |s: &Server, kind: &str| s.metric(&format!("offhook_megaco_total{{kind=\"{kind}\"}}"));
    let (text_before, binary_before) = (
        metric(&server, "text_received"),
        metric(&server, "binary_received"),
    );
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let text = b"MEGACO/1 [127.0.0.1]:9\nTransaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart } } } }";
    // Text, then a (broken) binary message, to the binary-only address: one socket, read in
    // order, so once the binary one is counted the text one has been dropped unread.
    socket.send_to(text, binary).unwrap();
    socket
        .send_to(&[0x30, 0x03, 0x01, 0x01, 0x00], binary)
        .unwrap();
    wait_for("the binary message read", || {
        (metric(&server, "binary_received") > binary_before).then_some(())
    });
    assert_eq!(
        metric(&server, "text_received"),
        text_before,
        "the binary-only address read text"
    );
    // The main address reads text.
    socket.send_to(text, main).unwrap();
    wait_for("the main address's text read", || {
        (metric(&server, "text_received") > text_before).then_some(())
    });
    sim.quit();
}
