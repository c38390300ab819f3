//! Our HTTP provisioning server against `curl` on loopback: a generated `SEP<MAC>.cnf.xml`
//! with the right user in it (plain, per-device form, basic auth), firmware byte-exact, and
//! path-escape attempts refused with nothing from outside the firmware root.
//!
//! The server is the router as the appliance runs it (`provisioning::http::serve`). Needs the
//! Debian package curl; a missing tool fails the test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use provisioning::Mac;
use provisioning::files::Root;
use provisioning::http::{Fetch, HttpAuth, HttpState, serve};
use provisioning::templates::{Account, Device, Directory, Overrides, Provisioner, Site, Vendor};

const MAC: Mac = Mac([0x00, 0x1b, 0xd4, 0xab, 0xcd, 0xef]);

struct OnePhone;

impl Directory for OnePhone {
    fn device(&self, mac: Mac) -> Option<Device> {
        (mac == MAC).then(|| Device {
            mac,
            vendor: Vendor::Cisco,
            model: Some("CP-7965G".into()),
            user: Some(Account {
                username: "alice".into(),
                display: "Alice & Bob <sales>".into(),
                sip_username: "alice".into(),
                sip_secret: "Secr3t-alice".into(),
                number: Some("201".into()),
            }),
            http_secret: Some("phone-pw".into()),
        })
    }
}

struct Server {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    fetches: Arc<Mutex<Vec<Fetch>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn server(auth: Option<HttpAuth>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("firmware");
    std::fs::create_dir_all(fw.join("cisco")).unwrap();
    let image: Vec<u8> = (0..3_000_017u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    std::fs::write(fw.join("cisco/SIP75.9-4-2SR4-3S.loads"), &image).unwrap();
    std::fs::write(dir.path().join("outside.txt"), b"OUTSIDE THE ROOT").unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), fw.join("link")).unwrap();

    let site = Site {
        registrar: "127.0.0.1".into(),
        ntp: vec!["127.0.0.1".into()],
        timezone: "Europe/Paris".into(),
        ..Site::default()
    };
    let provisioner = Provisioner::new(site, Arc::new(OnePhone), Overrides::new()).unwrap();
    let fetches = Arc::new(Mutex::new(Vec::new()));
    let log = fetches.clone();
    let mut state = HttpState::fixed(provisioner);
    state.firmware = Some(Root::new(&fw).unwrap());
    state.auth = auth;
    state.on_fetch = Some(Arc::new(move |f| log.lock().unwrap().push(f)));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(serve(listener, Arc::new(state), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        dir,
        fetches,
        stop: Some(stop),
        _runtime: runtime,
    }
}

/// Runs curl; the HTTP status and the body written to `out`.
fn curl(args: &[&str], url: &str, out: &Path) -> u16 {
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--path-as-is",
        ])
        .args([
            "--output",
            out.to_str().unwrap(),
            "--write-out",
            "%{http_code}",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs (Debian package curl)");
    let code = String::from_utf8_lossy(&output.stdout);
    code.trim().parse().unwrap_or_else(|_| {
        panic!(
            "curl {url}: {code} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn curl_fetches_a_generated_config_with_the_right_user() {
    let s = server(None);
    let out = s.dir.path().join("got.xml");
    for path in [
        "SEP001BD4ABCDEF.cnf.xml",
        "sep001bd4abcdef.cnf.xml",
        "001bd4abcdef/SEP001BD4ABCDEF.cnf.xml",
    ] {
        let url = format!("http://{}/{path}", s.addr);
        assert_eq!(curl(&[], &url, &out), 200, "{path}");
        let body = std::fs::read_to_string(&out).unwrap();
        assert!(body.contains("<authName>alice</authName>"), "{body}");
        assert!(body.contains("<authPassword>Secr3t-alice</authPassword>"));
        assert!(body.contains("<displayName>Alice &amp; Bob &lt;sales&gt;</displayName>"));
        assert!(body.contains("<processNodeName>127.0.0.1</processNodeName>"));
    }
    let url = format!("http://{}/SEP001BD4000000.cnf.xml", s.addr);
    assert_eq!(curl(&[], &url, &out), 404);
    let log = s.fetches.lock().unwrap();
    assert_eq!(log.len(), 4);
    assert!(
        log[..3]
            .iter()
            .all(|f| f.mac == Some(MAC) && f.status == 200)
    );
    assert!(
        log.iter()
            .all(|f| f.peer.is_some_and(|p| p.ip().is_loopback()))
    );
}

#[test]
fn curl_needs_the_devices_password_when_auth_is_on() {
    let s = server(Some(HttpAuth::PerDevice));
    let out = s.dir.path().join("got.xml");
    let url = format!("http://{}/001bd4abcdef/SEP001BD4ABCDEF.cnf.xml", s.addr);
    assert_eq!(curl(&[], &url, &out), 401);
    assert!(!std::fs::read_to_string(&out).unwrap().contains("Secr3t"));
    assert_eq!(curl(&["--user", "001bd4abcdef:wrong"], &url, &out), 401);
    assert_eq!(curl(&["--user", "001BD4ABCDEF:phone-pw"], &url, &out), 200);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("Secr3t-alice")
    );
    // Firmware holds no secret.
    let fw = format!("http://{}/cisco/SIP75.9-4-2SR4-3S.loads", s.addr);
    assert_eq!(curl(&[], &fw, &out), 200);
}

#[test]
fn curl_downloads_firmware_byte_exact_and_cannot_leave_the_root() {
    let s = server(None);
    let out = s.dir.path().join("got.bin");
    let url = format!("http://{}/cisco/SIP75.9-4-2SR4-3S.loads", s.addr);
    assert_eq!(curl(&[], &url, &out), 200);
    let want = std::fs::read(s.dir.path().join("firmware/cisco/SIP75.9-4-2SR4-3S.loads")).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), want);

    for path in [
        "../outside.txt",
        "cisco/../../outside.txt",
        "%2e%2e/outside.txt",
        "..%2foutside.txt",
        "..%5coutside.txt",
        "link",
        "cisco",
        "%2F..%2Foutside.txt",
        "001bd4abcdef/../outside.txt",
    ] {
        let _ = std::fs::remove_file(&out);
        let url = format!("http://{}/{path}", s.addr);
        let code = curl(&[], &url, &out);
        assert!(matches!(code, 403 | 404), "{path}: {code}");
        let body = std::fs::read(&out).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&body).contains("OUTSIDE"),
            "{path}"
        );
    }
}
