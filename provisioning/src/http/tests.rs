use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::Request as HttpRequest;
use base64::Engine as _;
use tokio::io::AsyncReadExt as _;
use tower::ServiceExt as _;

use super::*;
use crate::templates::{Account, Device, Directory, Overrides, Site, Vendor};

const CISCO: Mac = Mac([0x00, 0x1b, 0xd4, 0x01, 0x02, 0x03]);
const YEALINK: Mac = Mac([0x80, 0x5e, 0xc0, 0x11, 0x22, 0x33]);
const NO_SECRET: Mac = Mac([0x00, 0x04, 0x13, 0x77, 0x88, 0x99]);

struct Devices(HashMap<Mac, Device>);

impl Directory for Devices {
    fn device(&self, mac: Mac) -> Option<Device> {
        self.0.get(&mac).cloned()
    }
}

fn account(name: &str) -> Account {
    Account {
        username: name.into(),
        display: format!("{name} & co"),
        sip_username: format!("{name}-sip"),
        sip_secret: format!("{name}-secret"),
        number: None,
    }
}

fn provisioner() -> Provisioner {
    let devices = [
        (CISCO, Vendor::Cisco, "alice", Some("cisco-pw")),
        (YEALINK, Vendor::Yealink, "bob", Some("yealink-pw")),
        (NO_SECRET, Vendor::Snom, "carol", None),
    ]
    .map(|(mac, vendor, user, secret)| {
        let d = Device {
            mac,
            vendor,
            model: None,
            user: Some(account(user)),
            http_secret: secret.map(Into::into),
        };
        (mac, d)
    });
    let site = Site {
        registrar: "10.99.0.1".into(),
        provisioning_url: Some("http://10.99.0.1:8088".into()),
        ..Site::default()
    };
    let dir = Devices(devices.into_iter().collect());
    Provisioner::new(site, Arc::new(dir), Overrides::new()).unwrap()
}

struct Fixture {
    state: Arc<HttpState>,
    fetches: Arc<Mutex<Vec<Fetch>>>,
    _dir: tempfile::TempDir,
    firmware: Vec<u8>,
}

fn fixture(auth: Option<HttpAuth>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fw");
    std::fs::create_dir_all(root.join("yealink")).unwrap();
    // Not a multiple of the chunk size, and bytes that are not text.
    let firmware: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("yealink/T46-28.83.0.50.rom"), &firmware).unwrap();
    std::fs::write(root.join("sip.ld"), b"polycom app").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"outside").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak")).unwrap();
    let fetches = Arc::new(Mutex::new(Vec::new()));
    let log = fetches.clone();
    let mut state = HttpState::fixed(provisioner());
    state.firmware = Some(files::Root::new(&root).unwrap());
    state.auth = auth;
    state.on_fetch = Some(Arc::new(move |f| log.lock().unwrap().push(f)));
    Fixture {
        state: Arc::new(state),
        fetches,
        _dir: dir,
        firmware,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

async fn send(f: &Fixture, method: &str, uri: &str, auth: Option<(&str, &str)>) -> Reply {
    let mut req = HttpRequest::builder().method(method).uri(uri);
    if let Some((u, p)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header(header::AUTHORIZATION, format!("Basic {token}"));
    }
    let response = router(f.state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(f: &Fixture, uri: &str) -> Reply {
    send(f, "GET", uri, None).await
}

#[tokio::test]
async fn generated_files_without_auth() {
    let f = fixture(None);
    let r = get(&f, "/SEP001BD4010203.cnf.xml").await;
    assert_eq!(r.status, StatusCode::OK);
    let first_len = r.body.len() as u64;
    assert!(
        r.text()
            .contains("<authPassword>alice-secret</authPassword>")
    );
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/xml");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        r.headers[header::CONTENT_LENGTH],
        r.body.len().to_string().as_str()
    );
    // The last segment of a deeper path, and the per-device form with any MAC spelling.
    for uri in [
        "/cisco/sep001bd4010203.cnf.xml",
        "/001bd4010203/SEP001BD4010203.cnf.xml",
        "/00-1B-D4-01-02-03/SEP001BD4010203.cnf.xml",
        "/00:1b:d4:01:02:03/SEP001BD4010203.cnf.xml",
    ] {
        let r = get(&f, uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert!(r.text().contains("alice-sip"), "{uri}");
    }
    // Shared files under a device's path.
    let r = get(&f, "/805ec0112233/y000000000028.cfg").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().starts_with("#!version:1.0.0.1"));
    let log = f.fetches.lock().unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].mac, Some(CISCO));
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].bytes, first_len);
    assert_eq!(log[5].mac, Some(YEALINK));
    assert_eq!(log[5].path, "/805ec0112233/y000000000028.cfg");
}

#[tokio::test]
async fn another_devices_file_or_an_unknown_one_is_not_found() {
    let f = fixture(None);
    for uri in [
        // Cisco's file under Yealink's MAC.
        "/805ec0112233/SEP001BD4010203.cnf.xml",
        "/SEP001BD40F0F0F.cnf.xml",
        // A Cisco MAC asked for as a Yealink file.
        "/001bd4010203.cfg",
        "/",
        "/805ec0112233/",
        "/nothing-here.bin",
    ] {
        assert_eq!(get(&f, uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(f.state.stats.counts().not_found, 6);
}

#[tokio::test]
async fn shared_auth() {
    let f = fixture(Some(HttpAuth::Shared {
        user: "phones".into(),
        password: "pa:ss".into(),
    }));
    let uri = "/SEP001BD4010203.cnf.xml";
    let r = get(&f, uri).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"offhook provisioning\"")
    );
    assert!(!r.text().contains("secret"));
    for wrong in [("phones", "pa:s"), ("phone", "pa:ss"), ("phones", "pa:ss ")] {
        let r = send(&f, "GET", uri, Some(wrong)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    }
    let r = send(&f, "GET", uri, Some(("phones", "pa:ss"))).await;
    assert_eq!(r.status, StatusCode::OK);
    // An unknown device's file is 401 too: nothing said about who exists.
    assert_eq!(
        get(&f, "/SEP001BD40F0F0F.cnf.xml").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Shared files and firmware hold no secret.
    assert_eq!(get(&f, "/y000000000028.cfg").await.status, StatusCode::OK);
    assert_eq!(get(&f, "/sip.ld").await.status, StatusCode::OK);
    assert_eq!(f.state.stats.counts().unauthorized, 5);
}

#[tokio::test]
async fn per_device_auth() {
    let f = fixture(Some(HttpAuth::PerDevice));
    let uri = "/001bd4010203/SEP001BD4010203.cnf.xml";
    assert_eq!(get(&f, uri).await.status, StatusCode::UNAUTHORIZED);
    // Not with colons: a basic-auth user name ends at the first one (RFC 7617 §2).
    for user in ["001bd4010203", "00-1B-D4-01-02-03", "001b.d401.0203"] {
        let r = send(&f, "GET", uri, Some((user, "cisco-pw"))).await;
        assert_eq!(r.status, StatusCode::OK, "{user}");
    }
    // Another device's credentials, or the right user with another's password.
    let r = send(&f, "GET", uri, Some(("805ec0112233", "yealink-pw"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&f, "GET", uri, Some(("001bd4010203", "yealink-pw"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A device without a secret cannot fetch its files at all.
    let r = send(&f, "GET", "/000413778899.xml", Some(("000413778899", ""))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn firmware_is_byte_exact_and_head_has_no_body() {
    let f = fixture(None);
    let uri = "/yealink/T46-28.83.0.50.rom";
    let r = get(&f, uri).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, f.firmware);
    assert_eq!(r.headers[header::CONTENT_LENGTH], "300001");
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/octet-stream");
    // Under a device's path too (phones fetch firmware relative to their URL).
    let r = get(&f, "/805ec0112233/yealink/T46-28.83.0.50.rom").await;
    assert_eq!(r.body, f.firmware);

    let r = send(&f, "HEAD", uri, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_LENGTH], "300001");
    assert!(r.body.is_empty());
    let r = send(&f, "HEAD", "/SEP001BD4010203.cnf.xml", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_ne!(r.headers[header::CONTENT_LENGTH], "0");

    let log = f.fetches.lock().unwrap();
    assert_eq!(log[0].bytes, 300_001);
    assert_eq!(log[2].bytes, 0, "HEAD");
    assert_eq!(log[1].mac, Some(YEALINK));
}

#[tokio::test]
async fn escapes_are_refused() {
    let f = fixture(None);
    for uri in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/yealink/..%2f..%2fsecret.txt",
        "/yealink/%2E%2E/%2E%2E/secret.txt",
        "/leak",
        "/sip.ld%00.cfg",
        "/..%5csecret.txt",
        "/%2fetc%2fpasswd",
        "/805ec0112233/../secret.txt",
        "/yealink",
    ] {
        let r = get(&f, uri).await;
        assert!(
            matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{uri}: {}",
            r.status
        );
        assert!(!r.text().contains("outside"), "{uri}");
    }
    assert!(f.state.stats.counts().forbidden >= 8);
    assert_eq!(
        get(&f, "/bad%zzescape").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(get(&f, "/bad%ff").await.status, StatusCode::BAD_REQUEST);
    let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(get(&f, &long).await.status, StatusCode::URI_TOO_LONG);
    let r = send(&f, "POST", "/sip.ld", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let log = f.fetches.lock().unwrap();
    assert_eq!(log.len(), 14, "every request is logged");
    assert!(log.iter().all(|l| l.bytes == 0));
}

#[tokio::test]
async fn without_a_firmware_root_only_generated_files() {
    let state = Arc::new(HttpState::fixed(provisioner()));
    let f = Fixture {
        state,
        fetches: Arc::default(),
        _dir: tempfile::tempdir().unwrap(),
        firmware: Vec::new(),
    };
    assert_eq!(get(&f, "/sip.ld").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f, "/000000000000.cfg").await.status, StatusCode::OK);
}

#[tokio::test]
async fn over_loopback_with_peer_addresses() {
    let f = fixture(None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, f.state.clone(), async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /SEP001BD4010203.cnf.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.contains("alice-secret"));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let log = f.fetches.lock().unwrap();
    assert_eq!(log[0].peer.map(|p| p.ip()), Some(addr.ip()));
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
    assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/é"));
    assert_eq!(percent_decode("/%+f"), None);
    assert_eq!(percent_decode("/%4"), None);
    assert_eq!(percent_decode("/%"), None);
}

#[test]
fn credentials() {
    let mut h = HeaderMap::new();
    assert_eq!(basic_credentials(&h), None);
    h.insert(header::AUTHORIZATION, "Basic dXNlcjpwOnc=".parse().unwrap());
    assert_eq!(basic_credentials(&h), Some(("user".into(), "p:w".into())));
    h.insert(
        header::AUTHORIZATION,
        "Bearer dXNlcjpwOnc=".parse().unwrap(),
    );
    assert_eq!(basic_credentials(&h), None);
    h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
    assert_eq!(basic_credentials(&h), None);
    assert!(
        !format!(
            "{:?}",
            HttpAuth::Shared {
                user: "u".into(),
                password: "pw".into()
            }
        )
        .contains("pw")
    );
}
