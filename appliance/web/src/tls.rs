//! The HTTP front's certificate (TLS 1.2 and 1.3, RFC 8446, through rustls with the ring
//! provider): the owner's certificate chain and key from PEM files, or a self-signed certificate
//! made at first start and kept in the data dir, so that browsers that were told to trust it
//! keep trusting it across restarts.
//!
//! Its SHA-256 fingerprint is given in the form browsers show (`AB:CD:…`, over the DER of the
//! leaf certificate), for an owner to compare with what their browser says before trusting it.
//!
//! This is a driver: it reads and writes files, and the wall clock for a new certificate's dates.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

/// Why a certificate could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds no certificate, or no private key, or does not parse.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported key).
    #[error("certificate and key refused: {0}")]
    Rejected(#[from] rustls::Error),
    /// A new certificate could not be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What an admin is told about the certificate (`GET /api/v1/tls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Info {
    /// SHA-256 of the leaf certificate's DER, as colon-separated upper-case hex pairs.
    pub fingerprint_sha256: String,
    /// Made by the appliance (rather than the owner's).
    pub self_signed: bool,
    /// The end of its validity, RFC 3339 (UTC), if it could be read.
    pub not_after: Option<String>,
}

/// A certificate ready to serve: the rustls configuration (ALPN `http/1.1`) and what it is.
#[derive(Debug, Clone)]
pub struct Certificate {
    config: Arc<ServerConfig>,
    info: Info,
}

impl Certificate {
    /// The owner's certificate chain (leaf first) and private key, PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, Error> {
        Self::load_as(cert, key, false)
    }

    fn load_as(cert: &Path, key: &Path, self_signed: bool) -> Result<Self, Error> {
        let pem = read(cert)?;
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(pem_error(cert, "no CERTIFICATE block".into()));
        }
        let key_pem = read(key)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| pem_error(key, format!("no private key: {e}")))?;
        Self::build(chain, key_der, self_signed)
    }

    /// The self-signed certificate kept in `dir` (`cert.pem`, `key.pem`), made there first if
    /// either is missing, for `names` (host names and IP addresses). Files and directory are
    /// the owner's only (0600, 0700).
    pub fn self_signed(dir: &Path, names: &[String]) -> Result<Self, Error> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !(cert.exists() && key.exists()) {
            generate(dir, &cert, &key, names)?;
        }
        Self::load_as(&cert, &key, true)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        self_signed: bool,
    ) -> Result<Self, Error> {
        let info = Info {
            fingerprint_sha256: fingerprint(&chain[0]),
            self_signed,
            not_after: not_after(&chain[0]),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            info,
        })
    }

    /// What it is.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The rustls configuration to serve it with.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, what: String) -> Error {
    Error::Pem {
        path: path.to_owned(),
        what,
    }
}

/// Makes a P-256 key and a certificate for `names`, valid from a year ago for ten years, and
/// writes both (key first: a certificate is never left without its key).
fn generate(dir: &Path, cert: &Path, key: &Path, names: &[String]) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    set_mode(dir, 0o700).map_err(io(dir))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let mut dn = rcgen::DistinguishedName::new();
    let cn = names.first().map_or("offhook", String::as_str);
    dn.push(rcgen::DnType::CommonName, format!("Offhook {cn}"));
    dn.push(rcgen::DnType::OrganizationName, "Offhook appliance");
    params.distinguished_name = dn;
    let pair = rcgen::KeyPair::generate()?;
    let made = params.self_signed(&pair)?;
    write_private(key, pair.serialize_pem().as_bytes()).map_err(io(key))?;
    write_private(cert, made.pem().as_bytes()).map_err(io(cert))?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file renamed into place, mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    set_mode(&tmp, 0o600)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// SHA-256 of `der`, as browsers show it: `AB:CD:…` (32 pairs).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// One DER element (X.690 §8.1): its tag, its contents and what follows it. Long-form lengths
/// of up to four bytes; anything else, or a length past the input, is `None`.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((tag, contents, after))
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version` (RFC 5280 §4.1).
const VERSION: u8 = 0xa0;

/// The `notAfter` of an X.509 certificate (RFC 5280 §4.1.2.5), as RFC 3339 UTC.
fn not_after(der: &[u8]) -> Option<String> {
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = match element(tbs)? {
        (VERSION, _, after) => after,
        _ => tbs,
    };
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, rest) = element(validity)?;
    let (tag, time, _) = element(rest)?;
    let time = std::str::from_utf8(time).ok()?;
    let digits = time.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            // Two-digit years: 50-99 are 19xx, 00-49 are 20xx (RFC 5280 §4.1.2.5.1).
            let century = if digits < "50" { "20" } else { "19" };
            format!("{century}{digits}")
        }
        (GENERALIZED_TIME, 14) => digits.to_owned(),
        _ => return None,
    };
    let f = |r: std::ops::Range<usize>| &full[r];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        f(0..4),
        f(4..6),
        f(6..8),
        f(8..10),
        f(10..12),
        f(12..14)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_kept_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tls");
        let names = vec!["offhook.lan".to_owned(), "192.0.2.7".to_owned()];
        let first = Certificate::self_signed(&dir, &names).unwrap();
        for f in ["cert.pem", "key.pem"] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let again = Certificate::self_signed(&dir, &names).unwrap();
        assert_eq!(first.info(), again.info());
        assert!(first.info().self_signed);
        assert_eq!(first.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // The fingerprint is the SHA-256 of the PEM's DER.
        let pem = std::fs::read(dir.join("cert.pem")).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, &der);
        let fp = &first.info().fingerprint_sha256;
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert_eq!(fp.replace(':', ""), hex(digest.as_ref()));
        // Valid for ten years from the start of this year.
        let not_after = first.info().not_after.clone().unwrap();
        assert!(not_after.ends_with("-01-01T00:00:00Z"), "{not_after}");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn the_owners_pair_is_loaded_and_a_mismatched_key_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let pair = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(vec!["owner.example".into()]).unwrap();
            params.not_after = rcgen::date_time_ymd(2031, 7, 9);
            let cert = params.self_signed(&pair).unwrap();
            let (c, k) = (
                tmp.path().join(format!("{name}.crt")),
                tmp.path().join(format!("{name}.key")),
            );
            std::fs::write(&c, cert.pem()).unwrap();
            std::fs::write(&k, pair.serialize_pem()).unwrap();
            (c, k, fingerprint(cert.der()))
        };
        let (a_cert, a_key, a_fp) = make("a");
        let (_, b_key, _) = make("b");
        let a = Certificate::load(&a_cert, &a_key).unwrap();
        assert_eq!(a.info().fingerprint_sha256, a_fp);
        assert!(!a.info().self_signed);
        assert_eq!(a.info().not_after.as_deref(), Some("2031-07-09T00:00:00Z"));
        let e = Certificate::load(&a_cert, &b_key).unwrap_err();
        assert!(matches!(e, Error::Rejected(_)), "{e}");
        let e = Certificate::load(&a_key, &a_key).unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        let e = Certificate::load(&a_cert, &a_cert).unwrap_err();
        assert!(e.to_string().contains("no private key"), "{e}");
        let e = Certificate::load(&tmp.path().join("none"), &a_key).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }

    #[test]
    fn not_after_reads_both_time_forms_and_refuses_garbage() {
        // A minimal TBSCertificate: version, serial, algorithm, issuer, validity.
        let cert = |validity: &[u8]| {
            let mut tbs = vec![0xa0, 3, 2, 1, 2, 2, 1, 1, 0x30, 0, 0x30, 0];
            tbs.extend_from_slice(&[0x30, validity.len() as u8]);
            tbs.extend_from_slice(validity);
            let mut c = vec![0x30, tbs.len() as u8];
            c.extend(tbs);
            let mut outer = vec![0x30, 0x81, c.len() as u8];
            outer.extend(c);
            outer
        };
        let utc = |s: &str| [&[UTC_TIME, s.len() as u8][..], s.as_bytes()].concat();
        let gen_ = |s: &str| [&[GENERALIZED_TIME, s.len() as u8][..], s.as_bytes()].concat();
        let v = [utc("200101000000Z"), utc("491231235959Z")].concat();
        assert_eq!(not_after(&cert(&v)).unwrap(), "2049-12-31T23:59:59Z");
        let v = [utc("200101000000Z"), utc("500101000000Z")].concat();
        assert_eq!(not_after(&cert(&v)).unwrap(), "1950-01-01T00:00:00Z");
        let v = [utc("200101000000Z"), gen_("20510203040506Z")].concat();
        assert_eq!(not_after(&cert(&v)).unwrap(), "2051-02-03T04:05:06Z");
        let v = [utc("200101000000Z"), utc("49123123595xZ")].concat();
        assert_eq!(not_after(&cert(&v)), None);
        let v = [utc("200101000000Z"), gen_("491231235959Z")].concat();
        assert_eq!(
            not_after(&cert(&v)),
            None,
            "a generalized time needs four-digit years"
        );
        // Truncated anywhere: no panic, no answer.
        let whole = cert(&[utc("200101000000Z"), utc("491231235959Z")].concat());
        for n in 0..whole.len() {
            assert_eq!(not_after(&whole[..n]), None, "{n}");
        }
        assert_eq!(element(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(element(&[0x30, 0x80]), None);
    }
}
