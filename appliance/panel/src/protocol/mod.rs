//! LCDd's client protocol ("widget language", protocol 0.3 as spoken by LCDd 0.5.9): syntax only.
//!
//! The connection is a TCP byte stream of `\n`-terminated text lines in both directions. The
//! client sends commands ([`Command`], encoded by [`Command::encode`]); the server sends replies
//! and unsolicited notices ([`Reply`], parsed by [`parse`]).
//!
//! Sources for the protocol facts (facts only; no code was taken from them):
//! - *LCDproc Developer's Guide*, chapter "The LCDproc client language"
//!   (`docs/lcdproc-dev/language.docbook` in the LCDproc sources): the commands, their options,
//!   the item types of the menu system and their options, the server messages `success`,
//!   `huh?`, `listen`, `ignore`, `key` and `menuevent` (types select, update, plus, minus,
//!   enter, leave; optional value), and the quoting rule (double quotes; a backslash escapes
//!   the next character, `\t` is a tab, used between the choices of a ring item).
//! - The format strings in the LCDd 0.5.9 binary (`strings /usr/sbin/LCDd`): `connect LCDproc
//!   %s protocol %s lcd wid %i hgt %i cellwid %i cellhgt %i`, `noop complete`, `menuevent %s
//!   %.40s %s`; the command table has no `key_add` (protocol 0.4), but has `output`, `info`,
//!   `sleep` and `bye`.
//! - Observed on LCDd 0.5.9 with a probe client (the test `tests/lcdd.rs` repeats the parts
//!   the appliance relies on): `screen_set` and `menu_set_item` answer once per option, and a
//!   bad option draws `huh?` lines *as well as* a `success`; `widget_add` of an existing id
//!   answers `success`; `client_del_key` of an unknown key answers `success`; `info` answers a
//!   bare text line; `listen`/`ignore`/`menuevent` lines arrive between the answers; `\\`
//!   shows one backslash; the client's main menu is `_client_menu_` in `menuevent` lines; an
//!   ip item reports `update` with an unpadded address (`0.0.2.2`) though it shows zero-padded
//!   octets while editing; the curses driver names the arrow keys `Up`, `Down`, `Left` and
//!   `Right`, Return `Enter` and Escape `Escape` (with `ESCDELAY=25`); the key configured as
//!   `[menu] MenuKey` is taken by LCDd's menu and never reaches a client as `key`.
//!
//! Server lines are parsed by borrowing the input; everything a client sends is built from
//! validated newtypes ([`Id`], [`KeyName`], [`Text`]) so that no encoded line can be split or
//! re-interpreted by the server.

mod command;
mod menu;
mod text;

pub use command::{
    Backlight, Command, Cursor, Direction, Heartbeat, Output, Priority, ScreenOptions, WidgetKind,
    WidgetValue,
};
pub use menu::{Checkbox, MenuItem, MenuItemKind, MenuResult, MenuSet, Successor};
pub use text::{Id, IdError, KeyName, MAX_ID, MAX_TEXT, Text};

/// The longest server line accepted, without its `\n`. LCDd's own lines are far shorter (its
/// `menuevent` ids and values are cut to 40 characters).
pub const MAX_LINE: usize = 1024;
/// The largest display dimension (characters) or cell dimension (pixels) accepted in `connect`.
pub const MAX_DIMENSION: u16 = 256;

/// One line from LCDd, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `connect …`: the answer to `hello`.
    Connect(ConnectInfo<'a>),
    /// `success`: one command (or one option of a command) was carried out.
    Success,
    /// `huh? <text>`: one command (or one option of it) failed; the text is for humans.
    Huh(&'a str),
    /// `listen <screen>`: the screen is now shown.
    Listen(&'a str),
    /// `ignore <screen>`: the screen is no longer shown.
    Ignore(&'a str),
    /// `key <name>`: a key reserved by the client was pressed.
    Key(&'a str),
    /// `menuevent <type> <id> [value]`: the user did something in the client's menu.
    MenuEvent {
        /// What happened.
        kind: MenuEventKind,
        /// The item's id (`_client_menu_` for the client's main menu).
        id: &'a str,
        /// The new value, for `update`, `plus` and `minus`.
        value: Option<&'a str>,
    },
    /// `noop complete`: the answer to `noop`, the stream's sync point.
    NoopComplete,
    /// `bye`: the server is closing the connection.
    Bye,
}

/// The display LCDd announced in its `connect` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectInfo<'a> {
    /// LCDd's version (`0.5.9`).
    pub server_version: &'a str,
    /// The protocol version (`0.3`).
    pub protocol: &'a str,
    /// Display width in characters, 1..=[`MAX_DIMENSION`].
    pub width: u16,
    /// Display height in characters, 1..=[`MAX_DIMENSION`].
    pub height: u16,
    /// Character cell width in pixels, 1..=[`MAX_DIMENSION`].
    pub cell_width: u16,
    /// Character cell height in pixels, 1..=[`MAX_DIMENSION`].
    pub cell_height: u16,
}

/// The kind of a `menuevent` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MenuEventKind {
    /// An action item was activated.
    Select,
    /// A checkbox, ring, numeric, alpha or ip item got a new value.
    Update,
    /// A slider moved right.
    Plus,
    /// A slider moved left.
    Minus,
    /// The item (or menu) became the active one.
    Enter,
    /// The item (or menu) stopped being the active one.
    Leave,
}

impl MenuEventKind {
    /// The keyword on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Select => "select",
            Self::Update => "update",
            Self::Plus => "plus",
            Self::Minus => "minus",
            Self::Enter => "enter",
            Self::Leave => "leave",
        }
    }

    fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "select" => Self::Select,
            "update" => Self::Update,
            "plus" => Self::Plus,
            "minus" => Self::Minus,
            "enter" => Self::Enter,
            "leave" => Self::Leave,
            _ => return None,
        })
    }
}

/// Why a server line could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LCDd line: {kind} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the line where it was found.
    pub offset: usize,
}

/// What is wrong with a server line. All are malformed input from the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Longer than [`MAX_LINE`].
    #[error("longer than {MAX_LINE} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotText,
    /// A control character (the `\n` is not part of the line).
    #[error("control character {0:#04x}")]
    ControlCharacter(u32),
    /// The first word is not one LCDd sends.
    #[error("unknown message")]
    Unknown,
    /// A field is missing or malformed; names the field.
    #[error("bad field {0}")]
    Field(&'static str),
}

/// Splits on single or repeated spaces, remembering each word's offset.
struct Words<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(line: &'a str) -> Self {
        Self { line, pos: 0 }
    }

    /// The offset just past the last word taken (or of the end, once exhausted).
    fn offset(&self) -> usize {
        self.pos
    }

    /// The rest of the line after the next run of spaces, if not empty.
    fn rest(&mut self) -> Option<&'a str> {
        let trimmed = self.line.get(self.pos..)?.trim_start_matches(' ');
        self.pos = self.line.len();
        (!trimmed.is_empty()).then_some(trimmed)
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let tail = self.line.get(self.pos..)?;
        let trimmed = tail.trim_start_matches(' ');
        if trimmed.is_empty() {
            self.pos = self.line.len();
            return None;
        }
        let start = self.pos + (tail.len() - trimmed.len());
        let len = trimmed.find(' ').unwrap_or(trimmed.len());
        self.pos = start + len;
        Some((start, &trimmed[..len]))
    }
}

fn field(kind: &'static str, offset: usize) -> ParseError {
    ParseError {
        kind: ParseErrorKind::Field(kind),
        offset,
    }
}

/// Parses one server line (without its `\n`; a trailing `\r` is a control character).
///
/// Never panics; rejects lines longer than [`MAX_LINE`], non-UTF-8 and control characters
/// before looking at the words. Anything that is not one of the messages of [`Reply`] is
/// [`ParseErrorKind::Unknown`].
pub fn parse(line: &[u8]) -> Result<Reply<'_>, ParseError> {
    if line.len() > MAX_LINE {
        return Err(ParseError {
            kind: ParseErrorKind::TooLong,
            offset: MAX_LINE,
        });
    }
    let line = std::str::from_utf8(line).map_err(|e| ParseError {
        kind: ParseErrorKind::NotText,
        offset: e.valid_up_to(),
    })?;
    if let Some((offset, c)) = line.char_indices().find(|(_, c)| c.is_control()) {
        return Err(ParseError {
            kind: ParseErrorKind::ControlCharacter(u32::from(c)),
            offset,
        });
    }
    let mut words = Words::new(line);
    let Some((_, first)) = words.next() else {
        return Err(ParseError {
            kind: ParseErrorKind::Unknown,
            offset: 0,
        });
    };
    let reply = match first {
        "connect" => Reply::Connect(parse_connect(&mut words)?),
        "success" => Reply::Success,
        "huh?" => Reply::Huh(words.rest().unwrap_or("")),
        "listen" | "ignore" | "key" => {
            let what = match first {
                "listen" => "listen",
                "ignore" => "ignore",
                _ => "key",
            };
            let (_, name) = words.next().ok_or_else(|| field(what, words.offset()))?;
            if let Some((extra, _)) = words.next() {
                return Err(field(what, extra));
            }
            match first {
                "listen" => Reply::Listen(name),
                "ignore" => Reply::Ignore(name),
                _ => Reply::Key(name),
            }
        }
        "menuevent" => {
            let (at, kind) = words
                .next()
                .ok_or_else(|| field("menuevent type", words.offset()))?;
            let kind = MenuEventKind::from_wire(kind).ok_or_else(|| field("menuevent type", at))?;
            let (_, id) = words
                .next()
                .ok_or_else(|| field("menuevent id", words.offset()))?;
            let value = words.rest();
            Reply::MenuEvent { kind, id, value }
        }
        "noop" => match (words.next(), words.next()) {
            (Some((_, "complete")), None) => Reply::NoopComplete,
            (Some((at, _)), _) | (None, Some((at, _))) => return Err(field("noop", at)),
            (None, None) => return Err(field("noop", words.offset())),
        },
        "bye" => Reply::Bye,
        _ => {
            return Err(ParseError {
                kind: ParseErrorKind::Unknown,
                offset: 0,
            });
        }
    };
    if let Reply::Success | Reply::Bye = reply
        && let Some((at, _)) = words.next()
    {
        let what = if reply == Reply::Success {
            "success"
        } else {
            "bye"
        };
        return Err(field(what, at));
    }
    Ok(reply)
}

fn parse_connect<'a>(words: &mut Words<'a>) -> Result<ConnectInfo<'a>, ParseError> {
    let mut server_version = None;
    let mut protocol = None;
    let mut dims: [Option<u16>; 4] = [None; 4];
    const DIMS: [&str; 4] = ["wid", "hgt", "cellwid", "cellhgt"];
    while let Some((at, key)) = words.next() {
        match key {
            "lcd" => {}
            "LCDproc" | "protocol" => {
                let (_, value) = words.next().ok_or_else(|| field(key_name(key), at))?;
                if key == "LCDproc" {
                    server_version = Some(value);
                } else {
                    protocol = Some(value);
                }
            }
            _ => {
                // Unknown keys are skipped for forward compatibility; the known ones take a
                // number.
                if let Some(i) = DIMS.iter().position(|d| *d == key) {
                    let (vat, value) = words.next().ok_or_else(|| field(DIMS[i], at))?;
                    let n: u16 = value.parse().map_err(|_| field(DIMS[i], vat))?;
                    if n == 0 || n > MAX_DIMENSION {
                        return Err(field(DIMS[i], vat));
                    }
                    dims[i] = Some(n);
                }
            }
        }
    }
    let end = words.offset();
    let need = |v: Option<u16>, name| v.ok_or_else(|| field(name, end));
    Ok(ConnectInfo {
        server_version: server_version.ok_or_else(|| field("LCDproc", end))?,
        protocol: protocol.ok_or_else(|| field("protocol", end))?,
        width: need(dims[0], "wid")?,
        height: need(dims[1], "hgt")?,
        cell_width: need(dims[2], "cellwid")?,
        cell_height: need(dims[3], "cellhgt")?,
    })
}

fn key_name(key: &str) -> &'static str {
    if key == "LCDproc" {
        "LCDproc"
    } else {
        "protocol"
    }
}

#[cfg(test)]
mod tests;
