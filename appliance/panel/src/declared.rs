//! What the application has declared (screens, widgets, keys, menu), kept so that the session
//! can replay it on every new connection. Commands are folded into the latest state: a widget
//! set ten times is replayed once with its last value; a deleted screen is not replayed.

use std::net::IpAddr;

use crate::protocol::{
    Backlight, Checkbox, Command, Id, KeyName, MenuItem, MenuItemKind, MenuSet, Output,
    ScreenOptions, Text, WidgetKind, WidgetValue,
};
use crate::session::ApiError;

/// The most screens declared at once.
pub const MAX_SCREENS: usize = 32;
/// The most widgets on one screen.
pub const MAX_WIDGETS: usize = 32;
/// The most keys reserved at once.
pub const MAX_KEYS: usize = 32;
/// The most menu items declared at once.
pub const MAX_MENU_ITEMS: usize = 128;
/// The most lines a replay can produce: `client_set`, one `client_add_key` per key, each
/// screen's add and set, each widget's add and set, each menu item, `menu_set_main`,
/// `backlight` and `output`.
pub const MAX_REPLAY: usize =
    1 + MAX_KEYS + MAX_SCREENS * (2 + 2 * MAX_WIDGETS) + MAX_MENU_ITEMS + 3;

#[derive(Debug, Clone)]
struct Screen {
    id: Id,
    options: ScreenOptions,
    widgets: Vec<(Id, WidgetKind, Option<WidgetValue>)>,
}

#[derive(Debug, Clone)]
struct Item {
    parent: Option<Id>,
    id: Id,
    item: MenuItem,
}

/// The declared state; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Declared {
    screens: Vec<Screen>,
    keys: Vec<(KeyName, bool)>,
    menu: Vec<Item>,
    main: Option<Option<Id>>,
    backlight: Option<Backlight>,
    output: Option<Output>,
}

impl Declared {
    fn screen(&mut self, id: &Id) -> Result<&mut Screen, ApiError> {
        self.screens
            .iter_mut()
            .find(|s| s.id == *id)
            .ok_or_else(|| ApiError::Unknown(id.clone()))
    }

    fn item(&self, id: &Id) -> Option<usize> {
        self.menu.iter().position(|i| i.id == *id)
    }

    fn menu_exists(&self, parent: Option<&Id>) -> Result<(), ApiError> {
        match parent {
            None => Ok(()),
            Some(p) => match self.item(p) {
                Some(i) if self.menu[i].item.kind == MenuItemKind::Menu => Ok(()),
                _ => Err(ApiError::Unknown(p.clone())),
            },
        }
    }

    /// Checks `command` against the declared state and folds it in. Commands that only make
    /// sense live (`menu_goto`) are checked but not kept.
    pub(crate) fn record(&mut self, command: &Command) -> Result<(), ApiError> {
        match command {
            Command::Hello | Command::ClientSet { .. } | Command::Noop => {
                return Err(ApiError::Reserved);
            }
            Command::ScreenAdd(id) => {
                if self.screens.iter().any(|s| s.id == *id) {
                    return Err(ApiError::Duplicate(id.clone()));
                }
                if self.screens.len() >= MAX_SCREENS {
                    return Err(ApiError::TooMany("screens"));
                }
                self.screens.push(Screen {
                    id: id.clone(),
                    options: ScreenOptions::default(),
                    widgets: Vec::new(),
                });
            }
            Command::ScreenSet(id, options) => self.screen(id)?.options.merge(options),
            Command::ScreenDel(id) => {
                self.screen(id)?;
                self.screens.retain(|s| s.id != *id);
            }
            Command::WidgetAdd {
                screen,
                widget,
                kind,
            } => {
                let s = self.screen(screen)?;
                if s.widgets.iter().any(|w| w.0 == *widget) {
                    return Err(ApiError::Duplicate(widget.clone()));
                }
                if s.widgets.len() >= MAX_WIDGETS {
                    return Err(ApiError::TooMany("widgets"));
                }
                s.widgets.push((widget.clone(), *kind, None));
            }
            Command::WidgetSet {
                screen,
                widget,
                value,
            } => {
                let s = self.screen(screen)?;
                let w = s
                    .widgets
                    .iter_mut()
                    .find(|w| w.0 == *widget)
                    .ok_or_else(|| ApiError::Unknown(widget.clone()))?;
                if w.1 != value.kind() {
                    return Err(ApiError::WrongType(widget.clone()));
                }
                w.2 = Some(value.clone());
            }
            Command::WidgetDel { screen, widget } => {
                let s = self.screen(screen)?;
                let before = s.widgets.len();
                s.widgets.retain(|w| w.0 != *widget);
                if s.widgets.len() == before {
                    return Err(ApiError::Unknown(widget.clone()));
                }
            }
            Command::ClientAddKey { exclusive, keys } => {
                let new = keys
                    .iter()
                    .filter(|k| !self.keys.iter().any(|(have, _)| have == *k))
                    .count();
                if self.keys.len() + new > MAX_KEYS {
                    return Err(ApiError::TooMany("keys"));
                }
                for k in keys {
                    match self.keys.iter_mut().find(|(have, _)| have == k) {
                        Some(entry) => entry.1 = *exclusive,
                        None => self.keys.push((k.clone(), *exclusive)),
                    }
                }
            }
            Command::ClientDelKey(keys) => self.keys.retain(|(k, _)| !keys.contains(k)),
            Command::MenuAddItem { parent, id, item } => {
                self.menu_exists(parent.as_ref())?;
                if self.item(id).is_some() {
                    return Err(ApiError::Duplicate(id.clone()));
                }
                if self.menu.len() >= MAX_MENU_ITEMS {
                    return Err(ApiError::TooMany("menu items"));
                }
                self.menu.push(Item {
                    parent: parent.clone(),
                    id: id.clone(),
                    item: item.clone(),
                });
            }
            Command::MenuSetItem { id, set, .. } => {
                let i = self.item(id).ok_or_else(|| ApiError::Unknown(id.clone()))?;
                for s in set {
                    self.menu[i].item.apply(s);
                }
            }
            Command::MenuDelItem { id, .. } => {
                self.item(id).ok_or_else(|| ApiError::Unknown(id.clone()))?;
                // The item and everything below it.
                let mut gone = vec![id.clone()];
                while let Some(pos) = self.menu.iter().position(|i| {
                    gone.contains(&i.id) || i.parent.as_ref().is_some_and(|p| gone.contains(p))
                }) {
                    let removed = self.menu.remove(pos);
                    if !gone.contains(&removed.id) {
                        gone.push(removed.id);
                    }
                }
                if let Some(Some(main)) = &self.main
                    && gone.contains(main)
                {
                    self.main = None;
                }
            }
            Command::MenuGoto(id) => {
                if let Some(id) = id {
                    self.item(id).ok_or_else(|| ApiError::Unknown(id.clone()))?;
                }
            }
            Command::MenuSetMain(id) => {
                self.menu_exists(id.as_ref())?;
                self.main = Some(id.clone());
            }
            Command::Backlight(b) => self.backlight = Some(*b),
            Command::Output(o) => self.output = Some(*o),
        }
        Ok(())
    }

    /// Folds the value of a `menuevent update` into the item it names, if the value reads as
    /// one of that item's type (`on`/`off`/`gray`, a ring index, an integer, text, an address);
    /// anything else leaves the declaration as it was.
    pub(crate) fn user_update(&mut self, id: &str, value: &str) {
        let Some(i) = self.menu.iter().position(|i| i.id.as_str() == id) else {
            return;
        };
        let set = match &self.menu[i].item.kind {
            MenuItemKind::Checkbox { .. } => match value {
                "on" => MenuSet::Checkbox(Checkbox::On),
                "off" => MenuSet::Checkbox(Checkbox::Off),
                "gray" => MenuSet::Checkbox(Checkbox::Gray),
                _ => return,
            },
            MenuItemKind::Ring { .. } => match value.parse() {
                Ok(v) => MenuSet::Ring(v),
                Err(_) => return,
            },
            MenuItemKind::Numeric { .. } => match value.parse() {
                Ok(v) => MenuSet::Numeric(v),
                Err(_) => return,
            },
            MenuItemKind::Alpha { .. } => MenuSet::Alpha(Text::new(value)),
            MenuItemKind::Ip { .. } => match padded_ip(value) {
                Some(v) => MenuSet::Ip(v),
                None => return,
            },
            MenuItemKind::Menu | MenuItemKind::Action { .. } => return,
        };
        self.menu[i].item.apply(&set);
    }

    /// The commands that rebuild the declared state on a fresh connection, in dependency order
    /// (screens before their widgets, menus before their items). At most [`MAX_REPLAY`].
    pub(crate) fn replay(&self) -> Vec<Command> {
        let mut out = Vec::new();
        for (k, exclusive) in &self.keys {
            out.push(Command::ClientAddKey {
                exclusive: *exclusive,
                keys: vec![k.clone()],
            });
        }
        for s in &self.screens {
            out.push(Command::ScreenAdd(s.id.clone()));
            if s.options.count() > 0 {
                out.push(Command::ScreenSet(s.id.clone(), s.options.clone()));
            }
            for (w, kind, value) in &s.widgets {
                out.push(Command::WidgetAdd {
                    screen: s.id.clone(),
                    widget: w.clone(),
                    kind: *kind,
                });
                if let Some(value) = value {
                    out.push(Command::WidgetSet {
                        screen: s.id.clone(),
                        widget: w.clone(),
                        value: value.clone(),
                    });
                }
            }
        }
        for i in &self.menu {
            out.push(Command::MenuAddItem {
                parent: i.parent.clone(),
                id: i.id.clone(),
                item: i.item.clone(),
            });
        }
        if let Some(main) = &self.main {
            out.push(Command::MenuSetMain(main.clone()));
        }
        if let Some(b) = self.backlight {
            out.push(Command::Backlight(b));
        }
        if let Some(o) = self.output {
            out.push(Command::Output(o));
        }
        out
    }
}

/// An address as LCDd's ip item reports it: IPv4 octets may be zero-padded (`192.000.002.009`),
/// which `Ipv4Addr`'s parser refuses.
fn padded_ip(value: &str) -> Option<IpAddr> {
    let value = value.trim();
    if value.contains(':') {
        return value.parse().ok();
    }
    let mut octets = [0u8; 4];
    let mut parts = value.split('.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = part.parse().ok()?;
    }
    parts.next().is_none().then(|| IpAddr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MenuResult, WidgetKind};

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    fn keys(names: &[String]) -> Vec<KeyName> {
        names.iter().map(|n| KeyName::new(n).unwrap()).collect()
    }

    /// The lines a new connection is sent after `client_set`, without their `\n`.
    fn replay(d: &Declared) -> Vec<String> {
        d.replay()
            .iter()
            .map(|c| {
                String::from_utf8(c.to_line())
                    .unwrap()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    fn add_item(
        d: &mut Declared,
        parent: Option<&str>,
        item: &str,
        kind: MenuItemKind,
    ) -> Result<(), ApiError> {
        d.record(&Command::MenuAddItem {
            parent: parent.map(id),
            id: id(item),
            item: MenuItem::new(item, kind),
        })
    }

    #[test]
    fn widgets_are_unique_per_screen_and_deleted_one_at_a_time() {
        let mut d = Declared::default();
        d.record(&Command::ScreenAdd(id("s"))).unwrap();
        let add = |w: &str| Command::WidgetAdd {
            screen: id("s"),
            widget: id(w),
            kind: WidgetKind::String,
        };
        let del = |w: &str| Command::WidgetDel {
            screen: id("s"),
            widget: id(w),
        };
        d.record(&add("a")).unwrap();
        d.record(&add("b")).unwrap();
        assert_eq!(d.record(&add("a")), Err(ApiError::Duplicate(id("a"))));
        d.record(&del("a")).unwrap();
        assert_eq!(d.record(&del("a")), Err(ApiError::Unknown(id("a"))));
        assert_eq!(replay(&d), ["screen_add s", "widget_add s b string"]);
    }

    #[test]
    fn keys_are_bounded_by_the_names_not_yet_reserved() {
        let mut d = Declared::default();
        let names: Vec<String> = (0..=MAX_KEYS).map(|i| format!("K{i}")).collect();
        let add = |exclusive, names: &[String]| Command::ClientAddKey {
            exclusive,
            keys: keys(names),
        };
        d.record(&add(false, &names[..1])).unwrap();
        // One reserved: MAX_KEYS new ones are one too many, MAX_KEYS - 1 fill the table.
        assert_eq!(
            d.record(&add(false, &names[1..])),
            Err(ApiError::TooMany("keys"))
        );
        d.record(&add(false, &names[1..MAX_KEYS])).unwrap();
        assert_eq!(
            d.record(&add(false, &names[MAX_KEYS..])),
            Err(ApiError::TooMany("keys"))
        );
        // Full, a reserved key can still be made exclusive: it is updated, not added again.
        d.record(&add(true, &names[..1])).unwrap();
        let lines = replay(&d);
        assert_eq!(lines.len(), MAX_KEYS);
        assert_eq!(lines[0], "client_add_key -exclusively K0");
        assert_eq!(lines[1], "client_add_key K1");
        // A released key is not replayed; the others are.
        d.record(&Command::ClientDelKey(keys(&names[1..2])))
            .unwrap();
        let lines = replay(&d);
        assert_eq!(lines.len(), MAX_KEYS - 1);
        assert_eq!(
            lines[..2],
            ["client_add_key -exclusively K0", "client_add_key K2"]
        );
    }

    #[test]
    fn items_hang_only_under_declared_menus() {
        let mut d = Declared::default();
        add_item(&mut d, None, "net", MenuItemKind::Menu).unwrap();
        let action = MenuItemKind::Action {
            result: MenuResult::None,
        };
        add_item(&mut d, None, "go", action.clone()).unwrap();
        assert_eq!(
            add_item(&mut d, Some("nosuch"), "x", MenuItemKind::Menu),
            Err(ApiError::Unknown(id("nosuch")))
        );
        assert_eq!(
            add_item(&mut d, Some("go"), "x", MenuItemKind::Menu),
            Err(ApiError::Unknown(id("go")))
        );
        add_item(&mut d, Some("net"), "lan", action).unwrap();
        assert_eq!(
            add_item(&mut d, None, "lan", MenuItemKind::Menu),
            Err(ApiError::Duplicate(id("lan")))
        );
        assert_eq!(
            d.record(&Command::MenuSetMain(Some(id("go")))),
            Err(ApiError::Unknown(id("go")))
        );
        d.record(&Command::MenuSetMain(Some(id("net")))).unwrap();
        assert_eq!(
            replay(&d),
            [
                "menu_add_item \"\" net menu -text \"net\"",
                "menu_add_item \"\" go action -text \"go\" -menu_result none",
                "menu_add_item \"net\" lan action -text \"lan\" -menu_result none",
                "menu_set_main \"net\"",
            ]
        );
    }

    #[test]
    fn set_item_changes_what_is_replayed() {
        let mut d = Declared::default();
        add_item(&mut d, None, "net", MenuItemKind::Menu).unwrap();
        let set = |item: &str| Command::MenuSetItem {
            parent: None,
            id: id(item),
            set: vec![MenuSet::Text("Network".into())],
        };
        d.record(&set("net")).unwrap();
        assert_eq!(d.record(&set("lan")), Err(ApiError::Unknown(id("lan"))));
        assert_eq!(
            replay(&d),
            ["menu_add_item \"\" net menu -text \"Network\""]
        );
    }

    #[test]
    fn deleting_a_menu_deletes_everything_below_it() {
        let mut d = Declared::default();
        add_item(&mut d, None, "net", MenuItemKind::Menu).unwrap();
        add_item(&mut d, Some("net"), "lan", MenuItemKind::Menu).unwrap();
        let ip = MenuItemKind::Ip {
            value: "192.0.2.2".parse().unwrap(),
        };
        add_item(&mut d, Some("lan"), "ip", ip).unwrap();
        add_item(&mut d, None, "more", MenuItemKind::Menu).unwrap();
        d.record(&Command::MenuSetMain(Some(id("lan")))).unwrap();
        d.record(&Command::MenuDelItem {
            parent: None,
            id: id("net"),
        })
        .unwrap();
        assert_eq!(replay(&d), ["menu_add_item \"\" more menu -text \"more\""]);
        assert_eq!(
            d.record(&Command::MenuGoto(Some(id("ip")))),
            Err(ApiError::Unknown(id("ip")))
        );
    }

    #[test]
    fn checkbox_updates_read_on_off_and_gray() {
        let mut d = Declared::default();
        let checkbox = MenuItemKind::Checkbox {
            value: Checkbox::Off,
            allow_gray: true,
        };
        add_item(&mut d, None, "c", checkbox).unwrap();
        let value = |d: &Declared| {
            let line = &replay(d)[0];
            line.split(" -value ").nth(1).unwrap().to_owned()
        };
        d.user_update("c", "on");
        assert_eq!(value(&d), "on -allow_gray true");
        d.user_update("c", "gray");
        assert_eq!(value(&d), "gray -allow_gray true");
        d.user_update("c", "off");
        assert_eq!(value(&d), "off -allow_gray true");
    }

    #[test]
    fn address_updates_take_unpadded_or_three_digit_octets_only() {
        let mut d = Declared::default();
        let ip = MenuItemKind::Ip {
            value: "192.0.2.2".parse().unwrap(),
        };
        add_item(&mut d, None, "lan", ip).unwrap();
        let value = |d: &Declared| replay(d)[0].split(" -value ").nth(1).unwrap().to_owned();
        // Four digits, and a sign `u8::from_str` would take: not an address LCDd sends.
        d.user_update("lan", "0192.0.2.9");
        d.user_update("lan", "192.0.2.+9");
        assert_eq!(value(&d), "\"192.0.2.2\"");
        d.user_update("lan", "192.0.2.9");
        assert_eq!(value(&d), "\"192.0.2.9\"");
    }
}
