//! `[lcd]`: the front panel, an LCDproc client of the LCDd at `server` (CONTRACT.md). Off when
//! the section or its `server` is absent. `poweroff` is the command its "Shut down" runs once
//! the appliance has stopped (`["systemctl", "poweroff"]`).

use serde::Deserialize;

use super::Error;

/// The keys of `[lcd]`.
pub(super) const KEYS: &[&str] = &["server", "poweroff"];

/// `poweroff`'s default.
pub const DEFAULT_POWEROFF: [&str; 2] = ["systemctl", "poweroff"];

/// The longest `host:port` taken.
const MAX_SERVER: usize = 255;

/// `[lcd]`, when it names a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lcd {
    /// `server`: LCDd's `host:port`, such as `"127.0.0.1:13666"`.
    pub server: String,
    /// `poweroff`: the program and its arguments that power the machine off.
    pub poweroff: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    server: Option<String>,
    poweroff: Option<Vec<String>>,
}

impl Lcd {
    pub(super) fn build(raw: Raw) -> Result<Option<Self>, Error> {
        let Some(server) = raw.server else {
            return Ok(None);
        };
        let poweroff = match raw.poweroff {
            None => DEFAULT_POWEROFF.map(str::to_owned).to_vec(),
            Some(p) if p.first().is_some_and(|c| !c.is_empty()) => p,
            Some(p) => {
                return Err(Error::Value {
                    key: "lcd.poweroff".into(),
                    value: format!("{p:?}"),
                    message: "expected a program and its arguments, such as [\"systemctl\", \"poweroff\"]".into(),
                });
            }
        };
        let bad = |message: &str| Error::Value {
            key: "lcd.server".into(),
            value: format!("{server:?}"),
            message: message.into(),
        };
        let Some((host, port)) = server.rsplit_once(':') else {
            return Err(bad("expected host:port, such as \"127.0.0.1:13666\""));
        };
        if host.is_empty() || server.len() > MAX_SERVER || server.chars().any(char::is_whitespace) {
            return Err(bad("expected host:port, such as \"127.0.0.1:13666\""));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(Some(Self { server, poweroff })),
            _ => Err(bad("the port must be 1 to 65535")),
        }
    }
}
