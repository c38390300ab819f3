//! Phone vendors: how to recognise one, and the per-vendor facts the templates need.
//!
//! Sources of the facts:
//! - OUIs: the IEEE registry as Wireshark ships it (`/usr/share/wireshark/manuf`): every OUI
//!   listed there for Polycom, Yealink, Grandstream and snom. Cisco holds over a thousand OUIs
//!   shared with all its other products, so only 00:1b:d4 (seen on 79xx phones) is listed and
//!   Cisco phones are recognised mostly by their vendor class ("Cisco Systems, Inc. IP Phone …").
//! - Vendor classes (DHCP option 60, RFC 2132 §9.13): what the phones send, e.g.
//!   `Cisco Systems, Inc. IP Phone CP-7965G`, `Polycom-SoundPointIP-SPIP_550`,
//!   `yealink SIP-T46G`, `Grandstream GXP2170 dslforum.org`, `snom320`. Matched as a
//!   case-insensitive substring of the vendor's name.
//! - Yealink model codes (the `xx` of `y0000000000xx.cfg`): Yealink's auto provisioning guides.

use std::fmt;
use std::str::FromStr;

use crate::Mac;

/// A phone vendor whose configuration files Offhook generates.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Cisco SIP phones (79xx/88xx, `SEP<MAC>.cnf.xml`).
    Cisco,
    /// Polycom (Poly) SoundPoint IP and VVX with UC Software (`<mac>.cfg`, `000000000000.cfg`).
    Polycom,
    /// Yealink (`<mac>.cfg`, `y0000000000xx.cfg`).
    Yealink,
    /// Grandstream (`cfg<mac>.xml`, the gs_provision P-value XML).
    Grandstream,
    /// snom (`snom<model>.htm`, `<mac>.xml`).
    Snom,
}

/// `s` is not the name of a vendor we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phone vendor {0:?} (cisco, polycom, yealink, grandstream or snom)")]
pub struct UnknownVendor(pub String);

/// Each vendor, with the OUIs its phones come with.
const OUIS: &[(Vendor, [u8; 3])] = &[
    (Vendor::Cisco, [0x00, 0x1b, 0xd4]),
    (Vendor::Polycom, [0x00, 0x04, 0xf2]),
    (Vendor::Polycom, [0x64, 0x16, 0x7f]),
    (Vendor::Yealink, [0x00, 0x15, 0x65]),
    (Vendor::Yealink, [0x24, 0x9a, 0xd8]),
    (Vendor::Yealink, [0x44, 0xdb, 0xd2]),
    (Vendor::Yealink, [0x80, 0x5e, 0x0c]),
    (Vendor::Yealink, [0x80, 0x5e, 0xc0]),
    (Vendor::Yealink, [0xc4, 0xfc, 0x22]),
    (Vendor::Yealink, [0xec, 0x1d, 0xa9]),
    (Vendor::Grandstream, [0x00, 0x0b, 0x82]),
    (Vendor::Grandstream, [0xc0, 0x74, 0xad]),
    (Vendor::Grandstream, [0xec, 0x74, 0xd7]),
    (Vendor::Snom, [0x00, 0x04, 0x13]),
];

/// Yealink's model codes, the `xx` of the common file `y0000000000xx.cfg`.
const YEALINK_MODELS: &[(&str, &str)] = &[
    ("00", "T28P"),
    ("04", "T26P"),
    ("05", "T22P"),
    ("07", "T20P"),
    ("28", "T46G"),
    ("29", "T42G"),
    ("31", "T19P"),
    ("32", "T32G"),
    ("34", "T21P"),
    ("35", "T48G"),
    ("36", "T41P"),
    ("38", "T38G"),
    ("44", "T23P/T23G"),
    ("45", "T27P"),
    ("46", "T29G"),
    ("65", "T48S"),
    ("66", "T46S"),
    ("67", "T42S"),
    ("68", "T41S"),
];

impl Vendor {
    /// Every vendor, in a stable order.
    pub const ALL: [Self; 5] = [
        Self::Cisco,
        Self::Polycom,
        Self::Yealink,
        Self::Grandstream,
        Self::Snom,
    ];

    /// The lower-case name (`"cisco"` …), as in the CLI, the config and the REST API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cisco => "cisco",
            Self::Polycom => "polycom",
            Self::Yealink => "yealink",
            Self::Grandstream => "grandstream",
            Self::Snom => "snom",
        }
    }

    /// A guess at a phone's vendor from its DHCP vendor class (option 60), else its MAC's OUI.
    ///
    /// The vendor class wins when it names a vendor (a phone knows its maker better than its
    /// network card does); `None` when neither says.
    pub fn guess(vendor_class: Option<&str>, mac: Mac) -> Option<Self> {
        vendor_class
            .and_then(Self::from_vendor_class)
            .or_else(|| Self::from_oui(mac))
    }

    /// The vendor whose name appears in a DHCP vendor class, any case.
    pub fn from_vendor_class(class: &str) -> Option<Self> {
        let class = class.to_ascii_lowercase();
        Self::ALL.into_iter().find(|v| class.contains(v.as_str()))
    }

    /// The vendor that owns the MAC's OUI, among the ones listed in this module's docs.
    pub fn from_oui(mac: Mac) -> Option<Self> {
        let oui = mac.oui();
        OUIS.iter().find(|(_, o)| *o == oui).map(|(v, _)| *v)
    }

    /// The OUIs known for this vendor.
    pub fn ouis(self) -> impl Iterator<Item = [u8; 3]> {
        OUIS.iter()
            .filter(move |(v, _)| *v == self)
            .map(|(_, o)| *o)
    }
}

/// The Yealink model a common-file code (`"28"` of `y000000000028.cfg`) stands for, if known.
pub fn yealink_model(code: &str) -> Option<&'static str> {
    YEALINK_MODELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
}

/// The known Yealink common-file codes and their models, for listings.
pub fn yealink_models() -> &'static [(&'static str, &'static str)] {
    YEALINK_MODELS
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Vendor {
    type Err = UnknownVendor;

    fn from_str(s: &str) -> Result<Self, UnknownVendor> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownVendor(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    #[test]
    fn names_round_trip() {
        for v in Vendor::ALL {
            assert_eq!(v.to_string().parse::<Vendor>(), Ok(v));
            assert_eq!(v.as_str().to_uppercase().parse::<Vendor>(), Ok(v));
        }
        assert!("avaya".parse::<Vendor>().is_err());
    }

    #[test]
    fn serde_is_lower_case() {
        #[derive(serde::Deserialize)]
        struct W {
            v: Vendor,
        }
        let w: W = toml_like("grandstream");
        assert_eq!(w.v, Vendor::Grandstream);

        fn toml_like(v: &str) -> W {
            use serde::de::IntoDeserializer;
            use serde::de::value::{Error, MapDeserializer};
            let map = MapDeserializer::<_, Error>::new([("v", v)].into_iter());
            serde::Deserialize::deserialize(map.into_deserializer()).unwrap()
        }
    }

    #[test]
    fn guesses_from_the_oui() {
        for (s, v) in [
            ("00:1b:d4:01:02:03", Vendor::Cisco),
            ("00:04:f2:01:02:03", Vendor::Polycom),
            ("64:16:7f:01:02:03", Vendor::Polycom),
            ("00:15:65:01:02:03", Vendor::Yealink),
            ("80:5e:c0:01:02:03", Vendor::Yealink),
            ("00:0b:82:01:02:03", Vendor::Grandstream),
            ("c0:74:ad:01:02:03", Vendor::Grandstream),
            ("00:04:13:01:02:03", Vendor::Snom),
        ] {
            assert_eq!(Vendor::guess(None, mac(s)), Some(v), "{s}");
        }
        assert_eq!(Vendor::guess(None, mac("02:00:00:00:00:01")), None);
    }

    #[test]
    fn vendor_class_wins_over_the_oui() {
        let polycom_nic = mac("00:04:f2:01:02:03");
        for (class, v) in [
            ("Cisco Systems, Inc. IP Phone CP-7965G", Vendor::Cisco),
            ("Polycom-SoundPointIP-SPIP_550", Vendor::Polycom),
            ("yealink SIP-T46G", Vendor::Yealink),
            ("Grandstream GXP2170 dslforum.org", Vendor::Grandstream),
            ("snom320", Vendor::Snom),
        ] {
            assert_eq!(Vendor::guess(Some(class), polycom_nic), Some(v), "{class}");
        }
        assert_eq!(
            Vendor::guess(Some("MSFT 5.0"), polycom_nic),
            Some(Vendor::Polycom)
        );
    }

    #[test]
    fn yealink_codes() {
        assert_eq!(yealink_model("28"), Some("T46G"));
        assert_eq!(yealink_model("99"), None);
        assert!(Vendor::Yealink.ouis().count() >= 2);
    }
}
