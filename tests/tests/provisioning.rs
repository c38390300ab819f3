//! LAN provisioning end to end: `offhook serve` with `[dhcp]`, `[tftp]` and `[provisioning]`
//! inside a network namespace the test creates (`srv`, 10.99.0.1/24 on `s0`), a phone's side in
//! another (`cli`, `c0`, with a Cisco MAC), joined by a veth pair. A real DHCP client (busybox
//! `udhcpc`) gets an address and the TFTP server's name; the appliance lists the phone it has
//! seen; once an admin gives it a user, `tftp` (tftp-hpa), `curl tftp://` and `curl http://`
//! fetch `SEP<MAC>.cnf.xml` with that user's SIP credentials in it; escapes are refused; after a
//! restart the phone keeps its address and another MAC does not get it.
//!
//! Needs root, iproute2, udhcpc, tftp-hpa's client and curl (Debian packages iproute2, udhcpc,
//! tftp-hpa, curl); a missing one fails the test.

// Real processes over real sockets: bounded waits need the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use offhook_tests::netns::{Netns, veth_pair};
use offhook_tests::{offhook_bin, wait_for};
use serde_json::Value;

const PHONE: &str = "00:1b:d4:aa:bb:01";
const FILE: &str = "SEP001BD4AABB01.cnf.xml";
const OTHER: &str = "02:00:5e:00:00:02";

struct Lan {
    scheme: &'static str,
    srv: Netns,
    cli: Netns,
    dir: tempfile::TempDir,
    server: Option<Child>,
}

impl Lan {
    fn new(tag: &str) -> Self {
        Self::with(tag, "")
    }

    /// A LAN whose server has `extra` at the end of its `[provisioning]` table.
    fn with(tag: &str, extra: &str) -> Self {
        let srv = Netns::new(&format!("{tag}s"));
        let cli = Netns::new(&format!("{tag}c"));
        veth_pair(&srv, "s0", &cli, "c0");
        srv.addr("s0", "10.99.0.1/24");
        cli.set_mac("c0", PHONE);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("offhook.toml"),
            format!(
                r#"
[http]
listen = "127.0.0.1:8080"
[dhcp]
interface = "s0"
range = "10.99.0.100-10.99.0.199"
router = "10.99.0.1"
ntp = "10.99.0.1"
lease = "10m"
[tftp]
enabled = true
[provisioning]
http_listen = "10.99.0.1:8088"
timezone = "Europe/Paris"
{extra}
"#
            ),
        )
        .expect("config");
        std::fs::create_dir(dir.path().join("outside")).expect("mkdir");
        std::fs::write(dir.path().join("outside/secret.txt"), "not for phones").expect("write");
        Self {
            scheme: if extra.contains("tls = true") {
                "https"
            } else {
                "http"
            },
            srv,
            cli,
            dir,
            server: None,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `offhook ARGS` on the data dir (it works whether or not the server runs).
    fn offhook(&self, args: &[&str]) -> Output {
        Command::new(offhook_bin())
            .args(args)
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("offhook.toml"))
            .env("OFFHOOK_PASSWORD", "correct horse")
            .output()
            .expect("run offhook")
    }

    fn offhook_ok(&self, args: &[&str]) -> String {
        let out = self.offhook(args);
        assert!(
            out.status.success(),
            "offhook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log");
        let child = self
            .srv
            .exec(offhook_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("offhook.toml"))
            .env("OFFHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn offhook serve in the namespace");
        self.server = Some(child);
        // Up once the HTTP provisioning server answers (it starts last, with the LAN).
        let deadline = std::time::Instant::now() + offhook_tests::DEADLINE;
        loop {
            if let Some(Ok(Some(status))) = self.server.as_mut().map(Child::try_wait) {
                panic!("server exited early ({status}): {}", self.log());
            }
            let out = self
                .srv
                .exec("curl")
                .args([
                    "-s",
                    "-k",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "2",
                ])
                .arg(format!("{}://10.99.0.1:8088/nothing", self.scheme))
                .output()
                .expect("curl is installed");
            if String::from_utf8_lossy(&out.stdout) == "404" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the provisioning server did not answer: {}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let status = wait_for("the server to stop", || child.try_wait().expect("wait"));
            assert!(
                status.success(),
                "serve exited with {status}: {}",
                self.log()
            );
        }
    }

    /// Runs udhcpc once on `c0` (its address flushed first); the variables its script saw.
    fn lease(&self) -> HashMap<String, String> {
        self.cli.flush("c0");
        let script = self.dir.path().join("udhcpc.sh");
        let env = self.dir.path().join("udhcpc.env");
        let _ = std::fs::remove_file(&env);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$1\" in bound|renew)\nip addr add \"$ip/$mask\" dev \"$interface\"\nenv > {e}.tmp && mv {e}.tmp {e} ;;\nesac\n",
                e = env.display()
            ),
        )
        .expect("script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let status = self
            .cli
            .exec("udhcpc")
            .args([
                "-i", "c0", "-f", "-n", "-q", "-t", "10", "-T", "1", "-O", "66", "-O", "150", "-s",
            ])
            .arg(&script)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("udhcpc (Debian package udhcpc) is installed");
        assert!(status.success(), "udhcpc got no lease: {}", self.log());
        std::fs::read_to_string(&env)
            .expect("the script ran")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Fetches `name` with tftp-hpa's client from the client namespace: its bytes, or `None`
    /// when the server refused.
    fn tftp(&self, name: &str) -> Option<Vec<u8>> {
        let out = self.dir.path().join("fetched");
        let _ = std::fs::remove_file(&out);
        let cmd = format!("get {name} {}", out.display());
        let run = self
            .cli
            .exec("tftp")
            .args(["10.99.0.1", "-m", "binary", "-c"])
            .args(cmd.split(' '))
            .output()
            .expect("tftp (Debian package tftp-hpa) is installed");
        let said = String::from_utf8_lossy(&run.stdout).into_owned()
            + &String::from_utf8_lossy(&run.stderr);
        if said.contains("Error code") {
            return None;
        }
        std::fs::read(&out).ok()
    }

    fn curl(&self, args: &[&str]) -> (String, Vec<u8>) {
        let body = self.dir.path().join("curl.out");
        let _ = std::fs::remove_file(&body);
        let out = self
            .cli
            .exec("curl")
            .args(["-sS", "--max-time", "10", "-w", "%{http_code}", "-o"])
            .arg(&body)
            .args(args)
            .output()
            .expect("curl is installed");
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        if status == "000" {
            eprintln!("curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        (status, std::fs::read(&body).unwrap_or_default())
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn in_pool(ip: &str) -> Ipv4Addr {
    let ip: Ipv4Addr = ip.parse().expect("an address");
    assert!(
        (Ipv4Addr::new(10, 99, 0, 100)..=Ipv4Addr::new(10, 99, 0, 199)).contains(&ip),
        "{ip} is outside the pool"
    );
    ip
}

fn devices(lan: &Lan) -> Vec<Value> {
    serde_json::from_str(&lan.offhook_ok(&["device", "list", "--json"])).expect("json")
}

fn has_credentials(body: &[u8], sip_username: &str, sip_secret: &str) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains(sip_username) && text.contains(sip_secret)
}

#[test]
fn a_phone_gets_its_address_and_its_users_configuration_and_keeps_them() {
    let mut lan = Lan::new("prov");
    lan.offhook_ok(&["user", "add", "alice", "--display", "Alice & Bob <A>"]);
    let alice: Value =
        serde_json::from_str(&lan.offhook_ok(&["user", "show", "alice", "--json"])).expect("json");
    let (sip_user, sip_secret) = (
        alice["sip_username"]
            .as_str()
            .expect("sip_username")
            .to_owned(),
        alice["sip_secret"].as_str().expect("sip_secret").to_owned(),
    );
    lan.start();

    // DHCP: an address from the pool, the router, and where the TFTP server is (option 66).
    let env = lan.lease();
    let ip = in_pool(&env["ip"]);
    assert_eq!(env.get("router").map(String::as_str), Some("10.99.0.1"));
    assert_eq!(env.get("serverid").map(String::as_str), Some("10.99.0.1"));
    assert_eq!(
        env.get("tftp").map(String::as_str),
        Some("10.99.0.1"),
        "{env:?}"
    );

    // The appliance lists the phone it saw, with no user, its vendor guessed from the MAC.
    let seen = wait_for("the phone to be listed", || {
        devices(&lan).into_iter().find(|d| d["mac"] == PHONE)
    });
    assert_eq!(seen["user"], Value::Null);
    assert_eq!(seen["vendor"], "cisco", "{seen}");
    assert_eq!(seen["last_ip"], ip.to_string());

    // Not assigned: its file registers no line (no one's credentials in it).
    let unassigned = lan
        .tftp(FILE)
        .expect("an unassigned phone still gets a file");
    assert!(!has_credentials(&unassigned, &sip_user, &sip_secret));

    // Assigned (any MAC spelling), the three ways of fetching give alice's credentials.
    lan.offhook_ok(&[
        "device",
        "set",
        "001BD4-AABB01",
        "--user",
        "alice",
        "--vendor",
        "cisco",
    ]);
    let by_tftp = lan.tftp(FILE).expect("tftp get");
    assert!(has_credentials(&by_tftp, &sip_user, &sip_secret));
    let text = String::from_utf8_lossy(&by_tftp).into_owned();
    assert!(
        text.contains("Alice &amp; Bob &lt;A&gt;"),
        "escaped display name: {text}"
    );
    let (status, by_curl) = lan.curl(&[
        "--tftp-blksize",
        "1468",
        &format!("tftp://10.99.0.1/{FILE}"),
    ]);
    assert_eq!(by_curl, by_tftp, "curl tftp:// (status {status})");
    let (status, by_http) = lan.curl(&[&format!("http://10.99.0.1:8088/{FILE}")]);
    assert_eq!(status, "200");
    assert_eq!(by_http, by_tftp);
    // Case- and separator-insensitive names.
    let lower = FILE.replace("001BD4AABB01", "001bd4aabb01");
    assert_eq!(lan.tftp(&lower).as_deref(), Some(&by_tftp[..]));

    // A phone the appliance does not know gets nothing, and nothing outside the roots is served.
    assert_eq!(lan.tftp("SEP001BD4000000.cnf.xml"), None);
    for name in [
        "../offhook.toml",
        "/etc/passwd",
        "../outside/secret.txt",
        "..\\offhook.toml",
    ] {
        assert_eq!(lan.tftp(name), None, "{name}");
    }
    let (status, _) = lan.curl(&["--path-as-is", "http://10.99.0.1:8088/../offhook.toml"]);
    assert_ne!(status, "200");
    let (status, _) = lan.curl(&["http://10.99.0.1:8088/%2e%2e%2foffhook.toml"]);
    assert_ne!(status, "200");

    // The lease is in the database before the phone got it.
    let leases: Vec<Value> =
        serde_json::from_str(&lan.offhook_ok(&["device", "leases", "--json"])).expect("json");
    assert!(
        leases
            .iter()
            .any(|l| l["mac"] == PHONE && l["ip"] == ip.to_string() && l["state"] == "bound"),
        "{leases:?}"
    );

    // After a restart the phone keeps its address, and another MAC is given another one.
    lan.stop();
    lan.start();
    assert_eq!(in_pool(&lan.lease()["ip"]), ip);
    lan.cli.set_mac("c0", OTHER);
    let other = in_pool(&lan.lease()["ip"]);
    assert_ne!(other, ip, "a held address went to another MAC");
    lan.stop();

    // Nothing the server logged is a panic.
    assert!(!lan.log().contains("panicked"), "{}", lan.log());
}

#[test]
fn over_https_each_phone_fetches_its_own_file_with_its_own_password() {
    let mut lan = Lan::with("provtls", "tls = true\nauth = \"device\"");
    lan.offhook_ok(&["user", "add", "bob"]);
    let bob: Value =
        serde_json::from_str(&lan.offhook_ok(&["user", "show", "bob", "--json"])).expect("json");
    let sip_secret = bob["sip_secret"].as_str().expect("sip_secret").to_owned();
    lan.offhook_ok(&["device", "add", PHONE, "--vendor", "cisco", "--user", "bob"]);
    lan.offhook_ok(&["device", "add", OTHER, "--vendor", "polycom"]);
    let show = |mac: &str| -> String {
        let v: Value = serde_json::from_str(&lan.offhook_ok(&["device", "show", mac, "--json"]))
            .expect("json");
        v["http_secret"].as_str().expect("http_secret").to_owned()
    };
    let (mine, other) = (show(PHONE), show(OTHER));
    lan.start();
    // The phone needs an address to reach the server.
    lan.lease();
    let url = format!("https://10.99.0.1:8088/{FILE}");
    let (status, _) = lan.curl(&["-k", &url]);
    assert_eq!(status, "401", "no credentials");
    let (status, _) = lan.curl(&["-k", "-u", &format!("001bd4aabb01:{other}"), &url]);
    assert_eq!(status, "401", "another phone's password");
    let (status, _) = lan.curl(&["-k", "-u", &format!("0200-5e00-0002:{other}"), &url]);
    assert_ne!(
        status, "200",
        "another phone's own credentials do not open this phone's file"
    );
    let (status, body) = lan.curl(&["-k", "-u", &format!("001bd4aabb01:{mine}"), &url]);
    assert_eq!(status, "200");
    assert!(String::from_utf8_lossy(&body).contains(&sip_secret));
    // Plain HTTP is not spoken there.
    let (status, _) = lan.curl(&[&format!("http://10.99.0.1:8088/{FILE}")]);
    assert_ne!(status, "200");
    lan.stop();
}
