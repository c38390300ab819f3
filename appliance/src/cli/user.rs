//! `offhook user add|set|list|show|delete`: user management on the data dir, server running or
//! not.

use std::io::BufRead;

use clap::{Args as ClapArgs, Subcommand};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;

use super::{Error, Global};
use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::{self, Paths, users};

/// `offhook user …`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a user.
    Add {
        /// Login name.
        name: String,
        /// Display name.
        #[arg(long)]
        display: Option<String>,
        /// May manage users.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin (otherwise $OFFHOOK_PASSWORD, or a
        /// generated one, printed).
        #[arg(long)]
        password_stdin: bool,
        /// The user's phone line, as GATEWAY/ENDPOINT; a running server rings it within
        /// seconds.
        #[arg(long, value_name = "GATEWAY/ENDPOINT")]
        line: Option<String>,
        #[command(flatten)]
        dial_in: DialInArgs,
    },
    /// Changes a user: what is given changes, the rest stays.
    Set {
        /// Login name.
        name: String,
        /// Display name.
        #[arg(long)]
        display: Option<String>,
        /// Read a new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// The user's phone line, as GATEWAY/ENDPOINT, in place of the ones they have; a
        /// running server rings it within seconds.
        #[arg(long, value_name = "GATEWAY/ENDPOINT", conflicts_with = "no_line")]
        line: Option<String>,
        /// Takes their phone lines away.
        #[arg(long)]
        no_line: bool,
        #[command(flatten)]
        dial_in: DialInArgs,
        /// Removes their dial-in number.
        #[arg(long, conflicts_with = "number")]
        no_number: bool,
        /// Removes their dial-in PIN (they can no longer dial in).
        #[arg(long, conflicts_with = "pin")]
        no_pin: bool,
    },
    /// Lists users, their lines and whether each is online.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Shows one user.
    Show {
        /// Login name.
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a user; what they sent stays for the recipients who hold it.
    ///
    /// Their messages are shown to those recipients as from a deleted user; everything else of
    /// theirs goes, files included, and their name is free again. Prints what was done. While
    /// the server runs, prefer `DELETE /api/v1/users/NAME`: it also ends their sessions at once
    /// (this leaves them open until they expire, though they can no longer send or see
    /// anything).
    Delete {
        /// Login name.
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// How a user identifies when they call the appliance over a trunk.
#[derive(Debug, ClapArgs)]
struct DialInArgs {
    /// The number they key (or their caller id gives) when they dial in over a trunk: 2-15
    /// digits, unique.
    #[arg(long, value_name = "DIGITS")]
    number: Option<String>,
    /// The PIN they key after their number: 4-12 digits (stored hashed, never shown).
    #[arg(long, value_name = "DIGITS")]
    pin: Option<String>,
}

impl DialInArgs {
    /// Checks both (a clear message for each refusal) and hashes the PIN into a change;
    /// `no_number`/`no_pin` remove them.
    fn change(self, no_number: bool, no_pin: bool) -> Result<users::Change, Error> {
        let usage = |e: db::Error| Error::Usage(format!("{e}"));
        if let Some(n) = &self.number {
            users::check_number(n).map_err(|e| Error::Usage(format!("--number: {e}")))?;
        }
        let pin_hash = match self.pin {
            Some(pin) => {
                users::check_pin(&pin).map_err(|e| Error::Usage(format!("--pin: {e}")))?;
                Some(Some(users::hash_password(&pin).map_err(usage)?))
            }
            None if no_pin => Some(None),
            None => None,
        };
        let number = match self.number {
            Some(n) => Some(Some(n)),
            None if no_number => Some(None),
            None => None,
        };
        Ok(users::Change {
            number,
            pin_hash,
            ..users::Change::default()
        })
    }
}

/// A database refusal as the one line the user reads.
fn refusal(e: db::Error) -> Error {
    match e {
        db::Error::Exists(what) if what.starts_with("number ") => Error::Usage(format!(
            "{what} already exists: another user has that dial-in number"
        )),
        db::Error::Exists(what) => Error::Usage(format!("{what} already exists")),
        db::Error::NotFound(what) => Error::Usage(format!("no such {what}")),
        db::Error::Invalid(why) => Error::Usage(why),
        e => e.into(),
    }
}

/// Reads a password from the first line of stdin.
fn password_from_stdin() -> Result<String, Error> {
    Ok(secret_from_stdin()?.to_string())
}

/// The first line of stdin, without its line ending, wiped from memory when dropped (a
/// password, a backup's passphrase).
pub(crate) fn secret_from_stdin() -> Result<zeroize::Zeroizing<String>, Error> {
    let mut s = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut s)
        .map_err(|source| Error::File {
            path: "stdin".into(),
            source,
        })?;
    let kept = s.trim_end_matches(['\r', '\n']).len();
    s.truncate(kept);
    Ok(s)
}

fn user_json(u: &users::User, sip_secret: &str) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display": u.display,
        "admin": u.admin,
        "online": u.online,
        "stations": u.stations,
        "number": u.number,
        "sip_username": u.sip_username,
        "sip_secret": sip_secret,
    })
}

/// Runs `offhook user …`.
pub fn run(g: &Global, args: Args) -> Result<(), Error> {
    // The config is read so that a bad one is reported here as well.
    crate::config::Config::load(g.config.as_deref())?;
    let paths = Paths::new(&g.data_dir);
    let conn = db::connect(&paths)?;
    // SIP secrets are sealed with the master key (and any left in clear by an older version
    // are sealed now).
    let key = db::load_or_create_key(&paths)?;
    db::secrets::seal_clear(&conn, &key)?;
    let secret = |u: &users::User| -> Result<String, Error> {
        Ok(users::sip_secret(&conn, &key, u.id)?.unwrap_or_default())
    };
    match args.command {
        Command::Add {
            name,
            display,
            admin,
            password_stdin,
            line,
            dial_in,
        } => {
            let line = match line.as_deref() {
                None => None,
                Some(l) => Some(users::parse_line(l).map_err(Error::Usage)?),
            };
            let change = dial_in.change(false, false)?;
            let mut generated = false;
            let password = if password_stdin {
                password_from_stdin()?
            } else if let Ok(p) = std::env::var("OFFHOOK_PASSWORD") {
                p
            } else {
                generated = true;
                Alphanumeric.sample_string(&mut rand::rngs::OsRng, 16)
            };
            if password.is_empty() {
                return Err(Error::Usage("empty password".into()));
            }
            let new = users::NewUser {
                username: name,
                display,
                password: password.clone(),
                admin,
                line,
            };
            let now = SystemClock.now_ms();
            // Hashed before the transaction: argon2 is slow on purpose, and the server may be
            // waiting to write.
            let hash = users::hash_password(&password).map_err(refusal)?;
            let u = users::immediate(&conn, |c| {
                let u = users::add_hashed(c, &key, &new, &hash, now)?;
                users::update(c, &u.username, &change)
            })
            .map_err(refusal)?;
            println!("{}", u.id);
            if generated {
                println!("password: {password}");
            }
        }
        Command::Set {
            name,
            display,
            password_stdin,
            line,
            no_line,
            dial_in,
            no_number,
            no_pin,
        } => {
            let line = match line.as_deref() {
                None => None,
                Some(l) => Some(users::parse_line(l).map_err(Error::Usage)?),
            };
            if let Some(d) = &display {
                users::check_display(d).map_err(refusal)?;
            }
            let mut change = dial_in.change(no_number, no_pin)?;
            change.display = display;
            if password_stdin {
                let password = password_from_stdin()?;
                if password.is_empty() {
                    return Err(Error::Usage("empty password".into()));
                }
                change.password_hash = Some(users::hash_password(&password).map_err(refusal)?);
            }
            let lines = match (line, no_line) {
                (Some(l), _) => Some(vec![l]),
                (None, true) => Some(vec![]),
                (None, false) => None,
            };
            let u = users::immediate(&conn, |c| {
                if let Some(lines) = &lines {
                    users::set_stations(c, &name, lines)?;
                }
                users::update(c, &name, &change)
            })
            .map_err(refusal)?;
            println!("{}", u.id);
        }
        Command::List { json } => {
            let all = users::list(&conn)?;
            if json {
                let v = all
                    .iter()
                    .map(|u| Ok(user_json(u, &secret(u)?)))
                    .collect::<Result<Vec<_>, Error>>()?;
                println!("{}", serde_json::Value::Array(v));
            } else {
                for u in all {
                    println!(
                        "{:<16} {:<24} {:<8} {}{}",
                        u.username,
                        u.display,
                        if u.online { "online" } else { "offline" },
                        if u.stations.is_empty() {
                            "-".to_owned()
                        } else {
                            u.stations.join(",")
                        },
                        if u.admin { "  (admin)" } else { "" },
                    );
                }
            }
        }
        Command::Delete { name, json } => {
            let removed = users::immediate(&conn, |c| users::delete(c, &name)).map_err(refusal)?;
            deleted(&paths, removed, json)?;
        }
        Command::Show { name, json } => {
            let u = users::by_name(&conn, &name)?
                .ok_or_else(|| Error::Usage(format!("no such user {name:?}")))?;
            if json {
                println!("{}", user_json(&u, &secret(&u)?));
            } else {
                println!("id:           {}", u.id);
                println!("username:     {}", u.username);
                println!("display:      {}", u.display);
                println!("admin:        {}", u.admin);
                println!("online:       {}", u.online);
                println!("stations:     {}", u.stations.join(","));
                println!("number:       {}", u.number.as_deref().unwrap_or("-"));
                println!("sip_username: {}", u.sip_username);
                println!("sip_secret:   {}", secret(&u)?);
            }
        }
    }
    Ok(())
}

/// `offhook user delete`, once the rows are gone: removes the files of the messages removed and
/// says what was done. Spool segments are left to the server (it may be appending to one): it
/// removes those nothing names when it next collects them, at the latest when it starts.
fn deleted(paths: &Paths, mut removed: users::Removed, json: bool) -> Result<(), Error> {
    for f in std::mem::take(&mut removed.messages.files) {
        if db::spool::segment_of(&f).is_some() {
            continue;
        }
        match std::fs::remove_file(paths.media.join(&f)) {
            Ok(()) => removed.files_removed += 1,
            Err(e) => eprintln!("warning: cannot remove {f}: {e}"),
        }
    }
    if removed.files_removed > 0 {
        db::sync_dir(&paths.media).map_err(db::Error::from)?;
    }
    let m = &removed.messages;
    if json {
        println!("{}", serde_json::to_value(&removed).unwrap_or_default());
    } else {
        println!("deleted {} ({})", removed.username, removed.id);
        println!(
            "sent: {} kept for their recipients, {} removed",
            m.sent_kept, m.sent_removed
        );
        println!(
            "received: {} copies removed; {} messages removed in all, {} files",
            m.received_removed, m.messages_removed, removed.files_removed
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
