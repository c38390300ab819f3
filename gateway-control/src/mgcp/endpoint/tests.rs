//! Unit tests of the line state: what each state requests, signals, observed events.

use super::*;
use crate::mgcp::wire::EventName;
use crate::model::GatewayId;

fn line() -> Line {
    Line::new(LineId::new(GatewayId::new("gw1"), "aaln/1"), 0)
}

fn ev<'a>(package: Option<&'a str>, event: &'a str) -> EventRef<'a> {
    EventRef {
        name: EventName {
            package,
            event,
            connection: None,
        },
        params: None,
    }
}

#[test]
fn requests_follow_the_hook_state() {
    let mut l = line();
    assert_eq!(l.request_now().events, &[("L", "hd")]);
    l.set_hook(Hook::OffHook);
    assert_eq!(
        l.request_now().events,
        &[("L", "hu"), ("L", "hf"), ("D", "[0-9#*]")]
    );
    assert!(l.request_now().signals.is_empty());
}

#[test]
fn ring_with_caller_id_and_distinctive_cadence() {
    let mut l = line();
    l.set_hook(Hook::OnHook);
    l.apply(&SignalChange::Ring {
        cadence: Cadence::Distinctive(3),
        caller_id: Some(CallerId {
            number: Some("555\"1212".into()),
            name: Some("Alice (home)".into()),
        }),
    })
    .unwrap();
    let r = l.request_now();
    assert_eq!(r.signals[0], ("L", "r3", None));
    assert_eq!(
        r.signals[1],
        ("L", "ci", Some(",\"5551212\",\"Alice home\"".to_owned()))
    );
    // Ringing stays in every re-arm until an event or StopRing.
    assert_eq!(l.request_now().signals.len(), 2);
    l.apply(&SignalChange::StopRing).unwrap();
    assert!(l.request_now().signals.is_empty());
}

#[test]
fn cannot_ring_an_off_hook_phone() {
    let mut l = line();
    l.set_hook(Hook::OffHook);
    assert_eq!(
        l.apply(&SignalChange::Ring {
            cadence: Cadence::Normal,
            caller_id: None
        }),
        Err(ReturnCode::ALREADY_OFF_HOOK)
    );
}

#[test]
fn lamp_is_sent_once_on_and_once_off() {
    let mut l = line();
    l.apply(&SignalChange::Tone(Tone::MessageWaitingLamp))
        .unwrap();
    assert_eq!(
        l.request_now().signals,
        vec![("L", "vmwi", Some("+".to_owned()))]
    );
    assert!(l.request_now().signals.is_empty());
    l.apply(&SignalChange::Tone(Tone::Busy)).unwrap();
    l.apply(&SignalChange::StopTone).unwrap();
    assert_eq!(
        l.request_now().signals,
        vec![("L", "vmwi", Some("-".to_owned()))]
    );
}

#[test]
fn observed_events_map_and_deduplicate_hook_changes() {
    let mut l = line();
    l.set_hook(Hook::OnHook);
    assert_eq!(l.observe(&ev(Some("L"), "hd")), Ok(Some(Observed::OffHook)));
    assert_eq!(l.observe(&ev(Some("l"), "HD")), Ok(None));
    assert_eq!(
        l.observe(&ev(Some("D"), "7")),
        Ok(Some(Observed::Digit(Digit::new('7').unwrap())))
    );
    assert_eq!(l.observe(&ev(None, "hf")), Ok(Some(Observed::HookFlash)));
    assert_eq!(l.observe(&ev(Some("D"), "77")), Err(Unrecognised));
    assert_eq!(l.observe(&ev(Some("G"), "rt")), Err(Unrecognised));
    assert_eq!(l.observe(&ev(Some("L"), "hu")), Ok(Some(Observed::OnHook)));
}

#[test]
fn request_identifiers_current_and_previous() {
    let mut l = line();
    assert!(!l.is_current(Some("1")));
    l.issue_request(0x1a);
    l.issue_request(0x1b);
    assert!(l.is_current(Some("1A")));
    assert!(l.is_current(Some("1b")));
    l.issue_request(0x1c);
    assert!(!l.is_current(Some("1a")));
    assert!(!l.is_current(Some("zz")));
    assert!(!l.is_current(None));
}

#[test]
fn a_trunk_collects_only_while_its_call_is_up() {
    let mut l = line();
    l.trunk = Some(Trunk::default());
    let map = DigitMap::parse("(x.#|x.T)").unwrap();
    let collect = SignalChange::Collect(map.clone());
    assert_eq!(l.apply(&collect), Err(ReturnCode::ALREADY_ON_HOOK));
    assert_eq!(l.request_now().digit_map, None);
    l.apply(&SignalChange::Trunk(TrunkChange::Seize)).unwrap();
    l.request_now();
    l.apply(&collect).unwrap();
    let r = l.request_now();
    assert_eq!(r.digit_map, Some(map.clone()));
    assert_eq!(
        r.events,
        &[("L", "lsa"), ("L", "osi"), ("L", "oc"), ("D", "[0-9#*T]")]
    );
    // Releasing the port ends the collection.
    l.apply(&SignalChange::Trunk(TrunkChange::Release)).unwrap();
    assert_eq!(l.collect, None);
    assert_eq!(l.request_now().events, &[("L", "rg")]);
    // An answered call collects too.
    l.trunk.as_mut().unwrap().call = Call::Ringing;
    l.apply(&SignalChange::Trunk(TrunkChange::Answer)).unwrap();
    l.apply(&collect).unwrap();
    let r = l.request_now();
    assert_eq!(r.events, &[("L", "osi"), ("D", "[0-9#*T]")]);
    assert_eq!(r.digit_map, Some(map));
    // A dial that keeps the call up keeps the collection.
    l.collect = None;
    l.trunk.as_mut().unwrap().call = Call::Outgoing;
    l.apply(&collect).unwrap();
    l.apply(&SignalChange::Trunk(TrunkChange::Dial(vec![
        Digit::new('5').unwrap(),
    ])))
    .unwrap();
    assert!(l.collect.is_some());
}
