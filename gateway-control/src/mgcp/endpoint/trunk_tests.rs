//! Unit tests of a trunk's state: what each state requests and signals, what each observed
//! event means, and the caller-id parser.

use proptest::prelude::*;

use super::*;
use crate::mgcp::wire::EventName;
use crate::model::GatewayId;

fn id() -> LineId {
    LineId::new(GatewayId::new("gw1"), "aaln/3")
}

fn ev<'a>(package: &'a str, event: &'a str, params: Option<&'a str>) -> EventRef<'a> {
    EventRef {
        name: EventName {
            package: Some(package),
            event,
            connection: None,
        },
        params,
    }
}

#[test]
fn an_outgoing_call_requests_and_signals_in_order() {
    let mut t = Trunk::default();
    assert_eq!(t.events(false), &[("L", "rg")]);
    t.apply(&TrunkChange::Seize).unwrap();
    assert_eq!(t.events(false), OUTGOING_EVENTS);
    assert_eq!(t.take_signals(), [("L", "hd", None)]);
    assert!(t.take_signals().is_empty(), "sent once");
    let number = "20#A".chars().map(|c| Digit::new(c).unwrap()).collect();
    t.apply(&TrunkChange::Dial(number)).unwrap();
    let keys: Vec<_> = t.take_signals().into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(keys, ["2", "0", "#", "A"]);
    assert_eq!(
        t.observe(&id(), &ev("L", "oc", None)),
        TrunkObserved::Event(Event::DialComplete { line: id() })
    );
    assert_eq!(
        t.observe(&id(), &ev("L", "lsa", None)),
        TrunkObserved::Event(Event::FarEndAnswer { line: id() })
    );
    assert_eq!(
        t.apply(&TrunkChange::Seize),
        Err(ReturnCode::ALREADY_OFF_HOOK)
    );
    t.apply(&TrunkChange::Release).unwrap();
    assert_eq!(t.take_signals(), [("L", "hu", None)]);
    assert_eq!(t.events(false), IDLE_EVENTS);
    assert_eq!(
        t.observe(&id(), &ev("L", "osi", None)),
        TrunkObserved::Dropped
    );
    assert_eq!(
        t.apply(&TrunkChange::Dial(vec![])),
        Err(ReturnCode::ALREADY_ON_HOOK)
    );
}

#[test]
fn dial_strings_are_bounded() {
    let mut t = Trunk::default();
    t.apply(&TrunkChange::Seize).unwrap();
    let one = Digit::new('1').unwrap();
    assert_eq!(
        t.apply(&TrunkChange::Dial(vec![one; MAX_DIAL_DIGITS + 1])),
        Err(ReturnCode::PARAMETER_ERROR)
    );
    assert_eq!(
        t.apply(&TrunkChange::Dial(vec![])),
        Err(ReturnCode::PARAMETER_ERROR)
    );
    t.apply(&TrunkChange::Dial(vec![one; MAX_DIAL_DIGITS]))
        .unwrap();
}

#[test]
fn an_incoming_call_is_reported_once_and_glare_refused() {
    let mut t = Trunk::default();
    assert!(matches!(
        t.observe(&id(), &ev("L", "rg", None)),
        TrunkObserved::Event(Event::IncomingCall { .. })
    ));
    assert_eq!(
        t.observe(&id(), &ev("L", "rg", None)),
        TrunkObserved::Nothing
    );
    assert_eq!(t.apply(&TrunkChange::Seize), Err(ReturnCode::NOT_READY));
    assert_eq!(
        t.observe(&id(), &ev("D", "5", None)),
        TrunkObserved::Dropped
    );
    t.apply(&TrunkChange::Answer).unwrap();
    assert_eq!(t.events(false), INCOMING_EVENTS);
    assert_eq!(
        t.observe(&id(), &ev("D", "5", None)),
        TrunkObserved::Event(Event::Digit {
            line: id(),
            digit: Digit::new('5').unwrap()
        })
    );
    assert_eq!(
        t.observe(&id(), &ev("L", "lsa", None)),
        TrunkObserved::Dropped
    );
    assert_eq!(
        t.observe(&id(), &ev("L", "zz", None)),
        TrunkObserved::Unrecognised
    );
}

#[test]
fn a_ring_crossing_a_seize_rings_once_the_seize_is_refused() {
    let mut t = Trunk::default();
    t.apply(&TrunkChange::Seize).unwrap();
    assert_eq!(
        t.observe(&id(), &ev("L", "rg", None)),
        TrunkObserved::Dropped
    );
    assert!(t.refused(), "the call is reported now");
    assert_eq!(t.call, Call::Ringing);
    t.apply(&TrunkChange::Answer).unwrap();
    t.apply(&TrunkChange::Release).unwrap();
    t.apply(&TrunkChange::Seize).unwrap();
    assert!(!t.refused(), "no ring: back to idle");
    assert_eq!(t.call, Call::Idle);
}

#[test]
fn caller_id_is_read_from_l_ci() {
    let ci = caller_id(&ev("L", "ci", Some("10/12/08/30,\"2041\",\"Alice\""))).unwrap();
    assert_eq!(ci.number.as_deref(), Some("2041"));
    assert_eq!(ci.name.as_deref(), Some("Alice"));
    assert_eq!(caller_id(&ev("L", "ci", Some(",,"))), None);
    assert_eq!(caller_id(&ev("L", "rg", Some(",\"1\","))), None);
    assert_eq!(caller_id(&ev("D", "ci", Some(",\"1\","))), None);
}

proptest! {
    #[test]
    fn caller_id_never_panics_and_stays_bounded(params in ".{0,300}") {
        if let Some(ci) = caller_id(&ev("L", "ci", Some(&params))) {
            prop_assert!(ci.number.as_deref().map_or(0, |n| n.chars().count()) <= 20);
            prop_assert!(ci.name.as_deref().map_or(0, |n| n.chars().count()) <= 15);
        }
    }
}
