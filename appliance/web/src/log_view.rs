//! The live log for admins: `GET /api/v1/log?after=SEQ` answers the lines the process logged
//! after line `SEQ` (at most [`PAGE`]), from a [`LogSource`] the binary gives (its log, as
//! written to stderr, kept in a bounded ring). The admin console polls it.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::users::require_admin;
use crate::{ApiError, Auth, Web};

/// Most lines one answer holds.
pub const PAGE: usize = 200;

/// One logged line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Its number: one more than the line before it.
    pub seq: u64,
    /// When, in ms since the Unix epoch.
    pub time_ms: u64,
    /// `ERROR`, `WARN` or `INFO`.
    pub level: &'static str,
    /// The module that logged it.
    pub target: String,
    /// The message and its fields, as the log file has them.
    pub message: String,
}

/// What [`LogSource::since`] answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogPage {
    /// The lines after the one asked for, oldest first.
    pub lines: Vec<LogLine>,
    /// Lines that were logged after the one asked for but are no longer kept.
    pub missed: u64,
    /// What to ask for next (`after`).
    pub next: u64,
}

/// Where the log comes from (the binary's log ring).
pub trait LogSource: Send + Sync {
    /// The lines logged after line `after`, at most `max` of them, oldest first.
    fn since(&self, after: u64, max: usize) -> LogPage;
}

#[derive(Deserialize)]
pub(super) struct After {
    #[serde(default)]
    after: u64,
}

pub(super) async fn log(
    State(app): State<Web>,
    auth: Auth,
    Query(q): Query<After>,
) -> Result<Json<LogPage>, ApiError> {
    require_admin(&app, &auth)?;
    let page = app
        .0
        .log
        .get()
        .map(|source| source.since(q.after, PAGE))
        .unwrap_or(LogPage {
            next: q.after,
            ..LogPage::default()
        });
    Ok(Json(page))
}
