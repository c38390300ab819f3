//! The phones' configuration files, generated per vendor and per device.
//!
//! A phone asks for a file by name over TFTP or HTTP ([`naming`] lists the names). The
//! [`Provisioner`] recognises the name, finds the device in the caller's [`Directory`], and
//! renders the vendor's template for that kind of file with the device, its user's account and
//! the [`Site`]. Templates are `minijinja` sources: the defaults are embedded (under
//! `src/templates/default/`), and an installer may replace any of them ([`Overrides`]).
//!
//! What a template sees:
//! - `device`: `mac` (`00:04:f2:ab:cd:ef`), `mac_hex`, `mac_upper`, `vendor`, `model` (or none);
//!   none for the files that are not per device (Polycom's `000000000000.cfg`, Yealink's common
//!   file, snom's per-model file).
//! - `user`: `username`, `display`, `sip_username`, `sip_secret`, `number`; none when the
//!   device has no user (the file is still valid and registers no line).
//! - `site`: `registrar`, `sip_port`, `ntp` (a list), `timezone` (IANA), `provisioning_url`,
//!   `name`.
//! - `tz`: the site's zone in each vendor's notation ([`Zone`]).
//! - `url`: `base` (the provisioning URL, no trailing `/`), `scheme`, `host_path` (without the
//!   scheme), `device` (`base/<mac>`, the per-device form the HTTP server serves); all empty
//!   without a provisioning URL.
//! - `model`, `model_code`: for the per-model files (snom, Yealink), from the name.
//! - `file`: the name asked for.
//!
//! Everything printed is escaped for the file's format: XML character escapes for the XML
//! vendors, and for Yealink's `key = value` lines, control characters (newlines) become spaces
//! so that no value can add a line. Control characters become spaces in XML too (XML 1.0 forbids
//! most of them, and none belongs in a phone setting).
//!
//! The SIP secret is in these files (it is what the phone registers with): nothing here logs a
//! rendered body or an account.

use std::fmt;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};
use tracing::{debug, trace};

use crate::Mac;

pub mod naming;
mod sources;
mod vendor;
mod zone;

pub use sources::{Overrides, default_source, template_names};
use sources::{TEMPLATES, lookup, template_id};
pub use vendor::{UnknownVendor, Vendor, yealink_model, yealink_models};
pub use zone::{Dst, Zone};

use naming::{DeviceFile, Request};

/// The longest template source accepted (embedded or override).
pub const MAX_TEMPLATE_LEN: usize = 256 * 1024;
/// The longest rendered file; a template producing more is an error, not a download.
pub const MAX_RENDERED_LEN: usize = 1024 * 1024;
/// The rendering budget (minijinja fuel, about one unit per instruction): bounds what an
/// override with a runaway loop can cost. The embedded templates use a few hundred.
const FUEL: u64 = 200_000;

/// A phone, as the appliance's database lists it.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    /// Its MAC address.
    pub mac: Mac,
    /// Its vendor, which decides the files it gets.
    pub vendor: Vendor,
    /// Its model (`T46G`, `VVX 410`, `D785`), if known.
    pub model: Option<String>,
    /// The user whose line it registers; `None` for a phone not yet assigned.
    pub user: Option<Account>,
    /// The password this device gives for HTTP basic auth when the HTTP server asks per device.
    pub http_secret: Option<String>,
}

/// A user's SIP account, as the phone registers it.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    /// The Offhook user name.
    pub username: String,
    /// The name shown on the phone's line key and in calls.
    pub display: String,
    /// The SIP digest user name.
    pub sip_username: String,
    /// The SIP digest secret. Never logged.
    pub sip_secret: String,
    /// The user's number, if they have one.
    pub number: Option<String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("display", &self.display)
            .field("sip_username", &self.sip_username)
            .field("sip_secret", &"<redacted>")
            .field("number", &self.number.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("mac", &self.mac)
            .field("vendor", &self.vendor)
            .field("model", &self.model)
            .field("user", &self.user)
            .field(
                "http_secret",
                &self.http_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What every phone of the site shares: where to register, the time, where files come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Site {
    /// The SIP registrar's address (host name or IP) the phones register with.
    pub registrar: String,
    /// The registrar's SIP port (5060).
    pub sip_port: u16,
    /// NTP servers, first preferred.
    pub ntp: Vec<String>,
    /// The IANA time zone (`Europe/Paris`); [`Zone::names`] lists those known.
    pub timezone: String,
    /// The HTTP provisioning server's base URL (`http://10.99.0.1:8088`), for files that point
    /// at other files; without it they point at TFTP on the registrar's address.
    pub provisioning_url: Option<String>,
    /// The appliance's name, for labels.
    pub name: String,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            registrar: String::new(),
            sip_port: 5060,
            ntp: Vec::new(),
            timezone: "UTC".to_owned(),
            provisioning_url: None,
            name: "Offhook".to_owned(),
        }
    }
}

/// Where the provisioner finds devices (the appliance's database).
pub trait Directory: Send + Sync + 'static {
    /// The device with this MAC, if listed.
    fn device(&self, mac: Mac) -> Option<Device>;
}

/// A generated file.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The file's bytes (UTF-8).
    pub body: Vec<u8>,
    /// Its MIME type.
    pub content_type: &'static str,
    /// The device it was generated for; `None` for a shared file.
    pub device: Option<Mac>,
    /// The vendor whose format it is in.
    pub vendor: Vendor,
    /// The template kind that produced it (see [`template_names`]).
    pub kind: &'static str,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body holds the SIP secret: its length only.
        f.debug_struct("Rendered")
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .field("device", &self.device)
            .field("vendor", &self.vendor)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Why a template could not be set or the provisioner built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// API misuse: the vendor has no such kind of file.
    #[error("{vendor} has no template kind {kind:?} (see template_names())")]
    UnknownKind {
        /// The vendor.
        vendor: Vendor,
        /// The kind asked for.
        kind: String,
    },
    /// A template source longer than [`MAX_TEMPLATE_LEN`].
    #[error("the {vendor} {kind} template is {len} bytes, more than {max}", max = MAX_TEMPLATE_LEN)]
    TooLarge {
        /// The vendor.
        vendor: Vendor,
        /// The kind.
        kind: &'static str,
        /// Its length.
        len: u64,
    },
    /// A template that does not compile.
    #[error("the {vendor} {kind} template does not compile: {source}")]
    Syntax {
        /// The vendor.
        vendor: Vendor,
        /// The kind.
        kind: &'static str,
        /// What minijinja says (with the line).
        source: minijinja::Error,
    },
    /// A template that compiles but fails to render a sample device (an unknown variable, a
    /// runaway loop).
    #[error("the {vendor} {kind} template fails on a sample device: {source}")]
    Trial {
        /// The vendor.
        vendor: Vendor,
        /// The kind.
        kind: &'static str,
        /// What minijinja says.
        source: minijinja::Error,
    },
    /// A time zone the vendor tables do not have.
    #[error("unknown time zone {0:?} (known: UTC, Europe/Paris, America/New_York …)")]
    TimeZone(String),
    /// An override file that could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Why a provisioning file could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A provisioning name for a MAC that is not listed, or whose device is of a vendor that
    /// does not use this file.
    #[error("{name}: no such device")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The template failed (an override referring to something missing, or out of fuel).
    #[error("rendering the {vendor} {kind} template: {source}")]
    Template {
        /// The vendor.
        vendor: Vendor,
        /// The kind.
        kind: &'static str,
        /// What minijinja says.
        source: minijinja::Error,
    },
    /// The template produced more than [`MAX_RENDERED_LEN`].
    #[error("the {vendor} {kind} template produced {len} bytes, more than {max}", max = MAX_RENDERED_LEN)]
    TooLarge {
        /// The vendor.
        vendor: Vendor,
        /// The kind.
        kind: &'static str,
        /// What it produced.
        len: usize,
    },
}

/// Counters of what [`Provisioner::render`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Files generated.
    pub rendered: u64,
    /// Names that were not ours (left to the caller).
    pub not_ours: u64,
    /// Provisioning names refused: unknown MAC or a device of another vendor.
    pub not_found: u64,
    /// Templates that failed or produced too much.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    rendered: AtomicU64,
    not_ours: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
}

/// Generates the phones' files: the [`Site`], the compiled templates and the [`Directory`].
///
/// It is immutable once built apart from [`Provisioner::set_site`]; servers share it behind
/// an `Arc` and swap in a new one when the site or the templates change (rendering takes
/// `&self`, so a swap never waits for a download).
#[derive(Clone)]
pub struct Provisioner {
    site: Site,
    zone: Zone,
    env: Environment<'static>,
    directory: Arc<dyn Directory>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provisioner")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    /// Compiles the templates (overrides first, then the defaults) and tries each one on a
    /// sample device, with and without a user, so that a broken override is refused here
    /// rather than when a phone boots.
    pub fn new(
        site: Site,
        directory: Arc<dyn Directory>,
        overrides: Overrides,
    ) -> Result<Self, TemplateError> {
        let zone = Zone::lookup(&site.timezone)
            .ok_or_else(|| TemplateError::TimeZone(site.timezone.clone()))?;
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(|name| {
            let (vendor, kind) = name.split_once('/').unwrap_or((name, ""));
            match vendor.parse().ok().and_then(|v| lookup(v, kind)) {
                Some((_, format, _)) => AutoEscape::Custom(format.escape()),
                None => AutoEscape::None,
            }
        });
        env.set_formatter(format_value);
        for &(vendor, kind, _, default) in &TEMPLATES {
            let source = overrides
                .sources
                .get(&(vendor, kind))
                .cloned()
                .unwrap_or_else(|| default.to_owned());
            env.add_template_owned(template_id(vendor, kind), source)
                .map_err(|source| TemplateError::Syntax {
                    vendor,
                    kind,
                    source,
                })?;
        }
        let provisioner = Self {
            site,
            zone,
            env,
            directory,
            counters: Arc::default(),
        };
        provisioner.trial()?;
        Ok(provisioner)
    }

    fn trial(&self) -> Result<(), TemplateError> {
        let mac = Mac([0x02, 0, 0, 0, 0, 1]);
        let user = Account {
            username: "sample".into(),
            display: "Sample <&> \"User\"".into(),
            sip_username: "sample".into(),
            sip_secret: "s3cret".into(),
            number: Some("100".into()),
        };
        for &(vendor, kind, _, _) in &TEMPLATES {
            let per_device = !matches!(
                (vendor, kind),
                (Vendor::Yealink, "common") | (Vendor::Snom, "model")
            );
            let mut device = Device {
                mac,
                vendor,
                model: Some("M1".into()),
                user: Some(user.clone()),
                http_secret: None,
            };
            for with_user in [true, false] {
                if !with_user {
                    device.user = None;
                }
                let target = if per_device {
                    Target::Device(&device)
                } else {
                    Target::Model(Some("M1"), Some("28"))
                };
                self.render_kind(vendor, kind, target, "sample")
                    .map_err(|e| match e {
                        RenderError::Template { source, .. } => TemplateError::Trial {
                            vendor,
                            kind,
                            source,
                        },
                        other => TemplateError::Trial {
                            vendor,
                            kind,
                            source: minijinja::Error::new(
                                minijinja::ErrorKind::InvalidOperation,
                                other.to_string(),
                            ),
                        },
                    })?;
            }
            if kind == "master" {
                // Polycom's master is also the default master, with no device.
                self.render_kind(vendor, kind, Target::Model(None, None), "sample")
                    .map_err(|e| TemplateError::Trial {
                        vendor,
                        kind,
                        source: minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            e.to_string(),
                        ),
                    })?;
            }
        }
        Ok(())
    }

    /// The site the files are generated for.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Changes the site (registrar, time zone …); the templates stay.
    pub fn set_site(&mut self, site: Site) -> Result<(), TemplateError> {
        self.zone = Zone::lookup(&site.timezone)
            .ok_or_else(|| TemplateError::TimeZone(site.timezone.clone()))?;
        self.site = site;
        Ok(())
    }

    /// The device with this MAC, from the directory.
    pub fn device(&self, mac: Mac) -> Option<Device> {
        self.directory.device(mac)
    }

    /// The counters so far (shared by clones).
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            rendered: c.rendered.load(Ordering::Relaxed),
            not_ours: c.not_ours.load(Ordering::Relaxed),
            not_found: c.not_found.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// What a phone asked for, by file name (a TFTP path or the last HTTP path segment; a
    /// leading `/` is ignored): `Ok(Some)` generated; `Ok(None)` not a provisioning name (the
    /// caller then tries firmware or its file root); `Err(NotFound)` a provisioning name for a
    /// MAC not listed, or a device of a vendor that does not use this file.
    pub fn render(&self, name: &str) -> Result<Option<Rendered>, RenderError> {
        let Some(request) = naming::parse(name) else {
            self.counters.not_ours.fetch_add(1, Ordering::Relaxed);
            trace!(len = name.len(), "not a provisioning name");
            return Ok(None);
        };
        let name = name.strip_prefix('/').unwrap_or(name);
        let result = match request {
            Request::Device { mac, file } => self.render_device(mac, file, name),
            Request::PolycomDefault => {
                self.render_kind(Vendor::Polycom, "master", Target::Model(None, None), name)
            }
            Request::YealinkCommon { code } => {
                let model = yealink_model(&code);
                self.render_kind(
                    Vendor::Yealink,
                    "common",
                    Target::Model(model, Some(&code)),
                    name,
                )
            }
            Request::SnomModel { model } => self.render_kind(
                Vendor::Snom,
                "model",
                Target::Model(Some(&model), None),
                name,
            ),
        };
        let counter = match &result {
            Ok(_) => &self.counters.rendered,
            Err(RenderError::NotFound { .. }) => &self.counters.not_found,
            Err(e) => {
                debug!(file = name, error = %e, "template failed");
                &self.counters.failed
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result.map(Some)
    }

    fn render_device(
        &self,
        mac: Mac,
        file: DeviceFile,
        name: &str,
    ) -> Result<Rendered, RenderError> {
        let not_found = || RenderError::NotFound {
            name: name.to_owned(),
        };
        let Some(device) = self.directory.device(mac) else {
            debug!(%mac, file = name, "provisioning file for an unknown device");
            return Err(not_found());
        };
        let Some(kind) = file.kind_for(device.vendor) else {
            debug!(%mac, file = name, vendor = %device.vendor, "provisioning file of another vendor");
            return Err(not_found());
        };
        let device = Device { mac, ..device };
        self.render_kind(device.vendor, kind, Target::Device(&device), name)
    }

    fn render_kind(
        &self,
        vendor: Vendor,
        kind: &str,
        target: Target<'_>,
        file: &str,
    ) -> Result<Rendered, RenderError> {
        let (kind, format, _) = lookup(vendor, kind).expect("kinds come from the table");
        let fail = |source| RenderError::Template {
            vendor,
            kind,
            source,
        };
        let template = self
            .env
            .get_template(&template_id(vendor, kind))
            .map_err(fail)?;
        let url = Urls::new(self.site.provisioning_url.as_deref(), target.mac());
        let (device, user, model, model_code) = match target {
            Target::Device(d) => (
                Some(DeviceVars::new(d)),
                d.user.as_ref(),
                d.model.as_deref(),
                None,
            ),
            Target::Model(model, code) => (None, None, model, code),
        };
        let body = template
            .render(Vars {
                device,
                user,
                site: &self.site,
                tz: self.zone,
                url,
                model,
                model_code,
                file,
            })
            .map_err(fail)?;
        if body.len() > MAX_RENDERED_LEN {
            return Err(RenderError::TooLarge {
                vendor,
                kind,
                len: body.len(),
            });
        }
        trace!(%vendor, kind, file, len = body.len(), "rendered");
        Ok(Rendered {
            body: body.into_bytes(),
            content_type: format.content_type(),
            device: target.mac(),
            vendor,
            kind,
        })
    }
}

/// What a file is rendered for.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// A device's own file.
    Device(&'a Device),
    /// A shared file: the model and model code from the name, if any.
    Model(Option<&'a str>, Option<&'a str>),
}

impl Target<'_> {
    fn mac(&self) -> Option<Mac> {
        match self {
            Self::Device(d) => Some(d.mac),
            Self::Model(..) => None,
        }
    }
}

#[derive(serde::Serialize)]
struct Vars<'a> {
    device: Option<DeviceVars<'a>>,
    user: Option<&'a Account>,
    site: &'a Site,
    tz: Zone,
    url: Urls,
    model: Option<&'a str>,
    model_code: Option<&'a str>,
    file: &'a str,
}

#[derive(serde::Serialize)]
struct DeviceVars<'a> {
    mac: String,
    mac_hex: String,
    mac_upper: String,
    vendor: Vendor,
    model: Option<&'a str>,
}

impl<'a> DeviceVars<'a> {
    fn new(d: &'a Device) -> Self {
        Self {
            mac: d.mac.to_string(),
            mac_hex: d.mac.hex(),
            mac_upper: d.mac.hex_upper(),
            vendor: d.vendor,
            model: d.model.as_deref(),
        }
    }
}

#[derive(serde::Serialize, Default)]
struct Urls {
    base: String,
    scheme: String,
    host_path: String,
    device: String,
}

impl Urls {
    fn new(base: Option<&str>, mac: Option<Mac>) -> Self {
        let Some(base) = base
            .map(|b| b.trim_end_matches('/'))
            .filter(|b| !b.is_empty())
        else {
            return Self::default();
        };
        let (scheme, host_path) = base.split_once("://").unwrap_or(("http", base));
        Self {
            base: base.to_owned(),
            scheme: scheme.to_owned(),
            host_path: host_path.to_owned(),
            device: mac
                .map(|m| format!("{base}/{}", m.hex()))
                .unwrap_or_default(),
        }
    }
}

/// Prints a value escaped for the template's format (see the module docs).
fn format_value(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(());
    }
    let AutoEscape::Custom(format) = state.auto_escape() else {
        return minijinja::escape_formatter(out, state, value);
    };
    let text;
    let s = match value.as_str() {
        Some(s) => s,
        None => {
            text = value.to_string();
            &text
        }
    };
    if value.is_safe() {
        return Ok(out.write_str(s)?);
    }
    for c in s.chars() {
        match (format, c) {
            // Control characters, and the two non-characters XML 1.0 excludes (§2.2).
            (_, c) if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.write_char(' ')?
            }
            ("xml", '&') => out.write_str("&amp;")?,
            ("xml", '<') => out.write_str("&lt;")?,
            ("xml", '>') => out.write_str("&gt;")?,
            ("xml", '"') => out.write_str("&quot;")?,
            ("xml", '\'') => out.write_str("&apos;")?,
            (_, c) => out.write_char(c)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
