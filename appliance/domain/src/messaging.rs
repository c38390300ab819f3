//! Message objects, the unit of the messaging system (the patent's FIG. 4 messaging layer):
//! `{action, id, source, destination, object}` carried as JSON text frames over `/api/v1/ws`.
//!
//! `source` is the sender's GUID. The appliance signs its own objects with its server GUID, a
//! privileged source no client may use, so that servers can later talk to one another.
//!
//! | action | direction | object |
//! | --- | --- | --- |
//! | `connect` | client → server, server → client | `{}` / `{user, username, server}` |
//! | `disconnect` | either | `{reason?}`; the server then closes the socket |
//! | `subscribe` / `unsubscribe` | client → server | `{}`: presence updates on / off |
//! | `post` | server → client | a stored message arriving: as `GET /api/v1/messages` lists it |
//! | `post` | client → server | `{played: ID}`: the user played it |
//! | `checkin` | client → server | `{message: ID}`: acknowledges receipt; only then is it delivered |
//! | `ping` | either | `{}`: echoed back |
//! | `set_status` | client → server | `{status}`; broadcast as `set_status {user, username, online, status}` |
//! | `send` | client → server | one intercom buffer `{stream, seq, to?, pcm, end}` (see [`crate::intercom`]) |
//! | `send` | server → client | a live buffer `{stream, seq, from, pcm, ms, end, cut?}`, or to the sender `{stream, stored, ms}` / `{stream?, seq?, error}` |
//! | `phone_command` | client → server | `{command: "record", to, mode?}` rings the caller's phone as `POST /api/v1/record` does; `{command: "status", request}` tells how it ended |
//! | `control_params` | client → server | `{record_mode?}` sets the caller's default record mode; the answer lists the phone parameters |
//! | `server_down` | server → client | `{reason}`: the appliance is stopping |
//! | `error` replies | server → client | same action, `{error}` |

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The permitted actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Session start.
    Connect,
    /// Session end.
    Disconnect,
    /// Presence updates on.
    Subscribe,
    /// Presence updates off.
    Unsubscribe,
    /// A message arrives (server → client) or is played (client → server).
    Post,
    /// Liveness check.
    Ping,
    /// Receipt acknowledgement.
    Checkin,
    /// Message portions (intercom audio).
    Send,
    /// Availability.
    SetStatus,
    /// A command for the user's phone.
    PhoneCommand,
    /// Client control parameters.
    ControlParams,
    /// The server is going down.
    ServerDown,
}

/// One message object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageObject {
    /// What to do.
    pub action: Action,
    /// This object's own unique id.
    pub id: Uuid,
    /// The sender's GUID.
    pub source: Uuid,
    /// The intended recipient's GUID (nil for "the server" or "everyone").
    #[serde(default)]
    pub destination: Uuid,
    /// The payload.
    #[serde(default)]
    pub object: Value,
}

/// Why an incoming frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Not a message object (malformed input).
    #[error("not a message object: {0}")]
    Malformed(String),
    /// The source is not the sender's GUID (peer protocol violation).
    #[error("source must be your own GUID")]
    Spoofed,
    /// The action is reserved to servers (peer protocol violation).
    #[error("action {0:?} is reserved to servers")]
    Privileged(Action),
}

impl MessageObject {
    /// A new object from `source` with a fresh id.
    pub fn new(action: Action, source: Uuid, destination: Uuid, object: Value) -> Self {
        Self {
            action,
            id: Uuid::new_v4(),
            source,
            destination,
            object,
        }
    }

    /// Parses a client's frame and checks it may come from `user` (not the server's GUID, not a
    /// server-only action). A nil source is taken as the user's own.
    pub fn from_client(text: &str, user: Uuid, server: Uuid) -> Result<Self, Error> {
        let mut m: Self =
            serde_json::from_str(text).map_err(|e| Error::Malformed(e.to_string()))?;
        if m.source.is_nil() {
            m.source = user;
        }
        if m.source != user || m.source == server {
            return Err(Error::Spoofed);
        }
        if m.action == Action::ServerDown {
            return Err(Error::Privileged(m.action));
        }
        Ok(m)
    }

    /// The JSON text frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("message objects always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_objects_are_checked() {
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        let ok = format!(
            r#"{{"action":"checkin","id":"{}","source":"{u}","object":{{"message":"x"}}}}"#,
            Uuid::new_v4()
        );
        assert_eq!(
            MessageObject::from_client(&ok, u, s).unwrap().action,
            Action::Checkin
        );
        let nil = format!(
            r#"{{"action":"ping","id":"{}","source":"{}"}}"#,
            Uuid::new_v4(),
            Uuid::nil()
        );
        assert_eq!(MessageObject::from_client(&nil, u, s).unwrap().source, u);
        let spoof = format!(
            r#"{{"action":"ping","id":"{}","source":"{s}"}}"#,
            Uuid::new_v4()
        );
        assert_eq!(
            MessageObject::from_client(&spoof, u, s),
            Err(Error::Spoofed)
        );
        let down = format!(
            r#"{{"action":"server_down","id":"{}","source":"{u}"}}"#,
            Uuid::new_v4()
        );
        assert!(matches!(
            MessageObject::from_client(&down, u, s),
            Err(Error::Privileged(_))
        ));
        assert!(matches!(
            MessageObject::from_client("{", u, s),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            MessageObject::from_client(r#"{"action":"fly","id":"x","source":"y"}"#, u, s),
            Err(Error::Malformed(_))
        ));
        let m = MessageObject::new(Action::ServerDown, s, Uuid::nil(), serde_json::json!({}));
        assert!(m.to_text().contains("\"server_down\""));
    }
}
