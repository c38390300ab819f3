#![no_main]
//! A backup file (`offhook_domain::backup::format`) read from any bytes: the header parses or
//! is refused within the limits; any envelope after a good header is refused or read without
//! a panic; and any archive sealed properly is read into entries whose paths are all ones a
//! data directory holds, which written again read back the same. The key is derived once
//! (cheap parameters, for fuzzing only), so each run goes straight to the parsing.
use std::io::Write;
use std::sync::OnceLock;

use codecs::seal::{Compression, Key, SealWriter};
use libfuzzer_sys::fuzz_target;
use offhook_domain::backup::format::{self, HEADER_LEN, Kdf, KdfLimits, Reader, Writer};

const PASS: &[u8] = b"fuzz passphrase";

fn fixed() -> &'static ([u8; HEADER_LEN], Key) {
    static FIXED: OnceLock<([u8; HEADER_LEN], Key)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let w = Writer::new(Vec::new(), PASS, Kdf::insecure_for_tests()).expect("writer");
        let (file, _) = w.finish().expect("finish");
        let header: [u8; HEADER_LEN] = file[..HEADER_LEN].try_into().expect("header");
        let (kdf, salt) = format::parse_header(&header, &KdfLimits::default()).expect("parse");
        (header, kdf.derive(PASS, &salt).expect("derive"))
    })
}

type Entries = Vec<(String, u32, Vec<u8>)>;

fn drain(mut r: Reader<&[u8]>) -> Result<Entries, offhook_domain::backup::Error> {
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        let mut body = Vec::new();
        r.copy_body(&mut body)?;
        assert_eq!(body.len() as u64, e.len);
        out.push((e.path, e.mode, body));
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let (header, key) = fixed();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Any header: parsed or refused, never a cost over the limits.
    if let Ok((kdf, _)) = format::parse_header(rest, &KdfLimits::default()) {
        assert!(kdf.m_cost <= KdfLimits::default().max_m_cost);
    }
    let mut file = header.to_vec();
    if mode & 1 == 0 {
        // Any envelope after a good header (it will not authenticate, but must not panic).
        file.extend_from_slice(rest);
    } else {
        // Any archive, sealed properly: the parser itself.
        let mut w = SealWriter::new(key, header, &mut file, Compression::None).expect("sealer");
        w.write_all(rest).expect("seal");
        w.finish().expect("finish");
    }
    let len = file.len() as u64;
    let Ok(reader) = Reader::open_with_key(&file[HEADER_LEN..], header, key, Some(len)) else {
        return;
    };
    let Ok(entries) = drain(reader) else {
        return;
    };
    for (path, _, _) in &entries {
        format::check_path(path).expect("a path read is a known one");
    }
    // Written again, it reads back the same.
    let mut w = Writer::new(Vec::new(), PASS, Kdf::insecure_for_tests()).expect("writer");
    for (path, mode, body) in &entries {
        w.file(path, *mode, body.len() as u64, &body[..])
            .expect("entry");
    }
    let (again, _) = w.finish().expect("finish");
    let reader = Reader::open(
        &again[..],
        PASS,
        &KdfLimits::default(),
        Some(again.len() as u64),
    )
    .expect("reopen");
    assert_eq!(drain(reader).expect("reread"), entries);
});
