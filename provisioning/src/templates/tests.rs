use std::collections::HashMap;

use quick_xml::events::Event;

use super::*;

const ALICE_MAC: [Mac; 5] = [
    Mac([0x00, 0x1b, 0xd4, 0x01, 0x02, 0x03]),
    Mac([0x00, 0x04, 0xf2, 0xab, 0xcd, 0xef]),
    Mac([0x80, 0x5e, 0xc0, 0x11, 0x22, 0x33]),
    Mac([0x00, 0x0b, 0x82, 0x44, 0x55, 0x66]),
    Mac([0x00, 0x04, 0x13, 0x77, 0x88, 0x99]),
];

/// The same vendors' phones, with no user.
fn spare_mac(i: usize) -> Mac {
    let mut m = ALICE_MAC[i];
    m.0[5] ^= 0xff;
    m
}

#[derive(Default)]
struct Devices(HashMap<Mac, Device>);

impl Directory for Devices {
    fn device(&self, mac: Mac) -> Option<Device> {
        self.0.get(&mac).cloned()
    }
}

fn alice() -> Account {
    Account {
        username: "alice".into(),
        display: "A&B <x> \"q\" 'a'".into(),
        sip_username: "alice-sip".into(),
        sip_secret: "s3cr&t<>".into(),
        number: Some("2041".into()),
    }
}

fn site() -> Site {
    Site {
        registrar: "10.99.0.1".into(),
        sip_port: 5070,
        ntp: vec!["ntp1.example".into(), "ntp2.example".into()],
        timezone: "Europe/Paris".into(),
        provisioning_url: Some("http://10.99.0.1:8088/".into()),
        name: "Offhook & Co".into(),
    }
}

fn directory() -> Devices {
    let mut d = Devices::default();
    for (i, vendor) in Vendor::ALL.into_iter().enumerate() {
        for (mac, user) in [(ALICE_MAC[i], Some(alice())), (spare_mac(i), None)] {
            d.0.insert(
                mac,
                Device {
                    mac,
                    vendor,
                    model: Some("T46G".into()),
                    user,
                    http_secret: None,
                },
            );
        }
    }
    d
}

fn provisioner() -> Provisioner {
    Provisioner::new(site(), Arc::new(directory()), Overrides::new()).unwrap()
}

fn text(r: &Rendered) -> &str {
    std::str::from_utf8(&r.body).unwrap()
}

/// Parses an XML document with quick-xml; every element's text and every attribute value,
/// unescaped, by name. Panics if it is not well-formed.
fn parse_xml(doc: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut out = Vec::new();
    let mut stack: Vec<(String, String)> = Vec::new();
    let mut roots = 0;
    let attrs = |e: &quick_xml::events::BytesStart<'_>, out: &mut Vec<(String, String)>| {
        for a in e.attributes() {
            let a = a.expect("well-formed attribute");
            let key = std::str::from_utf8(a.key.as_ref()).unwrap().to_owned();
            out.push((
                key,
                a.unescape_value().expect("attribute escapes").into_owned(),
            ));
        }
    };
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("{e} in\n{doc}"))
        {
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                attrs(&e, &mut out);
                let name = std::str::from_utf8(e.name().as_ref()).unwrap().to_owned();
                stack.push((name, String::new()));
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                attrs(&e, &mut out);
            }
            Event::End(_) => out.push(stack.pop().expect("balanced")),
            Event::Text(t) => {
                let t = t.decode().unwrap();
                match stack.last_mut() {
                    Some((_, s)) => s.push_str(&t),
                    None => assert!(t.trim().is_empty(), "text outside the root"),
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match &*r.decode().unwrap() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("undefined entity &{other};"),
                    },
                };
                stack.last_mut().expect("inside an element").1.push(c);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    assert_eq!(roots, 1, "one root element");
    out
}

fn value<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn each_vendor_file_is_well_formed_with_the_users_values() {
    let p = provisioner();
    let a = alice();
    // (vendor index, the name asked for, where the display name, SIP user and secret are)
    let cases: [(usize, String, [&str; 3]); 4] = [
        (
            0,
            format!("SEP{}.cnf.xml", ALICE_MAC[0].hex_upper()),
            ["displayName", "authName", "authPassword"],
        ),
        (
            1,
            format!("{}-phone.cfg", ALICE_MAC[1].hex()),
            [
                "reg.1.displayName",
                "reg.1.auth.userId",
                "reg.1.auth.password",
            ],
        ),
        (
            3,
            format!("cfg{}.xml", ALICE_MAC[3].hex()),
            ["P3", "P35", "P34"],
        ),
        (
            4,
            format!("{}.xml", ALICE_MAC[4].hex()),
            ["user_realname", "user_name", "user_pass"],
        ),
    ];
    for (i, name, [display, sip_user, secret]) in cases {
        let r = p.render(&name).unwrap().unwrap();
        assert_eq!(r.vendor, Vendor::ALL[i]);
        assert_eq!(r.device, Some(ALICE_MAC[i]));
        assert_eq!(r.content_type, "application/xml");
        let values = parse_xml(text(&r));
        assert_eq!(value(&values, display), Some(a.display.as_str()), "{name}");
        assert_eq!(
            value(&values, sip_user),
            Some(a.sip_username.as_str()),
            "{name}"
        );
        assert_eq!(
            value(&values, secret),
            Some(a.sip_secret.as_str()),
            "{name}"
        );
        assert!(text(&r).contains("10.99.0.1"), "{name}: the registrar");
    }
}

#[test]
fn cisco_points_at_the_registrar_and_ntp() {
    let r = provisioner()
        .render(&format!("/sep{}.CNF.XML", ALICE_MAC[0].hex()))
        .unwrap()
        .unwrap();
    let v = parse_xml(text(&r));
    assert_eq!(value(&v, "processNodeName"), Some("10.99.0.1"));
    assert_eq!(value(&v, "sipPort"), Some("5070"));
    assert_eq!(
        value(&v, "timeZone"),
        Some("Romance Standard/Daylight Time")
    );
    assert_eq!(value(&v, "contact"), Some("2041"));
    let ntps: Vec<_> = v.iter().filter(|(n, _)| n == "name").collect();
    assert_eq!(ntps.len(), 3, "two NTP servers and the line name: {ntps:?}");
}

#[test]
fn polycom_master_files_point_at_the_phone_file() {
    let p = provisioner();
    let r = p
        .render(&format!("{}.cfg", ALICE_MAC[1].hex_upper()))
        .unwrap()
        .unwrap();
    assert_eq!((r.vendor, r.kind), (Vendor::Polycom, "master"));
    let v = parse_xml(text(&r));
    assert_eq!(value(&v, "CONFIG_FILES"), Some("0004f2abcdef-phone.cfg"));

    let r = p.render("000000000000.cfg").unwrap().unwrap();
    assert_eq!(r.device, None);
    let v = parse_xml(text(&r));
    assert_eq!(
        value(&v, "CONFIG_FILES"),
        Some("[PHONE_MAC_ADDRESS]-phone.cfg")
    );

    let r = p
        .render(&format!("{}-phone.cfg", ALICE_MAC[1].hex()))
        .unwrap()
        .unwrap();
    let v = parse_xml(text(&r));
    assert_eq!(value(&v, "reg.1.server.1.address"), Some("10.99.0.1"));
    assert_eq!(value(&v, "tcpIpApp.sntp.gmtOffset"), Some("3600"));
    assert_eq!(
        value(&v, "tcpIpApp.sntp.daylightSavings.start.time"),
        Some("2")
    );
    assert_eq!(value(&v, "device.prov.serverName"), Some("10.99.0.1:8088"));
}

#[test]
fn yealink_files_cannot_be_given_extra_lines() {
    let mut dir = directory();
    let mac = ALICE_MAC[2];
    let evil = Account {
        display: "Eve\naccount.2.enable = 1\r\nx".into(),
        sip_secret: "pw\u{0}\u{85}".into(),
        ..alice()
    };
    dir.0.get_mut(&mac).unwrap().user = Some(evil);
    let p = Provisioner::new(site(), Arc::new(dir), Overrides::new()).unwrap();
    let r = p.render(&format!("{}.cfg", mac.hex())).unwrap().unwrap();
    assert_eq!(r.content_type, "text/plain; charset=utf-8");
    let body = text(&r);
    assert!(body.starts_with("#!version:1.0.0.1\n"), "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines.iter().all(|l| !l.starts_with("account.2")), "{body}");
    assert!(
        lines.contains(&"account.1.display_name = Eve account.2.enable = 1  x"),
        "{body}"
    );
    assert!(lines.contains(&"account.1.password = pw  "), "{body}");
    assert!(lines.contains(&"account.1.sip_server.1.port = 5070"));
    assert!(
        lines
            .iter()
            .all(|l| l.is_empty() || l.starts_with('#') || l.contains(" = ")),
        "{body}"
    );
}

#[test]
fn yealink_common_file_has_the_site() {
    let r = provisioner().render("y000000000028.cfg").unwrap().unwrap();
    assert_eq!(
        (r.vendor, r.kind, r.device),
        (Vendor::Yealink, "common", None)
    );
    let body = text(&r);
    for line in [
        "local_time.ntp_server1 = ntp1.example",
        "local_time.ntp_server2 = ntp2.example",
        "local_time.time_zone = +1",
        "local_time.time_zone_name = France(Paris)",
        "local_time.summer_time = 2",
        "auto_provision.server.url = http://10.99.0.1:8088/",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
    }
    assert!(body.contains("T46G"));
}

#[test]
fn snom_per_model_file_points_at_the_device_file() {
    let r = provisioner().render("snomD785.htm").unwrap().unwrap();
    let v = parse_xml(text(&r));
    assert_eq!(
        value(&v, "url"),
        Some("http://10.99.0.1:8088/{mac}/{mac}.xml")
    );

    let no_http = Site {
        provisioning_url: None,
        ..site()
    };
    let p = Provisioner::new(no_http, Arc::new(directory()), Overrides::new()).unwrap();
    let r = p.render("snom320.htm").unwrap().unwrap();
    assert_eq!(
        value(&parse_xml(text(&r)), "url"),
        Some("tftp://10.99.0.1/{mac}.xml")
    );
}

#[test]
fn a_device_without_user_gets_a_valid_file_with_no_line() {
    let p = provisioner();
    let names = [
        format!("SEP{}.cnf.xml", spare_mac(0).hex_upper()),
        format!("{}-phone.cfg", spare_mac(1).hex()),
        format!("{}.cfg", spare_mac(2).hex()),
        format!("cfg{}.xml", spare_mac(3).hex()),
        format!("{}.xml", spare_mac(4).hex()),
    ];
    for name in names {
        let r = p.render(&name).unwrap().unwrap();
        let body = text(&r);
        assert!(!body.contains("alice"), "{name}: {body}");
        if r.content_type == "application/xml" {
            let v = parse_xml(body);
            assert_eq!(value(&v, "authPassword"), None);
            if r.vendor == Vendor::Grandstream {
                assert_eq!(value(&v, "P271"), Some("0"));
            }
            if r.vendor == Vendor::Snom {
                assert_eq!(value(&v, "user_active"), Some("off"));
            }
        } else {
            assert!(body.lines().any(|l| l == "account.1.enable = 0"), "{body}");
        }
    }
    // Cisco: no <line> at all.
    let r = p
        .render(&format!("SEP{}.cnf.xml", spare_mac(0).hex()))
        .unwrap()
        .unwrap();
    assert!(!text(&r).contains("<line"));
}

#[test]
fn unknown_devices_and_other_vendors_are_not_found() {
    let p = provisioner();
    let stranger = Mac([0x00, 0x04, 0xf2, 0, 0, 0x42]);
    for name in [
        format!("SEP{}.cnf.xml", stranger.hex_upper()),
        format!("{}.cfg", stranger.hex()),
        // A Polycom device asked for under Cisco's and snom's names.
        format!("SEP{}.cnf.xml", ALICE_MAC[1].hex_upper()),
        format!("{}.xml", ALICE_MAC[1].hex()),
        // A Yealink has no -phone.cfg.
        format!("{}-phone.cfg", ALICE_MAC[2].hex()),
    ] {
        assert!(
            matches!(p.render(&name), Err(RenderError::NotFound { .. })),
            "{name}"
        );
    }
    for name in ["sip.ld", "../etc/passwd", "", "firmware.bin"] {
        assert!(p.render(name).unwrap().is_none(), "{name}");
    }
    let s = p.stats();
    assert_eq!(
        (s.not_found, s.not_ours, s.rendered, s.failed),
        (5, 4, 0, 0)
    );
}

#[test]
fn every_time_zone_renders_for_every_vendor() {
    for tz in Zone::names() {
        let site = Site {
            timezone: tz.into(),
            ntp: Vec::new(),
            provisioning_url: None,
            ..site()
        };
        let p = Provisioner::new(site, Arc::new(directory()), Overrides::new()).unwrap();
        for (i, vendor) in Vendor::ALL.into_iter().enumerate() {
            let name = naming::device_file_name(vendor, ALICE_MAC[i]);
            let r = p.render(&name).unwrap().unwrap();
            if r.content_type == "application/xml" {
                parse_xml(text(&r));
            }
        }
        assert!(p.render("y000000000099.cfg").unwrap().is_some());
    }
}

#[test]
fn unknown_time_zone_is_refused() {
    let site = Site {
        timezone: "Mars/Olympus_Mons".into(),
        ..site()
    };
    let err = Provisioner::new(site.clone(), Arc::new(directory()), Overrides::new()).unwrap_err();
    assert!(matches!(err, TemplateError::TimeZone(_)), "{err}");
    let mut p = provisioner();
    assert!(p.set_site(site).is_err());
    assert_eq!(p.site().timezone, "Europe/Paris");
    let ok = Site {
        registrar: "pbx.lan".into(),
        ..Site::default()
    };
    p.set_site(ok).unwrap();
    let r = p
        .render(&format!("cfg{}.xml", ALICE_MAC[3].hex()))
        .unwrap()
        .unwrap();
    assert_eq!(value(&parse_xml(text(&r)), "P47"), Some("pbx.lan:5060"));
}

#[test]
fn overrides_replace_the_defaults() {
    let mut o = Overrides::new();
    o.set(
        Vendor::Grandstream,
        "device",
        "<x>{{ user.display if user else \"nobody\" }} {{ device.mac_upper }}</x>".into(),
    )
    .unwrap();
    assert!(o.get(Vendor::Grandstream, "device").is_some());
    let p = Provisioner::new(site(), Arc::new(directory()), o.clone()).unwrap();
    let r = p
        .render(&format!("CFG{}.XML", ALICE_MAC[3].hex_upper()))
        .unwrap()
        .unwrap();
    assert_eq!(
        text(&r),
        "<x>A&amp;B &lt;x&gt; &quot;q&quot; &apos;a&apos; 000B82445566</x>"
    );
    assert!(o.remove(Vendor::Grandstream, "device"));
    assert!(!o.remove(Vendor::Grandstream, "device"));
}

#[test]
fn bad_overrides_are_refused_early() {
    let mut o = Overrides::new();
    assert!(matches!(
        o.set(Vendor::Cisco, "master", "x".into()),
        Err(TemplateError::UnknownKind { .. })
    ));
    assert!(matches!(
        o.set(Vendor::Cisco, "device", "{% if %}".into()),
        Err(TemplateError::Syntax { .. })
    ));
    assert!(matches!(
        o.set(Vendor::Cisco, "device", "x".repeat(MAX_TEMPLATE_LEN + 1)),
        Err(TemplateError::TooLarge { .. })
    ));
    // Compiles, but names a variable that does not exist.
    o.set(Vendor::Cisco, "device", "{{ user.sip_pasword }}".into())
        .unwrap();
    let err = Provisioner::new(site(), Arc::new(directory()), o).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::Trial {
                vendor: Vendor::Cisco,
                ..
            }
        ),
        "{err}"
    );
    // A runaway loop runs out of fuel.
    let mut o = Overrides::new();
    o.set(
        Vendor::Snom,
        "model",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}".into(),
    )
    .unwrap();
    let err = Provisioner::new(site(), Arc::new(directory()), o).unwrap_err();
    assert!(
        matches!(
            err,
            TemplateError::Trial {
                vendor: Vendor::Snom,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn overrides_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Overrides::from_dir(&dir.path().join("absent"))
            .unwrap()
            .get(Vendor::Snom, "device")
            .is_none()
    );
    std::fs::create_dir(dir.path().join("snom")).unwrap();
    std::fs::write(
        dir.path().join("snom/device.j2"),
        "<s>{{ site.registrar }}</s>",
    )
    .unwrap();
    std::fs::write(dir.path().join("snom/unrelated.txt"), "{% broken").unwrap();
    let o = Overrides::from_dir(dir.path()).unwrap();
    let p = Provisioner::new(site(), Arc::new(directory()), o).unwrap();
    let r = p
        .render(&format!("{}.xml", ALICE_MAC[4].hex()))
        .unwrap()
        .unwrap();
    assert_eq!(text(&r), "<s>10.99.0.1</s>");

    std::fs::write(dir.path().join("snom/model.j2"), "{% broken").unwrap();
    assert!(matches!(
        Overrides::from_dir(dir.path()),
        Err(TemplateError::Syntax { .. })
    ));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let p = provisioner();
    let r = p
        .render(&format!("{}.xml", ALICE_MAC[4].hex()))
        .unwrap()
        .unwrap();
    let d = directory().device(ALICE_MAC[4]).unwrap();
    for s in [format!("{r:?}"), format!("{d:?}"), format!("{p:?}")] {
        assert!(!s.contains("s3cr"), "{s}");
    }
}

#[test]
fn every_kind_has_a_default() {
    assert_eq!(template_names().len(), 8);
    for &(vendor, kind) in template_names() {
        assert!(default_source(vendor, kind).is_some_and(|s| !s.is_empty()));
    }
    assert_eq!(default_source(Vendor::Cisco, "common"), None);
}

/// What the escaping makes of a value: control characters and XML's non-characters become
/// spaces, nothing else changes.
fn sanitised(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_user_values_stay_well_formed(display in "\\PC{0,40}|[&<>\"'\\n\\r\\t\\x00-\\x1f]{0,12}",
                                        secret in "\\PC{0,24}|[&<>\"';=#\\n]{0,12}") {
        let mut dir = directory();
        let account = Account { display: display.clone(), sip_secret: secret.clone(), ..alice() };
        for mac in ALICE_MAC {
            dir.0.get_mut(&mac).unwrap().user = Some(account.clone());
        }
        let p = Provisioner::new(site(), Arc::new(dir), Overrides::new()).unwrap();
        let cases = [
            (0, format!("SEP{}.cnf.xml", ALICE_MAC[0].hex_upper()), "displayName", "authPassword"),
            (1, format!("{}-phone.cfg", ALICE_MAC[1].hex()), "reg.1.displayName", "reg.1.auth.password"),
            (3, format!("cfg{}.xml", ALICE_MAC[3].hex()), "P3", "P34"),
            (4, format!("{}.xml", ALICE_MAC[4].hex()), "user_realname", "user_pass"),
        ];
        for (_, name, d, s) in cases {
            let r = p.render(&name).unwrap().unwrap();
            let values = parse_xml(text(&r));
            // Attribute values are normalised by XML parsers (whitespace), element text is not.
            let got_d = value(&values, d).unwrap().to_owned();
            let got_s = value(&values, s).unwrap().to_owned();
            proptest::prop_assert_eq!(got_d, sanitised(&display));
            proptest::prop_assert_eq!(got_s, sanitised(&secret));
        }
        let r = p.render(&format!("{}.cfg", ALICE_MAC[2].hex())).unwrap().unwrap();
        let lines: Vec<&str> = text(&r).lines().collect();
        let want = format!("account.1.display_name = {}", sanitised(&display));
        proptest::prop_assert!(lines.contains(&want.as_str()));
        proptest::prop_assert_eq!(lines.iter().filter(|l| l.starts_with("account.")).count(), 9);
    }

    #[test]
    fn rendering_any_name_never_panics(name in "/?[-a-zA-Z0-9._/%\\\\]{0,40}|\\PC{0,70}") {
        let p = provisioner();
        let _ = p.render(&name);
    }
}
