//! Shared by the integration tests that check our MGCP on the wire with tshark.

use std::path::Path;
use std::process::Command;

/// Runs tshark over `pcap` (MGCP on ports 2727 and 2427) with `args`; its stdout.
pub(crate) fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-r", &pcap.display().to_string()])
        .args(["-d", "udp.port==2727,mgcp", "-d", "udp.port==2427,mgcp"])
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

/// Asserts tshark flags nothing in `pcap`: no malformed frame, no warning or error from any
/// dissector, no parameter the MGCP dissector could not place, no frame it did not read as MGCP.
pub(crate) fn assert_clean(pcap: &Path) {
    let filter = "_ws.malformed || _ws.expert.severity >= 0x00600000 || mgcp.param.invalid \
                  || mgcp.unknown_parameter || mgcp.rsp.malformed_parameter \
                  || mgcp.rsp.rspcode.invalid || !mgcp";
    let flagged = tshark(
        pcap,
        &[
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(
        flagged.trim().is_empty(),
        "tshark flagged frames:\n{flagged}"
    );
}
