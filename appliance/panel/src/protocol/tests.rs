use super::*;
use proptest::prelude::*;

/// Splits a command line the way LCDd's `get_args` does: words separated by spaces, double
/// quotes group a word, a backslash takes the next character literally (`\t` is a tab).
fn lcdd_split(line: &[u8]) -> Vec<String> {
    let line = std::str::from_utf8(line).unwrap();
    let line = line.strip_suffix('\n').expect("ends with \\n");
    assert!(!line.contains('\n'));
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut in_word, mut chars) = (false, false, line.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('t') => word.push('\t'),
                    Some(n) => word.push(n),
                    None => {}
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    if in_word {
        words.push(word);
    }
    words
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

#[test]
fn vectors_from_lcdd_0_5_9() {
    assert_eq!(
        parse(b"connect LCDproc 0.5.9 protocol 0.3 lcd wid 20 hgt 4 cellwid 5 cellhgt 8"),
        Ok(Reply::Connect(ConnectInfo {
            server_version: "0.5.9",
            protocol: "0.3",
            width: 20,
            height: 4,
            cell_width: 5,
            cell_height: 8,
        }))
    );
    assert_eq!(parse(b"success"), Ok(Reply::Success));
    assert_eq!(
        parse(b"huh? Unknown option: \"-bogus\""),
        Ok(Reply::Huh("Unknown option: \"-bogus\""))
    );
    assert_eq!(parse(b"huh?"), Ok(Reply::Huh("")));
    assert_eq!(parse(b"listen s1"), Ok(Reply::Listen("s1")));
    assert_eq!(parse(b"ignore s1"), Ok(Reply::Ignore("s1")));
    assert_eq!(parse(b"key Down"), Ok(Reply::Key("Down")));
    assert_eq!(
        parse(b"menuevent update c1 off"),
        Ok(Reply::MenuEvent {
            kind: MenuEventKind::Update,
            id: "c1",
            value: Some("off")
        })
    );
    assert_eq!(
        parse(b"menuevent enter _client_menu_"),
        Ok(Reply::MenuEvent {
            kind: MenuEventKind::Enter,
            id: "_client_menu_",
            value: None
        })
    );
    assert_eq!(parse(b"noop complete"), Ok(Reply::NoopComplete));
    assert_eq!(parse(b"bye"), Ok(Reply::Bye));
}

#[test]
fn errors_name_the_field_and_offset() {
    let e = |l: &[u8]| parse(l).unwrap_err();
    assert_eq!(e(b"curses driver").kind, ParseErrorKind::Unknown);
    assert_eq!(e(b"").kind, ParseErrorKind::Unknown);
    assert_eq!(
        e(b"connect LCDproc 0.5.9 protocol 0.3 lcd wid 0 hgt 4 cellwid 5 cellhgt 8"),
        ParseError {
            kind: ParseErrorKind::Field("wid"),
            offset: 43
        }
    );
    assert_eq!(
        e(b"connect LCDproc 0.5.9 protocol 0.3 lcd wid 20").kind,
        ParseErrorKind::Field("hgt")
    );
    assert_eq!(
        e(b"menuevent jump x"),
        ParseError {
            kind: ParseErrorKind::Field("menuevent type"),
            offset: 10
        }
    );
    assert_eq!(e(b"key").kind, ParseErrorKind::Field("key"));
    assert_eq!(
        e(b"listen a b"),
        ParseError {
            kind: ParseErrorKind::Field("listen"),
            offset: 9
        }
    );
    assert_eq!(e(b"success now").kind, ParseErrorKind::Field("success"));
    assert_eq!(e(b"noop later").kind, ParseErrorKind::Field("noop"));
    assert_eq!(
        e(b"success\r"),
        ParseError {
            kind: ParseErrorKind::ControlCharacter(13),
            offset: 7
        }
    );
    assert_eq!(
        e(b"key \xff"),
        ParseError {
            kind: ParseErrorKind::NotText,
            offset: 4
        }
    );
    assert_eq!(e(&[b'a'; MAX_LINE + 1]).kind, ParseErrorKind::TooLong);
}

#[test]
fn ids_are_restricted() {
    assert!(Id::new("status.lan-1_a").is_ok());
    assert_eq!(Id::new(""), Err(IdError::Empty));
    assert_eq!(Id::new("-name"), Err(IdError::Character(0)));
    assert_eq!(Id::new("_close_"), Err(IdError::Character(0)));
    assert_eq!(Id::new("a b"), Err(IdError::Character(1)));
    assert_eq!(Id::new("a\"b"), Err(IdError::Character(1)));
    assert_eq!(Id::new(&"a".repeat(MAX_ID + 1)), Err(IdError::TooLong));
    assert_eq!(KeyName::new("Up.x"), Err(IdError::Character(2)));
}

#[test]
fn text_strips_controls_and_is_bounded() {
    assert_eq!(Text::new("a\nb\tc\u{7f}d\u{85}").as_str(), "abcd");
    let long = "é".repeat(MAX_TEXT);
    let t = Text::new(&long);
    assert!(t.as_str().len() <= MAX_TEXT && t.as_str().len() > MAX_TEXT - 2);
}

#[test]
fn encodings() {
    let cases: Vec<(Command, &str)> = vec![
        (Command::Hello, "hello\n"),
        (
            Command::ClientSet {
                name: "Off \"hook\" \\".into(),
            },
            "client_set -name \"Off \\\"hook\\\" \\\\\"\n",
        ),
        (
            Command::ScreenSet(
                id("s1"),
                ScreenOptions {
                    name: Some("Status".into()),
                    priority: Some(Priority::Foreground),
                    heartbeat: Some(Heartbeat::Off),
                    duration: Some(16),
                    ..Default::default()
                },
            ),
            "screen_set s1 -name \"Status\" -priority foreground -heartbeat off -duration 16\n",
        ),
        (
            Command::WidgetSet {
                screen: id("s1"),
                widget: id("w"),
                value: WidgetValue::Scroller {
                    left: 1,
                    top: 4,
                    right: 20,
                    bottom: 4,
                    direction: Direction::Marquee,
                    speed: 2,
                    text: "hi".into(),
                },
            },
            "widget_set s1 w 1 4 20 4 m 2 \"hi\"\n",
        ),
        (
            Command::ClientAddKey {
                exclusive: true,
                keys: vec![KeyName::new("Up").unwrap(), KeyName::new("Down").unwrap()],
            },
            "client_add_key -exclusively Up Down\n",
        ),
        (
            Command::MenuAddItem {
                parent: None,
                id: id("dhcp"),
                item: MenuItem::new(
                    "DHCP",
                    MenuItemKind::Ring {
                        strings: vec!["off".into(), "on".into()],
                        value: 1,
                    },
                ),
            },
            "menu_add_item \"\" dhcp ring -text \"DHCP\" -strings \"off\\ton\" -value 1\n",
        ),
        (
            Command::MenuSetItem {
                parent: Some(id("lan")),
                id: id("ip"),
                set: vec![
                    MenuSet::Ip("192.0.2.20".parse().unwrap()),
                    MenuSet::Hidden(false),
                ],
            },
            "menu_set_item \"lan\" ip -value \"192.0.2.20\" -is_hidden false\n",
        ),
        (Command::MenuSetMain(None), "menu_set_main \"\"\n"),
        (Command::Output(Output::Bits(5)), "output 5\n"),
        (Command::Noop, "noop\n"),
    ];
    for (command, line) in cases {
        assert_eq!(String::from_utf8(command.to_line()).unwrap(), line);
    }
}

fn arb_text() -> impl Strategy<Value = Text> {
    any::<String>().prop_map(|s| Text::new(&s))
}

fn arb_id() -> impl Strategy<Value = Id> {
    "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}".prop_map(|s| Id::new(&s).unwrap())
}

proptest! {
    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..1100)) {
        if let Ok(Reply::Connect(c)) = parse(&line) {
            prop_assert!((1..=MAX_DIMENSION).contains(&c.width));
            prop_assert!((1..=MAX_DIMENSION).contains(&c.height));
        }
    }

    #[test]
    fn parse_words_never_panics(words in proptest::collection::vec(
        prop_oneof![
            Just("connect".to_owned()), Just("wid".to_owned()), Just("hgt".to_owned()),
            Just("menuevent".to_owned()), Just("update".to_owned()), Just("noop".to_owned()),
            Just("complete".to_owned()), "[0-9]{1,6}", "[a-z ]{0,4}",
        ], 0..12)) {
        let line = words.join(" ");
        let _ = parse(line.as_bytes());
    }

    #[test]
    fn quoting_round_trips(text in arb_text(), screen in arb_id(), widget in arb_id(),
                           x in 1u16..100, y in 1u16..100) {
        let command = Command::WidgetSet {
            screen: screen.clone(),
            widget: widget.clone(),
            value: WidgetValue::String { x, y, text: text.clone() },
        };
        let words = lcdd_split(&command.to_line());
        let expect = vec!["widget_set".to_owned(), screen.to_string(), widget.to_string(),
                          x.to_string(), y.to_string(), text.to_string()];
        prop_assert_eq!(words, expect);
    }

    #[test]
    fn menu_items_split_into_their_fields(text in arb_text(), id in arb_id(),
                                          choices in proptest::collection::vec(arb_text(), 0..5)) {
        let item = MenuItem::new(text.clone(), MenuItemKind::Ring { strings: choices.clone(), value: 0 });
        let command = Command::MenuAddItem { parent: None, id: id.clone(), item };
        let words = lcdd_split(&command.to_line());
        let joined: Vec<&str> = choices.iter().map(Text::as_str).filter(|s| !s.is_empty()).collect();
        let expect = vec!["menu_add_item".to_owned(), String::new(), id.to_string(), "ring".into(),
                          "-text".into(), text.to_string(), "-strings".into(), joined.join("\t"),
                          "-value".into(), "0".into()];
        prop_assert_eq!(words, expect);
    }

    #[test]
    fn server_lines_round_trip(kind in 0usize..6, item in "[a-z_]{1,20}", value in proptest::option::of("[a-z0-9. ]{0,20}")) {
        let kinds = [MenuEventKind::Select, MenuEventKind::Update, MenuEventKind::Plus,
                     MenuEventKind::Minus, MenuEventKind::Enter, MenuEventKind::Leave];
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut line = format!("menuevent {} {item}", kinds[kind].as_str());
        if let Some(v) = &value {
            line.push(' ');
            line.push_str(v);
        }
        prop_assert_eq!(parse(line.as_bytes()), Ok(Reply::MenuEvent {
            kind: kinds[kind], id: &item, value: value.as_deref() }));
    }
}

#[test]
fn limits_are_inclusive() {
    let mut line = b"huh? ".to_vec();
    line.resize(MAX_LINE, b'x');
    assert!(matches!(parse(&line), Ok(Reply::Huh(t)) if t.len() == MAX_LINE - 5));
    let connect = |wid: u16| {
        format!("connect LCDproc 0.5.9 protocol 0.3 lcd wid {wid} hgt 4 cellwid 5 cellhgt 8")
    };
    assert!(matches!(
        parse(connect(MAX_DIMENSION).as_bytes()),
        Ok(Reply::Connect(c)) if c.width == MAX_DIMENSION
    ));
    assert_eq!(
        parse(connect(MAX_DIMENSION + 1).as_bytes()),
        Err(ParseError {
            kind: ParseErrorKind::Field("wid"),
            offset: 43
        })
    );
}

#[test]
fn missing_values_name_their_field_at_the_end_of_the_line() {
    let e = |l: &[u8]| parse(l).unwrap_err();
    assert_eq!(
        e(b"ignore"),
        ParseError {
            kind: ParseErrorKind::Field("ignore"),
            offset: 6
        }
    );
    assert_eq!(
        e(b"menuevent select"),
        ParseError {
            kind: ParseErrorKind::Field("menuevent id"),
            offset: 16
        }
    );
    assert_eq!(
        e(b"connect LCDproc"),
        ParseError {
            kind: ParseErrorKind::Field("LCDproc"),
            offset: 8
        }
    );
    assert_eq!(
        e(b"connect LCDproc 0.5.9 protocol"),
        ParseError {
            kind: ParseErrorKind::Field("protocol"),
            offset: 22
        }
    );
}

#[test]
fn text_after_a_run_of_spaces_is_kept_whole() {
    assert_eq!(
        parse(b"huh?        bad  option"),
        Ok(Reply::Huh("bad  option"))
    );
    assert_eq!(
        parse(b"menuevent   update  c1      on"),
        Ok(Reply::MenuEvent {
            kind: MenuEventKind::Update,
            id: "c1",
            value: Some("on")
        })
    );
}

#[test]
fn backlights_successors_and_key_names_encode_as_lcdd_spells_them() {
    let cases: Vec<(Command, &str)> = vec![
        (Command::Backlight(Backlight::Blink), "backlight blink\n"),
        (
            Command::ScreenSet(
                id("s1"),
                ScreenOptions {
                    backlight: Some(Backlight::Off),
                    ..Default::default()
                },
            ),
            "screen_set s1 -backlight off\n",
        ),
        (
            Command::MenuAddItem {
                parent: None,
                id: id("go"),
                item: MenuItem {
                    next: Some(Successor::Close),
                    prev: Some(Successor::Item(id("back"))),
                    ..MenuItem::new(
                        "Go",
                        MenuItemKind::Action {
                            result: MenuResult::Quit,
                        },
                    )
                },
            },
            "menu_add_item \"\" go action -text \"Go\" -menu_result quit -next _close_ -prev back\n",
        ),
        (
            Command::MenuSetItem {
                parent: None,
                id: id("go"),
                set: vec![
                    MenuSet::Next(Successor::Quit),
                    MenuSet::Prev(Successor::None),
                ],
            },
            "menu_set_item \"\" go -next _quit_ -prev _none_\n",
        ),
    ];
    for (command, line) in cases {
        assert_eq!(String::from_utf8(command.to_line()).unwrap(), line);
    }
    assert_eq!(KeyName::new("Escape").unwrap().to_string(), "Escape");
}

#[test]
fn set_options_change_the_item_and_values_only_of_their_type() {
    let mut item = MenuItem::new("a", MenuItemKind::Menu);
    item.apply(&MenuSet::Text("b".into()));
    item.apply(&MenuSet::Hidden(true));
    item.apply(&MenuSet::Next(Successor::Close));
    item.apply(&MenuSet::Prev(Successor::Quit));
    item.apply(&MenuSet::Ring(1));
    assert_eq!(
        item,
        MenuItem {
            text: "b".into(),
            kind: MenuItemKind::Menu,
            hidden: true,
            next: Some(Successor::Close),
            prev: Some(Successor::Quit),
        }
    );
    let cases = [
        (
            MenuItemKind::Ring {
                strings: vec!["off".into(), "on".into()],
                value: 0,
            },
            MenuSet::Ring(1),
            MenuItemKind::Ring {
                strings: vec!["off".into(), "on".into()],
                value: 1,
            },
        ),
        (
            MenuItemKind::Numeric {
                value: 1,
                min: 0,
                max: 9,
            },
            MenuSet::Numeric(7),
            MenuItemKind::Numeric {
                value: 7,
                min: 0,
                max: 9,
            },
        ),
        (
            MenuItemKind::Alpha {
                value: "old".into(),
                min_length: 0,
                max_length: 8,
                caps: true,
                noncaps: true,
                numbers: false,
                extra: "".into(),
            },
            MenuSet::Alpha("new".into()),
            MenuItemKind::Alpha {
                value: "new".into(),
                min_length: 0,
                max_length: 8,
                caps: true,
                noncaps: true,
                numbers: false,
                extra: "".into(),
            },
        ),
    ];
    for (kind, set, want) in cases {
        let mut item = MenuItem::new("a", kind);
        item.apply(&set);
        assert_eq!(item.kind, want);
    }
}
