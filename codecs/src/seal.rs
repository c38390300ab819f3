//! AES-256-GCM sealed envelopes for stored audio and attachments.
