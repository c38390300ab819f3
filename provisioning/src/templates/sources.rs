//! The templates: each vendor's kinds of file with their embedded default sources, and the
//! owner's overrides of them.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::Environment;

use super::{MAX_TEMPLATE_LEN, TemplateError, Vendor};

/// How a kind of file is written, for escaping and the MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Xml,
    Cfg,
}

impl Format {
    pub(super) const fn content_type(self) -> &'static str {
        match self {
            Self::Xml => "application/xml",
            Self::Cfg => "text/plain; charset=utf-8",
        }
    }

    pub(super) const fn escape(self) -> &'static str {
        match self {
            Self::Xml => "xml",
            Self::Cfg => "cfg",
        }
    }
}

/// The template kinds, each with its format and embedded default.
pub(super) const TEMPLATES: [(Vendor, &str, Format, &str); 8] = [
    (
        Vendor::Cisco,
        "device",
        Format::Xml,
        include_str!("default/cisco-device.xml.j2"),
    ),
    (
        Vendor::Polycom,
        "master",
        Format::Xml,
        include_str!("default/polycom-master.xml.j2"),
    ),
    (
        Vendor::Polycom,
        "phone",
        Format::Xml,
        include_str!("default/polycom-phone.xml.j2"),
    ),
    (
        Vendor::Yealink,
        "device",
        Format::Cfg,
        include_str!("default/yealink-device.cfg.j2"),
    ),
    (
        Vendor::Yealink,
        "common",
        Format::Cfg,
        include_str!("default/yealink-common.cfg.j2"),
    ),
    (
        Vendor::Grandstream,
        "device",
        Format::Xml,
        include_str!("default/grandstream-device.xml.j2"),
    ),
    (
        Vendor::Snom,
        "model",
        Format::Xml,
        include_str!("default/snom-model.xml.j2"),
    ),
    (
        Vendor::Snom,
        "device",
        Format::Xml,
        include_str!("default/snom-device.xml.j2"),
    ),
];

const NAMES: [(Vendor, &str); 8] = {
    let mut out = [(Vendor::Cisco, ""); 8];
    let mut i = 0;
    while i < TEMPLATES.len() {
        out[i] = (TEMPLATES[i].0, TEMPLATES[i].1);
        i += 1;
    }
    out
};

/// Every (vendor, kind) that has a template, for listings and [`Overrides::set`].
pub fn template_names() -> &'static [(Vendor, &'static str)] {
    &NAMES
}

pub(super) fn lookup(vendor: Vendor, kind: &str) -> Option<(&'static str, Format, &'static str)> {
    TEMPLATES
        .iter()
        .find(|(v, k, _, _)| *v == vendor && *k == kind)
        .map(|(_, k, f, s)| (*k, *f, *s))
}

/// The embedded default source of a template; `None` for a kind the vendor does not have.
pub fn default_source(vendor: Vendor, kind: &str) -> Option<&'static str> {
    lookup(vendor, kind).map(|(_, _, s)| s)
}

pub(super) fn template_id(vendor: Vendor, kind: &str) -> String {
    format!("{vendor}/{kind}")
}

/// Installer-supplied template sources replacing embedded defaults, per vendor and kind.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub(super) sources: BTreeMap<(Vendor, &'static str), String>,
}

impl Overrides {
    /// No overrides: the embedded defaults throughout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `<dir>/<vendor>/<kind>.j2` for each template kind that has such a file (for
    /// example `cisco/device.j2`); other files are ignored, a missing directory means none.
    pub fn from_dir(dir: &Path) -> Result<Self, TemplateError> {
        let mut out = Self::new();
        for &(vendor, kind) in template_names() {
            let path = dir.join(vendor.as_str()).join(format!("{kind}.j2"));
            let len = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m.len(),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(TemplateError::Io { path, source }),
            };
            if len > MAX_TEMPLATE_LEN as u64 {
                return Err(TemplateError::TooLarge { vendor, kind, len });
            }
            let source = std::fs::read_to_string(&path)
                .map_err(|source| TemplateError::Io { path, source })?;
            out.set(vendor, kind, source)?;
        }
        Ok(out)
    }

    /// Replaces the template of `vendor`'s `kind` of file, after checking that it compiles.
    pub fn set(&mut self, vendor: Vendor, kind: &str, source: String) -> Result<(), TemplateError> {
        let Some((kind, _, _)) = lookup(vendor, kind) else {
            return Err(TemplateError::UnknownKind {
                vendor,
                kind: kind.to_owned(),
            });
        };
        if source.len() > MAX_TEMPLATE_LEN {
            return Err(TemplateError::TooLarge {
                vendor,
                kind,
                len: source.len() as u64,
            });
        }
        let mut env = Environment::new();
        env.add_template_owned("check", source.clone())
            .map_err(|source| TemplateError::Syntax {
                vendor,
                kind,
                source,
            })?;
        self.sources.insert((vendor, kind), source);
        Ok(())
    }

    /// Goes back to the embedded default for `vendor`'s `kind`; whether there was an override.
    pub fn remove(&mut self, vendor: Vendor, kind: &str) -> bool {
        lookup(vendor, kind).is_some_and(|(k, _, _)| self.sources.remove(&(vendor, k)).is_some())
    }

    /// The override of `vendor`'s `kind`, if any.
    pub fn get(&self, vendor: Vendor, kind: &str) -> Option<&str> {
        let (k, _, _) = lookup(vendor, kind)?;
        self.sources.get(&(vendor, k)).map(String::as_str)
    }
}
