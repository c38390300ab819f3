//! The web API's side of provisioning: rendered files, templates, the DHCP settings.

use super::*;

/// The API's side of provisioning ([`offhook_web::devices::Provisioning`]).
#[derive(Debug)]
pub struct Api {
    files: Files,
    dhcp: serde_json::Value,
}

impl Api {
    /// The API over `files`, describing `[dhcp]` as `config` has it.
    pub fn new(files: Files, config: &Config) -> Self {
        let dhcp = config.dhcp.as_ref().map_or(serde_json::Value::Null, |d| {
            let range = |r: &config::dhcp::Range| format!("{}-{}", r.0, r.1);
            serde_json::json!({
                "interface": d.interface,
                "subnet": d.subnet.map(|(n, p)| format!("{n}/{p}")),
                "range": d.ranges.iter().map(range).collect::<Vec<_>>(),
                "exclude": d.exclude.iter().map(range).collect::<Vec<_>>(),
                "router": d.options.routers,
                "dns": d.options.dns,
                "ntp": d.options.ntp,
                "domain": d.options.domain,
                "lease_seconds": d.lease().as_secs(),
                "tftp_server": d.options.tftp_server,
                "provisioning_url": d.options.provisioning_url,
                "reservations": d.reservations.iter().map(|r| serde_json::json!({"mac": r.mac, "ip": r.ip})).collect::<Vec<_>>(),
                "relays": d.relays.iter().map(|r| serde_json::json!({
                    "network": format!("{}/{}", r.network.0, r.network.1),
                    "range": r.ranges.iter().map(range).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "new_clients_per_second": d.new_clients_per_second,
                "new_client_burst": d.new_client_burst,
            })
        });
        Self { files, dhcp }
    }
}

impl offhook_web::devices::Provisioning for Api {
    fn render(&self, mac: Mac, name: &str) -> Result<Option<(&'static str, Vec<u8>)>, String> {
        match self.files.provisioner().render(name) {
            Ok(Some(r)) if r.device.is_none_or(|d| d == mac) => Ok(Some((r.content_type, r.body))),
            Ok(_) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn check_template(&self, vendor: Vendor, kind: &str, source: &str) -> Result<(), String> {
        Overrides::new()
            .set(vendor, kind, source.to_owned())
            .map_err(|e| e.to_string())
    }

    fn reload_templates(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.files
                .reload_templates()
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn dhcp(&self) -> serde_json::Value {
        self.dhcp.clone()
    }

    fn template_kinds(&self) -> Vec<(Vendor, &'static str)> {
        templates::template_names().to_vec()
    }

    fn default_template(&self, vendor: Vendor, kind: &str) -> Option<&'static str> {
        templates::default_source(vendor, kind)
    }
}
