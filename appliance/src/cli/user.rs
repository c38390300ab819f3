//! `offhook user add|list|show|delete`: user management on the data dir, server running or not.

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

fn user_json(u: &users::User, sip_secret: &str) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display": u.display,
        "admin": u.admin,
        "online": u.online,
        "stations": u.stations,
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
        } => {
            let line = match line.as_deref() {
                None => None,
                Some(l) => Some(users::parse_line(l).map_err(Error::Usage)?),
            };
            let mut generated = false;
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut s)
                    .map_err(|source| Error::File {
                        path: "stdin".into(),
                        source,
                    })?;
                s.trim_end_matches(['\r', '\n']).to_owned()
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
            let u = users::add(&conn, &key, &new, SystemClock.now_ms())?;
            println!("{}", u.id);
            if generated {
                println!("password: {password}");
            }
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
            // Immediate: the server may be writing too; its busy timeout covers the wait.
            conn.execute_batch("BEGIN IMMEDIATE")
                .map_err(db::Error::from)?;
            let removed = users::delete(&conn, &name).and_then(|r| {
                conn.execute_batch("COMMIT")?;
                Ok(r)
            });
            let removed = match removed {
                Ok(r) => r,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(match e {
                        db::Error::NotFound(_) => Error::Usage(format!("no such user {name:?}")),
                        e => e.into(),
                    });
                }
            };
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
