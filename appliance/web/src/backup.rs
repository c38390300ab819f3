//! `POST /api/v1/admin/backup` and `POST /api/v1/admin/restore` (admins): the console's
//! backup download and staged restore, over `offhook_domain::backup`.
//!
//! A backup is streamed as it is written (the archive is never held whole). A restore is
//! uploaded to a temporary file in the data directory, verified in full and extracted to
//! `DATA/restore-staged` while the appliance keeps serving; the next start swaps it in
//! before the database opens and keeps the data it replaces in `DATA/before-restore-SECONDS`.
//! Swapping a running appliance's database under its sessions, queues and open files would
//! be neither atomic nor honest; a restart is what an appliance owner expects after a restore.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use offhook_domain::backup::{self, Kdf, KdfLimits};
use offhook_domain::metrics::Reject;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::users::{json_body, require_admin};
use crate::{ApiError, Auth, Web};

/// Bytes per chunk of the streamed backup.
const CHUNK: usize = 256 << 10;

/// `POST /api/v1/admin/backup` body.
#[derive(Deserialize)]
pub(super) struct BackupRequest {
    passphrase: String,
}

/// Writes into chunks sent on a bounded channel; the backup thread waits while the client
/// reads, and stops (`BrokenPipe`) if it goes away.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `POST /api/v1/admin/backup` `{passphrase}`: the encrypted backup, as a download. A failure
/// before the first bytes is a JSON error; one after them cuts the download short (and a
/// truncated backup is refused by restore).
pub(super) async fn create(
    State(app): State<Web>,
    auth: Auth,
    body: Result<Json<BackupRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&app, &auth)?;
    let req = json_body(&app, body)?;
    backup::check_passphrase(&req.passphrase).map_err(|e| {
        app.reject(
            Reject::MalformedJson,
            StatusCode::BAD_REQUEST,
            e.to_string(),
        )
        .with("field", "passphrase")
    })?;
    let paths = app.core().db().paths().clone();
    let (tx, mut rx) = mpsc::channel(4);
    let by = auth.username.clone();
    tokio::task::spawn_blocking(move || {
        let w = ChunkWriter {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        let done = backup::create(&paths, req.passphrase.as_bytes(), Kdf::default(), w)
            .map_err(|e| e.to_string())
            .and_then(|(mut w, s)| w.send().map(|()| s).map_err(|e| e.to_string()));
        match done {
            Ok(s) => info!(
                by = %by, messages = s.messages, left_out = s.left_out,
                files = s.totals.files, bytes = s.totals.bytes, "backup downloaded"
            ),
            Err(e) => {
                warn!(by = %by, error = %e, "backup failed");
                let _ = tx.blocking_send(Err(io::Error::other(e)));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Ok(first)) => first,
        Some(Err(e)) => return Err(ApiError::internal(format!("backup failed: {e}"))),
        None => return Err(ApiError::internal("the backup stopped without a word")),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok::<_, io::Error>(first))),
        rest,
    );
    let stamp = offhook_domain::clock::rfc3339(app.core().clock().now_ms());
    let stamp: String = stamp
        .chars()
        .take(19)
        .map(|c| if c == ':' { '-' } else { c })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"offhook-{stamp}Z.ohb\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Removes the uploaded file however the request ends.
struct Upload(PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn multipart_error(app: &Web, e: &MultipartError) -> ApiError {
    app.reject(
        Reject::MalformedMultipart,
        StatusCode::BAD_REQUEST,
        format!("malformed multipart body: {}", e.body_text()),
    )
}

/// `POST /api/v1/admin/restore` (multipart: `file`, `passphrase`): verifies the backup in
/// full and stages it for the next start. Answers what it holds; the appliance must be
/// restarted to use it.
pub(super) async fn restore(
    State(app): State<Web>,
    auth: Auth,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    require_admin(&app, &auth)?;
    let mut mp = mp.map_err(|e| {
        app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            format!("malformed multipart body: {}", e.body_text()),
        )
    })?;
    let root = app.core().db().paths().root.clone();
    let upload = Upload(root.join(format!(
        ".restore-upload-{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )));
    let mut passphrase = None;
    let mut len = None;
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| multipart_error(&app, &e))?
    {
        match field.name().unwrap_or("") {
            "passphrase" => {
                passphrase = Some(field.text().await.map_err(|e| multipart_error(&app, &e))?);
            }
            "file" => {
                let mut f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&upload.0)
                    .await
                    .map_err(|e| ApiError::internal(format!("storing the upload: {e}")))?;
                let mut n = 0u64;
                while let Some(chunk) =
                    field.chunk().await.map_err(|e| multipart_error(&app, &e))?
                {
                    f.write_all(&chunk)
                        .await
                        .map_err(|e| ApiError::internal(format!("storing the upload: {e}")))?;
                    n += chunk.len() as u64;
                }
                f.flush()
                    .await
                    .map_err(|e| ApiError::internal(format!("storing the upload: {e}")))?;
                len = Some(n);
            }
            _ => {}
        }
    }
    let missing = |what: &str| {
        app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            format!("the {what} part is missing"),
        )
        .with("field", what)
    };
    let passphrase = passphrase.ok_or_else(|| missing("passphrase"))?;
    let len = len.ok_or_else(|| missing("file"))?;
    let path = upload.0.clone();
    let staged = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| backup::Error::Io {
            what: "reading the upload".into(),
            source: e,
        })?;
        backup::stage(
            io::BufReader::with_capacity(256 << 10, file),
            Some(len),
            passphrase.as_bytes(),
            &KdfLimits::default(),
            &root,
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("the restore stopped: {e}")))?;
    drop(upload);
    match staged {
        Ok(r) => {
            info!(by = %auth.username, users = r.users, messages = r.messages, "restore staged for the next start");
            Ok(Json(json!({
                "staged": true,
                "users": r.users,
                "messages": r.messages,
                "files": r.totals.files,
                "bytes": r.totals.bytes,
                "restart": "restart the appliance to switch to the restored data; the data it replaces is kept in the data directory as before-restore-SECONDS",
            })))
        }
        Err(e) if e.is_input() => Err(app
            .reject(
                Reject::MalformedMultipart,
                StatusCode::BAD_REQUEST,
                e.to_string(),
            )
            .with("field", "file")),
        Err(e) => Err(ApiError::internal(format!("restore: {e}"))),
    }
}
