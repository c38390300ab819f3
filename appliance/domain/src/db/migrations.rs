//! The database's schema, as the migrations that build it.

/// The migrations, in order; `PRAGMA user_version` counts how many have run.
pub(crate) const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users(
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT 'user',
    sip_username TEXT NOT NULL UNIQUE,
    sip_secret TEXT NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
CREATE TABLE contacts(
    owner TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY(owner, contact)
);
CREATE TABLE gateways(name TEXT PRIMARY KEY, protocol TEXT NOT NULL, address TEXT);
CREATE TABLE stations(
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    gateway TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    UNIQUE(gateway, endpoint)
);
CREATE TABLE messages(
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    codec TEXT NOT NULL,
    audio_file TEXT,
    audio_bytes INTEGER NOT NULL,
    sender_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_sender ON messages(sender);
CREATE TABLE recipients(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE(message_id, user_id)
);
CREATE INDEX recipients_user ON recipients(user_id, state);
CREATE TABLE attachments(
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY(message_id, n)
);
",
    r"
-- Messages are acknowledged once the upload is stored as received (`raw_file`, sealed) and are
-- transcoded afterwards: processing -> ready (audio_file set, raw_file gone) or failed.
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'ready';
ALTER TABLE messages ADD COLUMN raw_file TEXT;
CREATE INDEX messages_processing ON messages(status) WHERE status = 'processing';
",
    r"
-- Uploads are appended to shared spool segments: raw_file names the segment (spool/<seq>.seg),
-- raw_offset the upload's place in it and audio_bytes its length. A raw_file with no offset is a
-- whole file (written by an earlier version).
ALTER TABLE messages ADD COLUMN raw_offset INTEGER;
CREATE INDEX messages_raw_file ON messages(raw_file) WHERE raw_file IS NOT NULL;
",
    r"
-- Deleting a user keeps the messages they sent for their recipients: the user becomes a
-- tombstone (kind 'deleted', its login and SIP names freed, the name it had kept in
-- former_username for the recipients to see), removed once no message names it. A sender is
-- never deleted under its messages: messages.sender was ON DELETE CASCADE (deleting a user
-- silently emptied their recipients' inboxes) and is now ON DELETE RESTRICT. SQLite cannot
-- alter a foreign key in place: the table is rebuilt as its documentation says (new table,
-- copy with the rowids, drop, rename, indexes again), foreign keys off meanwhile (see
-- `migrate`).
ALTER TABLE users ADD COLUMN former_username TEXT;
CREATE TABLE new_messages(
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    created INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    codec TEXT NOT NULL,
    audio_file TEXT,
    audio_bytes INTEGER NOT NULL,
    sender_deleted INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ready',
    raw_file TEXT,
    raw_offset INTEGER
);
INSERT INTO new_messages(rowid, id, sender, created, duration_ms, codec, audio_file, audio_bytes,
                         sender_deleted, status, raw_file, raw_offset)
    SELECT rowid, id, sender, created, duration_ms, codec, audio_file, audio_bytes,
           sender_deleted, status, raw_file, raw_offset FROM messages;
DROP TABLE messages;
ALTER TABLE new_messages RENAME TO messages;
CREATE INDEX messages_sender ON messages(sender);
CREATE INDEX messages_processing ON messages(status) WHERE status = 'processing';
CREATE INDEX messages_raw_file ON messages(raw_file) WHERE raw_file IS NOT NULL;
",
    // Must stay after any migration that rebuilds `messages` (a dropped table takes its
    // triggers with it).
    r"
-- Per-user storage quota (issue 13): `usage` keeps, per sender, the bytes their messages hold
-- on disk while any holder still has them: the sealed audio (the upload while processing, the
-- Opus file once ready; nothing once retention or a failure removed it) and the attachments.
-- The triggers keep it in the same transaction as every insert, update and delete of a
-- message, whichever path makes it (accept, transcoding, deletes, retention, user removal).
CREATE TABLE usage(user_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
INSERT INTO usage(user_id) SELECT id FROM users;
UPDATE usage SET bytes =
    (SELECT coalesce(sum(CASE WHEN m.audio_file IS NOT NULL OR m.raw_file IS NOT NULL
                         THEN m.audio_bytes ELSE 0 END), 0)
     FROM messages m WHERE m.sender = usage.user_id)
  + (SELECT coalesce(sum(a.bytes), 0) FROM attachments a JOIN messages m ON m.id = a.message_id
     WHERE m.sender = usage.user_id);
CREATE TRIGGER usage_user_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO usage(user_id) VALUES (NEW.id);
END;
CREATE TRIGGER usage_user_delete AFTER DELETE ON users BEGIN
    DELETE FROM usage WHERE user_id = OLD.id;
END;
CREATE TRIGGER usage_message_insert AFTER INSERT ON messages BEGIN
    UPDATE usage SET bytes = bytes
        + CASE WHEN NEW.audio_file IS NOT NULL OR NEW.raw_file IS NOT NULL THEN NEW.audio_bytes ELSE 0 END
    WHERE user_id = NEW.sender;
END;
CREATE TRIGGER usage_message_update AFTER UPDATE OF audio_file, raw_file, audio_bytes ON messages BEGIN
    UPDATE usage SET bytes = bytes
        - CASE WHEN OLD.audio_file IS NOT NULL OR OLD.raw_file IS NOT NULL THEN OLD.audio_bytes ELSE 0 END
        + CASE WHEN NEW.audio_file IS NOT NULL OR NEW.raw_file IS NOT NULL THEN NEW.audio_bytes ELSE 0 END
    WHERE user_id = NEW.sender;
END;
-- BEFORE: the message's attachments (deleted with it by the cascade) are still there to count.
CREATE TRIGGER usage_message_delete BEFORE DELETE ON messages BEGIN
    UPDATE usage SET bytes = bytes
        - CASE WHEN OLD.audio_file IS NOT NULL OR OLD.raw_file IS NOT NULL THEN OLD.audio_bytes ELSE 0 END
        - (SELECT coalesce(sum(bytes), 0) FROM attachments WHERE message_id = OLD.id)
    WHERE user_id = OLD.sender;
END;
CREATE TRIGGER usage_attachment_insert AFTER INSERT ON attachments BEGIN
    UPDATE usage SET bytes = bytes + NEW.bytes
    WHERE user_id = (SELECT sender FROM messages WHERE id = NEW.message_id);
END;
",
    // Settings set from the console (`crate::settings`), over the config file's.
    r"
CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
",
    // LAN provisioning (issue 18).
    r"
-- IP phones: added by `offhook device add` or the API, or first seen by the DHCP server (then
-- with no user, and a vendor guessed from option 60 or the MAC's OUI, or none). `ip` is a
-- DHCP reservation; `http_secret` (sealed) is the password the phone fetches its files with
-- when HTTP provisioning asks for per-device credentials.
CREATE TABLE devices(
    mac TEXT PRIMARY KEY,
    vendor TEXT,
    model TEXT,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    ip TEXT UNIQUE,
    http_secret TEXT NOT NULL,
    vendor_class TEXT,
    last_ip TEXT,
    last_seen INTEGER,
    created INTEGER NOT NULL
);
CREATE INDEX devices_user ON devices(user_id);
-- DHCP leases, one row per address, written before the ACK that grants them goes out.
CREATE TABLE leases(
    ip TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    expires INTEGER NOT NULL,
    state TEXT NOT NULL,
    hostname TEXT,
    vendor_class TEXT
) WITHOUT ROWID;
CREATE INDEX leases_mac ON leases(mac);
-- Configuration templates edited by the owner, over the embedded defaults.
CREATE TABLE templates(
    vendor TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY(vendor, kind)
) WITHOUT ROWID;
",
    // Dial-in over a trunk (issue 20).
    r"
-- A user's dial-in number (digits, unique when set) and PIN (argon2id, as passwords are), with
-- which they identify when they call the appliance over a trunk. dial_in_failures counts
-- wrong PINs per user (so per number, numbers being unique): failures within the window that
-- began at first_ms, and the lock they led to (locked_until, 0 for none); see
-- `users::dial_in`. A user's row goes with them.
ALTER TABLE users ADD COLUMN number TEXT;
ALTER TABLE users ADD COLUMN pin_hash TEXT;
CREATE UNIQUE INDEX users_number ON users(number) WHERE number IS NOT NULL;
CREATE TABLE dial_in_failures(
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
",
    // Federation (issue 24).
    r"
-- Users of other sites (kind 'remote'; username NAME@SITE; site names their appliance), as
-- the federation directory lists them: recipients, senders and contacts like local users, but
-- they never log in (kind != 'user'). The outbox holds, per message and site, what is still to
-- be handed to the NATS stream for that site: written in the transaction that stores the
-- message, removed once JetStream acknowledged it. federation_received holds the ids of the
-- messages taken from the stream, in the transaction that stores each: a redelivery (an ack
-- lost in a crash) is acknowledged again and never stored twice, even once its recipients
-- have deleted it.
ALTER TABLE users ADD COLUMN site TEXT;
CREATE INDEX users_site ON users(site) WHERE site IS NOT NULL;
CREATE TABLE outbox(
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    site TEXT NOT NULL,
    PRIMARY KEY(message_id, site)
) WITHOUT ROWID;
CREATE TABLE federation_received(
    message_id TEXT PRIMARY KEY,
    received INTEGER NOT NULL
) WITHOUT ROWID;
",
];
