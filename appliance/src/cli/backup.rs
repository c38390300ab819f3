//! `offhook backup FILE` and `offhook restore FILE`: an encrypted, consistent snapshot of the
//! data directory, taken whether or not `offhook serve` is using it, and brought back into an
//! empty one (`offhook_domain::backup` has the format and the consistency argument).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, IsTerminal};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::Args;
use offhook_domain::backup::{self, Kdf, KdfLimits};
use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::{self, Paths};
use zeroize::Zeroizing;

use super::{Error, Global};

/// `offhook backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (replaced atomically, mode 0600).
    pub file: PathBuf,
    /// Read the passphrase from the first line of stdin (otherwise it is asked for twice on
    /// the terminal, without echo). At least 8 characters.
    #[arg(long)]
    pub passphrase_stdin: bool,
}

/// `offhook restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to read.
    pub file: PathBuf,
    /// Read the passphrase from the first line of stdin (otherwise it is asked for on the
    /// terminal, without echo).
    #[arg(long)]
    pub passphrase_stdin: bool,
}

/// Writes a backup of the data directory to `FILE`.
pub fn backup(g: &Global, a: &BackupArgs) -> Result<(), Error> {
    let passphrase = passphrase(a.passphrase_stdin, true)?;
    backup::check_passphrase(&passphrase).map_err(|e| Error::Usage(e.to_string()))?;
    let paths = Paths::new(&g.data_dir);
    let (dir, tmp) = temp_beside(&a.file)?;
    let file_err = |source| Error::File {
        path: a.file.display().to_string(),
        source,
    };
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(file_err)?;
    let written = backup::create(
        &paths,
        passphrase.as_bytes(),
        Kdf::default(),
        BufWriter::with_capacity(256 << 10, out),
    )
    .map_err(|e| failure(&a.file, e))
    .and_then(|(w, summary)| {
        let f = w.into_inner().map_err(|e| file_err(e.into_error()))?;
        f.sync_all().map_err(file_err)?;
        drop(f);
        fs::rename(&tmp, &a.file).map_err(file_err)?;
        db::sync_dir(&dir).map_err(file_err)?;
        Ok(summary)
    });
    let summary = match written {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let left_out = if summary.left_out > 0 {
        format!(
            " ({} changed during the backup and left out)",
            summary.left_out
        )
    } else {
        String::new()
    };
    println!(
        "{}: {} messages{left_out}, {} files, {} bytes",
        a.file.display(),
        summary.messages,
        summary.totals.files,
        summary.totals.bytes
    );
    Ok(())
}

/// Restores `FILE` into the (empty or new) data directory.
pub fn restore(g: &Global, a: &RestoreArgs) -> Result<(), Error> {
    let file = File::open(&a.file).map_err(|source| Error::File {
        path: a.file.display().to_string(),
        source,
    })?;
    let len = file.metadata().ok().map(|m| m.len());
    let passphrase = passphrase(a.passphrase_stdin, false)?;
    let restored = backup::restore(
        std::io::BufReader::with_capacity(256 << 10, file),
        len,
        passphrase.as_bytes(),
        &KdfLimits::default(),
        &g.data_dir,
    )
    .map_err(|e| failure(&a.file, e))?;
    println!(
        "{}: restored {} users, {} messages, {} files, {} bytes into {}",
        a.file.display(),
        restored.users,
        restored.messages,
        restored.totals.files,
        restored.totals.bytes,
        g.data_dir.display()
    );
    Ok(())
}

/// Swaps in a restore the admin console staged, before `offhook serve` opens the data
/// directory; logs where the data it replaced went.
pub fn apply_staged(data_dir: &Path) -> Result<(), Error> {
    let now = u64::try_from(SystemClock.now_ms() / 1000).unwrap_or(0);
    let before = backup::apply_staged(data_dir, now).map_err(|e| {
        Error::Usage(format!(
            "{}: cannot apply the restore staged there: {e}",
            data_dir.join(backup::STAGED).display()
        ))
    })?;
    if let Some(before) = before {
        tracing::info!(previous = %before.display(), "restored the backup staged from the admin console; the data it replaced is kept");
    }
    Ok(())
}

/// A backup error as one line: the caller's mistakes as they are, the rest naming the file.
fn failure(file: &Path, e: backup::Error) -> Error {
    match e {
        backup::Error::NotEmpty { .. }
        | backup::Error::NoDatabase(_)
        | backup::Error::Passphrase(_) => Error::Usage(e.to_string()),
        other => Error::Usage(format!("{}: {other}", file.display())),
    }
}

/// The directory of `file` and a temporary name beside it.
fn temp_beside(file: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let name = file
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", file.display())))?;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    Ok((dir, tmp))
}

/// The passphrase: the first line of stdin, or asked for on the terminal (twice when `twice`,
/// for a new backup).
fn passphrase(from_stdin: bool, twice: bool) -> Result<Zeroizing<String>, Error> {
    if from_stdin {
        let s = super::user::secret_from_stdin()?;
        if s.is_empty() {
            return Err(Error::Usage(
                "--passphrase-stdin: stdin gave no passphrase".into(),
            ));
        }
        return Ok(s);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "no terminal to ask for the passphrase on: give it on stdin with --passphrase-stdin"
                .into(),
        ));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|source| Error::File {
                path: "the terminal".into(),
                source,
            })
    };
    let first = ask("Backup passphrase: ")?;
    if twice {
        let again = ask("The same again: ")?;
        if *first != *again {
            return Err(Error::Usage("the two passphrases differ".into()));
        }
    }
    Ok(first)
}
