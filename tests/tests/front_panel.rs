//! The front panel against the real LCDd (Debian package lcdproc) with its `curses` driver in a
//! tmux pane of 20×4, and of 16×2: the appliance (`offhook serve` with `[lcd] server`) shows its status
//! screens, which LCDd rotates; the gateway it controls shows up; LCDd killed and started
//! again, the screens come back by themselves. LCDd and tmux are required: without them this
//! test fails.

use std::net::SocketAddr;
use std::time::Duration;

use offhook_panel::lcdd::Lcdd;
use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::GatewaySim;
use offhook_tests::{Server, wait_for};

/// Long enough for LCDd to rotate through the four status screens (4 s each) twice.
const ROTATION: Duration = Duration::from_secs(40);

fn shows(lcdd: &Lcdd, text: &str) {
    if let Err(pane) = lcdd.wait_for(ROTATION, |pane| pane.contains(text)) {
        panic!("{text:?} never on the display; last seen:\n{pane}");
    }
}

#[test]
fn status_screens_on_a_real_lcdd_and_back_after_it_restarts() {
    run(20, 4);
}

/// The smaller common display: each screen's first two rows, cut to 16 columns.
#[test]
fn status_screens_on_a_16x2_display() {
    run(16, 2);
}

fn run(width: u16, height: u16) {
    let lcdd = Lcdd::start(width, height);
    let agent: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let gateway: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let server = Server::start(&format!(
        "[mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{gateway}\"\n\
         [lcd]\nserver = \"{}\"\n",
        lcdd.address()
    ));
    let mut sim = GatewaySim::start_with(agent, gateway, 2, &[]);
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the gateway up", || {
        server.gateway_up("gw1").filter(|up| *up)
    });

    // The status screens, rotated by LCDd.
    shows(&lcdd, "Offhook ");
    shows(&lcdd, "Gateways 1/1 up");
    shows(&lcdd, "Waiting 0");
    shows(&lcdd, "DHCP off");

    // LCDd goes away and comes back: the appliance reconnects and its screens return.
    lcdd.kill();
    std::thread::sleep(Duration::from_millis(500));
    lcdd.launch();
    shows(&lcdd, "Gateways 1/1 up");
    sim.quit();
}
