//! Attachments cannot become pages of the appliance's origin (issue 13, point 9), against the
//! `offhook` binary: an uploaded HTML or SVG file is served as `application/octet-stream`, as a
//! download (`Content-Disposition: attachment`), with `nosniff` and a sandboxing CSP, and a
//! non-ASCII name goes out as RFC 6266's `filename*` with an ASCII fallback.

use offhook_tests::{Server, http, tone_wav, wait_processed};

#[test]
fn an_uploaded_page_is_served_as_an_inert_download() {
    let server = Server::start("");
    server.add_user("mallory");
    server.add_user("bob");
    let mallory = server.login("mallory");
    let dir = tempfile::tempdir().expect("tempdir");
    let part = |bytes: &'static [u8], name: &str, ctype: &str| {
        reqwest::blocking::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(ctype)
            .expect("mime")
    };
    let form = reqwest::blocking::multipart::Form::new()
        .text("to", "bob")
        .part(
            "audio",
            reqwest::blocking::multipart::Part::bytes(tone_wav(&dir.path().join("t.wav"), 500))
                .file_name("t.wav")
                .mime_str("audio/wav")
                .expect("mime"),
        )
        .part(
            "attachment",
            part(
                b"<script>steal(document.cookie)</script>",
                "Grüße.html",
                "text/html",
            ),
        )
        .part(
            "attachment",
            part(b"<svg onload=\"steal()\"/>", "x.svg", "image/svg+xml"),
        )
        .part(
            "attachment",
            part(b"\x89PNG\r\n\x1a\n", "photo.png", "image/png"),
        );
    let r = http()
        .post(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&mallory)
        .multipart(form)
        .send()
        .expect("POST /api/v1/messages");
    assert!(r.status().is_success(), "{}", r.status());
    let id = r.json::<serde_json::Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    wait_processed(&server, &mallory, &id);
    let bob = server.login("bob");
    let get = |n: u32| {
        http()
            .get(format!(
                "{}/api/v1/messages/{id}/attachments/{n}",
                server.url
            ))
            .bearer_auth(&bob)
            .send()
            .expect("GET attachment")
    };
    for (n, want_type, disposition) in [
        (
            0,
            "application/octet-stream",
            "attachment; filename=\"Gr__e.html\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.html",
        ),
        (
            1,
            "application/octet-stream",
            "attachment; filename=\"x.svg\"; filename*=UTF-8''x.svg",
        ),
        (
            2,
            "image/png",
            "attachment; filename=\"photo.png\"; filename*=UTF-8''photo.png",
        ),
    ] {
        let r = get(n);
        assert_eq!(r.status(), 200);
        let h = r.headers();
        let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(header("content-type"), want_type, "attachment {n}");
        assert_eq!(header("content-disposition"), disposition, "attachment {n}");
        assert_eq!(
            header("x-content-type-options"),
            "nosniff",
            "attachment {n}"
        );
        assert!(
            header("content-security-policy").contains("sandbox"),
            "attachment {n}: {}",
            header("content-security-policy")
        );
    }
}

/// One request cannot make thousands of files (issue 13, point 10): a message carries at most
/// `[messages] max_attachments` (16) attachments; a message with more is refused with 413, its
/// extra parts never kept, and nothing of the message is stored.
#[test]
fn a_message_carries_a_bounded_number_of_attachments() {
    let server = Server::start("");
    server.add_user("mallory");
    server.add_user("bob");
    let mallory = server.login("mallory");
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = tone_wav(&dir.path().join("t.wav"), 200);
    let post = |n: usize| {
        let mut form = reqwest::blocking::multipart::Form::new()
            .text("to", "bob")
            .part(
                "audio",
                reqwest::blocking::multipart::Part::bytes(audio.clone())
                    .file_name("t.wav")
                    .mime_str("audio/wav")
                    .expect("mime"),
            );
        for i in 0..n {
            form = form.part(
                "attachment",
                reqwest::blocking::multipart::Part::bytes(b"x".to_vec())
                    .file_name(format!("{i}.txt")),
            );
        }
        http()
            .post(format!("{}/api/v1/messages", server.url))
            .bearer_auth(&mallory)
            .multipart(form)
            .send()
            .expect("POST /api/v1/messages")
            .status()
    };
    assert_eq!(post(2_000), 413);
    assert_eq!(post(17), 413);
    assert_eq!(
        server.metric("offhook_messages_accepted_total"),
        0,
        "nothing stored"
    );
    assert!(post(16).is_success(), "16 attachments are fine");
}
