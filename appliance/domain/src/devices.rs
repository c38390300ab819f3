//! The IP phones on the LAN, as the provisioning servers need them: who a phone belongs to and
//! the credentials its configuration file carries, the phones DHCP sees, and the leases it
//! grants (durable before the ACK that grants them goes out).
//!
//! The rules live in [`crate::db::devices`]; these are the core's entry points for the drivers
//! and front ends, holding the master key that opens the sealed secrets.

use std::net::Ipv4Addr;

use provisioning::Mac;

use crate::VoiceMessaging;
use crate::db::{self, devices, users};

/// Everything a phone's configuration file is made from.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    /// The device.
    pub device: devices::Device,
    /// Its user and their SIP secret, if it has a user.
    pub owner: Option<(devices::Owner, String)>,
    /// The password it fetches its files with (HTTP, `auth = "device"`).
    pub http_secret: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("device", &self.device)
            .field("owner", &self.owner.as_ref().map(|(o, _)| o))
            .finish_non_exhaustive()
    }
}

/// A device DHCP saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its MAC.
    pub mac: Mac,
    /// Its vendor, as guessed.
    pub vendor: Option<String>,
    /// DHCP option 60.
    pub vendor_class: Option<String>,
    /// The address offered or given.
    pub ip: Option<Ipv4Addr>,
}

impl VoiceMessaging {
    /// The profile of device `mac`, read on this thread (a point query: the TFTP and HTTP
    /// servers call it for each file a phone asks for).
    pub fn device_profile_blocking(&self, mac: Mac) -> Result<Option<Profile>, db::Error> {
        let key = &self.0.key;
        self.db().read_blocking(|conn| {
            let Some(device) = devices::get(conn, mac)? else {
                return Ok(None);
            };
            let owner = match devices::owner(conn, mac)? {
                Some(o) => {
                    let secret = users::sip_secret(conn, key, o.id)?.unwrap_or_default();
                    Some((o, secret))
                }
                None => None,
            };
            let http_secret = devices::http_secret(conn, key, mac)?.unwrap_or_default();
            Ok(Some(Profile {
                device,
                owner,
                http_secret,
            }))
        })
    }

    /// Adds device `mac`.
    pub async fn add_device(
        &self,
        mac: Mac,
        change: devices::Change,
    ) -> Result<devices::Device, db::Error> {
        let key = self.0.key.clone();
        let now = self.clock().now_ms();
        self.db()
            .write(move |c| devices::add(c, &key, mac, &change, now))
            .await
    }

    /// Makes `leases` durable, and records the devices that hold them (`seen`: adding each,
    /// with no user, the first time), in one commit; resolves once it is durable. The DHCP
    /// server sends the ACKs of these leases only then, so a phone that asks for its
    /// configuration file the moment it has its address is already listed.
    pub async fn save_leases(
        &self,
        leases: Vec<devices::LeaseRow>,
        seen: Vec<Seen>,
    ) -> Result<Vec<Mac>, db::Error> {
        let key = self.0.key.clone();
        let now = self.clock().now_ms();
        self.db()
            .write(move |c| {
                devices::save_leases(c, &leases)?;
                let mut new = Vec::new();
                for s in &seen {
                    let added = devices::seen(
                        c,
                        &key,
                        s.mac,
                        s.vendor.as_deref(),
                        s.vendor_class.as_deref(),
                        s.ip,
                        now,
                    )?;
                    if added {
                        new.push(s.mac);
                    }
                }
                Ok(new)
            })
            .await
    }
}
