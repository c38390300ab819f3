//! The media engine's threads run `SCHED_FIFO` at `media.realtime_priority` (10 by default),
//! its blocking threads and the rest of the appliance at the normal policy; `0` keeps every
//! thread normal; and an appliance not allowed real-time scheduling says so once and serves.
//!
//! Read from `/proc/PID/task/TID/stat` (fields 40 `rt_priority` and 41 `policy`, proc(5)). The
//! tests run as root, with `CAP_SYS_NICE`; the refused case drops it with util-linux's `setpriv`.

use offhook_tests::{Server, media_table, rtp_ports, wait_for};

/// `[media]` with `keys` added.
fn media(keys: &str) -> String {
    format!("{}{keys}", media_table(&rtp_ports()))
}

/// `SCHED_FIFO` and `SCHED_RR`, the real-time policies (sched(7)); the others are
/// `SCHED_OTHER` 0, `SCHED_BATCH` 3 (the transcoders) and `SCHED_IDLE` 5.
const FIFO: u32 = 1;
const RR: u32 = 2;

fn real_time(t: &Thread) -> bool {
    t.policy == FIFO || t.policy == RR
}

/// One thread of the server: its name, policy and real-time priority.
#[derive(Debug)]
struct Thread {
    name: String,
    policy: u32,
    rt_priority: u32,
}

fn threads(pid: u32) -> Vec<Thread> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    dir.filter_map(|e| {
        let stat = std::fs::read_to_string(e.ok()?.path().join("stat")).ok()?;
        // "TID (NAME) S ...": the name may hold spaces and parentheses, the fields follow the
        // last ')'; the state is field 3.
        let (head, tail) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse().ok();
        Some(Thread {
            name,
            rt_priority: field(40)?,
            policy: field(41)?,
        })
    })
    .collect()
}

/// The server's threads once the media engine's workers (one per core) and its loop are up,
/// and, with `fifo`, once every one of them is in `SCHED_FIFO` at that priority: a thread is
/// named as it starts and takes its policy a moment later.
fn engine_started(server: &Server, fifo: Option<u32>) -> Vec<Thread> {
    let pid = server.pid().expect("running");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    wait_for("the media engine's workers and loop", || {
        let t = threads(pid);
        let media: Vec<_> = t.iter().filter(|t| is_media(t)).collect();
        let settled =
            fifo.is_none_or(|p| media.iter().all(|t| (t.policy, t.rt_priority) == (FIFO, p)));
        (media.len() == cores + 1 && settled).then_some(t)
    })
}

fn is_media(t: &Thread) -> bool {
    t.name == "media" || t.name == "media-engine"
}

#[test]
fn media_workers_run_sched_fifo_and_nothing_else_does() {
    let server = Server::start("");
    let all = engine_started(&server, Some(10));
    let (media, rest): (Vec<_>, Vec<_>) = all.iter().partition(|t| is_media(t));
    // One worker per core, and the engine's own loop.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!(media.len(), cores + 1, "{all:?}");
    for t in &media {
        assert_eq!((t.policy, t.rt_priority), (FIFO, 10), "{t:?}");
    }
    // The blocking pool (`media-io`), HTTP, the database, the transcoders: not real-time.
    assert!(rest.iter().any(|t| t.name == "transcode-0"), "{all:?}");
    for t in &rest {
        assert!(!real_time(t), "{t:?}");
    }
    assert!(!server.log_text().contains("SCHED_FIFO refused"));
}

#[test]
fn realtime_priority_is_a_setting() {
    let server = Server::start_with_media(&media("realtime_priority = 20"), Vec::new(), "");
    let all = engine_started(&server, Some(20));
    let workers: Vec<_> = all.iter().filter(|t| t.name == "media").collect();
    assert!(!workers.is_empty());
    for t in workers {
        assert_eq!((t.policy, t.rt_priority), (FIFO, 20), "{t:?}");
    }
}

#[test]
fn zero_keeps_the_normal_policy() {
    let server = Server::start_with_media(&media("realtime_priority = 0"), Vec::new(), "");
    let all = engine_started(&server, None);
    for t in &all {
        assert!(!real_time(t), "{t:?}");
    }
}

#[test]
fn refused_real_time_is_said_once_and_the_appliance_serves() {
    // No CAP_SYS_NICE, and an RLIMIT_RTPRIO of 0 (what a shell has unless a service manager
    // raises it, as the Debian unit's LimitRTPRIO=50 does).
    let launcher = [
        "prlimit",
        "--rtprio=0:0",
        "setpriv",
        "--bounding-set=-sys_nice",
    ];
    let launcher = launcher.map(String::from);
    let server = Server::start_with_media(&media(""), launcher.to_vec(), "");
    // Every worker has tried (and been refused) once the warning is out.
    wait_for("the refusal", || {
        server
            .log_text()
            .contains("SCHED_FIFO refused")
            .then_some(())
    });
    let all = engine_started(&server, None);
    for t in &all {
        assert!(!real_time(t), "{t:?}");
    }
    let log = server.log_text();
    assert_eq!(
        log.matches("SCHED_FIFO refused").count(),
        1,
        "one warning for all the workers: {log}"
    );
    assert!(log.contains("LimitRTPRIO=10"), "{log}");
    server.add_user("alice");
    assert!(server.health(None).is_some());
}
