//! `offhook user add|set` with a dial-in number and PIN, on a temporary data dir.

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command as Top};

/// Runs `offhook --data-dir DIR user ARGS…`.
fn user(dir: &std::path::Path, args: &[&str]) -> Result<(), Error> {
    let mut argv = vec!["offhook", "--data-dir", dir.to_str().unwrap(), "user"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Top::User(a) = cli.command else {
        unreachable!("a user subcommand")
    };
    run(&cli.global, a)
}

fn usage(r: Result<(), Error>) -> String {
    match r {
        Err(Error::Usage(m)) => m,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

/// User `name` as stored (`None` if there is none).
fn stored(dir: &std::path::Path, name: &str) -> Option<users::User> {
    let conn = db::connect(&Paths::new(dir)).unwrap();
    users::by_name(&conn, name).unwrap()
}

/// Whether `pin` is the PIN stored for `number`.
fn pin_is(dir: &std::path::Path, number: &str, pin: &str) -> bool {
    let conn = db::connect(&Paths::new(dir)).unwrap();
    match users::lookup(&conn, number, 0).unwrap() {
        users::Lookup::Check { pin_hash, .. } => users::check_password(pin_hash.as_deref(), pin),
        _ => false,
    }
}

#[test]
fn add_takes_a_number_and_pin_and_refuses_bad_ones_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    user(d, &["add", "bob", "--number", "2041", "--pin", "4321"]).unwrap();
    assert_eq!(stored(d, "bob").unwrap().number.as_deref(), Some("2041"));
    assert!(pin_is(d, "2041", "4321"));
    assert!(!pin_is(d, "2041", "1234"));
    // Refused, with the reason, and nobody added.
    let cases: [(&[&str], &str); 5] = [
        (
            &["--number", "20a1"],
            "--number: the number must be 2-15 digits 0-9",
        ),
        (
            &["--number", "1"],
            "--number: the number must be 2-15 digits",
        ),
        (&["--pin", "123"], "--pin: the PIN must be 4-12 digits 0-9"),
        (&["--pin", "12ab"], "--pin: the PIN must be 4-12 digits 0-9"),
        (
            &["--number", "2041", "--pin", "1111"],
            "number 2041 already exists: another user has that dial-in number",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["add", "carol"];
        args.extend_from_slice(extra);
        let why = usage(user(d, &args));
        assert!(why.starts_with(want), "{extra:?}: {why}");
        if extra[0] == "--pin" {
            assert!(!why.contains(extra[1]), "the PIN is not repeated: {why}");
        }
        assert!(stored(d, "carol").is_none(), "{extra:?}: carol was added");
    }
    // Without them, as before.
    user(d, &["add", "carol"]).unwrap();
    assert_eq!(stored(d, "carol").unwrap().number, None);
}

#[test]
fn set_changes_what_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    user(d, &["add", "bob", "--number", "2041", "--pin", "4321"]).unwrap();
    user(d, &["add", "carol"]).unwrap();
    // A display name alone leaves the number and PIN.
    user(d, &["set", "bob", "--display", "Bob B"]).unwrap();
    let bob = stored(d, "bob").unwrap();
    assert_eq!(
        (bob.display.as_str(), bob.number.as_deref()),
        ("Bob B", Some("2041"))
    );
    assert!(pin_is(d, "2041", "4321"));
    // A new number and PIN.
    user(d, &["set", "bob", "--number", "2050", "--pin", "99999999"]).unwrap();
    assert_eq!(stored(d, "bob").unwrap().number.as_deref(), Some("2050"));
    assert!(pin_is(d, "2050", "99999999"));
    assert!(!pin_is(d, "2050", "4321"));
    // Carol cannot take bob's; a refused set changes nothing of hers, her line included.
    let why = usage(user(
        d,
        &[
            "set",
            "carol",
            "--display",
            "C",
            "--line",
            "gw1/aaln/2",
            "--number",
            "2050",
        ],
    ));
    assert!(why.contains("number 2050 already exists"), "{why}");
    let carol = stored(d, "carol").unwrap();
    assert_eq!((carol.display.as_str(), carol.stations.len()), ("carol", 0));
    assert!(usage(user(d, &["set", "carol", "--pin", "12"])).contains("4-12 digits"));
    // Once bob lets it go, carol takes it, with a line.
    user(d, &["set", "bob", "--no-number", "--no-pin"]).unwrap();
    assert_eq!(stored(d, "bob").unwrap().number, None);
    user(
        d,
        &["set", "carol", "--number", "2050", "--line", "gw1/aaln/2"],
    )
    .unwrap();
    let carol = stored(d, "carol").unwrap();
    assert_eq!(carol.number.as_deref(), Some("2050"));
    assert_eq!(carol.stations, ["gw1/aaln/2"]);
    user(d, &["set", "carol", "--no-line"]).unwrap();
    assert!(stored(d, "carol").unwrap().stations.is_empty());
    // No PIN set: nothing the caller keys matches.
    assert!(!pin_is(d, "2050", "99999999"));
    assert_eq!(
        usage(user(d, &["set", "nobody", "--number", "2060"])),
        "no such user \"nobody\""
    );
}
