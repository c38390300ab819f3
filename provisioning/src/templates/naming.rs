//! The file names phones ask for, and what each one means.
//!
//! Names are matched without regard to case (phones differ in how they spell their own MAC,
//! and the vendors' servers are case-insensitive in practice); the MAC inside a name is the
//! 12 hex digits with no separators, as every vendor writes it.
//!
//! | vendor | name | kind |
//! | --- | --- | --- |
//! | Cisco | `SEP<MAC>.cnf.xml` | `device` |
//! | Polycom | `<mac>.cfg`, `000000000000.cfg` | `master` (per device, default) |
//! | Polycom | `<mac>-phone.cfg` | `phone` |
//! | Yealink | `<mac>.cfg` | `device` |
//! | Yealink | `y0000000000<xx>.cfg` | `common` (`xx` the model code) |
//! | Grandstream | `cfg<mac>.xml` | `device` |
//! | snom | `snom<model>.htm` | `model` |
//! | snom | `<mac>.xml` | `device` |

use crate::Mac;

use super::Vendor;

/// The longest name worth looking at; phones ask for far shorter ones.
pub const MAX_NAME_LEN: usize = 64;

/// The longest snom model in `snom<model>.htm` (`D785`, `320`, `PA1`, `M900`).
const MAX_SNOM_MODEL_LEN: usize = 16;

/// What a requested name is, once recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A per-device file: the vendor is the device's, unless the name says (`Some`).
    Device {
        /// The MAC in the name.
        mac: Mac,
        /// What kind of file; for `<mac>.cfg` it depends on the device's vendor.
        file: DeviceFile,
    },
    /// Polycom's default master file, `000000000000.cfg`.
    PolycomDefault,
    /// Yealink's common file for a model code, `y0000000000<xx>.cfg`.
    YealinkCommon {
        /// The two-digit model code.
        code: String,
    },
    /// snom's per-model settings, `snom<model>.htm`.
    SnomModel {
        /// The model as written in the name (`D785`, `320`).
        model: String,
    },
}

/// Which per-device file a name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFile {
    /// `SEP<MAC>.cnf.xml`.
    Cisco,
    /// `<mac>.cfg`: Polycom's per-device master or Yealink's per-device file.
    Cfg,
    /// `<mac>-phone.cfg`: Polycom's per-device settings.
    PolycomPhone,
    /// `cfg<mac>.xml`.
    Grandstream,
    /// `<mac>.xml`.
    Snom,
}

impl DeviceFile {
    /// The vendor and template kind this file is for a device of `vendor`; `None` when the
    /// file is not one that vendor's phones ask for.
    pub fn kind_for(self, vendor: Vendor) -> Option<&'static str> {
        match (self, vendor) {
            (Self::Cisco, Vendor::Cisco) => Some("device"),
            (Self::Cfg, Vendor::Polycom) => Some("master"),
            (Self::Cfg, Vendor::Yealink) => Some("device"),
            (Self::PolycomPhone, Vendor::Polycom) => Some("phone"),
            (Self::Grandstream, Vendor::Grandstream) => Some("device"),
            (Self::Snom, Vendor::Snom) => Some("device"),
            _ => None,
        }
    }
}

/// Recognises a requested name (a leading `/` ignored); `None` when it is not one of ours.
pub fn parse(name: &str) -> Option<Request> {
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.len() > MAX_NAME_LEN || !name.is_ascii() {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let mac_then = |prefix: &str, suffix: &str| -> Option<Mac> {
        let rest = lower.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (rest.len() == 12).then(|| Mac::from_hex_at(rest, 0))?
    };
    let device = |mac, file| Some(Request::Device { mac, file });

    if lower == "000000000000.cfg" {
        return Some(Request::PolycomDefault);
    }
    if let Some(code) = lower
        .strip_prefix("y0000000000")
        .and_then(|r| r.strip_suffix(".cfg"))
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(Request::YealinkCommon {
            code: code.to_owned(),
        });
    }
    if let Some(mac) = mac_then("sep", ".cnf.xml") {
        return device(mac, DeviceFile::Cisco);
    }
    if let Some(mac) = mac_then("cfg", ".xml") {
        return device(mac, DeviceFile::Grandstream);
    }
    if let Some(mac) = mac_then("", "-phone.cfg") {
        return device(mac, DeviceFile::PolycomPhone);
    }
    if let Some(mac) = mac_then("", ".cfg") {
        return device(mac, DeviceFile::Cfg);
    }
    if let Some(mac) = mac_then("", ".xml") {
        return device(mac, DeviceFile::Snom);
    }
    // snom<model>.htm: keep the model as the phone wrote it.
    if lower.starts_with("snom") && lower.ends_with(".htm") {
        let model = &name[4..name.len() - 4];
        if !model.is_empty()
            && model.len() <= MAX_SNOM_MODEL_LEN
            && model
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some(Request::SnomModel {
                model: model.to_owned(),
            });
        }
    }
    None
}

/// The name a device's main file has (what a phone of this vendor asks for first).
pub fn device_file_name(vendor: Vendor, mac: Mac) -> String {
    match vendor {
        Vendor::Cisco => format!("SEP{}.cnf.xml", mac.hex_upper()),
        Vendor::Polycom | Vendor::Yealink => format!("{}.cfg", mac.hex()),
        Vendor::Grandstream => format!("cfg{}.xml", mac.hex()),
        Vendor::Snom => format!("{}.xml", mac.hex()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: Mac = Mac([0x00, 0x04, 0xf2, 0xab, 0xcd, 0xef]);

    fn dev(file: DeviceFile) -> Option<Request> {
        Some(Request::Device { mac: MAC, file })
    }

    #[test]
    fn every_vendor_name() {
        use DeviceFile::*;
        for (name, want) in [
            ("SEP0004F2ABCDEF.cnf.xml", dev(Cisco)),
            ("/sep0004f2abcdef.CNF.XML", dev(Cisco)),
            ("0004f2abcdef.cfg", dev(Cfg)),
            ("0004F2ABCDEF.cfg", dev(Cfg)),
            ("0004f2abcdef-phone.cfg", dev(PolycomPhone)),
            ("000000000000.cfg", Some(Request::PolycomDefault)),
            (
                "y000000000028.cfg",
                Some(Request::YealinkCommon { code: "28".into() }),
            ),
            ("cfg0004f2abcdef.xml", dev(Grandstream)),
            ("0004f2abcdef.xml", dev(Snom)),
            (
                "snomD785.htm",
                Some(Request::SnomModel {
                    model: "D785".into(),
                }),
            ),
            (
                "snom320.htm",
                Some(Request::SnomModel {
                    model: "320".into(),
                }),
            ),
        ] {
            assert_eq!(parse(name), want, "{name}");
        }
    }

    #[test]
    fn other_names_are_not_ours() {
        for name in [
            "",
            "/",
            "sip.ld",
            "firmware/2345-12345-001.sip.ld",
            "SEP0004F2ABCDE.cnf.xml",
            "SEP0004F2ABCDEFF.cnf.xml",
            "0004f2abcdeg.cfg",
            "y00000000002a.cfg",
            "y0000000000281.cfg",
            "snom.htm",
            "snom../x.htm",
            "snom/etc/passwd.htm",
            "../0004f2abcdef.cfg",
            "0004f2abcdef.cfg/..",
            "SEP0004F2ABCDEF.cnf.xml\0",
            "sép0004f2abcdef.cnf.xml",
        ] {
            assert_eq!(parse(name), None, "{name:?}");
        }
        assert_eq!(parse(&"a".repeat(100_000)), None);
    }

    #[test]
    fn each_vendor_asks_for_its_own_files() {
        assert_eq!(DeviceFile::Cfg.kind_for(Vendor::Polycom), Some("master"));
        assert_eq!(DeviceFile::Cfg.kind_for(Vendor::Yealink), Some("device"));
        assert_eq!(DeviceFile::Cfg.kind_for(Vendor::Cisco), None);
        assert_eq!(DeviceFile::Cisco.kind_for(Vendor::Snom), None);
    }

    proptest! {
        #[test]
        fn device_names_parse_back(b in any::<[u8; 6]>(), v in 0usize..5) {
            let vendor = Vendor::ALL[v];
            let name = device_file_name(vendor, Mac(b));
            let Some(Request::Device { mac, file }) = parse(&name) else {
                panic!("{name} not recognised");
            };
            prop_assert_eq!(mac, Mac(b));
            prop_assert!(file.kind_for(vendor).is_some());
        }

        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }
    }
}
