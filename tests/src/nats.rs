//! Real `nats-server` processes (Debian's package) on loopback: a JetStream cluster of N nodes,
//! started by a test and stopped when dropped. Each node has its own store directory, client
//! port, cluster port and monitoring port; a node can be killed (SIGKILL) and started again on
//! the same ports and store.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, http, wait_within};

/// One node.
struct Node {
    child: Option<Child>,
    client: u16,
    monitor: u16,
    config: PathBuf,
    log: PathBuf,
}

/// A running cluster.
pub struct NatsCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes (1 for a lone server, 3 for a cluster that survives one node's loss)
    /// and waits until JetStream answers on every one.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, cluster, _)| format!("\"nats-route://127.0.0.1:{cluster}\""))
            .collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, (client, cluster, monitor))| {
                let store = dir.path().join(format!("n{i}"));
                std::fs::create_dir_all(&store).expect("mkdir store");
                let cluster_block = if n > 1 {
                    format!(
                        // no_advertise: clients reach the nodes they are told of, and no other
                        // (a site cut off through a `Proxy` stays cut off).
                        "cluster {{\n  name: offhook\n  listen: 127.0.0.1:{cluster}\n  no_advertise: true\n  routes: [{}]\n}}\n",
                        routes.join(", ")
                    )
                } else {
                    String::new()
                };
                let config = dir.path().join(format!("n{i}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "server_name: n{i}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n\
                         jetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 64MB\n  max_file_store: 2GB\n}}\n{cluster_block}",
                        store.display()
                    ),
                )
                .expect("write nats config");
                Node {
                    child: None,
                    client: *client,
                    monitor: *monitor,
                    config,
                    log: dir.path().join(format!("n{i}.log")),
                }
            })
            .collect();
        let mut c = Self { nodes, _dir: dir };
        for i in 0..n {
            c.spawn(i);
        }
        for i in 0..n {
            c.wait_ready(i);
        }
        c
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("nats log");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server (Debian package nats-server) must be installed");
        node.child = Some(child);
    }

    /// Waits until node `i` says JetStream is healthy (`/healthz`: its meta group has a leader).
    fn wait_ready(&self, i: usize) {
        let url = format!(
            "http://127.0.0.1:{}/healthz?js-enabled-only=true",
            self.nodes[i].monitor
        );
        let client = http();
        wait_within(
            &format!("nats node n{i} to be ready"),
            Duration::from_secs(60),
            || {
                client
                    .get(&url)
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
            },
        );
    }

    /// The client URLs of every node, for `[federation] servers`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client))
            .collect()
    }

    /// `servers = [...]` for the config.
    pub fn servers_toml(&self) -> String {
        let list: Vec<String> = self.urls().iter().map(|u| format!("\"{u}\"")).collect();
        format!("servers = [{}]", list.join(", "))
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again after [`Self::kill`], on its ports and store.
    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "node n{i} still runs");
        self.spawn(i);
        self.wait_ready(i);
    }

    /// Node `i`'s client port.
    pub fn client_port(&self, i: usize) -> u16 {
        self.nodes[i].client
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A TCP relay on loopback in front of a NATS node, that a test can cut: every connection
/// through it is closed and new ones are refused until [`Proxy::restore`], as a site whose
/// link to NATS fails would see it.
pub struct Proxy {
    /// Where clients connect.
    pub port: u16,
    state: std::sync::Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    cut: std::sync::atomic::AtomicBool,
    open: std::sync::Mutex<Vec<std::net::TcpStream>>,
}

impl Proxy {
    /// Relays a free loopback port to `target` (`127.0.0.1:PORT`).
    pub fn start(target: u16) -> Self {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let state = std::sync::Arc::new(ProxyState::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                if st.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut open = st.open.lock().unwrap_or_else(|p| p.into_inner());
                    for s in [&client, &server] {
                        if let Ok(c) = s.try_clone() {
                            open.push(c);
                        }
                    }
                }
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { port, state }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through it and refuses new ones.
    pub fn cut(&self) {
        self.state
            .cut
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let open = std::mem::take(&mut *self.state.open.lock().unwrap_or_else(|p| p.into_inner()));
        for s in open {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `GET /api/v1/{what}` (`contacts`, `messages`) as the holder of `token`; empty if it fails
/// (a server restarting, a session gone with it).
pub fn listing(server: &crate::Server, token: &str, what: &str) -> Vec<serde_json::Value> {
    http()
        .get(format!("{}/api/v1/{what}", server.url))
        .bearer_auth(token)
        .send()
        .ok()
        .and_then(|r| r.json().ok())
        .unwrap_or_default()
}

/// Waits (a minute at most: the directory crosses sites) until `token`'s contacts list `name`;
/// returns the entry.
pub fn wait_listed(server: &crate::Server, token: &str, name: &str) -> serde_json::Value {
    wait_within(&format!("{name} listed"), Duration::from_secs(60), || {
        listing(server, token, "contacts")
            .into_iter()
            .find(|c| c["username"] == name)
    })
}

/// Waits (a minute at most) until message `id` is in `token`'s listing; returns it.
pub fn wait_message(server: &crate::Server, token: &str, id: &str) -> serde_json::Value {
    wait_within(&format!("message {id}"), Duration::from_secs(60), || {
        listing(server, token, "messages")
            .into_iter()
            .find(|m| m["id"] == id)
    })
}
