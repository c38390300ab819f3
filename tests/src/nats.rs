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
                        "cluster {{\n  name: offhook\n  listen: 127.0.0.1:{cluster}\n  routes: [{}]\n}}\n",
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
