//! The station manager's record flow over TPNCP (issue 17): the real `offhook serve` and
//! `offhook gateway-sim --protocol tpncp` (an AudioCodes FXS board) as separate processes on
//! loopback, over TCP in network byte order and over UDP in little-endian.
//!
//! The appliance connects out to the board; it shows up in `/api/v1/health` as
//! `protocol: "tpncp"`; alice's `offhook record --to carol` rings her channel 0 (port 1) with
//! `acCMD_ANALOG_IF_DISTINCTIVE_RING`, the simulator picks up, says the speech fixture into the
//! channel's RTP (opened and activated by the host) and hangs up; the stored message rings
//! carol's channel 1 (port 2), which picks up and hears it to its end. Then the board goes away
//! and comes back: the board is shown down, the host reconnects and re-syncs both channels.

use offhook_tests::sim::{
    GatewaySim, record_then_hear, server_with_tpncp_phones, start_tpncp_board,
};
use offhook_tests::{Server, wait_for};

fn flow(
    gateway_keys: &str,
    sim_args: &[&str],
) -> (Server, GatewaySim, std::net::SocketAddr, String) {
    let (server, mut sim, board, rtp) = server_with_tpncp_phones(
        &[("alice", Some("tp1/0")), ("carol", Some("tp1/1"))],
        gateway_keys,
        sim_args,
    );
    record_then_hear(&server, &mut sim, "tp1", "tpncp");
    // Nothing the board refused; the ring carried the distinctive-ring command.
    let refused: Vec<_> = sim
        .seen
        .iter()
        .filter(|v| v["event"] == "command" && v["code"].as_i64().is_some_and(|c| c != 0))
        .collect();
    assert!(refused.is_empty(), "the board refused: {refused:#?}");
    assert!(
        sim.seen
            .iter()
            .any(|v| v["event"] == "command" && v["verb"] == "acCMD_ANALOG_IF_DISTINCTIVE_RING"),
        "{:#?}",
        sim.seen
    );
    assert!(server.metric("offhook_tpncp_total{kind=\"sessions_up\"}") >= 1);
    (server, sim, board, rtp)
}

#[test]
fn record_and_hear_over_tcp_in_network_order() {
    let (server, sim, board, rtp) = flow("", &[]);
    // The board goes away: shown down; back, the host reconnects and re-syncs its channels.
    drop(sim);
    wait_for("the board down", || {
        server.gateway_up("tp1").filter(|up| !up)
    });
    let mut sim = start_tpncp_board(board, &rtp, &[]);
    wait_for("the board up again", || {
        server.gateway_up("tp1").filter(|up| *up)
    });
    // Re-sync: each channel's status was asked again.
    for line in [1, 2] {
        sim.expect(
            &format!("line {line} queried after the reconnection"),
            |v| {
                (v["line"] == line
                    && v["event"] == "command"
                    && v["verb"] == "acCMD_ANALOG_IF_QUERY_STATUS")
                    .then_some(())
            },
        );
    }
    assert!(server.metric("offhook_tpncp_total{kind=\"sessions_up\"}") >= 2);
    sim.quit();
}

#[test]
fn record_and_hear_over_udp_little_endian() {
    let (_server, sim, _, _) = flow(
        "transport = \"udp\"\nbyte_order = \"little\"",
        &["--byte-order", "little"],
    );
    sim.quit();
}
