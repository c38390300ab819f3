//! The appliance and `offhook gateway-sim` as separate processes, talking MGCP on loopback: the
//! gateway boots after the appliance and registers (RSIP), its lines get armed, hook changes
//! reach the call agent as notifications, and a restarted gateway is re-armed.

use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::GatewaySim;
use offhook_tests::{Server, http, wait_for};
use serde_json::Value;

/// Waits until both lines have been armed by a notification request the gateway accepted.
fn both_lines_armed(sim: &mut GatewaySim) {
    let mut armed = [false; 2];
    sim.expect("RQNT accepted on lines 1 and 2", |v| {
        if v["event"] == "command"
            && v["verb"] == "RQNT"
            && v["code"] == 200
            && let Some(n @ 1..=2) = v["line"].as_u64()
        {
            armed[n as usize - 1] = true;
        }
        armed.iter().all(|a| *a).then_some(())
    });
}

#[test]
fn gateway_registers_is_armed_and_notifies() {
    let (mgcp, sim_addr) = (free_udp_port(), free_udp_port());
    let server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{mgcp}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{sim_addr}\"\n\
         [[station]]\nuser = \"alice\"\ngateway = \"gw1\"\nendpoint = \"aaln/1\"\n\
         [[station]]\nuser = \"bob\"\ngateway = \"gw1\"\nendpoint = \"aaln/2\"\n"
    ));
    let controller = format!("127.0.0.1:{mgcp}").parse().unwrap();
    let listen = format!("127.0.0.1:{sim_addr}").parse().unwrap();
    assert_eq!(server.gateway_up("gw1"), Some(false), "no gateway yet");
    let health: Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .expect("health")
        .json()
        .expect("json");
    assert_eq!(health["gateways"][0]["protocol"], "mgcp");

    // The gateway boots: it announces a restart, the call agent answers, audits and arms.
    let mut sim = GatewaySim::start(controller, listen, 2);
    sim.expect("the RSIP answered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    both_lines_armed(&mut sim);
    wait_for("gw1 up in /api/v1/health", || {
        server.gateway_up("gw1").filter(|up| *up)
    });

    // Picking up line 1 is notified (NTFY with L/hd), answered, and the line re-armed.
    let before = server.metric("offhook_mgcp_total{kind=\"notifications\"}");
    sim.send("offhook 1");
    sim.expect("NTFY of L/hd", |v| {
        (v["event"] == "notify" && v["line"] == 1 && v["observed"][0] == "L/hd").then_some(())
    });
    wait_for("the call agent to count the notification", || {
        (server.metric("offhook_mgcp_total{kind=\"notifications\"}") > before).then_some(())
    });
    sim.expect("line 1 re-armed while off-hook", |v| {
        (v["event"] == "command" && v["verb"] == "RQNT" && v["line"] == 1 && v["code"] == 200)
            .then_some(())
    });
    sim.send("onhook 1");
    sim.expect("NTFY of L/hu", |v| {
        (v["event"] == "notify" && v["line"] == 1 && v["observed"][0] == "L/hu").then_some(())
    });
    sim.quit();

    // The gateway restarts (a new process on the same address): it is re-audited and re-armed.
    let restarts = server.metric("offhook_mgcp_total{kind=\"restarts\"}");
    let mut sim = GatewaySim::start(controller, listen, 2);
    sim.expect("the second RSIP answered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    both_lines_armed(&mut sim);
    assert!(server.metric("offhook_mgcp_total{kind=\"restarts\"}") > restarts);
    assert_eq!(server.gateway_up("gw1"), Some(true));
    sim.quit();
}

/// Hostile MGCP input at the appliance's call agent: each kind is answered per RFC 3661 or
/// dropped, counted in `/metrics`, and the call agent keeps working.
#[test]
fn bad_mgcp_input_is_answered_or_dropped_and_counted() {
    use std::net::UdpSocket;
    use std::time::Duration;

    let (mgcp, gw_port) = (free_udp_port(), free_udp_port());
    let server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{mgcp}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{gw_port}\"\n\
         [[station]]\nuser = \"alice\"\ngateway = \"gw1\"\nendpoint = \"aaln/1\"\n"
    ));
    // We stand where the configured gateway is, so our datagrams are the gateway's.
    let gw = UdpSocket::bind(("127.0.0.1", gw_port)).expect("bind the gateway's address");
    gw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    let agent = format!("127.0.0.1:{mgcp}");
    let metric = |kind: &str| server.metric(&format!("offhook_mgcp_total{{kind=\"{kind}\"}}"));
    let mut buf = [0u8; 2048];
    // The response code to a command we send as the gateway, skipping anything else the call
    // agent sends us meanwhile (its own audits of aaln/1, answers to earlier junk).
    let mut answer = |sent: &[u8], transaction: u32| -> u16 {
        gw.send_to(sent, &agent).unwrap();
        loop {
            let (n, _) = gw
                .recv_from(&mut buf)
                .expect("an answer from the call agent");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let mut words = text.split_whitespace();
            let (code, id) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if id == transaction.to_string()
                && let Ok(code) = code.parse()
            {
                return code;
            }
        }
    };
    // An unknown verb with a readable transaction id: 504, "unknown or unsupported command"
    // (RFC 3435 §2.4).
    assert_eq!(
        answer(b"FROB 4711 aaln/1@[127.0.0.1] MGCP 1.0\r\n", 4711),
        504
    );
    // A version we do not speak: 528.
    assert_eq!(
        answer(
            b"NTFY 4712 aaln/1@[127.0.0.1] MGCP 9.9\r\nX: 1\r\nO: L/hd\r\n",
            4712
        ),
        528
    );
    // A command for an endpoint the gateway does not have: 500.
    assert_eq!(
        answer(
            b"NTFY 4713 aaln/99@[127.0.0.1] MGCP 1.0\r\nX: 1\r\nO: L/hd\r\n",
            4713
        ),
        500
    );
    // A truncated command whose transaction id is readable is still answered 510; garbage and
    // an oversize datagram are dropped. All are counted.
    for junk in [
        &b"NTFY 47"[..],
        b"\x00\xff\xfe garbage",
        &vec![b'A'; 20_000],
    ] {
        gw.send_to(junk, &agent).unwrap();
    }
    // RSIP from an address that is no configured gateway (another IP: one on the gateway's IP
    // but another port would be taken as the gateway's, issue 15): dropped, never answered.
    stranger
        .send_to(b"RSIP 1 *@[127.0.0.1] MGCP 1.0\r\nRM: restart\r\n", &agent)
        .unwrap();
    wait_for("every bad datagram counted", || {
        (metric("malformed_answered") >= 1
            && metric("unsupported_commands") >= 1
            && metric("version_answered") >= 1
            && metric("unknown_endpoint") >= 1
            && metric("malformed_dropped") >= 1
            && metric("oversized") >= 1
            && metric("unknown_peer") >= 1
            && metric("wrong_address") >= 1)
            .then_some(())
    });
    // Still serving: a well-formed NTFY from the gateway is answered 200.
    assert_eq!(
        answer(
            b"NTFY 4714 aaln/1@[127.0.0.1] MGCP 1.0\r\nX: 77\r\nO: L/hd\r\n",
            4714
        ),
        200
    );
    // ... and the gateway, having just spoken, is up (health is updated after the answer, so
    // wait for it rather than race it).
    wait_for("gw1 up after its NTFY was answered", || {
        (server.gateway_up("gw1") == Some(true)).then_some(())
    });
}
