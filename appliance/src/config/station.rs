//! `[[station]]`: a user's phone, on a gateway line or reached over a trunk.

use serde::Deserialize;

use super::trunk::gateway_known;
use super::{Error, entry};
use crate::config::{Gateway, Trunk};

/// The keys of a `[[station]]` entry.
pub(super) const KEYS: &[&str] = &["user", "gateway", "endpoint", "trunk", "dial"];

/// One `[[station]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// `user`: the user it belongs to.
    pub user: String,
    /// Where the phone is (`gateway` and `endpoint`, or `trunk` and `dial`).
    pub place: StationPlace,
}

/// Where a station's phone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StationPlace {
    /// On a line of a gateway.
    Line {
        /// The gateway's name.
        gateway: String,
        /// The line's endpoint name on it (`aaln/1`).
        endpoint: String,
    },
    /// Reached by dialling out over a trunk.
    Trunk {
        /// The trunk's name.
        trunk: String,
        /// The number to dial.
        dial: String,
    },
}

#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    user: String,
    gateway: Option<String>,
    endpoint: Option<String>,
    trunk: Option<String>,
    dial: Option<String>,
}

/// Checks and converts the `[[station]]` entries against the gateways and trunks.
pub(super) fn build(
    raw: Vec<Raw>,
    gateways: &[Gateway],
    trunks: &[Trunk],
) -> Result<Vec<Station>, Error> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, s) in raw.into_iter().enumerate() {
        let place = match (s.gateway, s.endpoint, s.trunk, s.dial) {
            (Some(gateway), Some(endpoint), None, None) => {
                gateway_known(format!("station[{i}].gateway"), &gateway, gateways)?;
                StationPlace::Line { gateway, endpoint }
            }
            (None, None, Some(trunk), Some(dial)) => {
                if !trunks.iter().any(|t| t.name == trunk) {
                    return Err(entry(
                        format!("station[{i}].trunk"),
                        &format!("no [[trunk]] is named {trunk:?}"),
                    ));
                }
                let max = station_manager::trunk::MAX_NUMBER;
                if dial.is_empty()
                    || dial.len() > max
                    || !dial
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
                {
                    return Err(entry(
                        format!("station[{i}].dial"),
                        &format!("must be 1 to {max} of 0-9, * and #"),
                    ));
                }
                StationPlace::Trunk { trunk, dial }
            }
            _ => {
                return Err(entry(
                    format!("station[{i}]"),
                    "needs either `gateway` and `endpoint`, or `trunk` and `dial`",
                ));
            }
        };
        out.push(Station {
            user: s.user,
            place,
        });
    }
    Ok(out)
}
