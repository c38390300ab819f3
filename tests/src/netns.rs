//! Network namespaces for the tests that need a LAN of their own (the provisioning servers and
//! the real DHCP/TFTP clients): `ip netns`, veth pairs and addresses that exist only inside
//! namespaces the test created, so nothing it sends can reach a real network.
//!
//! A [`Netns`] is named `oh-<tag>-<pid>-<n>`, brings its loopback up, and on drop kills every
//! process still inside it and deletes it (with its veth ends). Namespaces left by a test
//! process that died without dropping them (SIGKILL, abort) are deleted by the next
//! [`Netns::new`], which checks that their process is gone.
//!
//! Needs root and iproute2's `ip` (as the end-to-end tests run); a missing `ip` fails the test.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

const PREFIX: &str = "oh-";

/// A network namespace this test created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `oh-<tag>-<pid>-<n>` with its loopback up. `tag` names the test (keep it short:
    /// letters, digits, `-`).
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (for `ip netns exec NAME`, `ip -n NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace (`ip netns exec NAME program`).
    /// `ip netns exec` execs the program, so the child's pid is the program's.
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `ip -n NAME ARGS` and fails the test if it fails.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Gives `ifname` the address `cidr` (`"10.99.0.1/24"`) and brings it up.
    pub fn addr(&self, ifname: &str, cidr: &str) {
        self.ip(&["addr", "add", cidr, "dev", ifname]);
        self.ip(&["link", "set", ifname, "up"]);
    }

    /// Sets `ifname`'s MAC address (`"02:00:00:00:00:01"`); the link is taken down and up again.
    pub fn set_mac(&self, ifname: &str, mac: &str) {
        self.ip(&["link", "set", ifname, "down"]);
        self.ip(&["link", "set", ifname, "address", mac]);
        self.ip(&["link", "set", ifname, "up"]);
    }

    /// Removes every address from `ifname` (as a DHCP client's deconfig does).
    pub fn flush(&self, ifname: &str) {
        self.ip(&["addr", "flush", "dev", ifname]);
    }

    /// The IPv4 addresses on `ifname`, as `ip -4 addr show` lists them.
    pub fn ipv4_addrs(&self, ifname: &str) -> Vec<Ipv4Addr> {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-4", "-o", "addr", "show", "dev", ifname])
            .output()
            .expect("iproute2's ip is installed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next()?.split('/').next()?.parse().ok()
            })
            .collect()
    }

    /// Runs `f` on a thread that has entered this namespace, and returns its result. Sockets
    /// made there stay in the namespace: this is how a test sends its own packets from inside.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/run/netns").join(&self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                setns(&file, CloneFlags::CLONE_NEWNET).expect("setns (tests run as root)");
                f()
            })
            .join()
            .expect("the thread in the namespace panicked")
        })
    }

    /// The pids of the processes inside this namespace.
    pub fn pids(&self) -> Vec<u32> {
        pids_of(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Creates a veth pair: `name_a` in `a` and `name_b` in `b`, both up (no addresses). Names are
/// per namespace, so tests running at once may use the same ones.
pub fn veth_pair(a: &Netns, name_a: &str, b: &Netns, name_b: &str) {
    a.ip(&[
        "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", &b.name,
    ]);
    a.ip(&["link", "set", name_a, "up"]);
    b.ip(&["link", "set", name_b, "up"]);
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's ip is installed (scripts/deps --test installs it)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pids_of(name: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills what runs in `name` (SIGKILL, then waits for it to be gone, briefly) and deletes it.
fn remove(name: &str) {
    for _ in 0..100 {
        let pids = pids_of(name);
        if pids.is_empty() {
            break;
        }
        let mut kill = Command::new("kill");
        kill.arg("-KILL");
        for p in &pids {
            kill.arg(p.to_string());
        }
        let _ = kill.output();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Deletes the `oh-*-<pid>-<n>` namespaces whose test process is gone.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let mut parts = rest.rsplit('-');
        let (Some(_n), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            remove(&name);
        }
    }
}
