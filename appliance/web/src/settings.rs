//! `GET`/`PATCH /api/v1/settings` (admins): the settings that change while the appliance runs
//! (message retention, the per-user quota: `offhook_domain::settings`), and, to read only, the
//! network settings of the config file (listen addresses, media ports), which apply at restart.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use offhook_domain::metrics::Reject;
use offhook_domain::settings::ChangeError;
use serde_json::{Map, Value, json};
use tracing::info;

use crate::users::{json_body, require_admin};
use crate::{ApiError, Auth, Web};

/// One network setting of the config file, shown read-only: `(key, value)`.
pub type NetworkSetting = (&'static str, String);

fn body(app: &Web) -> Value {
    let network: Vec<Value> = app
        .0
        .network
        .get()
        .into_iter()
        .flatten()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    json!({"settings": app.core().settings(), "network": network})
}

/// `GET /api/v1/settings`: `{settings: [{key, value, file, source}], network: [{key, value}]}`.
pub(super) async fn get(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    Ok(Json(body(&app)))
}

/// `PATCH /api/v1/settings` `{KEY: VALUE | null, …}`: sets each (null: back to the config
/// file's value); all or nothing. A refusal names the key in `field`.
pub(super) async fn patch(
    State(app): State<Web>,
    auth: Auth,
    change: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let change = json_body(&app, change)?;
    let invalid = |key: &str, why: String| {
        app.reject(Reject::MalformedJson, StatusCode::BAD_REQUEST, why)
            .with("field", key)
    };
    let mut changes = Vec::with_capacity(change.len());
    for (key, value) in change {
        let value = match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            // A quota may be given as a number of bytes.
            Value::Number(n) if n.is_u64() => Some(n.to_string()),
            _ => return Err(invalid(&key, format!("{key}: give a string, or null"))),
        };
        changes.push((key, value));
    }
    match app.core().change_settings(changes.clone()).await {
        Ok(_) => {
            info!(by = %auth.username, changed = ?changes, "settings changed");
            Ok(Json(body(&app)))
        }
        Err(ChangeError::Invalid { key, why }) => Err(invalid(&key, format!("{key}: {why}"))),
        Err(ChangeError::Db(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}
