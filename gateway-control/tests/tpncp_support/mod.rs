//! Shared by the integration tests that read our TPNCP back with tshark.

use std::path::Path;
use std::process::Command;

/// Runs tshark over `pcap` with Wireshark's TPNCP table loaded (`tpncp.load_db`), with
/// `args`; its stdout. tshark is a real peer: `scripts/deps --test` installs it, and without
/// it the test fails rather than passing unchecked.
pub(crate) fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-o", "tpncp.load_db:TRUE", "-r"])
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark is installed (scripts/deps --test installs it)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
