//! The menu items of LCDd's menu system (Developer's Guide, "Menu stuff": `menu_add_item`,
//! `menu_set_item` and their per-type options).

use std::net::IpAddr;

use super::command::Line;
use super::text::{Id, Text, escape_into};

/// What happens to the menu after an action item is selected (`-menu_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MenuResult {
    /// The menu stays.
    None,
    /// The menu closes, back to the level above.
    Close,
    /// The menu system is left.
    Quit,
}

/// A checkbox state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checkbox {
    /// `off` (N).
    Off,
    /// `on` (Y).
    On,
    /// `gray` (o), only with `allow_gray`.
    Gray,
}

/// The item shown after Enter (`-next`) or Escape (`-prev`) on an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Successor {
    /// Another item of this client.
    Item(Id),
    /// `_close_`: close the menu.
    Close,
    /// `_quit_`: leave the menu system.
    Quit,
    /// `_none_`: stay on the item.
    None,
}

/// A menu item type with its type-specific options (`menu_add_item`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuItemKind {
    /// A submenu.
    Menu,
    /// An action; selecting it sends `menuevent select`.
    Action {
        /// `-menu_result`.
        result: MenuResult,
    },
    /// A checkbox.
    Checkbox {
        /// `-value`.
        value: Checkbox,
        /// `-allow_gray`.
        allow_gray: bool,
    },
    /// A choice among strings.
    Ring {
        /// `-strings`, sent tab-separated; empty choices are not sent.
        strings: Vec<Text>,
        /// `-value`: index of the selected string.
        value: u16,
    },
    /// An integer.
    Numeric {
        /// `-value`.
        value: i32,
        /// `-minvalue`.
        min: i32,
        /// `-maxvalue`.
        max: i32,
    },
    /// A string typed letter by letter.
    Alpha {
        /// `-value`.
        value: Text,
        /// `-minlength`.
        min_length: u16,
        /// `-maxlength`.
        max_length: u16,
        /// `-allow_caps`.
        caps: bool,
        /// `-allow_noncaps`.
        noncaps: bool,
        /// `-allow_numbers`.
        numbers: bool,
        /// `-allowed_extra`.
        extra: Text,
    },
    /// An IP address typed digit by digit.
    Ip {
        /// `-value` (and `-v6` from its family).
        value: IpAddr,
    },
}

impl MenuItemKind {
    pub(super) fn keyword(&self) -> &'static str {
        match self {
            Self::Menu => "menu",
            Self::Action { .. } => "action",
            Self::Checkbox { .. } => "checkbox",
            Self::Ring { .. } => "ring",
            Self::Numeric { .. } => "numeric",
            Self::Alpha { .. } => "alpha",
            Self::Ip { .. } => "ip",
        }
    }
}

/// A menu item as declared: its text, type, and the options common to all types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MenuItem {
    /// The visible text.
    pub text: Text,
    /// The type and its options.
    pub kind: MenuItemKind,
    /// `-is_hidden`.
    pub hidden: bool,
    /// `-next` (not for menus).
    pub next: Option<Successor>,
    /// `-prev`.
    pub prev: Option<Successor>,
}

impl MenuItem {
    /// An item with `text` and `kind`, visible, without successors.
    pub fn new(text: impl Into<Text>, kind: MenuItemKind) -> Self {
        Self {
            text: text.into(),
            kind,
            hidden: false,
            next: None,
            prev: None,
        }
    }

    /// Applies a `menu_set_item` option to the declaration, so that a replay shows the latest
    /// state. An option for another item type is ignored (LCDd refuses it too).
    pub fn apply(&mut self, set: &MenuSet) {
        match (set, &mut self.kind) {
            (MenuSet::Text(t), _) => self.text = t.clone(),
            (MenuSet::Hidden(h), _) => self.hidden = *h,
            (MenuSet::Next(s), _) => self.next = Some(s.clone()),
            (MenuSet::Prev(s), _) => self.prev = Some(s.clone()),
            (MenuSet::Checkbox(v), MenuItemKind::Checkbox { value, .. }) => *value = *v,
            (MenuSet::Ring(v), MenuItemKind::Ring { value, .. }) => *value = *v,
            (MenuSet::Numeric(v), MenuItemKind::Numeric { value, .. }) => *value = *v,
            (MenuSet::Alpha(v), MenuItemKind::Alpha { value, .. }) => *value = v.clone(),
            (MenuSet::Ip(v), MenuItemKind::Ip { value }) => *value = *v,
            _ => {}
        }
    }
}

/// One option of `menu_set_item`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuSet {
    /// `-text`.
    Text(Text),
    /// `-is_hidden`.
    Hidden(bool),
    /// `-next`.
    Next(Successor),
    /// `-prev`.
    Prev(Successor),
    /// `-value` of a checkbox.
    Checkbox(Checkbox),
    /// `-value` of a ring.
    Ring(u16),
    /// `-value` of a numeric item.
    Numeric(i32),
    /// `-value` of an alpha item.
    Alpha(Text),
    /// `-value` of an ip item.
    Ip(IpAddr),
}

pub(super) fn successor(s: &Successor) -> &str {
    match s {
        Successor::Item(id) => id.as_str(),
        Successor::Close => "_close_",
        Successor::Quit => "_quit_",
        Successor::None => "_none_",
    }
}

pub(super) fn checkbox(c: Checkbox) -> &'static str {
    match c {
        Checkbox::Off => "off",
        Checkbox::On => "on",
        Checkbox::Gray => "gray",
    }
}

pub(super) fn boolean(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

pub(super) fn encode_kind(l: &mut Line<'_>, kind: &MenuItemKind) {
    match kind {
        MenuItemKind::Menu => {}
        MenuItemKind::Action { result } => {
            let r = match result {
                MenuResult::None => "none",
                MenuResult::Close => "close",
                MenuResult::Quit => "quit",
            };
            l.word("-menu_result").word(r);
        }
        MenuItemKind::Checkbox { value, allow_gray } => {
            l.word("-value").word(checkbox(*value));
            l.word("-allow_gray").word(boolean(*allow_gray));
        }
        MenuItemKind::Ring { strings, value } => {
            // Choices are separated by the two characters `\t`, which LCDd turns into a tab.
            let mut joined = Vec::new();
            for (i, s) in strings
                .iter()
                .filter(|s| !s.as_str().is_empty())
                .enumerate()
            {
                if i > 0 {
                    joined.extend_from_slice(b"\\t");
                }
                escape_into(&mut joined, s.as_str());
            }
            l.word("-strings");
            l.0.extend_from_slice(b" \"");
            l.0.extend_from_slice(&joined);
            l.0.push(b'"');
            l.word("-value").num(value);
        }
        MenuItemKind::Numeric { value, min, max } => {
            l.word("-value").num(value);
            l.word("-minvalue").num(min).word("-maxvalue").num(max);
        }
        MenuItemKind::Alpha {
            value,
            min_length,
            max_length,
            caps,
            noncaps,
            numbers,
            extra,
        } => {
            l.word("-value").text(value.as_str());
            l.word("-minlength").num(min_length);
            l.word("-maxlength").num(max_length);
            l.word("-allow_caps").word(boolean(*caps));
            l.word("-allow_noncaps").word(boolean(*noncaps));
            l.word("-allow_numbers").word(boolean(*numbers));
            l.word("-allowed_extra").text(extra.as_str());
        }
        MenuItemKind::Ip { value } => {
            l.word("-v6").word(boolean(value.is_ipv6()));
            l.word("-value").text(&value.to_string());
        }
    }
}
