//! The websocket protocol's messages (docs/protocol.md). The only module that
//! knows the envelope's JSON shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage<'a> {
    Snapshot {
        epoch: u64,
        seq: u64,
        as_of: &'a str,
        state: &'a serde_json::Value,
    },
    Delta {
        epoch: u64,
        seq: u64,
        as_of: &'a str,
        set: super::delta::SetPairs<'a>,
        ops: &'a [super::delta::Op],
    },
    /// A delta as plain RFC 6902 operations, for a socket opened with
    /// `?delta=json-patch`.
    Patch {
        epoch: u64,
        seq: u64,
        as_of: &'a str,
        patch: &'a json_patch::Patch,
    },
    Heartbeat {
        epoch: u64,
        seq: u64,
        as_of: &'a str,
    },
    /// An edge's primary fell silent: the state is the last one it had.
    Stale {
        epoch: u64,
        seq: u64,
        as_of: &'a str,
    },
    Error {
        error: &'a str,
    },
    /// The link or wall token the socket was opened with was revoked or expired.
    Ended {
        reason: &'a str,
    },
}

impl ServerMessage<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Resync,
}

/// The frame as written: an object whose only key is `type`. (serde's
/// `deny_unknown_fields` does not reach an internally tagged unit variant,
/// so the shape is a plain struct and the tag is matched by hand.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
}

/// Reads a client's text frame.
pub fn parse_client(text: &str) -> Result<ClientMessage, String> {
    let only = "the only one is {\"type\":\"resync\"}";
    let frame: Frame =
        serde_json::from_str(text).map_err(|e| format!("not a client message ({e}); {only}"))?;
    match frame.kind.as_str() {
        "resync" => Ok(ClientMessage::Resync),
        other => Err(format!(
            "not a client message (unknown type {other:?}); {only}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_is_the_only_client_message() {
        assert_eq!(
            parse_client(r#"{"type":"resync"}"#),
            Ok(ClientMessage::Resync)
        );
        assert!(parse_client(r#"{"type":"subscribe"}"#).is_err());
        assert!(parse_client("[]").is_err());
        assert!(parse_client("not json").is_err());
        let extra = parse_client(r#"{"type":"resync","since":12}"#).unwrap_err();
        assert!(extra.contains("unknown field `since`"), "{extra}");
        let unknown = parse_client(r#"{"type":"subscribe"}"#).unwrap_err();
        assert_eq!(
            unknown,
            r#"not a client message (unknown type "subscribe"); the only one is {"type":"resync"}"#
        );
    }

    #[test]
    fn envelopes_carry_their_type() {
        let json = ServerMessage::Heartbeat {
            epoch: 7,
            seq: 3,
            as_of: "t",
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"heartbeat","epoch":7,"seq":3,"as_of":"t"}"#
        );
    }
}
