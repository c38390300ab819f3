//! `offhook init`: the first-boot secrets, made on the box and never carried by its image.
//!
//! Idempotent and quick once done, so that a service manager can run it before every start
//! (`ExecStartPre=/usr/bin/offhook init`): it makes what is missing and leaves what is there.
//! - the data directory (0700) and its master sealing key (`master.key`, 0600);
//! - the database, migrated;
//! - the self-signed HTTPS certificate and its key (`tls/`), when the configuration serves
//!   HTTPS without the owner's certificate (the one `serve` would make at its start);
//! - when no user is an admin: user `admin`, an admin, with a generated password that stays
//!   pending (sealed with the master key; shown on the front panel, printed by
//!   `--show-password`) until that user's password changes.
//!
//! What it made is said on stderr, without any secret; stdout carries the pending password
//! only, and only with `--show-password`.

use std::io::Write;

use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::initial_password::{self, Admin};
use offhook_domain::db::{self, Paths, users};

use super::{Error, Global};
use crate::config::{self, Config};

/// `offhook init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Also print user admin's initial password on stdout, while it is pending (made by
    /// `init`, not changed since).
    #[arg(long)]
    pub show_password: bool,
}

/// Runs `offhook init`.
pub fn run(g: &Global, args: &InitArgs) -> Result<(), Error> {
    let config = Config::load(g.config.as_deref())?;
    let paths = Paths::new(&g.data_dir);
    let said = |what: &str| eprintln!("offhook init: {what}");

    let had_key = paths.key.exists();
    let key = db::load_or_create_key(&paths)?;
    if !had_key {
        said(&format!("made the master key {}", paths.key.display()));
    }

    if let config::Tls::On { files, .. } = &config.http.tls {
        let cert = g.data_dir.join("tls").join("cert.pem");
        let had_cert = files.is_some() || cert.exists();
        let certificate =
            crate::server::certificate(&g.data_dir, config.http.listen, files.as_ref())?;
        if !had_cert {
            said(&format!(
                "made the HTTPS certificate {} (SHA-256 {})",
                cert.display(),
                certificate.info().fingerprint_sha256
            ));
        }
    }

    let conn = db::connect(&paths)?;
    db::secrets::seal_clear(&conn, &key)?;
    if !initial_password::has_admin(&conn)? {
        // Hashed before the transaction: argon2 is slow on purpose, and a server may be waiting
        // to write. `ensure_admin` checks again inside it.
        let password = initial_password::generate();
        let hash = users::hash_password(password.as_str())?;
        let now = SystemClock.now_ms();
        let made = users::immediate(&conn, |c| {
            initial_password::ensure_admin(c, &key, &password, &hash, now)
        });
        match made {
            Ok(Admin::Made(_)) => said(&format!(
                "made user {} (an admin); its initial password is on the front panel and \
                 `offhook init --show-password` prints it, until it is changed",
                initial_password::USERNAME
            )),
            Ok(Admin::Exists) => {}
            // A user `admin` who is not one: the owner's choice, not made over; the appliance
            // starts all the same (nobody can manage users until an admin is made).
            Err(db::Error::Exists(what)) => said(&format!("no admin made: there is {what}")),
            Err(e) => return Err(e.into()),
        }
    } else {
        // A kept password no longer pending (its user's password changed) goes.
        users::immediate(&conn, initial_password::prune)?;
    }

    if args.show_password {
        match initial_password::pending(&conn, &key)? {
            Some(p) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", p.as_str()).map_err(|source| Error::File {
                    path: "stdout".into(),
                    source,
                })?;
            }
            None => said(&format!(
                "no initial password is pending (user {}'s password has been set)",
                initial_password::USERNAME
            )),
        }
    }
    Ok(())
}
