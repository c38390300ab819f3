//! Federation's settings (`[federation]` in the config file), validated as they are set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use codecs::seal::Key;
use offhook_domain::db::remote::valid_site;

/// The key a site without `key_file` seals with: a published constant, so it guards against
/// corruption only, not against anyone who can publish to the stream (a warning says so).
const UNKEYED: [u8; 32] = *b"offhook federation, no key set.\0";

/// Why a setting was refused; the message names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("federation.{key}: {message}")]
pub struct Error {
    /// The key.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> Error {
    Error {
        key,
        message: message.into(),
    }
}

/// How this site joins the federation.
#[derive(Clone)]
pub struct Config {
    site: String,
    servers: Vec<String>,
    key: Key,
    keyed: bool,
    credentials: Option<PathBuf>,
    user: Option<(String, String)>,
    tls_ca: Option<PathBuf>,
    replicas: usize,
    max_message: u64,
    heartbeat: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("site", &self.site)
            .field("servers", &self.servers)
            .field("keyed", &self.keyed)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Site `site` joining the NATS servers `servers` (`nats://host:port` or `host:port`,
    /// `tls://` for TLS), with the defaults: no key (see [`Self::key_file`]), 3 replicas, 64 MiB
    /// the largest message taken, a 5 s heartbeat.
    pub fn new(site: &str, servers: Vec<String>) -> Result<Self, Error> {
        if !valid_site(site) {
            return Err(bad(
                "site",
                format!("{site:?}: 1-32 of a-z, 0-9 and '-', starting with a letter or digit"),
            ));
        }
        if servers.is_empty() {
            return Err(bad("servers", "name at least one NATS server"));
        }
        for s in &servers {
            if s.is_empty() || s.len() > 255 || s.chars().any(char::is_whitespace) {
                return Err(bad("servers", format!("{s:?}: expected nats://host:port")));
            }
            s.parse::<async_nats::ServerAddr>()
                .map_err(|e| bad("servers", format!("{s:?}: {e}")))?;
        }
        Ok(Self {
            site: site.to_owned(),
            servers,
            key: Key::from_bytes(UNKEYED),
            keyed: false,
            credentials: None,
            user: None,
            tls_ca: None,
            replicas: 3,
            max_message: 64 << 20,
            heartbeat: Duration::from_secs(5),
        })
    }

    /// Seals messages between sites under the key in `path`: 64 hexadecimal digits (32 bytes),
    /// the same file at every site.
    pub fn key_file(&mut self, path: &Path) -> Result<&mut Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad("key_file", format!("{}: {e}", path.display())))?;
        let hex = text.trim();
        let mut key = [0u8; 32];
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad(
                "key_file",
                format!("{}: expected 64 hexadecimal digits", path.display()),
            ));
        }
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| {
                bad(
                    "key_file",
                    format!("{}: expected 64 hexadecimal digits", path.display()),
                )
            })?;
        }
        self.key = Key::from_bytes(key);
        self.keyed = true;
        Ok(self)
    }

    /// Authenticates to NATS with a `.creds` file (a user JWT and its NKey seed).
    pub fn credentials(&mut self, path: PathBuf) -> &mut Self {
        self.credentials = Some(path);
        self
    }

    /// Authenticates to NATS with a user name and password.
    pub fn user(&mut self, user: String, password: String) -> &mut Self {
        self.user = Some((user, password));
        self
    }

    /// Trusts the CA certificates in `path` (PEM) for `tls://` servers.
    pub fn tls_ca(&mut self, path: PathBuf) -> &mut Self {
        self.tls_ca = Some(path);
        self
    }

    /// How many NATS servers keep a copy of the stream and buckets: 1 to 5 (3 by default; 1
    /// for a single server).
    pub fn replicas(&mut self, n: usize) -> Result<&mut Self, Error> {
        if !(1..=5).contains(&n) {
            return Err(bad("replicas", format!("{n}: expected 1 to 5")));
        }
        self.replicas = n;
        Ok(self)
    }

    /// The largest sealed message taken from another site: 1 MiB to 1 GiB.
    pub fn max_message(&mut self, bytes: u64) -> Result<&mut Self, Error> {
        if !((1 << 20)..=(1 << 30)).contains(&bytes) {
            return Err(bad(
                "max_message",
                format!("{bytes}: expected 1 MiB to 1 GiB"),
            ));
        }
        self.max_message = bytes;
        Ok(self)
    }

    /// How often presence is published when nothing changes: 1 to 60 s. A site not heard
    /// from for 3 heartbeats and 2 s is shown offline.
    pub fn heartbeat(&mut self, every: Duration) -> Result<&mut Self, Error> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&every) {
            return Err(bad("heartbeat", format!("{every:?}: expected 1 to 60 s")));
        }
        self.heartbeat = every;
        Ok(self)
    }

    /// This site's name.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The NATS servers.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// Whether a key file was given.
    pub fn keyed(&self) -> bool {
        self.keyed
    }

    pub(crate) fn replica_count(&self) -> usize {
        self.replicas
    }

    pub(crate) fn max_message_bytes(&self) -> u64 {
        self.max_message
    }

    pub(crate) fn heartbeat_every(&self) -> Duration {
        self.heartbeat
    }

    pub(crate) fn connect_options(&self) -> Result<async_nats::ConnectOptions, String> {
        let mut o = async_nats::ConnectOptions::new()
            .name(format!("offhook {}", self.site))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(10)));
        if let Some((u, p)) = &self.user {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        Ok(o)
    }

    pub(crate) async fn connect_options_async(&self) -> Result<async_nats::ConnectOptions, String> {
        let o = self.connect_options()?;
        match &self.credentials {
            None => Ok(o),
            Some(path) => o
                .credentials_file(path)
                .await
                .map_err(|e| format!("federation.credentials {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let servers = vec!["nats://127.0.0.1:4222".to_owned()];
        assert!(Config::new("hq", servers.clone()).is_ok());
        assert_eq!(Config::new("HQ", servers.clone()).unwrap_err().key, "site");
        assert_eq!(Config::new("a.b", servers.clone()).unwrap_err().key, "site");
        assert_eq!(Config::new("hq", vec![]).unwrap_err().key, "servers");
        assert_eq!(
            Config::new("hq", vec!["nats://a b".into()])
                .unwrap_err()
                .key,
            "servers"
        );
        let mut c = Config::new("branch-2", servers).unwrap();
        assert!(c.replicas(0).is_err());
        assert!(c.replicas(6).is_err());
        assert!(c.replicas(1).is_ok());
        assert!(c.max_message(1000).is_err());
        assert!(c.heartbeat(Duration::from_millis(10)).is_err());
        assert!(!c.keyed());
        let dir = std::env::temp_dir().join(format!("offhook-fed-key-{}", std::process::id()));
        std::fs::write(&dir, "zz".repeat(32)).unwrap();
        assert_eq!(c.key_file(&dir).unwrap_err().key, "key_file");
        std::fs::write(&dir, format!("{}\n", "0f".repeat(32))).unwrap();
        assert!(c.key_file(&dir).is_ok());
        assert!(c.keyed());
        assert_eq!(c.key().as_bytes(), &[0x0f; 32]);
        let _ = std::fs::remove_file(&dir);
    }
}
