//! The commands a client sends (Developer's Guide, "Command reference"), limited to what
//! LCDd 0.5.9 (protocol 0.3) implements.

use std::fmt::Write as _;

use super::menu::{MenuItem, MenuSet, boolean, checkbox, successor};
use super::text::{Id, KeyName, Text, push_quoted};

/// A screen's priority class (`screen_set -priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Never shown.
    Hidden,
    /// Shown only when there is no info screen.
    Background,
    /// An ordinary, rotating screen (LCDd's default).
    Info,
    /// An active client's screen; rotates among its peers.
    Foreground,
    /// An important message; does not rotate.
    Alert,
    /// The client is doing interactive input.
    Input,
}

/// A screen's heartbeat (`screen_set -heartbeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Heartbeat {
    /// Shown.
    On,
    /// Not shown.
    Off,
    /// The client's setting (the default).
    Open,
}

/// A backlight setting (`screen_set -backlight`, `backlight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backlight {
    /// On.
    On,
    /// Off.
    Off,
    /// Toggled.
    Toggle,
    /// The client's setting (screens only).
    Open,
    /// Blinking.
    Blink,
    /// Flashing, very striking.
    Flash,
}

/// A screen's cursor (`screen_set -cursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// Shown.
    On,
    /// Hidden (the default).
    Off,
    /// An underline.
    Under,
    /// A block.
    Block,
}

/// The general-purpose output of some displays (`output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// All high.
    On,
    /// All low.
    Off,
    /// A device-specific bit pattern.
    Bits(u32),
}

/// The options of `screen_set`; each one present is one `-option value` pair, and LCDd answers
/// each pair separately.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScreenOptions {
    /// `-name`: the name shown in LCDd's own menu.
    pub name: Option<Text>,
    /// `-wid`: width in characters (the display's if unset).
    pub width: Option<u16>,
    /// `-hgt`: height in characters.
    pub height: Option<u16>,
    /// `-priority`.
    pub priority: Option<Priority>,
    /// `-heartbeat`.
    pub heartbeat: Option<Heartbeat>,
    /// `-backlight`.
    pub backlight: Option<Backlight>,
    /// `-duration`: time shown per rotation, in eighths of a second.
    pub duration: Option<u32>,
    /// `-timeout`: the screen is deleted after being shown this long, in eighths of a second.
    pub timeout: Option<u32>,
    /// `-cursor`.
    pub cursor: Option<Cursor>,
}

impl ScreenOptions {
    /// How many options are set (LCDd answers once per option).
    pub fn count(&self) -> usize {
        [
            self.name.is_some(),
            self.width.is_some(),
            self.height.is_some(),
            self.priority.is_some(),
            self.heartbeat.is_some(),
            self.backlight.is_some(),
            self.duration.is_some(),
            self.timeout.is_some(),
            self.cursor.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
    }

    /// Sets in `self` every option set in `other`.
    pub fn merge(&mut self, other: &Self) {
        fn take<T: Clone>(a: &mut Option<T>, b: &Option<T>) {
            if b.is_some() {
                a.clone_from(b);
            }
        }
        take(&mut self.name, &other.name);
        take(&mut self.width, &other.width);
        take(&mut self.height, &other.height);
        take(&mut self.priority, &other.priority);
        take(&mut self.heartbeat, &other.heartbeat);
        take(&mut self.backlight, &other.backlight);
        take(&mut self.duration, &other.duration);
        take(&mut self.timeout, &other.timeout);
        take(&mut self.cursor, &other.cursor);
    }
}

/// A widget type (`widget_add`). Frames, icons and big numbers are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WidgetKind {
    /// Text at a position.
    String,
    /// A title bar across the top.
    Title,
    /// A horizontal bar.
    Hbar,
    /// A vertical bar.
    Vbar,
    /// Scrolling text in a rectangle.
    Scroller,
}

/// A scroller's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `h`: horizontal.
    Horizontal,
    /// `v`: vertical.
    Vertical,
    /// `m`: marquee.
    Marquee,
}

/// The parameters of `widget_set`, per widget type. Coordinates are 1-based characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WidgetValue {
    /// `x y text`.
    String {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// The text.
        text: Text,
    },
    /// `text`.
    Title(Text),
    /// `x y length` (length in pixels).
    Hbar {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Length in pixels.
        length: u32,
    },
    /// `x y length` (length in pixels).
    Vbar {
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Length in pixels.
        length: u32,
    },
    /// `left top right bottom direction speed text`.
    Scroller {
        /// Left column.
        left: u16,
        /// Top row.
        top: u16,
        /// Right column.
        right: u16,
        /// Bottom row.
        bottom: u16,
        /// Direction.
        direction: Direction,
        /// Movements per rendering stroke (8 per second).
        speed: u16,
        /// The text.
        text: Text,
    },
}

impl WidgetValue {
    /// The widget type this value is for.
    pub fn kind(&self) -> WidgetKind {
        match self {
            Self::String { .. } => WidgetKind::String,
            Self::Title(_) => WidgetKind::Title,
            Self::Hbar { .. } => WidgetKind::Hbar,
            Self::Vbar { .. } => WidgetKind::Vbar,
            Self::Scroller { .. } => WidgetKind::Scroller,
        }
    }
}

/// A client command. [`Command::encode`] writes it as one line ending in `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `hello`: opens the session; answered by `connect …`.
    Hello,
    /// `client_set -name`.
    ClientSet {
        /// The client's name as LCDd's menu shows it.
        name: Text,
    },
    /// `screen_add`.
    ScreenAdd(Id),
    /// `screen_set` with one or more options.
    ScreenSet(Id, ScreenOptions),
    /// `screen_del`.
    ScreenDel(Id),
    /// `widget_add`.
    WidgetAdd {
        /// Its screen.
        screen: Id,
        /// The widget.
        widget: Id,
        /// The type.
        kind: WidgetKind,
    },
    /// `widget_set`.
    WidgetSet {
        /// Its screen.
        screen: Id,
        /// The widget.
        widget: Id,
        /// The parameters.
        value: WidgetValue,
    },
    /// `widget_del`.
    WidgetDel {
        /// Its screen.
        screen: Id,
        /// The widget.
        widget: Id,
    },
    /// `client_add_key [-exclusively] key…`.
    ClientAddKey {
        /// Reserved for this client alone, whichever screen is shown.
        exclusive: bool,
        /// The keys.
        keys: Vec<KeyName>,
    },
    /// `client_del_key key…`.
    ClientDelKey(Vec<KeyName>),
    /// `menu_add_item`.
    MenuAddItem {
        /// The menu it goes in; `None` is the client's main menu (`""`).
        parent: Option<Id>,
        /// The new item.
        id: Id,
        /// What it is.
        item: MenuItem,
    },
    /// `menu_set_item`.
    MenuSetItem {
        /// The menu it is in; `None` is the client's main menu.
        parent: Option<Id>,
        /// The item.
        id: Id,
        /// The options to set.
        set: Vec<MenuSet>,
    },
    /// `menu_del_item`.
    MenuDelItem {
        /// The menu it is in; `None` is the client's main menu.
        parent: Option<Id>,
        /// The item.
        id: Id,
    },
    /// `menu_goto`: opens the menu system at an item (`None`: the client's main menu).
    MenuGoto(Option<Id>),
    /// `menu_set_main`: the entry point of LCDd's menu key. `None`: the client's main menu
    /// replaces LCDd's own.
    MenuSetMain(Option<Id>),
    /// `noop`: answered by `noop complete`; the stream's sync point.
    Noop,
    /// `backlight`: the client's backlight.
    Backlight(Backlight),
    /// `output`: the display's general-purpose output.
    Output(Output),
}

fn priority(p: Priority) -> &'static str {
    match p {
        Priority::Hidden => "hidden",
        Priority::Background => "background",
        Priority::Info => "info",
        Priority::Foreground => "foreground",
        Priority::Alert => "alert",
        Priority::Input => "input",
    }
}

fn backlight(b: Backlight) -> &'static str {
    match b {
        Backlight::On => "on",
        Backlight::Off => "off",
        Backlight::Toggle => "toggle",
        Backlight::Open => "open",
        Backlight::Blink => "blink",
        Backlight::Flash => "flash",
    }
}

/// A line under construction. Words are ids, keywords and numbers (never quoted) or quoted
/// text.
pub(super) struct Line<'a>(pub(super) &'a mut Vec<u8>);

impl Line<'_> {
    pub(super) fn word(&mut self, w: &str) -> &mut Self {
        self.0.push(b' ');
        self.0.extend_from_slice(w.as_bytes());
        self
    }

    pub(super) fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let mut s = String::new();
        let _ = write!(s, "{n}");
        self.word(&s)
    }

    pub(super) fn text(&mut self, t: &str) -> &mut Self {
        push_quoted(self.0, t);
        self
    }

    fn menu(&mut self, parent: Option<&Id>) -> &mut Self {
        self.text(parent.map_or("", Id::as_str))
    }
}

impl Command {
    /// Appends the command as one line ending in `\n`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            Self::Hello => out.extend_from_slice(b"hello"),
            Self::ClientSet { name } => {
                out.extend_from_slice(b"client_set");
                Line(out).word("-name").text(name.as_str());
            }
            Self::ScreenAdd(id) => {
                out.extend_from_slice(b"screen_add");
                Line(out).word(id.as_str());
            }
            Self::ScreenSet(id, o) => {
                out.extend_from_slice(b"screen_set");
                let mut l = Line(out);
                l.word(id.as_str());
                if let Some(n) = &o.name {
                    l.word("-name").text(n.as_str());
                }
                if let Some(w) = o.width {
                    l.word("-wid").num(w);
                }
                if let Some(h) = o.height {
                    l.word("-hgt").num(h);
                }
                if let Some(p) = o.priority {
                    l.word("-priority").word(priority(p));
                }
                if let Some(h) = o.heartbeat {
                    let h = match h {
                        Heartbeat::On => "on",
                        Heartbeat::Off => "off",
                        Heartbeat::Open => "open",
                    };
                    l.word("-heartbeat").word(h);
                }
                if let Some(b) = o.backlight {
                    l.word("-backlight").word(backlight(b));
                }
                if let Some(d) = o.duration {
                    l.word("-duration").num(d);
                }
                if let Some(t) = o.timeout {
                    l.word("-timeout").num(t);
                }
                if let Some(c) = o.cursor {
                    let c = match c {
                        Cursor::On => "on",
                        Cursor::Off => "off",
                        Cursor::Under => "under",
                        Cursor::Block => "block",
                    };
                    l.word("-cursor").word(c);
                }
            }
            Self::ScreenDel(id) => {
                out.extend_from_slice(b"screen_del");
                Line(out).word(id.as_str());
            }
            Self::WidgetAdd {
                screen,
                widget,
                kind,
            } => {
                out.extend_from_slice(b"widget_add");
                let kind = match kind {
                    WidgetKind::String => "string",
                    WidgetKind::Title => "title",
                    WidgetKind::Hbar => "hbar",
                    WidgetKind::Vbar => "vbar",
                    WidgetKind::Scroller => "scroller",
                };
                Line(out)
                    .word(screen.as_str())
                    .word(widget.as_str())
                    .word(kind);
            }
            Self::WidgetSet {
                screen,
                widget,
                value,
            } => {
                out.extend_from_slice(b"widget_set");
                let mut l = Line(out);
                l.word(screen.as_str()).word(widget.as_str());
                match value {
                    WidgetValue::String { x, y, text } => {
                        l.num(x).num(y).text(text.as_str());
                    }
                    WidgetValue::Title(text) => {
                        l.text(text.as_str());
                    }
                    WidgetValue::Hbar { x, y, length } | WidgetValue::Vbar { x, y, length } => {
                        l.num(x).num(y).num(length);
                    }
                    WidgetValue::Scroller {
                        left,
                        top,
                        right,
                        bottom,
                        direction,
                        speed,
                        text,
                    } => {
                        let d = match direction {
                            Direction::Horizontal => "h",
                            Direction::Vertical => "v",
                            Direction::Marquee => "m",
                        };
                        l.num(left).num(top).num(right).num(bottom).word(d);
                        l.num(speed).text(text.as_str());
                    }
                }
            }
            Self::WidgetDel { screen, widget } => {
                out.extend_from_slice(b"widget_del");
                Line(out).word(screen.as_str()).word(widget.as_str());
            }
            Self::ClientAddKey { exclusive, keys } => {
                out.extend_from_slice(b"client_add_key");
                let mut l = Line(out);
                if *exclusive {
                    l.word("-exclusively");
                }
                for k in keys {
                    l.word(k.as_str());
                }
            }
            Self::ClientDelKey(keys) => {
                out.extend_from_slice(b"client_del_key");
                let mut l = Line(out);
                for k in keys {
                    l.word(k.as_str());
                }
            }
            Self::MenuAddItem { parent, id, item } => {
                out.extend_from_slice(b"menu_add_item");
                let mut l = Line(out);
                l.menu(parent.as_ref()).word(id.as_str());
                l.word(item.kind.keyword());
                l.word("-text").text(item.text.as_str());
                if item.hidden {
                    l.word("-is_hidden").word("true");
                }
                super::menu::encode_kind(&mut l, &item.kind);
                if let Some(s) = &item.next {
                    l.word("-next").word(successor(s));
                }
                if let Some(s) = &item.prev {
                    l.word("-prev").word(successor(s));
                }
            }
            Self::MenuSetItem { parent, id, set } => {
                out.extend_from_slice(b"menu_set_item");
                let mut l = Line(out);
                l.menu(parent.as_ref()).word(id.as_str());
                for s in set {
                    match s {
                        MenuSet::Text(t) => l.word("-text").text(t.as_str()),
                        MenuSet::Hidden(h) => l.word("-is_hidden").word(boolean(*h)),
                        MenuSet::Next(s) => l.word("-next").word(successor(s)),
                        MenuSet::Prev(s) => l.word("-prev").word(successor(s)),
                        MenuSet::Checkbox(c) => l.word("-value").word(checkbox(*c)),
                        MenuSet::Ring(v) => l.word("-value").num(v),
                        MenuSet::Numeric(v) => l.word("-value").num(v),
                        MenuSet::Alpha(t) => l.word("-value").text(t.as_str()),
                        MenuSet::Ip(ip) => l.word("-value").text(&ip.to_string()),
                    };
                }
            }
            Self::MenuDelItem { parent, id } => {
                out.extend_from_slice(b"menu_del_item");
                Line(out).menu(parent.as_ref()).word(id.as_str());
            }
            Self::MenuGoto(id) => {
                out.extend_from_slice(b"menu_goto");
                Line(out).menu(id.as_ref());
            }
            Self::MenuSetMain(id) => {
                out.extend_from_slice(b"menu_set_main");
                Line(out).menu(id.as_ref());
            }
            Self::Noop => out.extend_from_slice(b"noop"),
            Self::Backlight(b) => {
                out.extend_from_slice(b"backlight");
                Line(out).word(backlight(*b));
            }
            Self::Output(o) => {
                out.extend_from_slice(b"output");
                match o {
                    Output::On => Line(out).word("on"),
                    Output::Off => Line(out).word("off"),
                    Output::Bits(n) => Line(out).num(n),
                };
            }
        }
        debug_assert!(!out[start..].contains(&b'\n'));
        out.push(b'\n');
    }

    /// The command as a line, for logs and tests.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}
