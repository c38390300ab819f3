//! Commands run by root on a data directory that belongs to another user (the packaged service's
//! `offhook` user owns /var/lib/offhook) run as that user, so that what they create stays
//! readable by the service: a root-owned database page or key in its 0700 directory would stop
//! the service at its next start.
//!
//! Called first in `main`, while the process has one thread: the ids are set with the raw
//! per-thread system calls, which change the whole process only then.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::process::{Gid, Uid};

/// Becomes the owner of `data_dir` when running as root and the directory exists and belongs
/// to someone else; otherwise does nothing. Supplementary groups are dropped.
pub fn owner_of(data_dir: &Path) -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(data_dir) else {
        return Ok(());
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .unwrap_or(1);
    if threads != 1 {
        return Err(format!(
            "cannot run as the owner of {}: the process already has {threads} threads",
            data_dir.display()
        ));
    }
    let why = |e: rustix::io::Errno| {
        format!(
            "cannot run as uid {} (the owner of {}): {e}",
            meta.uid(),
            data_dir.display()
        )
    };
    let (uid, gid) = (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid()));
    rustix::thread::set_thread_groups(&[]).map_err(why)?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(why)?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(why)?;
    Ok(())
}
