//! Who may do what. The backbone knows two secrets: the ingest key (partner
//! systems; it can only send events) and the admin token (staff automation).
//! Both are compared in constant time and never logged.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

#[derive(Clone, Default)]
pub struct Keys {
    /// (name, secret): the name is what the store records as an event's source.
    ingest: Vec<(String, String)>,
    admin: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field(
                "ingest",
                &self.ingest.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("admin", &self.admin.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Keys {
    pub fn new(ingest_key: Option<String>, admin_token: Option<String>) -> Keys {
        Keys {
            ingest: ingest_key
                .filter(|k| !k.is_empty())
                .map(|k| vec![("env".to_string(), k)])
                .unwrap_or_default(),
            admin: admin_token.filter(|t| !t.is_empty()),
        }
    }

    /// The name of the ingest key the request carries, if it carries one.
    pub fn ingest_source(&self, headers: &HeaderMap) -> Option<&str> {
        let token = bearer(headers)?;
        self.ingest
            .iter()
            .find(|(_, secret)| same(secret, token))
            .map(|(name, _)| name.as_str())
    }

    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        match (&self.admin, bearer(headers)) {
            (Some(admin), Some(token)) => same(admin, token),
            _ => false,
        }
    }
}

fn same(secret: &str, offered: &str) -> bool {
    secret.as_bytes().ct_eq(offered.as_bytes()).into()
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A new random secret: 32 bytes from the OS generator, hex.
pub fn random_secret() -> String {
    use rand::RngCore;
    // The thread generator is a CSPRNG seeded from the OS.
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
