//! The web UI's files (`appliance/web/ui/`), built into the binary: `GET /` is the page, and
//! `/ui/…` its script, style sheet and audio worklet. No build step: the files are served as
//! written.
//!
//! Every file goes out with a Content-Security-Policy that allows only this origin's scripts and
//! styles (no inline script, no `eval`), media from this origin and `blob:` (recordings being
//! reviewed), and no framing, so text the server hands the page can never run as code even if
//! a bug put it into the page as HTML.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The policy of every UI file.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The files: path, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../ui/index.html"),
    ),
    (
        "/ui/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "/ui/common.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/common.js"),
    ),
    (
        "/ui/admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/admin.js"),
    ),
    (
        "/ui/capture-worklet.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/capture-worklet.js"),
    ),
    (
        "/ui/app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
];

/// Every path the UI serves.
pub fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _, _)| *p)
}

/// The file at `path` (one of [`paths`]).
pub fn serve(path: &str) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(p, _, _)| *p == path) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let mut r = (*body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The files change with the binary: revalidate on every load.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_its_type_and_the_policy() {
        for path in paths() {
            let r = serve(path);
            assert_eq!(r.status(), axum::http::StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        assert_eq!(
            serve("/").headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(serve("/nope").status(), axum::http::StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_only_files_that_are_served() {
        let page = include_str!("../ui/index.html");
        for (attr, _) in page.match_indices("=\"/ui/") {
            let rest = &page[attr + 2..];
            let path = &rest[..rest.find('"').unwrap()];
            assert!(paths().any(|p| p == path), "{path} is not served");
        }
        // No inline script: the policy would refuse it.
        assert!(!page.contains("<script>"));
        assert!(!page.contains("onclick="));
    }
}
