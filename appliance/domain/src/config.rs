//! The voice-messaging core's settings: a plain struct with defaults and validated chained
//! setters (as `station_manager::manager::Config`). The `offhook` binary reads the config file
//! and builds this; the core never reads files or the environment.

use std::time::Duration;

pub use crate::limits::Rate;

/// What happens to a message's audio once it is no longer needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retention {
    /// Deleted once every recipient has acknowledged it.
    Delivered,
    /// Deleted once every recipient has played it.
    Played,
    /// Deleted this long after it was sent (or when all its users delete it).
    Period(Duration),
}

/// A setting out of range (API misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value outside what the core accepts.
    #[error("{name} {reason}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The LAN's settings do not hang together.
    #[error("{0}")]
    Network(String),
}

/// The voice-messaging core's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) retention: Retention,
    pub(crate) max_upload: usize,
    pub(crate) max_attachments: usize,
    pub(crate) max_duration: Duration,
    pub(crate) sweep_interval: Duration,
    pub(crate) transcode_workers: Option<usize>,
    pub(crate) quota_per_user: u64,
    pub(crate) upload_rate: Option<Rate>,
    pub(crate) disk_reserve: Option<u64>,
    pub(crate) network: crate::network::Network,
    pub(crate) lan_interface: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retention: Retention::Period(Duration::from_secs(30 * 86_400)),
            max_upload: 16 << 20,
            max_attachments: 16,
            max_duration: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(60),
            transcode_workers: None,
            quota_per_user: 1 << 30,
            upload_rate: Some(Rate {
                bytes: 64 << 20,
                per: Duration::from_secs(60),
            }),
            disk_reserve: None,
            network: crate::network::Network::default(),
            lan_interface: false,
        }
    }
}

fn positive(d: Duration, name: &'static str) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::OutOfRange {
            name,
            reason: "must be positive",
        });
    }
    Ok(())
}

impl Config {
    /// The LAN's settings from the config file (none set, DHCP off); refused if they do not
    /// hang together ([`crate::network::Network::check`]).
    pub fn network(&mut self, n: crate::network::Network) -> Result<&mut Self, ConfigError> {
        n.check(&[])
            .map_err(|(key, why)| ConfigError::Network(format!("{key}: {why}")))?;
        self.network = n;
        Ok(self)
    }

    /// Whether the appliance has a LAN interface to give the address to (`[network]
    /// interface`; none by default): without one, a console cannot set `lan.address` or
    /// `lan.gateway`, nor turn on a DHCP server the config file does not already have.
    pub fn lan_interface(&mut self, named: bool) -> &mut Self {
        self.lan_interface = named;
        self
    }

    /// Audio retention (30 days).
    pub fn retention(&mut self, r: Retention) -> Result<&mut Self, ConfigError> {
        if let Retention::Period(d) = r {
            positive(d, "retention period")?;
        }
        self.retention = r;
        Ok(self)
    }

    /// Largest accepted upload, in bytes (16 MiB).
    pub fn max_upload(&mut self, bytes: usize) -> Result<&mut Self, ConfigError> {
        if bytes == 0 {
            return Err(ConfigError::OutOfRange {
                name: "max_upload",
                reason: "must be positive",
            });
        }
        self.max_upload = bytes;
        Ok(self)
    }

    /// Most attachments one message may carry (16).
    pub fn max_attachments(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.max_attachments = n;
        Ok(self)
    }

    /// Longest accepted recording (10 minutes).
    pub fn max_duration(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        positive(d, "max_duration")?;
        self.max_duration = d;
        Ok(self)
    }

    /// Period of the retention sweep (1 minute).
    pub fn sweep_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        positive(d, "sweep_interval")?;
        self.sweep_interval = d;
        Ok(self)
    }

    /// Transcoding worker threads (`None`: one per core).
    pub fn transcode_workers(&mut self, n: Option<usize>) -> Result<&mut Self, ConfigError> {
        if n == Some(0) {
            return Err(ConfigError::OutOfRange {
                name: "transcode_workers",
                reason: "must be at least 1",
            });
        }
        self.transcode_workers = n;
        Ok(self)
    }

    /// Bytes each user's sent messages may hold on disk (1 GiB; 0: no quota). See
    /// [`crate::limits`].
    pub fn quota_per_user(&mut self, bytes: u64) -> Result<&mut Self, ConfigError> {
        self.quota_per_user = bytes;
        Ok(self)
    }

    /// How fast each user may upload (64 MiB a minute, in bursts of one largest upload;
    /// `None`: no limit). See [`crate::limits`].
    pub fn upload_rate(&mut self, rate: Option<Rate>) -> Result<&mut Self, ConfigError> {
        if let Some(r) = rate {
            if r.bytes == 0 {
                return Err(ConfigError::OutOfRange {
                    name: "upload_rate",
                    reason: "must be positive (no rate limit is None)",
                });
            }
            positive(r.per, "upload_rate period")?;
        }
        self.upload_rate = rate;
        Ok(self)
    }

    /// Bytes the data directory's disk keeps free: an upload that would leave less is refused
    /// (HTTP 507), and so is a recording started with less (`Some(0)`: no guard; `None`, the
    /// default: the smaller of 1 GiB and 5 % of the disk, [`crate::limits::reserve_for`]).
    pub fn disk_reserve(&mut self, bytes: Option<u64>) -> Result<&mut Self, ConfigError> {
        self.disk_reserve = bytes;
        Ok(self)
    }

    /// The disk reserve in bytes as set (`None`: sized from the disk).
    pub fn disk_reserve_limit(&self) -> Option<u64> {
        self.disk_reserve
    }

    /// The per-user quota in bytes (0: none).
    pub fn quota_limit(&self) -> u64 {
        self.quota_per_user
    }

    /// The per-user upload rate.
    pub fn upload_rate_limit(&self) -> Option<Rate> {
        self.upload_rate
    }

    /// The retention policy.
    pub fn retention_policy(&self) -> Retention {
        self.retention
    }

    /// The most attachments a message may carry.
    pub fn attachment_limit(&self) -> usize {
        self.max_attachments
    }

    /// The upload cap, in bytes.
    pub fn upload_limit(&self) -> usize {
        self.max_upload
    }

    /// The longest recording.
    pub fn duration_limit(&self) -> Duration {
        self.max_duration
    }

    /// The longest recording in milliseconds.
    pub fn duration_limit_ms(&self) -> u64 {
        u64::try_from(self.max_duration.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_settings_that_do_not_hang_together_are_refused() {
        let mut n = crate::network::Network::default();
        n.set("lan.address", "192.0.2.10/24").unwrap();
        n.set("lan.gateway", "198.51.100.1").unwrap();
        let mut c = Config::default();
        assert_eq!(
            c.network(n.clone()).unwrap_err(),
            ConfigError::Network("lan.gateway: not in 192.0.2.0/24".into())
        );
        assert_eq!(
            c.network,
            crate::network::Network::default(),
            "nothing kept"
        );
        n.set("lan.gateway", "192.0.2.1").unwrap();
        c.network(n.clone()).unwrap();
        assert_eq!(c.network, n);
    }

    #[test]
    fn setters_refuse_zero() {
        let mut c = Config::default();
        assert!(c.max_duration(Duration::ZERO).is_err());
        assert!(c.max_upload(0).is_err());
        assert!(c.retention(Retention::Period(Duration::ZERO)).is_err());
        assert!(c.transcode_workers(Some(0)).is_err());
        let rate = |bytes, secs| {
            Some(Rate {
                bytes,
                per: Duration::from_secs(secs),
            })
        };
        assert!(c.upload_rate(rate(0, 60)).is_err());
        assert!(c.upload_rate(rate(1, 0)).is_err());
        assert_eq!(c.upload_rate_limit(), rate(64 << 20, 60), "unchanged");
        c.upload_rate(rate(5, 1))
            .unwrap()
            .upload_rate(None)
            .unwrap();
        assert_eq!(c.upload_rate_limit(), None);
        assert_eq!(c.quota_limit(), 1 << 30);
        c.quota_per_user(0).unwrap();
        assert_eq!(c.quota_limit(), 0);
        c.max_duration(Duration::from_secs(5))
            .unwrap()
            .retention(Retention::Played)
            .unwrap();
        assert_eq!(c.duration_limit_ms(), 5000);
        assert_eq!(c.retention_policy(), Retention::Played);
    }
}
