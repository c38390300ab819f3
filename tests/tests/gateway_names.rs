//! Issue 15, end to end: a gateway the owner names by DNS name (`address = "LocalHost:PORT"`)
//! is resolved when `offhook serve` starts, comes up, and its lines work. `localhost` comes from
//! the hosts file, so no packet leaves the machine. The simulator names its endpoints
//! `aaln/N@localhost`, and the configured name's case does not matter.

use offhook_tests::sim::server_with_phones_at;
use offhook_tests::wait_for;

#[test]
fn a_gateway_named_by_dns_name_comes_up_and_its_line_works() {
    let (server, mut sim, _, _) = server_with_phones_at(
        &[("alice", Some("gw1/aaln/1"))],
        &|gateway| format!("LocalHost:{}", gateway.port()),
        &["--domain", "localhost"],
    );
    let metric = |kind: &str| server.metric(&format!(r#"offhook_mgcp_total{{kind="{kind}"}}"#));
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
