//! The packages the controller speaks, with the binary ids of H.248.1 Annex E (and the
//! session-description properties of Annex C): what the binary encoding (Annex A) writes in
//! place of the text names.
//!
//! In Annex A every package item is a `PkgdName` of four octets, two for the package and two
//! for the item, and a parameter of an event or a signal is a `Name` of two octets read in the
//! scope of its event or signal. Package `0x0000` holds the native properties of Annex C
//! (`v`, `o`, `c`, `m`, `a`… of SDP, `IPv4`, `Port`…), written without a package in text. An
//! item id `0xFFFF` is the wildcard `*`, and so is package `0xFFFF` (with item `0xFFFF` only).
//!
//! The ids agree with Erlang/OTP's `megaco_binary_name_resolver_v1`, the reference the binary
//! codec is tested against, plus the digit events of `dd` (Annex E.6), which OTP lacks. Names
//! are matched case-insensitively; the spelling here (Annex E's, such as `Meth`) is what the
//! binary decoder writes.

/// Where a name is looked up: each package has its own list of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Properties (TerminationState, LocalControl, Local and Remote).
    Property,
    /// Events (Events, ObservedEvents, EventBuffer).
    Event,
    /// Signals.
    Signal,
    /// Statistics.
    Statistic,
}

/// A package of Annex E.
#[derive(Debug)]
pub struct Package {
    /// Its text name (`""` for the native properties of Annex C).
    pub name: &'static str,
    /// Its binary id.
    pub id: u16,
    /// Its properties.
    pub properties: &'static [Item],
    /// Its events.
    pub events: &'static [Item],
    /// Its signals.
    pub signals: &'static [Item],
    /// Its statistics.
    pub statistics: &'static [Item],
}

/// An item of a package: a property, event, signal or statistic, with the parameters an event
/// or signal takes.
#[derive(Debug)]
pub struct Item {
    /// Its text name.
    pub name: &'static str,
    /// Its binary id within the package.
    pub id: u16,
    /// The parameters of an event or a signal (name and id).
    pub params: &'static [(&'static str, u16)],
}

const fn item(name: &'static str, id: u16) -> Item {
    Item {
        name,
        id,
        params: &[],
    }
}

const fn with(name: &'static str, id: u16, params: &'static [(&'static str, u16)]) -> Item {
    Item { name, id, params }
}

const NONE: &[Item] = &[];

/// The DTMF signals of `dg` (Annex E.5): `d0`–`d9` (0x0010–0x0019), `da`–`dd`
/// (0x001a–0x001d), `ds` (`*`, 0x0020) and `do` (`#`, 0x0021).
const DIGITS: [Item; 16] = [
    item("d0", 0x10),
    item("d1", 0x11),
    item("d2", 0x12),
    item("d3", 0x13),
    item("d4", 0x14),
    item("d5", 0x15),
    item("d6", 0x16),
    item("d7", 0x17),
    item("d8", 0x18),
    item("d9", 0x19),
    item("da", 0x1a),
    item("db", 0x1b),
    item("dc", 0x1c),
    item("dd", 0x1d),
    item("ds", 0x20),
    item("do", 0x21),
];

/// The events of `dd` (Annex E.6): the digits, and `ce`, digit map completion.
const DD_EVENTS: [Item; 17] = [
    item("d0", 0x10),
    item("d1", 0x11),
    item("d2", 0x12),
    item("d3", 0x13),
    item("d4", 0x14),
    item("d5", 0x15),
    item("d6", 0x16),
    item("d7", 0x17),
    item("d8", 0x18),
    item("d9", 0x19),
    item("da", 0x1a),
    item("db", 0x1b),
    item("dc", 0x1c),
    item("dd", 0x1d),
    item("ds", 0x20),
    item("do", 0x21),
    with("ce", 0x04, &[("ds", 0x01), ("Meth", 0x03)]),
];

/// The call-progress tones of Annex E.7 and E.8, signals of `cg` and events of `cd`.
const TONES: [Item; 9] = [
    item("dt", 0x30),
    item("rt", 0x31),
    item("bt", 0x32),
    item("ct", 0x33),
    item("sit", 0x34),
    item("wt", 0x35),
    item("prt", 0x36),
    item("cw", 0x37),
    item("cr", 0x38),
];

/// Every package known, by id.
pub const PACKAGES: &[Package] = &[
    Package {
        name: "",
        id: 0x0000,
        properties: &[
            item("IPv4", 0x6001),
            item("IPv6", 0x6002),
            item("Port", 0x6003),
            item("Porttype", 0x6004),
            item("v", 0xb001),
            item("o", 0xb002),
            item("s", 0xb003),
            item("i", 0xb004),
            item("u", 0xb005),
            item("e", 0xb006),
            item("p", 0xb007),
            item("c", 0xb008),
            item("b", 0xb009),
            item("z", 0xb00a),
            item("k", 0xb00b),
            item("a", 0xb00c),
            item("t", 0xb00d),
            item("r", 0xb00e),
            item("m", 0xb00f),
        ],
        events: NONE,
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "g",
        id: 0x0001,
        properties: NONE,
        events: &[
            with(
                "cause",
                0x01,
                &[("Generalcause", 0x01), ("Failurecause", 0x02)],
            ),
            with(
                "sc",
                0x02,
                &[("SigID", 0x01), ("Meth", 0x02), ("SLID", 0x03)],
            ),
        ],
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "root",
        id: 0x0002,
        properties: &[
            item("maxNumberOfContexts", 0x01),
            item("maxTerminationsPerContext", 0x02),
            item("normalMGExecutionTime", 0x03),
            item("normalMGCExecutionTime", 0x04),
            item("MGProvisionalResponseTimerValue", 0x05),
            item("MGCProvisionalResponseTimerValue", 0x06),
        ],
        events: NONE,
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "tonegen",
        id: 0x0003,
        properties: NONE,
        events: NONE,
        signals: &[with("pt", 0x01, &[("tl", 0x01), ("ind", 0x02)])],
        statistics: NONE,
    },
    Package {
        name: "tonedet",
        id: 0x0004,
        properties: NONE,
        events: &[
            with("std", 0x01, &[("tl", 0x01), ("tid", 0x03)]),
            with("etd", 0x02, &[("tl", 0x01), ("dur", 0x02), ("tid", 0x03)]),
            with("ltd", 0x03, &[("tl", 0x01), ("dur", 0x02), ("tid", 0x03)]),
        ],
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "dg",
        id: 0x0005,
        properties: NONE,
        events: NONE,
        signals: &DIGITS,
        statistics: NONE,
    },
    Package {
        name: "dd",
        id: 0x0006,
        properties: NONE,
        events: &DD_EVENTS,
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "cg",
        id: 0x0007,
        properties: NONE,
        events: NONE,
        signals: &TONES,
        statistics: NONE,
    },
    Package {
        name: "cd",
        id: 0x0008,
        properties: NONE,
        events: &TONES,
        signals: NONE,
        statistics: NONE,
    },
    Package {
        name: "al",
        id: 0x0009,
        properties: NONE,
        events: &[
            with("on", 0x04, &[("strict", 0x01), ("init", 0x02)]),
            with("of", 0x05, &[("strict", 0x01), ("init", 0x02)]),
            with("fl", 0x06, &[("mindur", 0x04), ("maxdur", 0x05)]),
        ],
        signals: &[with("ri", 0x02, &[("cad", 0x06), ("freq", 0x07)])],
        statistics: NONE,
    },
    Package {
        name: "ct",
        id: 0x000a,
        properties: NONE,
        events: &[with("cmp", 0x05, &[("res", 0x08)])],
        signals: &[item("ct", 0x03), item("rsp", 0x04)],
        statistics: NONE,
    },
    Package {
        name: "nt",
        id: 0x000b,
        properties: &[item("jit", 0x07)],
        events: &[
            with("netfail", 0x05, &[("cs", 0x01)]),
            with("qualert", 0x06, &[("th", 0x01)]),
        ],
        signals: NONE,
        statistics: &[item("dur", 0x01), item("os", 0x02), item("or", 0x03)],
    },
    Package {
        name: "rtp",
        id: 0x000c,
        properties: NONE,
        events: &[with("pltrans", 0x01, &[("rtppltype", 0x01)])],
        signals: NONE,
        statistics: &[
            item("ps", 0x04),
            item("pr", 0x05),
            item("pl", 0x06),
            item("jit", 0x07),
            item("delay", 0x08),
        ],
    },
    Package {
        name: "tdmc",
        id: 0x000d,
        properties: &[item("ec", 0x08), item("gain", 0x0a)],
        events: NONE,
        signals: NONE,
        statistics: NONE,
    },
];

/// The id of the wildcard `*`, as a package or an item.
pub const WILDCARD: u16 = 0xffff;

/// The package named `name` (case-insensitive; `""` is the native package of Annex C).
pub fn by_name(name: &str) -> Option<&'static Package> {
    PACKAGES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The package with binary id `id`.
pub fn by_id(id: u16) -> Option<&'static Package> {
    PACKAGES.iter().find(|p| p.id == id)
}

impl Package {
    /// Its items of one scope.
    pub fn items(&self, scope: Scope) -> &'static [Item] {
        match scope {
            Scope::Property => self.properties,
            Scope::Event => self.events,
            Scope::Signal => self.signals,
            Scope::Statistic => self.statistics,
        }
    }

    /// The item of `scope` named `name` (case-insensitive).
    pub fn item(&self, scope: Scope, name: &str) -> Option<&'static Item> {
        self.items(scope)
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The item of `scope` with id `id`.
    pub fn item_by_id(&self, scope: Scope, id: u16) -> Option<&'static Item> {
        self.items(scope).iter().find(|i| i.id == id)
    }
}

impl Item {
    /// The id of the parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<u16> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, id)| id)
    }

    /// The name of the parameter with id `id`.
    pub fn param_name(&self, id: u16) -> Option<&'static str> {
        self.params.iter().find(|&&(_, i)| i == id).map(|&(n, _)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_within_each_scope() {
        for (i, p) in PACKAGES.iter().enumerate() {
            assert!(
                PACKAGES[..i]
                    .iter()
                    .all(|q| q.id != p.id && q.name != p.name)
            );
            for scope in [
                Scope::Property,
                Scope::Event,
                Scope::Signal,
                Scope::Statistic,
            ] {
                let items = p.items(scope);
                for (j, item) in items.iter().enumerate() {
                    assert!(
                        items[..j]
                            .iter()
                            .all(|o| o.id != item.id && !o.name.eq_ignore_ascii_case(item.name)),
                        "{}/{}",
                        p.name,
                        item.name
                    );
                    assert_ne!(item.id, WILDCARD);
                }
            }
        }
    }

    #[test]
    fn annex_e_ids() {
        let al = by_name("AL").unwrap();
        assert_eq!(al.id, 0x0009);
        assert_eq!(al.item(Scope::Event, "of").unwrap().id, 0x0005);
        assert_eq!(al.item(Scope::Event, "on").unwrap().id, 0x0004);
        assert_eq!(al.item(Scope::Event, "fl").unwrap().id, 0x0006);
        assert_eq!(al.item(Scope::Signal, "ri").unwrap().id, 0x0002);
        assert!(al.item(Scope::Signal, "of").is_none());
        let ce = by_name("dd").unwrap().item(Scope::Event, "ce").unwrap();
        assert_eq!(
            (ce.id, ce.param("meth"), ce.param("ds")),
            (4, Some(3), Some(1))
        );
        assert_eq!(ce.param_name(3), Some("Meth"));
        assert_eq!(by_id(0x000c).unwrap().name, "rtp");
        assert_eq!(
            by_name("cg").unwrap().item(Scope::Signal, "dt").unwrap().id,
            0x0030
        );
        assert_eq!(
            by_name("").unwrap().item(Scope::Property, "m").unwrap().id,
            0xb00f
        );
        assert_eq!(
            by_name("dd")
                .unwrap()
                .item_by_id(Scope::Event, 0x21)
                .unwrap()
                .name,
            "do"
        );
    }
}
