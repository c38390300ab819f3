//! A directory served to the LAN (TFTP, HTTP firmware) that no request can leave.
//!
//! [`Root::open`] takes a file name as a client wrote it and either opens a regular file inside
//! the root or says why not ([`Refusal`]). Two layers stand between a request and the rest of
//! the file system:
//!
//! 1. **The name, lexically.** Empty names, NUL bytes, absolute paths, `..` components,
//!    backslashes (Windows separators), drive letters (`C:`) and names over
//!    [`MAX_NAME_LEN`] bytes are refused before the file system is touched.
//! 2. **Where the opened file really is.** Symlinks inside the root are followed (a firmware
//!    alias such as `current.bin -> v2.3.bin` is useful), and *after* opening, the kernel is
//!    asked where the opened file lives (`/proc/self/fd/N`); anything outside the root is
//!    refused. Checking the file that was actually opened, rather than a path resolved before
//!    opening, leaves no window for a symlink swapped in between the check and the open. We
//!    chose this over `O_NOFOLLOW` on the last component because `O_NOFOLLOW` does not cover
//!    symlinked directories in the middle of the path and would forbid aliases inside the root.
//!    Where `/proc` is not mounted, the fallback canonicalises the path and checks that it names
//!    the same inode (device and inode number) as the opened file.
//!
//! Only regular files are opened: directories, FIFOs (whose `open` would block) and devices are
//! refused by a metadata check before the open and again on the opened file. Hard links are not
//! detectable and need none: whoever can make one inside the root is trusted already.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;
use tracing::debug;

/// The longest file name a client may ask for, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Why a file was not opened.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No such file in the root.
    #[error("file not found")]
    NotFound,
    /// The name or the file is not allowed; the reason says which rule refused it.
    #[error("access violation: {0}")]
    Forbidden(&'static str),
    /// The file exists but could not be read.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// A directory whose regular files may be served.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// The root at `dir`, canonicalised once (symlinks and `..` resolved) here.
    ///
    /// # Errors
    /// When `dir` does not exist or is not a directory.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = std::fs::canonicalize(dir.into())?;
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(Self { dir })
    }

    /// The canonical directory served.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Opens `name` (as a client wrote it) for reading, with its length, or says why not.
    ///
    /// # Errors
    /// [`Refusal::Forbidden`] for names that break a rule (see the module docs) and for files
    /// that resolve outside the root or are not regular files; [`Refusal::NotFound`] when there
    /// is no such file; [`Refusal::Io`] for any other failure to open it.
    pub fn open(&self, name: &str) -> Result<(File, u64), Refusal> {
        check_name(name).inspect_err(|e| debug!(name, error = %e, "file name refused"))?;
        let path = self.dir.join(name);
        // Refuse FIFOs and devices before opening: opening a FIFO for reading blocks.
        let before = std::fs::metadata(&path).map_err(from_io)?;
        if before.is_dir() {
            return Err(Refusal::Forbidden("a directory"));
        }
        if !before.is_file() {
            return Err(Refusal::Forbidden("not a regular file"));
        }
        let file = File::open(&path).map_err(from_io)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(Refusal::Forbidden("not a regular file"));
        }
        if !self.holds(&file, &path, &meta) {
            debug!(name, "file resolves outside the root");
            return Err(Refusal::Forbidden("outside the root"));
        }
        Ok((file, meta.len()))
    }

    /// Whether the opened `file` (opened through `path`) lies inside the root.
    fn holds(&self, file: &File, path: &Path, meta: &std::fs::Metadata) -> bool {
        let fd_link = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        match std::fs::read_link(fd_link) {
            // The kernel's own idea of where the open file is: no race with renames or symlink
            // swaps. A file unlinked since opening reads "… (deleted)" and fails the prefix check
            // only if it was outside anyway; either way we serve what was opened.
            Ok(real) => real.starts_with(&self.dir) && real != self.dir,
            Err(_) => match std::fs::canonicalize(path) {
                Ok(real) => {
                    real.starts_with(&self.dir)
                        && std::fs::metadata(&real)
                            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
                }
                Err(_) => false,
            },
        }
    }
}

/// The lexical rules, checked before the file system is touched.
fn check_name(name: &str) -> Result<(), Refusal> {
    let forbid = |why| Err(Refusal::Forbidden(why));
    if name.is_empty() {
        return forbid("empty name");
    }
    if name.len() > MAX_NAME_LEN {
        return forbid("name longer than 255 bytes");
    }
    if name.contains('\0') {
        return forbid("NUL byte in name");
    }
    if name.contains('\\') {
        return forbid("backslash in name");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return forbid("drive letter in name");
    }
    for component in Path::new(name).components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return forbid("'..' in name"),
            Component::RootDir | Component::Prefix(_) => return forbid("absolute path"),
        }
    }
    Ok(())
}

fn from_io(e: io::Error) -> Refusal {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Refusal::NotFound,
        io::ErrorKind::PermissionDenied => Refusal::Forbidden("permission denied"),
        _ if e.raw_os_error() == Some(40) => Refusal::Forbidden("too many symlinks"), // ELOOP
        _ => Refusal::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.cfg"), b"hello").unwrap();
        std::fs::create_dir(dir.path().join("fw")).unwrap();
        std::fs::write(dir.path().join("fw/v2.bin"), b"firmware").unwrap();
        let root = Root::new(dir.path()).unwrap();
        (dir, root)
    }

    fn forbidden(r: Result<(File, u64), Refusal>) -> &'static str {
        match r {
            Err(Refusal::Forbidden(why)) => why,
            other => panic!("expected Forbidden, got {other:?}"),
        }
    }

    #[test]
    fn opens_files_inside() {
        let (_dir, root) = root();
        let (mut f, len) = root.open("a.cfg").unwrap();
        assert_eq!(len, 5);
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(root.open("fw/v2.bin").unwrap().1, 8);
        assert_eq!(root.open("./fw//v2.bin").unwrap().1, 8);
    }

    #[test]
    fn refuses_names_by_rule() {
        let (_dir, root) = root();
        assert_eq!(forbidden(root.open("")), "empty name");
        assert_eq!(forbidden(root.open("a\0.cfg")), "NUL byte in name");
        assert_eq!(forbidden(root.open("/etc/passwd")), "absolute path");
        assert_eq!(forbidden(root.open("../etc/passwd")), "'..' in name");
        assert_eq!(forbidden(root.open("fw/../a.cfg")), "'..' in name");
        assert_eq!(forbidden(root.open("fw/..")), "'..' in name");
        assert_eq!(forbidden(root.open("..\\x")), "backslash in name");
        assert_eq!(forbidden(root.open("C:x")), "drive letter in name");
        assert_eq!(forbidden(root.open("c:/x")), "drive letter in name");
        let long = "a".repeat(256);
        assert_eq!(forbidden(root.open(&long)), "name longer than 255 bytes");
        assert!(matches!(
            root.open(&"a".repeat(255)),
            Err(Refusal::NotFound)
        ));
        assert_eq!(forbidden(root.open("fw")), "a directory");
        assert_eq!(forbidden(root.open(".")), "a directory");
    }

    #[test]
    fn missing_files_are_not_found() {
        let (_dir, root) = root();
        assert!(matches!(root.open("nope"), Err(Refusal::NotFound)));
        assert!(matches!(root.open("a.cfg/x"), Err(Refusal::NotFound)));
    }

    #[test]
    fn symlinks_out_are_refused_and_in_are_followed() {
        let (dir, root) = root();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"no").unwrap();
        symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        symlink(outside.path(), dir.path().join("out")).unwrap();
        symlink("/", dir.path().join("slash")).unwrap();
        symlink("fw/v2.bin", dir.path().join("current.bin")).unwrap();
        symlink("loop", dir.path().join("loop")).unwrap();
        assert_eq!(forbidden(root.open("leak")), "outside the root");
        assert_eq!(forbidden(root.open("out/secret")), "outside the root");
        assert_eq!(forbidden(root.open("slash/etc/passwd")), "outside the root");
        assert_eq!(root.open("current.bin").unwrap().1, 8);
        assert!(matches!(root.open("loop"), Err(Refusal::Forbidden(_))));
    }

    #[test]
    fn fifos_do_not_block() {
        let (dir, root) = root();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .expect("mkfifo (coreutils) runs");
        assert!(status.success());
        assert_eq!(forbidden(root.open("pipe")), "not a regular file");
    }

    #[test]
    fn a_root_that_is_a_file_is_refused() {
        let (dir, _root) = root();
        assert!(Root::new(dir.path().join("a.cfg")).is_err());
        assert!(Root::new(dir.path().join("absent")).is_err());
    }
}
