//! Our TFTP server against real clients nobody here wrote: tftp-hpa's `tftp`, `curl` and
//! `atftp` (which negotiates RFC 7440 windowsize), on loopback; path escapes answered with an
//! ERROR and no data; and tshark decoding a transfer without a malformed or expert-error item.
//!
//! The server is the driver as the appliance runs it, over a [`Files`] that generates Cisco's
//! `SEP<MAC>.cnf.xml` from the name and serves the rest from a [`Root`]. Needs the Debian
//! packages tftp-hpa, curl, atftp and tshark; a missing tool fails the test.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use provisioning::Mac;
use provisioning::files::{Refusal, Root};
use provisioning::tftp::driver::{DriverConfig, Handle, Tftpd};
use provisioning::tftp::server::{Content, Files};

const WAIT: Duration = Duration::from_secs(30);
const MAC: &str = "0004F2ABCDEF";
const BIG: usize = 10 * 1024 * 1024;

/// Generated phone files, then the directory.
struct Phones {
    root: Root,
}

fn cisco_config(mac: Mac) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<device><mac>{}</mac>\n<user>alice</user>\n<registrar>10.0.0.1</registrar>\n</device>\n",
        mac.hex_upper()
    )
}

impl Files for Phones {
    fn open(&self, name: &str, peer: SocketAddr) -> Result<Content, Refusal> {
        if name.len() == 23
            && name.starts_with("SEP")
            && name.ends_with(".cnf.xml")
            && let Some(mac) = Mac::from_hex_at(name, 3)
        {
            return Ok(Content::Memory(cisco_config(mac).into_bytes().into()));
        }
        Files::open(&self.root, name, peer)
    }
}

struct Server {
    addr: SocketAddr,
    handle: Handle,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn big_content() -> Vec<u8> {
    (0..BIG as u32)
        .map(|i| (i ^ (i >> 11) ^ (i >> 17)) as u8)
        .collect()
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), big_content()).unwrap();
    std::fs::write(dir.path().join("a.cfg"), b"hello\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("leak")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let files = Phones {
        root: Root::new(dir.path()).unwrap(),
    };
    let (addr, handle) = runtime.block_on(async {
        let config = DriverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..DriverConfig::default()
        };
        let server = Tftpd::bind(config, Arc::new(files)).unwrap();
        let addr = server.local_addr().unwrap();
        let handle = server.handle();
        tokio::spawn(server.run(std::future::pending()));
        (addr, handle)
    });
    Server {
        addr,
        handle,
        dir,
        _runtime: runtime,
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} must be installed (tftp-hpa, curl, atftp, tshark): {e}")
        });
    eprintln!(
        "{program} {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn out_path(s: &Server, name: &str) -> PathBuf {
    s.dir.path().join("out").join(name)
}

fn tftp_hpa(s: &Server, name: &str, out: &Path, verbose: bool) -> Output {
    let port = s.addr.port().to_string();
    let mut args = vec!["-m", "binary"];
    if verbose {
        args.push("-v");
    }
    args.extend(["127.0.0.1", &port, "-c", "get", name, out.to_str().unwrap()]);
    run("tftp", &args)
}

fn curl(s: &Server, name: &str, out: &Path, blksize: u16) -> Output {
    let url = format!("tftp://127.0.0.1:{}/{name}", s.addr.port());
    let blk = blksize.to_string();
    run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "--tftp-blksize",
            &blk,
            "-o",
            out.to_str().unwrap(),
            &url,
        ],
    )
}

fn atftp(s: &Server, name: &str, out: &Path, window: u16, blksize: u16) -> Output {
    let w = format!("windowsize {window}");
    let b = format!("blksize {blksize}");
    let port = s.addr.port().to_string();
    run(
        "atftp",
        &[
            "--option",
            &w,
            "--option",
            &b,
            "-g",
            "-r",
            name,
            "-l",
            out.to_str().unwrap(),
            "127.0.0.1",
            &port,
        ],
    )
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn real_clients_fetch_a_generated_file_and_10_mb_byte_exact() {
    let s = start();
    std::fs::create_dir(s.dir.path().join("out")).unwrap();
    let name = format!("SEP{MAC}.cnf.xml");
    let want_cfg = cisco_config(MAC.parse().unwrap()).into_bytes();
    let big = big_content();

    let o = out_path(&s, "hpa.xml");
    assert!(tftp_hpa(&s, &name, &o, false).status.success());
    assert_eq!(read(&o), want_cfg);
    assert!(
        String::from_utf8(read(&o))
            .unwrap()
            .contains("<user>alice</user>")
    );
    let o = out_path(&s, "hpa-v.xml");
    assert!(
        tftp_hpa(&s, &name.to_lowercase().replace("sep", "SEP"), &o, true)
            .status
            .success()
    );
    assert_eq!(read(&o), want_cfg, "a MAC in lower case is the same phone");
    let o = out_path(&s, "curl.xml");
    assert!(curl(&s, &name, &o, 1468).status.success());
    assert_eq!(read(&o), want_cfg);
    let o = out_path(&s, "atftp.xml");
    assert!(atftp(&s, &name, &o, 16, 1468).status.success());
    assert_eq!(read(&o), want_cfg);

    let o = out_path(&s, "hpa.bin");
    assert!(tftp_hpa(&s, "big.bin", &o, true).status.success());
    assert!(
        read(&o) == big,
        "tftp-hpa: 10 MB at blksize 512, blocks rolling over past 65535"
    );
    for blksize in [512, 1468, 8192] {
        let o = out_path(&s, &format!("curl-{blksize}.bin"));
        assert!(curl(&s, "big.bin", &o, blksize).status.success());
        assert!(read(&o) == big, "curl at blksize {blksize}");
    }
    for window in [4, 16, 64] {
        let o = out_path(&s, &format!("atftp-{window}.bin"));
        assert!(atftp(&s, "big.bin", &o, window, 1468).status.success());
        assert!(read(&o) == big, "atftp at windowsize {window}");
    }
    let stats = s.handle.stats();
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.refused, Default::default(), "{stats:?}");
}

/// Sends one raw request and returns every datagram answered within a short wait.
fn raw_request(server: SocketAddr, request: &[u8]) -> Vec<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(request, server).unwrap();
    let mut replies = Vec::new();
    let mut buf = [0u8; 2048];
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The first answer comes at once; then watch a little longer for any DATA.
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        replies.push(buf[..n].to_vec());
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    replies
}

#[test]
fn path_escapes_get_an_error_and_no_data() {
    let s = start();
    let rrq = |name: &[u8]| [&b"\x00\x01"[..], name, b"\x00octet\x00"].concat();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("../etc/passwd", rrq(b"../etc/passwd"), 2),
        ("/etc/passwd", rrq(b"/etc/passwd"), 2),
        ("..\\x", rrq(b"..\\x"), 2),
        ("..\\..\\etc\\passwd", rrq(b"..\\..\\etc\\passwd"), 2),
        ("C:/windows", rrq(b"C:/windows"), 2),
        ("symlink out", rrq(b"leak"), 2),
        ("a.cfg/../../x", rrq(b"a.cfg/../../x"), 2),
        ("NUL in name", rrq(b"a.cfg\x00../../etc/passwd"), 4),
        (
            "NUL then mode",
            b"\x00\x01../etc/passwd\x00\x00octet\x00".to_vec(),
            4,
        ),
        ("missing", rrq(b"nope"), 1),
    ];
    for (what, request, code) in cases {
        let replies = raw_request(s.addr, &request);
        assert_eq!(
            replies.len(),
            1,
            "{what}: one ERROR and nothing else: {replies:?}"
        );
        let r = &replies[0];
        assert_eq!(&r[..2], b"\x00\x05", "{what}: an ERROR");
        assert_eq!(u16::from_be_bytes([r[2], r[3]]), code, "{what}");
        assert!(!String::from_utf8_lossy(r).contains("root:"), "{what}");
    }
    // The real client, too.
    std::fs::create_dir(s.dir.path().join("out")).unwrap();
    let o = out_path(&s, "passwd");
    let out = tftp_hpa(&s, "../etc/passwd", &o, false);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Error code 2"));
    assert!(std::fs::read(&o).unwrap_or_default().is_empty());
    let o = out_path(&s, "passwd2");
    assert!(!curl(&s, "leak", &o, 1468).status.success());
    assert!(std::fs::read(&o).unwrap_or_default().is_empty());
    let stats = s.handle.stats();
    assert_eq!(stats.started, 0, "{stats:?}");
}

#[test]
fn tshark_decodes_a_transfer_without_malformed_items() {
    let s = start();
    std::fs::create_dir(s.dir.path().join("out")).unwrap();
    let decode_as = format!("udp.port=={},tftp", s.addr.port());
    let mut tshark = Command::new("tshark")
        .args([
            "-i",
            "lo",
            "-f",
            "udp and host 127.0.0.1",
            "-l",
            "-n",
            "-d",
            &decode_as,
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "tftp.opcode",
            "-e",
            "tftp.block",
            "-e",
            "tftp.error.message",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark must be installed (Debian package tshark)");
    // Wait until it captures.
    let stderr = BufReader::new(tshark.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("Capturing on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(WAIT).expect("tshark starts capturing");
    let stdout = BufReader::new(tshark.stdout.take().unwrap());
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    // Probe until tshark shows it is capturing and decoding (a marker on the server's port,
    // which the server drops), then the transfers, then an end marker.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + WAIT;
    'probe: loop {
        sock.send_to(b"\x00\x05\x00\x00probe\x00", s.addr).unwrap();
        while let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("probe") {
                break 'probe;
            }
        }
        assert!(Instant::now() < deadline, "tshark shows no probe");
    }
    let name = format!("SEP{MAC}.cnf.xml");
    assert!(
        curl(&s, &name, &out_path(&s, "c.xml"), 1468)
            .status
            .success()
    );
    assert!(
        tftp_hpa(&s, "a.cfg", &out_path(&s, "a.cfg"), false)
            .status
            .success()
    );
    let _ = raw_request(s.addr, b"\x00\x01nope\x00octet\x00");
    sock.send_to(b"\x00\x05\x00\x00end of test\x00", s.addr)
        .unwrap();
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines_rx
            .recv_timeout(left)
            .expect("tshark decodes the end marker");
        if line.contains("end of test") {
            break;
        }
        if !line.contains("probe") {
            lines.push(line);
        }
    }
    let _ = tshark.kill();
    let _ = tshark.wait();
    let tftp: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split('|').collect::<Vec<_>>())
        .filter(|f| !f[0].is_empty())
        .collect();
    eprintln!("{}", lines.join("\n"));
    let opcodes: Vec<&str> = tftp.iter().map(|f| f[0]).collect();
    for (op, what) in [
        ("1", "RRQ"),
        ("3", "DATA"),
        ("4", "ACK"),
        ("5", "ERROR"),
        ("6", "OACK"),
    ] {
        assert!(opcodes.contains(&op), "tshark saw no {what}: {opcodes:?}");
    }
    for f in &tftp {
        assert!(f[3].is_empty(), "malformed: {f:?}");
        // Expert severities: chat, note, warn (6291456), error (8388608). tshark flags every
        // ERROR packet with the warning "TFTP ERROR packet": that one says what it is, not
        // that it is ill-formed.
        let messages: Vec<&str> = f[5].split(',').collect();
        for (i, sev) in f[4].split(',').filter(|s| !s.is_empty()).enumerate() {
            let sev: u32 = sev.parse().unwrap_or(u32::MAX);
            let flagged_error = f[0] == "5" && messages.get(i) == Some(&"TFTP ERROR packet");
            assert!(sev < 6_291_456 || flagged_error, "expert item {f:?}");
        }
    }
}
