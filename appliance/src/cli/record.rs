//! `offhook record`: rings your own phone; what you say after picking up, until you hang up or
//! press `#`, goes to the recipients. Exits 0 once the message is stored, printing its id.

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::Error;
use super::client::{ClientOpts, Session};

/// How what is said reaches the recipients.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// Intercom when every recipient is online, else record.
    Auto,
    /// Live to those online, buffer by buffer (and stored).
    Intercom,
    /// Stored, then delivered.
    Record,
}

/// `offhook record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    opts: ClientOpts,
    /// Recipients, comma-separated usernames.
    #[arg(long, required = true, value_delimiter = ',')]
    to: Vec<String>,
    /// Intercom or record.
    #[arg(long, value_enum, default_value = "auto")]
    mode: Mode,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    timeout: u64,
}

/// Runs `offhook record`.
pub fn run(a: RecordArgs) -> Result<(), Error> {
    let session = Session::login(&a.opts)?;
    let mode = match a.mode {
        Mode::Auto => "auto",
        Mode::Intercom => "intercom",
        Mode::Record => "record",
    };
    let started: Value = session
        .post_json("/api/v1/record", &json!({"to": a.to, "mode": mode}))?
        .json()
        .map_err(|e| Error::Protocol(e.to_string()))?;
    let request = started["request"]
        .as_u64()
        .ok_or_else(|| Error::Protocol("no request id in the answer".into()))?;
    eprintln!("your phone is ringing: pick up, speak, then hang up or press #");
    let mut waited = 0;
    while waited < a.timeout {
        let wait = (a.timeout - waited).min(60);
        let v: Value = session
            .get(&format!("/api/v1/record/{request}?wait={wait}"))?
            .json()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        match v["status"].as_str() {
            Some("stored") => {
                println!("{}", v["message"].as_str().unwrap_or_default());
                return Ok(());
            }
            Some("failed") => {
                return Err(Error::Refused(
                    v["reason"]
                        .as_str()
                        .unwrap_or("recording failed")
                        .to_owned(),
                ));
            }
            _ => waited += wait,
        }
    }
    Err(Error::Refused(format!(
        "no recording within {} s",
        a.timeout
    )))
}
