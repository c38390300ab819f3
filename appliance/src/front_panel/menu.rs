//! The front panel's set-up menu, in LCDd's menu system: LCDd draws it and walks it with the
//! keys (its menu key, Up, Down, Enter), and tells this client what the user changed
//! (`menuevent update`) or chose (`menuevent select`). This part is sans-IO: it declares the
//! items ([`Menu::declare`]), keeps them showing the settings in force ([`Menu::refresh`]), and
//! turns each event into what the appliance is asked to do ([`Menu::on_event`]); the panel's
//! loop does it and says how it went on its notice screen.
//!
//! ```text
//! Network       Address  Netmask  Gateway          (ip items)
//! DHCP server   Serve (checkbox)  Pool first  Pool last
//! Admin         Show URL  Reset password > Yes, reset
//! Restart       Yes, restart
//! Shut down     Yes, shut down
//! ```
//!
//! Decisions worth knowing:
//! - A changed value is a settings change like the web console's (`lan.address`, `lan.gateway`,
//!   `dhcp.server`, `dhcp.pool`), checked and kept by the core: the panel has no rules of its
//!   own beyond turning items into values (a netmask into a prefix, 0.0.0.0 into "none").
//! - Editing an item ends the menu (`-next _quit_`), so the notice saying "Saved" or why not is
//!   seen at once; a refused value is put back in the item.
//! - Restart, shut down and the password reset each ask once more (a submenu with one "Yes").
//! - With no pool yet, the pool items offer one in the LAN's subnet (`.100` to `.199` of a /24):
//!   Enter through either takes it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use offhook_domain::network::{self, Cidr, Network};
use offhook_panel::protocol::{
    Checkbox, Command, Id, MenuEventKind, MenuItem, MenuItemKind, MenuResult, MenuSet, Successor,
};

/// What the user asked for from the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Change a setting (key, value; empty clears it).
    Change(&'static str, String),
    /// Say why the value typed cannot be taken, before asking the core.
    Refuse(&'static str, String),
    /// Show the admin console's URL.
    ShowUrl,
    /// Give the admin account a new one-time password and show it.
    ResetPassword,
    /// Restart the appliance's services.
    Restart,
    /// Power the appliance off.
    PowerOff,
}

/// The ip items and the checkbox, by id.
const ADDRESS: &str = "lan_ip";
const NETMASK: &str = "lan_mask";
const GATEWAY: &str = "lan_gw";
const SERVE: &str = "dhcp_on";
const POOL_FIRST: &str = "pool_first";
const POOL_LAST: &str = "pool_last";

/// The netmask shown before the LAN has an address.
const DEFAULT_NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// What an item shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Ip(Ipv4Addr),
    Check(bool),
}

/// The menu's items' values as LCDd shows them.
#[derive(Debug, Default)]
pub struct Menu {
    shown: BTreeMap<&'static str, Value>,
}

fn id(s: &str) -> Id {
    Id::new(s).expect("the menu's ids are valid")
}

/// The pool offered (not set) while there is none: `.100` to `.199` of the LAN's subnet, or
/// its upper half when it is smaller than that.
fn suggested_pool(lan: Cidr) -> (Ipv4Addr, Ipv4Addr) {
    let net = u32::from(lan.network());
    let hosts = u32::from(lan.broadcast()) - net - 1;
    if hosts >= 200 {
        (Ipv4Addr::from(net + 100), Ipv4Addr::from(net + 199))
    } else {
        (
            Ipv4Addr::from(net + hosts / 2 + 1),
            Ipv4Addr::from(net + hosts),
        )
    }
}

/// What each item should show for `n`.
fn values(n: &Network) -> [(&'static str, Value); 6] {
    let none = Ipv4Addr::UNSPECIFIED;
    let pool = n.pool.or_else(|| n.address.map(suggested_pool));
    [
        (ADDRESS, Value::Ip(n.address.map_or(none, |c| c.address))),
        (
            NETMASK,
            Value::Ip(n.address.map_or(DEFAULT_NETMASK, Cidr::netmask)),
        ),
        (GATEWAY, Value::Ip(n.gateway.unwrap_or(none))),
        (SERVE, Value::Check(n.dhcp)),
        (POOL_FIRST, Value::Ip(pool.map_or(none, |p| p.0))),
        (POOL_LAST, Value::Ip(pool.map_or(none, |p| p.1))),
    ]
}

fn kind(v: Value) -> MenuItemKind {
    match v {
        Value::Ip(a) => MenuItemKind::Ip {
            value: IpAddr::V4(a),
        },
        Value::Check(on) => MenuItemKind::Checkbox {
            value: if on { Checkbox::On } else { Checkbox::Off },
            allow_gray: false,
        },
    }
}

fn set(v: Value) -> MenuSet {
    match v {
        Value::Ip(a) => MenuSet::Ip(IpAddr::V4(a)),
        Value::Check(on) => MenuSet::Checkbox(if on { Checkbox::On } else { Checkbox::Off }),
    }
}

fn text(item: &str) -> &'static str {
    match item {
        ADDRESS => "Address",
        NETMASK => "Netmask",
        GATEWAY => "Gateway",
        SERVE => "Serve",
        POOL_FIRST => "Pool first",
        _ => "Pool last",
    }
}

fn parent(item: &str) -> &'static str {
    match item {
        ADDRESS | NETMASK | GATEWAY => "net",
        _ => "dhcp",
    }
}

impl Menu {
    /// The commands that build the menu showing `n`, and make it what LCDd's menu key opens.
    pub fn declare(n: &Network) -> (Self, Vec<Command>) {
        let mut out = Vec::new();
        let mut add = |parent: Option<&str>, item: &str, m: MenuItem| {
            out.push(Command::MenuAddItem {
                parent: parent.map(id),
                id: id(item),
                item: m,
            });
        };
        let submenu = |t: &str| MenuItem::new(t, MenuItemKind::Menu);
        let action = |t: &str| {
            MenuItem::new(
                t,
                MenuItemKind::Action {
                    result: MenuResult::Quit,
                },
            )
        };
        add(None, "net", submenu("Network"));
        add(None, "dhcp", submenu("DHCP server"));
        let mut menu = Self::default();
        for (item, v) in values(n) {
            let mut m = MenuItem::new(text(item), kind(v));
            m.next = Some(Successor::Quit);
            add(Some(parent(item)), item, m);
            menu.shown.insert(item, v);
        }
        add(None, "admin", submenu("Admin"));
        add(Some("admin"), "url", action("Show URL"));
        add(Some("admin"), "pw", submenu("Reset password"));
        add(Some("pw"), "pw_yes", action("Yes, reset"));
        add(None, "restart", submenu("Restart"));
        add(Some("restart"), "restart_yes", action("Yes, restart"));
        add(None, "off", submenu("Shut down"));
        add(Some("off"), "off_yes", action("Yes, shut down"));
        out.push(Command::MenuSetMain(None));
        (menu, out)
    }

    /// The commands that make the items show `n` (those that show something else).
    pub fn refresh(&mut self, n: &Network) -> Vec<Command> {
        values(n)
            .into_iter()
            .filter(|(item, v)| self.shown.insert(item, *v) != Some(*v))
            .map(|(item, v)| Command::MenuSetItem {
                parent: Some(id(parent(item))),
                id: id(item),
                set: vec![set(v)],
            })
            .collect()
    }

    /// What `menuevent KIND ID [VALUE]` asks for, with `n` in force; `None` for events that
    /// ask nothing (entering and leaving items, unknown ids).
    pub fn on_event(
        &mut self,
        kind: MenuEventKind,
        item: &str,
        value: Option<&str>,
        n: &Network,
    ) -> Option<Asked> {
        match kind {
            MenuEventKind::Select => {
                return match item {
                    "url" => Some(Asked::ShowUrl),
                    "pw_yes" => Some(Asked::ResetPassword),
                    "restart_yes" => Some(Asked::Restart),
                    "off_yes" => Some(Asked::PowerOff),
                    _ => None,
                };
            }
            MenuEventKind::Update => {}
            _ => return None,
        }
        let value = value?;
        let (key, shown) = *values(n).iter().find(|(k, _)| *k == item)?;
        let ip = || value.parse::<Ipv4Addr>().ok();
        let typed = match shown {
            Value::Ip(_) => Value::Ip(match ip() {
                Some(a) => a,
                None => return Some(Asked::Refuse(key_of(key), "not an address".into())),
            }),
            Value::Check(_) => Value::Check(value == "on"),
        };
        self.shown.insert(key, typed);
        let text = |a: Ipv4Addr| {
            if a.is_unspecified() {
                String::new()
            } else {
                a.to_string()
            }
        };
        Some(match (key, typed) {
            (ADDRESS, Value::Ip(a)) if a.is_unspecified() => {
                Asked::Change(network::ADDRESS, String::new())
            }
            (ADDRESS, Value::Ip(a)) => {
                let prefix = n.address.map_or_else(
                    || Cidr::prefix_of(self.ip(NETMASK)).unwrap_or(24),
                    |c| c.prefix,
                );
                Asked::Change(network::ADDRESS, format!("{a}/{prefix}"))
            }
            (NETMASK, Value::Ip(m)) => match (Cidr::prefix_of(m), n.address) {
                (None, _) => Asked::Refuse(network::ADDRESS, "not a netmask".into()),
                (Some(_), None) => Asked::Refuse(network::ADDRESS, "set the address first".into()),
                (Some(p), Some(c)) => Asked::Change(network::ADDRESS, format!("{}/{p}", c.address)),
            },
            (GATEWAY, Value::Ip(g)) => Asked::Change(network::GATEWAY, text(g)),
            (SERVE, Value::Check(on)) => {
                Asked::Change(network::DHCP, if on { "on" } else { "off" }.into())
            }
            (POOL_FIRST | POOL_LAST, _) => {
                let (a, b) = (self.ip(POOL_FIRST), self.ip(POOL_LAST));
                if a.is_unspecified() && b.is_unspecified() {
                    Asked::Change(network::POOL, String::new())
                } else if b.is_unspecified() {
                    Asked::Change(network::POOL, format!("{a}-{a}"))
                } else if a.is_unspecified() {
                    Asked::Change(network::POOL, format!("{b}-{b}"))
                } else {
                    Asked::Change(network::POOL, format!("{a}-{b}"))
                }
            }
            _ => return None,
        })
    }

    fn ip(&self, item: &str) -> Ipv4Addr {
        match self.shown.get(item) {
            Some(Value::Ip(a)) => *a,
            _ => Ipv4Addr::UNSPECIFIED,
        }
    }
}

/// The setting an ip item stands for.
fn key_of(item: &str) -> &'static str {
    match item {
        ADDRESS | NETMASK => network::ADDRESS,
        GATEWAY => network::GATEWAY,
        _ => network::POOL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Network {
        let mut n = Network::default();
        n.set(network::ADDRESS, "192.0.2.10/24").unwrap();
        n.set(network::GATEWAY, "192.0.2.1").unwrap();
        n.set(network::POOL, "192.0.2.100-192.0.2.199").unwrap();
        n
    }

    #[test]
    fn the_menu_shows_the_settings_and_ends_with_its_main_menu() {
        let (mut menu, commands) = Menu::declare(&lan());
        let lines: Vec<String> = commands
            .iter()
            .map(|c| {
                let mut out = Vec::new();
                c.encode(&mut out);
                String::from_utf8(out).unwrap()
            })
            .collect();
        let text = lines.join("");
        for want in [
            "menu_add_item \"\" net menu -text \"Network\"\n",
            "menu_add_item \"net\" lan_ip ip -text \"Address\" -v6 false -value \"192.0.2.10\" -next _quit_\n",
            "menu_add_item \"net\" lan_mask ip -text \"Netmask\" -v6 false -value \"255.255.255.0\" -next _quit_\n",
            "menu_add_item \"net\" lan_gw ip -text \"Gateway\" -v6 false -value \"192.0.2.1\" -next _quit_\n",
            "menu_add_item \"dhcp\" dhcp_on checkbox -text \"Serve\" -value off -allow_gray false -next _quit_\n",
            "menu_add_item \"dhcp\" pool_first ip -text \"Pool first\" -v6 false -value \"192.0.2.100\" -next _quit_\n",
            "menu_add_item \"pw\" pw_yes action -text \"Yes, reset\" -menu_result quit\n",
            "menu_add_item \"off\" off_yes action -text \"Yes, shut down\" -menu_result quit\n",
            "menu_set_main \"\"\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(lines.last().unwrap().starts_with("menu_set_main"));
        assert!(menu.refresh(&lan()).is_empty(), "nothing changed");
        let mut on = lan();
        on.dhcp = true;
        let sets = menu.refresh(&on);
        assert_eq!(
            sets,
            [Command::MenuSetItem {
                parent: Some(id("dhcp")),
                id: id(SERVE),
                set: vec![MenuSet::Checkbox(Checkbox::On)],
            }]
        );
    }

    #[test]
    fn edits_become_settings_changes() {
        let n = lan();
        let (mut m, _) = Menu::declare(&n);
        let mut ev = |kind, item, value| m.on_event(kind, item, value, &n);
        assert_eq!(
            ev(MenuEventKind::Update, ADDRESS, Some("192.0.2.20")),
            Some(Asked::Change("lan.address", "192.0.2.20/24".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, NETMASK, Some("255.255.252.0")),
            Some(Asked::Change("lan.address", "192.0.2.10/22".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, NETMASK, Some("255.0.255.0")),
            Some(Asked::Refuse("lan.address", "not a netmask".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, GATEWAY, Some("0.0.0.0")),
            Some(Asked::Change("lan.gateway", String::new()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, SERVE, Some("on")),
            Some(Asked::Change("dhcp.server", "on".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, POOL_LAST, Some("192.0.2.150")),
            Some(Asked::Change("dhcp.pool", "192.0.2.100-192.0.2.150".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, POOL_FIRST, Some("192.0.2.120")),
            Some(Asked::Change("dhcp.pool", "192.0.2.120-192.0.2.150".into())),
            "the other end as the user left it"
        );
        assert_eq!(
            ev(MenuEventKind::Update, ADDRESS, Some("300.1.1.1")),
            Some(Asked::Refuse("lan.address", "not an address".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, GATEWAY, Some("192.0.2")),
            Some(Asked::Refuse("lan.gateway", "not an address".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, POOL_LAST, Some("x")),
            Some(Asked::Refuse("dhcp.pool", "not an address".into()))
        );
        assert_eq!(
            ev(MenuEventKind::Update, ADDRESS, Some("0.0.0.0")),
            Some(Asked::Change("lan.address", String::new())),
            "0.0.0.0: left to the system"
        );
        assert_eq!(
            ev(MenuEventKind::Select, "pw_yes", None),
            Some(Asked::ResetPassword)
        );
        assert_eq!(
            ev(MenuEventKind::Select, "restart_yes", None),
            Some(Asked::Restart)
        );
        assert_eq!(
            ev(MenuEventKind::Select, "off_yes", None),
            Some(Asked::PowerOff)
        );
        assert_eq!(ev(MenuEventKind::Select, "url", None), Some(Asked::ShowUrl));
        assert_eq!(ev(MenuEventKind::Enter, ADDRESS, None), None);
        assert_eq!(ev(MenuEventKind::Update, "nope", Some("1.2.3.4")), None);
        assert_eq!(ev(MenuEventKind::Select, "pw", None), None);
    }

    #[test]
    fn a_refused_value_is_put_back() {
        let n = lan();
        let (mut m, _) = Menu::declare(&n);
        m.on_event(MenuEventKind::Update, GATEWAY, Some("198.51.100.1"), &n);
        assert_eq!(
            m.refresh(&n),
            [Command::MenuSetItem {
                parent: Some(id("net")),
                id: id(GATEWAY),
                set: vec![MenuSet::Ip("192.0.2.1".parse().unwrap())],
            }]
        );
    }

    #[test]
    fn a_pool_is_offered_in_the_lans_subnet() {
        let cidr = |s| Cidr::parse(s).unwrap();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            suggested_pool(cidr("192.0.2.10/24")),
            (ip("192.0.2.100"), ip("192.0.2.199"))
        );
        assert_eq!(
            suggested_pool(cidr("198.51.0.10/16")),
            (ip("198.51.0.100"), ip("198.51.0.199"))
        );
        assert_eq!(
            suggested_pool(cidr("192.0.2.130/25")),
            (ip("192.0.2.192"), ip("192.0.2.254"))
        );
        assert_eq!(
            suggested_pool(cidr("192.0.2.1/30")),
            (ip("192.0.2.2"), ip("192.0.2.2"))
        );
        let mut n = lan();
        n.pool = None;
        let (mut m, _) = Menu::declare(&n);
        assert_eq!(
            m.on_event(MenuEventKind::Update, POOL_FIRST, Some("192.0.2.100"), &n),
            Some(Asked::Change("dhcp.pool", "192.0.2.100-192.0.2.199".into()))
        );
    }

    #[test]
    fn before_the_lan_has_an_address() {
        let n = Network::default();
        let (mut m, _) = Menu::declare(&n);
        assert_eq!(
            m.on_event(MenuEventKind::Update, NETMASK, Some("255.255.0.0"), &n),
            Some(Asked::Refuse("lan.address", "set the address first".into()))
        );
        assert_eq!(
            m.on_event(MenuEventKind::Update, ADDRESS, Some("192.0.2.10"), &n),
            Some(Asked::Change("lan.address", "192.0.2.10/16".into())),
            "the netmask shown gives the prefix"
        );
        assert_eq!(
            m.on_event(MenuEventKind::Update, POOL_FIRST, Some("192.0.2.100"), &n),
            Some(Asked::Change("dhcp.pool", "192.0.2.100-192.0.2.100".into()))
        );
    }
}
