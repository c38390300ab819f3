//! Erlang/OTP's megaco as an oracle for our codecs: one `escript` process running
//! `tests/otp/codec.escript`, asked one line at a time to decode a message with one of OTP's
//! encoder modules, encode OTP's record with another, or compare two records.
//!
//! OTP is required: without `escript` and the megaco application the tests fail
//! (`scripts/deps --test` installs erlang-base and erlang-megaco).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// An OTP encoder module, with the plain configuration `[]` and protocol version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code, reason = "each test binary uses some of the encoders")]
pub(crate) enum Codec {
    /// `megaco_pretty_text_encoder`.
    Pretty,
    /// `megaco_compact_text_encoder`.
    Compact,
    /// `megaco_ber_encoder`.
    Ber,
}

impl Codec {
    fn module(self) -> &'static str {
        match self {
            Self::Pretty => "megaco_pretty_text_encoder",
            Self::Compact => "megaco_compact_text_encoder",
            Self::Ber => "megaco_ber_encoder",
        }
    }
}

/// The escript, running; stopped when dropped.
pub(crate) struct Otp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Otp {
    /// Starts the escript. Panics, saying what to install, when OTP is missing.
    pub(crate) fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otp/codec.escript");
        let mut child = Command::new("escript")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("escript runs (scripts/deps --test installs erlang-base and erlang-megaco)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Decodes `bytes` with `from` and encodes OTP's record with `to`.
    #[allow(dead_code, reason = "each test binary uses some of the requests")]
    pub(crate) fn recode(
        &mut self,
        from: Codec,
        bytes: &[u8],
        to: Codec,
    ) -> Result<Vec<u8>, String> {
        let answer = self.ask(&format!(
            "recode {} {} {}",
            from.module(),
            hex(bytes),
            to.module()
        ))?;
        unhex(&answer).ok_or_else(|| format!("the escript answered {answer:?}"))
    }

    /// Decodes both messages and compares OTP's records.
    #[allow(dead_code, reason = "each test binary uses some of the requests")]
    pub(crate) fn same(&mut self, a: (Codec, &[u8]), b: (Codec, &[u8])) -> Result<(), String> {
        self.ask(&format!(
            "same {} {} {} {}",
            a.0.module(),
            hex(a.1),
            b.0.module(),
            hex(b.1)
        ))
        .map(drop)
    }

    /// OTP's record for `bytes`, printed on one line.
    #[allow(dead_code, reason = "each test binary uses some of the requests")]
    pub(crate) fn show(&mut self, codec: Codec, bytes: &[u8]) -> Result<String, String> {
        self.ask(&format!("show {} {}", codec.module(), hex(bytes)))
    }

    /// Sends one request line; the text after `ok` or the text after `error`.
    fn ask(&mut self, request: &str) -> Result<String, String> {
        writeln!(self.stdin, "{request}").expect("the escript reads its stdin");
        self.stdin.flush().expect("the escript reads its stdin");
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("the escript's stdout");
        assert!(
            n > 0,
            "the escript stopped (is the megaco application installed?)"
        );
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("ok") {
            Ok(rest.trim_start().to_owned())
        } else if let Some(rest) = line.strip_prefix("error ") {
            Err(rest.to_owned())
        } else {
            panic!("the escript answered {line:?}")
        }
    }
}

impl Drop for Otp {
    fn drop(&mut self) {
        // An empty line ends the escript's loop.
        let _ = self.stdin.write_all(b"\n");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
