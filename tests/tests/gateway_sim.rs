//! The appliance and `offhook gateway-sim` as separate processes, talking MGCP on loopback: the
//! gateway boots after the appliance and registers (RSIP), its lines get armed, hook changes
//! reach the call agent as notifications, and a restarted gateway is re-armed.

use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::GatewaySim;
use offhook_tests::{Server, http, wait_for};
use serde_json::Value;

fn gateway_up(server: &Server, name: &str) -> Option<bool> {
    let health: Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .ok()?
        .json()
        .ok()?;
    health["gateways"]
        .as_array()?
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| {
            assert_eq!(g["protocol"], "mgcp");
            g["up"] == true
        })
}

/// Waits until both lines have been armed by a notification request the gateway accepted.
fn both_lines_armed(sim: &mut GatewaySim) {
    let mut armed = [false; 2];
    sim.expect("RQNT accepted on lines 1 and 2", |v| {
        if v["event"] == "command" && v["verb"] == "RQNT" && v["code"] == 200 {
            if let Some(n @ 1..=2) = v["line"].as_u64() {
                armed[n as usize - 1] = true;
            }
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
    assert_eq!(gateway_up(&server, "gw1"), Some(false), "no gateway yet");

    // The gateway boots: it announces a restart, the call agent answers, audits and arms.
    let mut sim = GatewaySim::start(controller, listen, 2);
    sim.expect("the RSIP answered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    both_lines_armed(&mut sim);
    wait_for("gw1 up in /api/v1/health", || {
        gateway_up(&server, "gw1").filter(|up| *up)
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
    assert_eq!(gateway_up(&server, "gw1"), Some(true));
    sim.quit();
}
