//! Issue 15, end to end: a gateway the owner names by DNS name (`address = "LocalHost:PORT"`)
//! is resolved when `offhook serve` starts, comes up, and its lines work. `localhost` comes from
//! the hosts file, so no packet leaves the machine. The simulator names its endpoints
//! `aaln/N@localhost`, and the configured name's case does not matter.

use std::net::SocketAddr;

use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::GatewaySim;
use offhook_tests::{PASSWORD, Server, wait_for};

#[test]
fn a_gateway_named_by_dns_name_comes_up_and_its_line_works() {
    let agent: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let port = free_udp_port();
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"LocalHost:{port}\"\n"
    ));
    let out = server.offhook(
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--line",
            "gw1/aaln/1",
        ],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.terminate();
    server.restart();
    let metric = |kind: &str| server.metric(&format!(r#"offhook_mgcp_total{{kind="{kind}"}}"#));

    let gateway: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut sim = GatewaySim::start_with(agent, gateway, 1, &["--domain", "localhost"]);
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the gateway up", || {
        server.gateway_up("gw1").filter(|up| *up)
    });
    // The line is watched: a pick-up is notified and answered.
    let before = metric("notifications");
    sim.send("offhook 1");
    wait_for("the pick-up notified", || {
        (metric("notifications") > before).then_some(())
    });
    // Resolved once, at start; heard from where it was configured.
    assert_eq!(metric("address_changes"), 0);
    assert_eq!(metric("unknown_peer"), 0);
    assert_eq!(metric("wrong_address"), 0);
    sim.quit();
}
