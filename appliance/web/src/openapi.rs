//! The OpenAPI 3.1 description of the REST API, served at `/api/v1/openapi.json`.
//!
//! [`ROUTES`] lists every route the router serves; a unit test checks the document describes
//! exactly those, and the end-to-end tests call each of them.

use axum::Json;
use serde_json::{Value, json};

/// Every (method, path) the router serves, in OpenAPI path syntax.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/tls"),
    ("post", "/api/v1/admin/backup"),
    ("post", "/api/v1/admin/restore"),
    ("get", "/api/v1/settings"),
    ("patch", "/api/v1/settings"),
    ("get", "/api/v1/contacts"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("delete", "/api/v1/users/{name}"),
    ("patch", "/api/v1/users/{name}"),
    ("get", "/api/v1/users/{name}/contacts"),
    ("put", "/api/v1/users/{name}/contacts"),
    ("get", "/api/v1/users/{name}/stations"),
    ("put", "/api/v1/users/{name}/stations"),
    ("get", "/api/v1/messages"),
    ("post", "/api/v1/messages"),
    ("delete", "/api/v1/messages/{id}"),
    ("get", "/api/v1/messages/{id}/audio"),
    ("get", "/api/v1/messages/{id}/waveform"),
    ("get", "/api/v1/messages/{id}/attachments/{n}"),
    ("get", "/api/v1/usage"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("get", "/api/v1/devices/{mac}"),
    ("patch", "/api/v1/devices/{mac}"),
    ("delete", "/api/v1/devices/{mac}"),
    ("get", "/api/v1/devices/{mac}/files/{name}"),
    ("get", "/api/v1/dhcp"),
    ("get", "/api/v1/dhcp/leases"),
    ("get", "/api/v1/provisioning/templates"),
    ("get", "/api/v1/provisioning/templates/{vendor}/{kind}"),
    ("put", "/api/v1/provisioning/templates/{vendor}/{kind}"),
    ("delete", "/api/v1/provisioning/templates/{vendor}/{kind}"),
    ("post", "/api/v1/record"),
    ("get", "/api/v1/record/{id}"),
    ("get", "/api/v1/ws"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/log"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/metrics"),
];

fn op(summary: &str, auth: bool, extra: Value) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            "200": {"description": "OK"},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
        }
    });
    if !auth {
        o["security"] = json!([]);
    }
    if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    o
}

fn path_param(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

/// The document.
pub fn document() -> Value {
    let uuid = json!({"type": "string", "format": "uuid"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Offhook", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            "/api/v1/session": {
                "post": op("Log in: returns {token, csrf} and sets the session cookie (Secure over HTTPS)", false, json!({
                    "description": "Refused with 403 from another site's page (an Origin that is not this server, or Sec-Fetch-Site: cross-site).",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["username", "password"],
                        "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
                    "responses": {"200": {"description": "session", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"token": {"type": "string"},
                            "csrf": {"type": "string", "description": "send it in X-CSRF-Token on every state-changing request authenticated by the cookie"},
                            "id": uuid, "username": {"type": "string"}, "admin": {"type": "boolean"}}}}}},
                        "401": {"$ref": "#/components/responses/Error"},
                        "403": {"$ref": "#/components/responses/Error"},
                        "429": {"$ref": "#/components/responses/Error"}}
                })),
                "get": op("Who is signed in, and the session's CSRF token", true, json!({
                    "responses": {"200": {"description": "session", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"id": uuid, "username": {"type": "string"},
                            "display": {"type": "string"},
                            "admin": {"type": "boolean"}, "csrf": {"type": "string"},
                            "expires_ms": {"type": "integer", "description": "ms since the Unix epoch"}}}}}}}})),
                "delete": op("Log out", true, json!({"responses": {"204": {"description": "logged out"}}})),
            },
            "/api/v1/tls": {"get": op("The HTTPS certificate served (admins only)", true, json!({
                "responses": {"200": {"description": "{enabled: false} when the server serves plain HTTP only", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"enabled": {"type": "boolean"},
                        "fingerprint_sha256": {"type": "string", "description": "SHA-256 of the certificate's DER, colon-separated hex pairs as browsers show it"},
                        "self_signed": {"type": "boolean", "description": "made by the appliance rather than the owner's"},
                        "not_after": {"type": ["string", "null"], "format": "date-time"}}}}}},
                    "403": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/admin/backup": {"post": op("Download an encrypted backup of the appliance (admins only)", true, json!({
                "description": "A consistent snapshot taken while serving: the database (SQLite's online backup API), the sealed media its rows name, the master key and the TLS certificate, encrypted under the passphrase (Argon2id, then AES-256-GCM in 64 KiB chunks; docs/DURABILITY.md). Streamed as it is written; `offhook restore FILE` or `POST /api/v1/admin/restore` brings it back.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["passphrase"],
                    "properties": {"passphrase": {"type": "string", "minLength": 8}}}}}},
                "responses": {"200": {"description": "the backup, as an attachment (offhook-DATE.ohb)", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": {"$ref": "#/components/responses/Error"},
                    "403": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/admin/restore": {"post": op("Stage a backup to replace the appliance's data at the next start (admins only)", true, json!({
                "description": "The backup is verified in full (passphrase, every chunk, the archive, the database's integrity, every file its rows name) and kept, extracted, as DATA/restore-staged. The appliance keeps serving its current data until it restarts; at the next start the staged data takes its place and the data it replaces is kept as DATA/before-restore-SECONDS. A wrong passphrase or a damaged file is 400 with field `file`.",
                "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file", "passphrase"],
                    "properties": {"file": {"type": "string", "format": "binary"}, "passphrase": {"type": "string"}}}}}},
                "responses": {"200": {"description": "staged", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"staged": {"type": "boolean"}, "users": {"type": "integer"},
                        "messages": {"type": "integer"}, "files": {"type": "integer"}, "bytes": {"type": "integer"},
                        "restart": {"type": "string"}}}}}},
                    "400": {"$ref": "#/components/responses/Error"},
                    "403": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/contacts": {"get": op("The caller's contact list", true, json!({
                "responses": {"200": {"description": "contacts", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Contact"}}}}}}}))},
            "/api/v1/users": {
                "get": op("All users (admins only)", true, json!({})),
                "post": op("Create a user (admins only)", true, json!({
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["username", "password"],
                        "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                            "display": {"type": "string"}, "admin": {"type": "boolean"},
                            "line": {"type": "string", "description": "GATEWAY/ENDPOINT"},
                            "number": {"type": "string", "pattern": "^[0-9]{2,15}$", "description": "the number they identify with when they dial in over a trunk; unique"},
                            "pin": {"type": "string", "pattern": "^[0-9]{4,12}$", "description": "the PIN they key after it; stored hashed, never shown"}}}}}},
                    "responses": {"201": {"description": "created"}, "400": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}
                })),
            },
            "/api/v1/users/{name}": {"delete": op("Delete a user (admins only)", true, json!({
                "parameters": [path_param("name", json!({"type": "string"})),
                    {"name": "Prefer", "in": "header", "required": false, "schema": {"type": "string", "enum": ["return=representation"]},
                     "description": "RFC 7240: answer 200 with what was done instead of 204"}],
                "description": "Their sessions end (tokens 401, WebSockets closed) and their name is free again. What they sent stays for the recipients who still hold it, listed with `from_deleted: true`; their copies of what they received go, and every message nobody holds any more goes with its files, removed from disk before the answer.",
                "responses": {"204": {"description": "deleted"}, "200": {"description": "deleted (with Prefer: return=representation): what was done", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"id": uuid, "username": {"type": "string"},
                        "sent_kept": {"type": "integer", "description": "messages they sent, kept for the recipients who hold them"},
                        "sent_removed": {"type": "integer", "description": "messages they sent that no recipient held any more, removed"},
                        "received_removed": {"type": "integer", "description": "their copies of messages sent to them, removed"},
                        "messages_removed": {"type": "integer", "description": "messages removed altogether with their files (nobody held them any more)"},
                        "files_removed": {"type": "integer", "description": "media files (audio, attachments) removed from disk"}}}}}},
                    "404": {"$ref": "#/components/responses/Error"}}})),
                "patch": op("Change a user: admins anyone, a user their own display name and password", true, json!({
                    "parameters": [path_param("name", json!({"type": "string"}))],
                    "description": "Fields left out stay as they are. A new password ends the user's other sessions (the caller's own stays). A user who is not an admin gives `current_password` to change their own; failures count against the address's login limit. The last admin cannot lose the flag.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false,
                        "properties": {"display": {"type": "string", "maxLength": 64}, "password": {"type": "string"},
                            "current_password": {"type": "string"}, "admin": {"type": "boolean"},
                            "number": {"type": ["string", "null"], "pattern": "^[0-9]{2,15}$", "description": "admins only: the dial-in number (unique), or null to remove it"},
                            "pin": {"type": ["string", "null"], "pattern": "^[0-9]{4,12}$", "description": "admins only: the dial-in PIN (stored hashed, never shown; a new one unlocks a number locked by wrong PINs), or null to remove it"}}}}}},
                    "responses": {"200": {"description": "the user as they now are"},
                        "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                        "409": {"$ref": "#/components/responses/Error"},
                        "404": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/users/{name}/contacts": {
                "get": op("A user's contact list (admins only)", true, json!({
                    "parameters": [path_param("name", json!({"type": "string"}))],
                    "responses": {"200": {"description": "the list", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactList"}}}},
                        "404": {"$ref": "#/components/responses/Error"}}})),
                "put": op("Set a user's contact list (admins only); an empty list: every other user", true, json!({
                    "parameters": [path_param("name", json!({"type": "string"}))],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["contacts"], "additionalProperties": false,
                        "properties": {"contacts": {"type": "array", "items": {"type": "string"}, "maxItems": 10000}}}}}},
                    "responses": {"200": {"description": "the list as set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactList"}}}},
                        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/settings": {
                "get": op("The settings an admin changes while the appliance runs, and the network settings of the config file, read-only (admins only)", true, json!({
                    "responses": {"200": {"description": "settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settings"}}}},
                        "403": {"$ref": "#/components/responses/Error"}}})),
                "patch": op("Change settings (admins only): {KEY: value, or null for the config file's}; all or nothing, at once, kept over restarts", true, json!({
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false, "properties": {
                            "messages.retention": {"type": ["string", "null"], "description": "delivered, played, or a period such as 30d"},
                            "messages.quota_per_user": {"type": ["string", "integer", "null"], "description": "a size such as 1GiB; 0: no quota"}}}}}},
                    "responses": {"200": {"description": "settings as they now are", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settings"}}}},
                        "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/users/{name}/stations": {
                "get": op("A user's phone lines (admins only)", true, json!({
                    "parameters": [path_param("name", json!({"type": "string"}))],
                    "responses": {"200": {"description": "the lines", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stations"}}}},
                        "404": {"$ref": "#/components/responses/Error"}}})),
                "put": op("Set a user's phone lines (admins only); an empty list: no phone. Takes effect at once: a new line is watched and rings, a removed one stores what it was recording and is let go", true, json!({
                    "parameters": [path_param("name", json!({"type": "string"}))],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stations"}}}},
                    "responses": {"200": {"description": "the lines as set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stations"}}}},
                        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                        "409": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/messages": {
                "get": op("The caller's messages, oldest first", true, json!({
                    "responses": {"200": {"description": "messages", "content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Message"}}}}}}})),
                "post": op("Send a message; answers once it is durably stored", true, json!({
                    "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["to", "audio"],
                        "properties": {
                            "to": {"type": "array", "items": {"type": "string"}, "description": "recipient usernames (repeatable)"},
                            "audio": {"type": "string", "format": "binary", "description": "WAV or Ogg Opus"},
                            "attachment": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
                    "responses": {"200": {"description": "durably stored as received (status processing; transcoded afterwards)", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"id": uuid, "duration_ms": {"type": "integer", "description": "from the upload's header; 0 if it does not tell"},
                            "status": {"type": "string", "enum": ["processing"]}}}}}},
                        "400": {"$ref": "#/components/responses/Error"},
                        "413": {"$ref": "#/components/responses/Error"},
                        "415": {"$ref": "#/components/responses/Error"},
                        "429": {"$ref": "#/components/responses/TooFast"},
                        "507": {"$ref": "#/components/responses/OverQuota"}}
                })),
            },
            "/api/v1/messages/{id}": {"delete": op("Delete a message for the caller", true, json!({
                "parameters": [path_param("id", uuid.clone())],
                "responses": {"204": {"description": "deleted"}, "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/messages/{id}/waveform": {"get": op("A message's waveform, to draw before playing it (does not mark it played)", true, json!({
                "parameters": [path_param("id", uuid.clone()),
                    {"name": "points", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 576}}],
                "responses": {"200": {"description": "the loudest sample of each span, 0-255", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"duration_ms": {"type": "integer"},
                        "peaks": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}}}}}},
                    "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
                    "410": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/messages/{id}/audio": {"get": op("A message's audio", true, json!({
                "parameters": [path_param("id", uuid.clone()),
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["wav", "ogg"]}}],
                "responses": {"200": {"description": "audio", "content": {"audio/wav": {}, "audio/ogg": {}}},
                    "404": {"$ref": "#/components/responses/Error"},
                    "409": {"$ref": "#/components/responses/Error"},
                    "410": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/messages/{id}/attachments/{n}": {"get": op("An attachment", true, json!({
                "parameters": [path_param("id", uuid.clone()), path_param("n", json!({"type": "integer", "minimum": 0}))],
                "responses": {"200": {"description": "the attachment"}, "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/usage": {"get": op("What the caller's messages hold on disk, their quota and what they may upload now", true, json!({
                "responses": {"200": {"description": "usage", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["used", "quota", "upload_available"], "properties": {
                        "used": {"type": "integer", "description": "bytes the caller's sent messages hold on disk (sealed audio, attachments) while any of their holders keeps them"},
                        "quota": {"type": ["integer", "null"], "description": "messages.quota_per_user in bytes; null: no quota"},
                        "upload_available": {"type": ["integer", "null"], "description": "bytes the caller may upload now under messages.upload_rate; null: no rate"}}}}}}}}))},
            "/api/v1/devices": {
                "get": op("The IP phones on the LAN: added by an admin or first seen by DHCP (admins only)", true, json!({
                    "responses": {"200": {"description": "devices", "content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Device"}}}}},
                        "403": {"$ref": "#/components/responses/Error"}}})),
                "post": op("Add a phone (admins only)", true, json!({
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceFields"}}}},
                    "responses": {"201": {"description": "added", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}},
                        "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                        "409": {"$ref": "#/components/responses/Error"}}})),
            },
            "/api/v1/devices/{mac}": {
                "get": op("One phone (admins only)", true, json!({
                    "parameters": [path_param("mac", json!({"type": "string", "description": "any case, with or without separators"}))],
                    "responses": {"200": {"description": "the device", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}},
                        "404": {"$ref": "#/components/responses/Error"}}})),
                "patch": op("Change a phone (admins only): fields left out stay, null clears", true, json!({
                    "parameters": [path_param("mac", json!({"type": "string"}))],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceFields"}}}},
                    "responses": {"200": {"description": "the device as it now is", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}},
                        "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}})),
                "delete": op("Remove a phone (admins only)", true, json!({
                    "parameters": [path_param("mac", json!({"type": "string"}))],
                    "responses": {"204": {"description": "removed"}, "404": {"$ref": "#/components/responses/Error"}}})),
            },
            "/api/v1/devices/{mac}/files/{name}": {"get": op("A configuration file as the phone would fetch it now (admins only; it holds the user's SIP secret)", true, json!({
                "parameters": [path_param("mac", json!({"type": "string"})), path_param("name", json!({"type": "string", "description": "such as SEP0004F2ABCDEF.cnf.xml"}))],
                "responses": {"200": {"description": "the file"}, "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/dhcp": {"get": op("The DHCP pools, options and counters in force, from the config file (admins only; 404 when provisioning is off)", true, json!({
                "responses": {"200": {"description": "pools"}, "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/dhcp/leases": {"get": op("The DHCP leases (admins only)", true, json!({
                "responses": {"200": {"description": "leases", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"type": "object", "properties": {
                        "ip": {"type": "string"}, "mac": {"type": "string"},
                        "expires": {"type": "integer", "description": "s since the Unix epoch"},
                        "state": {"type": "string", "enum": ["bound", "released", "declined"]},
                        "hostname": {"type": ["string", "null"]}, "vendor_class": {"type": ["string", "null"]}}}}}}}}}))},
            "/api/v1/provisioning/templates": {"get": op("The configuration templates, per vendor and kind, and whether the owner replaced each (admins only)", true, json!({
                "responses": {"200": {"description": "templates", "content": {"application/json": {"schema": {
                    "type": "array", "items": {"type": "object", "properties": {
                        "vendor": {"type": "string"}, "kind": {"type": "string"}, "overridden": {"type": "boolean"}}}}}}}}}))},
            "/api/v1/provisioning/templates/{vendor}/{kind}": {
                "get": op("A template's source (minijinja), the owner's or the default (admins only)", true, json!({
                    "parameters": [path_param("vendor", json!({"type": "string"})), path_param("kind", json!({"type": "string"}))],
                    "responses": {"200": {"description": "text/plain source"}, "404": {"$ref": "#/components/responses/Error"}}})),
                "put": op("Replace a template (admins only): the body is its minijinja source; one that does not compile is refused with 400", true, json!({
                    "parameters": [path_param("vendor", json!({"type": "string"})), path_param("kind", json!({"type": "string"}))],
                    "requestBody": {"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "responses": {"204": {"description": "in force from the next fetch"}, "404": {"$ref": "#/components/responses/Error"},
                        "413": {"$ref": "#/components/responses/Error"}}})),
                "delete": op("Go back to the default template (admins only)", true, json!({
                    "parameters": [path_param("vendor", json!({"type": "string"})), path_param("kind", json!({"type": "string"}))],
                    "responses": {"204": {"description": "the default is in force"}, "404": {"$ref": "#/components/responses/Error"}}})),
            },
            "/api/v1/record": {"post": op("Ring the caller's phone to record a message", true, json!({
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["to"], "properties": {
                        "to": {"type": "array", "items": {"type": "string"}},
                        "mode": {"type": "string", "enum": ["auto", "intercom", "record"],
                            "description": "auto (the default unless control_params set another): intercom when every recipient is online"}}}}}},
                "responses": {"202": {"description": "ringing: {request, status: pending, mode}"},
                    "409": {"$ref": "#/components/responses/Error"},
                    "507": {"$ref": "#/components/responses/OverQuota"},
                    "503": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/record/{id}": {"get": op("How a record request ended", true, json!({
                "parameters": [path_param("id", json!({"type": "integer", "minimum": 1})),
                    {"name": "wait", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 300},
                     "description": "seconds to wait while it is pending (with stage: while it is at that stage)"},
                    {"name": "stage", "in": "query", "required": false, "schema": {"type": "string", "enum": ["ringing", "recording"]},
                     "description": "wait only until the request is past this stage, to follow its progress"}],
                "responses": {"200": {"description": "{request, status: pending|stored|failed, stage?: ringing|recording (while pending), message?, reason?}"},
                    "404": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/ws": {"get": op("WebSocket of message objects {action, id, source, destination, object}", true, json!({
                "description": "Text frames, one message object each: arrivals (post), presence (set_status), acknowledgements (checkin) and intercom audio (send).\n\nIntercom: a client sends one buffer per `send` object: `{stream: hex id it chooses, seq: 0,1,2… consecutive, to: [username…] (first buffer), pcm: base64 of 16-bit little-endian mono PCM at 8 kHz (at most 1 s), end: true on the last}`. Every online session of every recipient gets it at once as `send` `{stream, seq, from: username, pcm, ms, end}` (`cut: true` on a last empty one when the sender hung up or reached messages.max_duration). When the stream ends it is stored as a message to all recipients and the sender is told `{stream, stored: message id, ms}`; the stored message's `post` carries `stream`. A refused buffer is answered `{stream, seq, error}` and counted in /metrics (intercom_malformed, intercom_too_big, intercom_out_of_order, intercom_too_many_streams, intercom_too_long, intercom_too_fast, unknown_recipient, over_quota: a first buffer while the sender's messages hold their whole messages.quota_per_user); the session carries on. Audio may run at most 2 s ahead of real time: a buffer beyond is dropped (intercom_too_fast) and the stream goes on at the next seq.\n\nphone_command: `{command: \"record\", to: [username…], mode?}` rings the caller's phone as POST /api/v1/record does (answer `{request, status, mode}` or `{error, status: 409|503|507}`); `{command: \"status\", request}` tells how it ended. control_params: `{record_mode?: auto|intercom|record}` sets the caller's default mode; the answer lists `record_mode`, `has_phone`, `intercom_buffer_ms`, `max_recording_ms`. A live stream from a phone reaches clients as `send` objects like a client's.",
                "responses": {"101": {"description": "switching protocols"}}}))},
            "/api/v1/health": {"get": op("Health", false, json!({
                "responses": {"200": {"description": "health", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"},
                        "gateways": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "protocol": {"type": "string"}, "up": {"type": "boolean"}}}},
                        "stations": {"type": "array", "items": {"type": "object", "properties": {
                            "user": uuid.clone(), "available": {"type": "boolean"}}}},
                        "subsystems": {"type": "array", "description": "admins only: the core's parts",
                            "items": {"type": "object", "properties": {
                            "name": {"type": "string", "enum": ["database", "storage", "transcoder", "retention", "clients", "network"]},
                            "state": {"type": "string", "enum": ["ok", "degraded", "down"]},
                            "detail": {"type": "string"}}}},
                        "lines": {"type": "array", "description": "admins only: every phone line and what it does (about a second old)",
                            "items": {"type": "object", "properties": {
                            "line": {"type": "string"}, "user": uuid.clone(),
                            "state": {"type": "string", "enum": ["gateway down", "checking", "idle", "ringing", "connecting", "recording", "storing", "playing", "live", "off hook"]},
                            "waiting": {"type": "integer", "minimum": 0}}}},
                        "sip": {"type": "object", "description": "the SIP registrar, when it runs (about a second old)",
                            "properties": {
                            "listen": {"type": "string"},
                            "registered_users": {"type": "integer", "minimum": 0},
                            "registered_contacts": {"type": "integer", "minimum": 0},
                            "contacts": {"type": "array", "description": "admins only: every registered contact",
                                "items": {"type": "object", "properties": {
                                "user": {"type": "string"}, "contact": {"type": "string"}, "source": {"type": "string"},
                                "transport": {"type": "string", "enum": ["udp", "tcp", "tls"]},
                                "expires_in": {"type": "integer", "minimum": 0},
                                "user_agent": {"type": ["string", "null"]}}}}}}}}}}}}}))},
            "/api/v1/log": {"get": op("The process's log since a line (admins only)", true, json!({
                "parameters": [{"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0},
                    "description": "the last line seen (`next` of the previous answer); 0 for every line kept"}],
                "description": "The lines logged (at the configured level, info by default) after `after`, at most 200, oldest first. The server keeps the last 1,000 lines, each at most 1 KiB; `missed` counts those logged after `after` that are no longer kept.",
                "responses": {"200": {"description": "the lines", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "lines": {"type": "array", "items": {"type": "object", "properties": {
                            "seq": {"type": "integer"}, "time_ms": {"type": "integer"},
                            "level": {"type": "string", "enum": ["ERROR", "WARN", "INFO"]},
                            "target": {"type": "string"}, "message": {"type": "string"}}}},
                        "missed": {"type": "integer"}, "next": {"type": "integer"}}}}}},
                    "403": {"$ref": "#/components/responses/Error"}}}))},
            "/api/v1/openapi.json": {"get": op("This document", false, json!({}))},
            "/metrics": {"get": op("Prometheus metrics", false, json!({
                "responses": {"200": {"description": "text exposition", "content": {"text/plain": {}}}}}))},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": super::COOKIE,
                    "description": "A request authenticated by the cookie whose method changes state (POST, PUT, PATCH, DELETE) must carry the session's CSRF token (the csrf of the login answer or of GET /api/v1/session) in X-CSRF-Token, and must not come from another site's page (Origin, Sec-Fetch-Site); else 403, counted as csrf. Bearer requests are exempt."},
            },
            "responses": {
                "Error": {"description": "refused", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"error": {"type": "string"}}}}}},
                "OverQuota": {"description": "nothing was kept: either the caller's messages would hold more than messages.quota_per_user (quota, used, size; delete messages to make room), or the appliance's disk is down to messages.disk_reserve (free, reserve, size; try again later)", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"error": {"type": "string"},
                        "quota": {"type": "integer", "description": "bytes"},
                        "used": {"type": "integer", "description": "bytes the caller's messages hold now"},
                        "free": {"type": "integer", "description": "bytes free on the appliance's data disk"},
                        "reserve": {"type": "integer", "description": "bytes the appliance keeps free (messages.disk_reserve)"},
                        "size": {"type": "integer", "description": "bytes the request needed (0 for a recording, refused when the quota is used up or the disk is down to its reserve)"}}}}}},
                "TooFast": {"description": "uploading faster than messages.upload_rate: nothing was kept; try again after Retry-After seconds",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"error": {"type": "string"}}}}}},
            },
            "schemas": {
                "Device": {"type": "object", "properties": {
                    "mac": {"type": "string", "description": "lower-case, colon-separated"},
                    "vendor": {"type": ["string", "null"], "enum": ["cisco", "polycom", "yealink", "grandstream", "snom", null]},
                    "model": {"type": ["string", "null"]}, "user": {"type": ["string", "null"]},
                    "ip": {"type": ["string", "null"], "description": "its DHCP reservation"},
                    "vendor_class": {"type": ["string", "null"], "description": "DHCP option 60 as last seen"},
                    "last_ip": {"type": ["string", "null"]}, "last_seen": {"type": ["integer", "null"], "description": "ms since the Unix epoch"}}},
                "DeviceFields": {"type": "object", "additionalProperties": false, "properties": {
                    "mac": {"type": "string", "description": "POST only; any case, with or without separators"},
                    "vendor": {"type": ["string", "null"]}, "model": {"type": ["string", "null"]},
                    "user": {"type": ["string", "null"]}, "ip": {"type": ["string", "null"]}}},
                "ContactList": {"type": "object", "properties": {
                    "explicit": {"type": "boolean", "description": "set by an admin; false: every other user"},
                    "contacts": {"type": "array", "items": {"type": "string"}}}},
                "Settings": {"type": "object", "properties": {
                    "settings": {"type": "array", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "value": {"type": "string"}, "file": {"type": "string", "description": "the config file's value"},
                        "source": {"type": "string", "enum": ["file", "console"]}}}},
                    "network": {"type": "array", "description": "set in the config file; applies at restart", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "value": {"type": "string"}}}}}},
                "Stations": {"type": "object", "required": ["stations"], "additionalProperties": false, "properties": {
                    "stations": {"type": "array", "maxItems": 16, "items": {"type": "string", "pattern": "^[^/\\s]+/[^\\s@*$]+$",
                        "description": "GATEWAY/ENDPOINT: a configured gateway's name, then its name for the port (gw1/aaln/1)"}}}},
                "Contact": {"type": "object", "properties": {
                    "id": uuid, "username": {"type": "string"}, "display": {"type": "string"},
                    "online": {"type": "boolean"}, "kind": {"type": "string"}}},
                "Message": {"type": "object", "properties": {
                    "id": uuid, "from": {"type": "string"}, "from_id": uuid,
                    "from_deleted": {"type": "boolean", "description": "the sender was deleted since; from is the name they had (it may be someone else's now: from_id tells them apart)"},
                    "to": {"type": "array", "items": {"type": "string"}},
                    "created": {"type": "string", "format": "date-time"}, "duration_ms": {"type": "integer"},
                    "attachments": {"type": "array", "items": {"type": "object", "properties": {
                        "n": {"type": "integer"}, "name": {"type": "string"},
                        "content_type": {"type": "string"}, "size": {"type": "integer"}}}},
                    "played": {"type": "boolean"},
                    "status": {"type": "string", "enum": ["processing", "ready", "failed"],
                        "description": "recipients only ever see ready; duration_ms is an estimate until ready"}}},
            }
        }
    })
}

pub(super) async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_exactly_the_routes() {
        let doc = document();
        let mut described: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), p.clone()))
            })
            .collect();
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        described.sort();
        served.sort();
        assert_eq!(described, served);
    }
}
