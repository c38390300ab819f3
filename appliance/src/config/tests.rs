//! The whole file: defaults, layers, sections of parts not built, refusals.

use std::time::Duration;

use super::*;

#[test]
fn defaults_parse() {
    let c = Config::defaults();
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        c.messages.retention,
        Retention::Period(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(c.messages.max_upload, 16 << 20);
    assert_eq!(c.messages.quota_per_user, 1 << 30);
    assert_eq!(
        c.messages.upload_rate,
        Some(UploadRate {
            bytes: 64 << 20,
            per: Duration::from_secs(60)
        })
    );
}

#[test]
fn unbuilt_sections_are_accepted_and_keys_override() {
    let c = Config::parse(
        "t.toml",
        r#"
[http]
listen = "127.0.0.1:9999"
[mgcp]
listen = "127.0.0.1:2727"
[[gateway]]
name = "gw1"
protocol = "mgcp"
address = "127.0.0.1:2427"
[sip]
listen = "127.0.0.1:5060"
[[station]]
user = "alice"
gateway = "gw1"
endpoint = "aaln/1"
[messages]
retention = "delivered"
max_upload = "1MiB"
"#,
    )
    .unwrap();
    assert_eq!(c.http.listen.port(), 9999);
    assert_eq!(c.messages.retention, Retention::Delivered);
    assert_eq!(c.messages.max_upload, 1 << 20);
}

#[test]
fn bad_values_name_their_key() {
    let e = Config::parse("t.toml", "[messages]\nretention = \"forever\"\n").unwrap_err();
    assert!(e.to_string().contains("messages.retention"), "{e}");
    let e = Config::parse("t.toml", "[http]\nlisten = \"nowhere\"\n").unwrap_err();
    assert!(e.to_string().contains("http.listen"), "{e}");
    let e = Config::parse("t.toml", "[clients]\nping_timeout = 5\n").unwrap_err();
    assert!(e.to_string().contains("ping_timeout"), "{e}");
    let e = Config::parse("t.toml", "[messages]\nquota_per_user = \"lots\"\n").unwrap_err();
    assert!(e.to_string().contains("messages.quota_per_user"), "{e}");
    let e = Config::parse("t.toml", "[clients]\nframe_rate = 0\n").unwrap_err();
    assert!(e.to_string().contains("clients.frame_rate"), "{e}");
}

#[test]
fn gateways_stations_and_trunks() {
    let c = Config::parse(
        "t.toml",
        r#"
[mgcp]
listen = "127.0.0.1:2727"
[[gateway]]
name = "gw1"
protocol = "mgcp"
address = "127.0.0.1"
[[gateway]]
name = "mg1"
protocol = "megaco"
mid = "mg1"
[[station]]
user = "alice"
gateway = "gw1"
endpoint = "aaln/1"
[[station]]
user = "carol"
trunk = "pbx"
dial = "2041"
[[trunk]]
name = "pbx"
gateway = "gw1"
endpoints = ["aaln/3", "aaln/4"]
dial_in = true
"#,
    )
    .unwrap();
    assert_eq!(c.mgcp.listen.to_string(), "127.0.0.1:2727");
    assert_eq!(c.gateways.len(), 2);
    assert_eq!(
        c.gateways[0].address.as_ref().unwrap().to_string(),
        "127.0.0.1:2427"
    );
    assert_eq!(c.gateways[1].protocol, Protocol::Megaco);
    assert_eq!(
        c.stations[0].place,
        StationPlace::Line {
            gateway: "gw1".into(),
            endpoint: "aaln/1".into()
        }
    );
    assert_eq!(
        c.stations[1].place,
        StationPlace::Trunk {
            trunk: "pbx".into(),
            dial: "2041".into()
        }
    );
    assert_eq!(c.trunks[0].endpoints, ["aaln/3", "aaln/4"]);
    assert_eq!(
        c.trunks[0].select,
        station_manager::trunk::Selection::FirstFree
    );
    assert_eq!(
        c.trunks[0].dialing,
        gateway_control::model::DialMethod::Dtmf
    );
    assert_eq!(c.trunks[0].answer_timeout, Duration::from_secs(30));
    assert_eq!(Config::defaults().mgcp.listen.to_string(), "0.0.0.0:2727");
}

/// Issue 20: a trunk's own keys, and what is refused in trunks and stations behind them.
#[test]
fn trunk_keys_and_refusals() {
    let base = "[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1\"\n";
    let trunk = |extra: &str| {
        format!(
            "{base}[[trunk]]\nname = \"pbx\"\ngateway = \"gw1\"\nendpoints = [\"aaln/3\", \"aaln/4\"]\n{extra}"
        )
    };
    let c = Config::parse(
        "t.toml",
        &trunk("select = \"round-robin\"\ndialing = \"pulse\"\nanswer_timeout = \"45s\"\n"),
    )
    .unwrap();
    assert_eq!(
        c.trunks[0].select,
        station_manager::trunk::Selection::RoundRobin
    );
    assert_eq!(
        c.trunks[0].dialing,
        gateway_control::model::DialMethod::Pulse
    );
    assert_eq!(c.trunks[0].answer_timeout, Duration::from_secs(45));
    for (extra, key) in [
        ("select = \"random\"\n", "trunk[0].select"),
        ("dialing = \"mf\"\n", "trunk[0].dialing"),
        ("answer_timeout = \"0s\"\n", "trunk[0].answer_timeout"),
        ("answer_timeout = \"1h\"\n", "trunk[0].answer_timeout"),
    ] {
        let e = Config::parse("t.toml", &trunk(extra)).unwrap_err();
        assert!(e.to_string().contains(key), "{extra}: {e}");
    }
    let twice = format!(
        "{}[[trunk]]\nname = \"other\"\ngateway = \"gw1\"\nendpoints = [\"aaln/4\"]\n",
        trunk("")
    );
    let e = Config::parse("t.toml", &twice).unwrap_err();
    assert!(e.to_string().contains("trunk[1].endpoints"), "{e}");
    let e = Config::parse(
        "t.toml",
        &format!("{base}[[trunk]]\nname = \"pbx\"\ngateway = \"gw1\"\nendpoints = [\"aaln/3\", \"aaln/3\"]\n"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    for dial in ["", "20a1", "123456789012345678901234567890123"] {
        let text = format!(
            "{}[[station]]\nuser = \"carol\"\ntrunk = \"pbx\"\ndial = \"{dial}\"\n",
            trunk("")
        );
        let e = Config::parse("t.toml", &text).unwrap_err();
        assert!(e.to_string().contains("station[0].dial"), "{dial:?}: {e}");
    }
}

/// Issue 15: a gateway named by DNS name, with or without a port.
#[test]
fn gateways_by_dns_name() {
    let c = Config::parse(
        "t.toml",
        "[[gateway]]\nname = \"vg\"\nprotocol = \"mgcp\"\naddress = \"VG224.example.net\"\n\
         [[gateway]]\nname = \"mta\"\nprotocol = \"mgcp\"\naddress = \"mta-7.cable.example:2728\"\n\
         [[gateway]]\nname = \"lan\"\nprotocol = \"mgcp\"\naddress = \"localhost.\"\n",
    )
    .unwrap();
    let name = |host: &str, port| GatewayAddress::Name {
        host: host.into(),
        port,
    };
    assert_eq!(c.gateways[0].address, Some(name("VG224.example.net", 2427)));
    assert_eq!(
        c.gateways[1].address,
        Some(name("mta-7.cable.example", 2728))
    );
    assert_eq!(c.gateways[2].address, Some(name("localhost.", 2427)));
    assert_eq!(
        c.gateways[1].address.as_ref().unwrap().to_string(),
        "mta-7.cable.example:2728"
    );
}

#[test]
fn bad_gateway_entries_name_their_key() {
    let gw = "[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:2427\"\n";
    for (text, key) in [
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"sip\"\n",
            "gateway[0].protocol",
        ),
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\n",
            "gateway[0].address",
        ),
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"gw 1\"\n",
            "gateway[0].address",
        ),
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"192.0.2\"\n",
            "gateway[0].address",
        ),
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"vg.example.net:0\"\n",
            "gateway[0].address",
        ),
        (
            "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"-vg.example.net\"\n",
            "gateway[0].address",
        ),
        (&format!("{gw}{gw}"), "gateway[1].name"),
        (
            &format!("{gw}[[station]]\nuser = \"a\"\ngateway = \"gw9\"\nendpoint = \"aaln/1\"\n"),
            "station[0].gateway",
        ),
        (
            &format!("{gw}[[station]]\nuser = \"a\"\ngateway = \"gw1\"\n"),
            "station[0]",
        ),
        ("[mgcp]\nlisten = \"2727\"\n", "mgcp.listen"),
        ("[media]\naddress = \"here\"\n", "media.address"),
        ("[media]\nrtp_ports = \"30000-20000\"\n", "media.rtp_ports"),
        ("[media]\nrtp_ports = \"80-90\"\n", "media.rtp_ports"),
        (
            "[media]\nrealtime_priority = 100\n",
            "media.realtime_priority",
        ),
        (
            "[media]\nrealtime_priority = -1\n",
            "media.realtime_priority",
        ),
    ] {
        let e = Config::parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn unknown_keys_and_sections_name_their_line_and_the_nearest_key() {
    let e = Config::parse(
        "t.toml",
        "[media]\naddress = \"127.0.0.1\"\n[http]\nlistne = \"x\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(r#"unknown key "listne" in [http] at line 4; did you mean "listen"?"#),
        "{e}"
    );
    let e = Config::parse("t.toml", "\n[foo]\nx = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown section [foo] at line 2"), "{e}");
    assert!(!e.contains("did you mean"), "{e}");
    let e = Config::parse("t.toml", "[[gateways]]\nname = \"g\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains(r#"did you mean "gateway"?"#), "{e}");
    let gw = "[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1\"\n";
    let e = Config::parse("t.toml", &format!("{gw}{gw}adress = \"x\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(r#"unknown key "adress" in gateway[1] at line 9; did you mean "address"?"#),
        "{e}"
    );
}

#[test]
fn the_contract_example_parses_with_its_unbuilt_sections_listed() {
    // The reference's example, with documentation addresses (RFC 5737) for the LAN.
    let text = r#"
[http]
listen = "127.0.0.1:8080"
header_timeout = "10s"         # a connection sends a request head within this, or is closed
max_idle_connections = 256     # connections waiting for a request; beyond, the oldest is closed
metrics = "open"               # who reads /metrics: "open" (anyone), "admin" (admins' sessions), "off"
[media]
address = "127.0.0.1"
[mgcp]
listen = "127.0.0.1:2727"
[megaco]
listen = "127.0.0.1:2944"
[[gateway]]
name = "gw1"
protocol = "mgcp"
address = "127.0.0.1:2427"
[[gateway]]
name = "mg1"
protocol = "megaco"
mid = "mg1"
[[station]]
user = "alice"
gateway = "gw1"
endpoint = "aaln/1"
[[station]]
user = "carol"
trunk = "pbx"
dial = "2041"
[[trunk]]
name = "pbx"
gateway = "gw1"
endpoints = ["aaln/3", "aaln/4"]
dial_in = true
[dhcp]
interface = "lan0"
range = "192.0.2.100-192.0.2.250"
router = "192.0.2.1"
lease = "1h"
[tftp]
enabled = true
[provisioning]
http_listen = "192.0.2.1:8088"
registrar = "192.0.2.1"
[sip]
listen = "127.0.0.1:5060"
[lcd]
server = "127.0.0.1:13666"
[federation]
site = "hq"
servers = ["nats://127.0.0.1:4222"]
"#;
    let c = Config::parse("contract.toml", text).unwrap();
    assert_eq!(c.megaco.listen.to_string(), "127.0.0.1:2944");
    assert_eq!(c.gateways[1].mid.as_deref(), Some("mg1"));
    assert!(c.not_built.is_empty());
    let f = c.federation.as_ref().expect("[federation] is read");
    assert_eq!(f.site(), "hq");
    assert_eq!(f.servers(), ["nats://127.0.0.1:4222"]);
    assert_eq!(c.lcd.map(|l| l.server).as_deref(), Some("127.0.0.1:13666"));
    let dhcp = c.dhcp.expect("[dhcp] names an interface");
    assert_eq!(dhcp.interface, "lan0");
    assert!(c.tftp.enabled);
    assert_eq!(
        c.provisioning.http_listen.map(|a| a.to_string()).as_deref(),
        Some("192.0.2.1:8088")
    );
}

#[test]
fn megaco_settings_and_gateways_are_checked() {
    let d = Config::defaults().megaco;
    assert_eq!(d.listen.to_string(), "0.0.0.0:2944");
    assert_eq!((d.listen_binary, d.mid), (None, None));
    assert_eq!(d.keepalive, Duration::from_secs(60));
    let c = Config::parse(
        "t.toml",
        "[megaco]\nlisten_binary = \"127.0.0.1:2945\"\nmid = \"<mgc.example.net>:2944\"\nkeepalive = \"5s\"\n",
    )
    .unwrap();
    assert_eq!(c.megaco.listen_binary.unwrap().port(), 2945);
    assert_eq!(c.megaco.keepalive, Duration::from_secs(5));
    for (text, key) in [
        ("[megaco]\nlisten = \"2944\"\n", "megaco.listen"),
        ("[megaco]\nmid = \"not an mid\"\n", "megaco.mid"),
        ("[megaco]\nkeepalive = \"0s\"\n", "megaco.keepalive"),
        (
            "[[gateway]]\nname = \"mg\"\nprotocol = \"megaco\"\n",
            "gateway[0].mid",
        ),
        (
            "[[gateway]]\nname = \"mg\"\nprotocol = \"megaco\"\nmid = \"[1.2.3]\"\n",
            "gateway[0].mid",
        ),
    ] {
        let e = Config::parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(key), "{text}: {e}");
    }
}

#[test]
fn tpncp_settings_and_board_keys_are_checked() {
    let d = Config::defaults().tpncp;
    assert_eq!(
        (d.keepalive, d.ack_timeout, d.reconnect_min, d.reconnect_max),
        (
            Duration::from_secs(10),
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(60)
        )
    );
    let c = Config::parse(
        "t.toml",
        "[tpncp]\nkeepalive = \"3s\"\nreconnect_max = \"5s\"\n\
         [[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\n\
         transport = \"udp\"\nrtp_port = 4000\nbyte_order = \"little\"\n\
         [[gateway]]\nname = \"tp2\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.10\"\n",
    )
    .unwrap();
    assert_eq!(c.tpncp.keepalive, Duration::from_secs(3));
    assert_eq!(c.tpncp.reconnect_max, Duration::from_secs(5));
    let (tp, tp2) = (&c.gateways[0], &c.gateways[1]);
    assert_eq!(tp.address.as_ref().unwrap().port(), 2424);
    assert_eq!(
        tp.board,
        gateway::Board {
            udp: true,
            rtp_port: 4000,
            little_endian: true
        }
    );
    assert_eq!(tp2.board, gateway::Board::default());
    assert_eq!(tp2.board.rtp_port, 6000);
    for (text, key) in [
        ("[tpncp]\nkeepalive = \"0s\"\n", "tpncp.keepalive"),
        ("[tpncp]\nack_timeout = \"soon\"\n", "tpncp.ack_timeout"),
        (
            "[tpncp]\nreconnect_min = \"10s\"\nreconnect_max = \"5s\"\n",
            "tpncp.reconnect_max",
        ),
        (
            "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\n",
            "gateway[0].address",
        ),
        (
            "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\ntransport = \"sctp\"\n",
            "gateway[0].transport",
        ),
        (
            "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nrtp_port = 6001\n",
            "gateway[0].rtp_port",
        ),
        (
            "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nrtp_port = 70000\n",
            "gateway[0].rtp_port",
        ),
        (
            "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nbyte_order = \"middle\"\n",
            "gateway[0].byte_order",
        ),
        (
            "[[gateway]]\nname = \"gw\"\nprotocol = \"mgcp\"\naddress = \"192.0.2.9\"\nrtp_port = 6000\n",
            "gateway[0].rtp_port",
        ),
    ] {
        let e = Config::parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(key), "{text}: {e}");
    }
}

#[test]
fn mgcp_settings_go_through_the_agents_setters() {
    assert_eq!(
        Config::defaults().mgcp.agent,
        gateway_control::mgcp::Config::default(),
        "DEFAULTS and the call agent's own defaults agree"
    );
    let c = Config::parse(
        "t.toml",
        "[mgcp]\npiggyback = false\nmax_send_rate = 50\ninitial_rtt = \"5s\"\nmax_retransmit_interval = \"8s\"\n",
    )
    .unwrap();
    assert!(!c.mgcp.agent.piggyback);
    assert_eq!(c.mgcp.agent.max_send_rate, Some(50));
    assert_eq!(c.mgcp.agent.transaction.initial_rtt.as_secs(), 5);
    for (text, key) in [
        ("[mgcp]\nmax_outstanding = 0\n", "mgcp.max_outstanding"),
        ("[mgcp]\nmax_send_rate = 0\n", "mgcp.max_send_rate"),
        ("[mgcp]\nt_max = \"0s\"\n", "mgcp.t_max"),
        ("[mgcp]\ninitial_rtt = \"10s\"\n", "mgcp.initial_rtt"),
        ("[mgcp]\nprobe_interval = \"2m\"\n", "mgcp.probe_interval"),
        (
            "[mgcp]\narm_retry_interval = \"soon\"\n",
            "mgcp.arm_retry_interval",
        ),
    ] {
        let e = Config::parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn the_lcd_server_is_host_and_port() {
    let lcd = |v: &str| Config::parse("t.toml", &format!("[lcd]\nserver = {v:?}\n"));
    assert_eq!(
        lcd("lcd.local:13666")
            .unwrap()
            .lcd
            .map(|l| l.server)
            .as_deref(),
        Some("lcd.local:13666")
    );
    for bad in ["13666", ":13666", "host:0", "host:x", "a b:1"] {
        let e = lcd(bad).unwrap_err().to_string();
        assert!(e.contains("lcd.server"), "{bad}: {e}");
    }
    assert_eq!(Config::parse("t.toml", "[lcd]\n").unwrap().lcd, None);
    assert_eq!(Config::defaults().lcd, None);
}
