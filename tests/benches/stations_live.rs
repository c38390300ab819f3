//! Phone lines given out while the appliance runs (issue 14), through the whole appliance: the
//! real `offhook serve` and `offhook gateway-sim --protocol mgcp` with `LINES` lines on
//! loopback, none of them anyone's at start.
//!
//! An admin gives each of `LINES` users a line, one `PUT /api/v1/users/{name}/stations` after
//! another, as a console would. Printed:
//! - the `PUT`'s answer time (it stores the change; the stations subsystem takes it after);
//! - from each `PUT` answered to its line listed `idle` in the admin's `/api/v1/health`: the
//!   stations subsystem reads the change, the call agent audits (`AUEP`) and arms (`RQNT`) the
//!   line, the station manager hears its hook state, and the list reaches the health document
//!   (refreshed once a second, so up to a second of this is the refresh);
//! - with every line given: the admin's health document (size, answer time), the server's
//!   resident memory, and its CPU while idle for `IDLE` seconds (the once-a-second line list and
//!   the five-second re-read of the stations included);
//! - then every line taken away at once: until none is listed.
//!
//! `cargo build --release --bins && LINES=500 IDLE=10 cargo bench -p offhook-tests --bench stations_live`
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::GatewaySim;
use offhook_tests::{PASSWORD, Server, env_or, http, wait_within};
use serde_json::{Value, json};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of `v` (sorted here).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// The lines an admin's health document lists, with their states.
fn lines(url: &str, token: &str) -> Vec<(String, String)> {
    let h = offhook_tests::health_at(url, Some(token)).unwrap_or(Value::Null);
    h["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["line"].as_str().unwrap_or("").to_owned(),
                        l["state"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The server's CPU time (user + system) and resident memory, from `/proc`.
fn usage(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name's closing parenthesis; utime and stime are the 12th and
    // 13th of those (fields 14 and 15 of the line).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // CLK_TCK is 100 on Linux.
    (Duration::from_millis(ticks * 10), rss_kb)
}

fn main() {
    let n: usize = env_or("LINES", 200);
    let idle: u64 = env_or("IDLE", 10);
    let agent: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let gateway: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let server = Server::start(&format!(
        "[mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{gateway}\"\n"
    ));
    server.add_admin("root");
    for i in 1..=n {
        let out = server.offhook(
            &["user", "add", &format!("u{i}"), "--password-stdin"],
            Some(PASSWORD),
        );
        assert!(out.status.success());
    }
    let mut sim = GatewaySim::start(
        agent,
        gateway,
        u16::try_from(n).expect("at most 65535 lines"),
    );
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_within("the gateway up", Duration::from_secs(30), || {
        server.gateway_up("gw1").filter(|up| *up)
    });
    let root = server.login("root");
    let pid = server.pid().expect("the server's pid");

    // Every line given, one request after another; each line's time to idle is read from the
    // health document, polled meanwhile on another thread.
    let given: std::sync::Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        std::sync::Arc::new(std::sync::Mutex::new(vec![None; n]));
    let idle_at: std::sync::Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        std::sync::Arc::new(std::sync::Mutex::new(vec![None; n]));
    let poller = {
        let (url, root, idle_at) = (server.url.clone(), root.clone(), idle_at.clone());
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(120);
            while Instant::now() < end {
                let now = Instant::now();
                let mut seen = idle_at.lock().unwrap();
                for (line, state) in lines(&url, &root) {
                    let i: usize = line
                        .rsplit('/')
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0);
                    if state == "idle" && (1..=seen.len()).contains(&i) && seen[i - 1].is_none() {
                        seen[i - 1] = Some(now);
                    }
                }
                if seen.iter().all(Option::is_some) {
                    return;
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let mut put = Vec::with_capacity(n);
    for i in 1..=n {
        let t = Instant::now();
        let r = http()
            .put(format!("{}/api/v1/users/u{i}/stations", server.url))
            .bearer_auth(&root)
            .json(&json!({ "stations": [format!("gw1/aaln/{i}")] }))
            .send()
            .expect("PUT stations");
        assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
        let done = Instant::now();
        put.push(ms(done - t));
        given.lock().unwrap()[i - 1] = Some(done);
    }
    let all_given = started.elapsed();
    poller.join().expect("poller");
    let all_idle = started.elapsed();
    let (given, idle_at) = (
        given.lock().unwrap().clone(),
        idle_at.lock().unwrap().clone(),
    );
    let mut to_idle: Vec<f64> = given
        .iter()
        .zip(&idle_at)
        .filter_map(|(g, i)| Some(ms(i.as_ref()?.saturating_duration_since(*g.as_ref()?))))
        .collect();
    assert_eq!(to_idle.len(), n, "every line went idle");

    // With every line given: the health document, memory, idle CPU.
    let mut health_ms = Vec::new();
    let mut health_bytes = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let body = http()
            .get(format!("{}/api/v1/health", server.url))
            .bearer_auth(&root)
            .send()
            .and_then(reqwest::blocking::Response::bytes)
            .expect("health");
        health_ms.push(ms(t.elapsed()));
        health_bytes = body.len();
    }
    let (cpu0, _) = usage(pid);
    std::thread::sleep(Duration::from_secs(idle));
    let (cpu1, rss_kb) = usage(pid);
    let idle_cpu = (cpu1 - cpu0).as_secs_f64() / idle as f64 * 100.0;

    // Every line taken away at once (one request each, as fast as they go).
    let t = Instant::now();
    for i in 1..=n {
        let r = http()
            .put(format!("{}/api/v1/users/u{i}/stations", server.url))
            .bearer_auth(&root)
            .json(&json!({ "stations": [] }))
            .send()
            .expect("PUT stations");
        assert_eq!(r.status().as_u16(), 200);
    }
    wait_within("every line let go", Duration::from_secs(60), || {
        lines(&server.url, &root).is_empty().then_some(())
    });
    let all_gone = t.elapsed();
    let removed = server.metric(r#"offhook_mgcp_total{kind="lines_removed"}"#);
    sim.quit();

    println!("stations_live: {n} lines given one PUT after another, then taken away");
    println!(
        "  PUT answered     p50 {:.1} ms  p99 {:.1} ms",
        quantile(&mut put.clone(), 0.5),
        quantile(&mut put, 0.99)
    );
    println!(
        "  PUT → idle       p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms  (health refreshed each second)",
        quantile(&mut to_idle.clone(), 0.5),
        quantile(&mut to_idle.clone(), 0.99),
        quantile(&mut to_idle, 1.0)
    );
    println!(
        "  all given in {:.2} s; all idle after {:.2} s",
        all_given.as_secs_f64(),
        all_idle.as_secs_f64()
    );
    println!(
        "  admin health     {health_bytes} bytes, p50 {:.1} ms",
        quantile(&mut health_ms, 0.5)
    );
    println!("  server RSS       {} kB with {n} lines", rss_kb);
    println!("  idle CPU         {idle_cpu:.2} % of one core over {idle} s");
    println!(
        "  all taken away   listed none after {:.2} s; lines_removed {removed}",
        all_gone.as_secs_f64()
    );
}
