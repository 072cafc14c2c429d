-- Who may reach the server, and the trail of what they did (痕迹化, 责任化).
-- Secrets are never stored: passwords as argon2 hashes (PHC strings), tokens
-- as the hex SHA-256 of the token.

-- Command-center staff who log in to the console.
CREATE TABLE IF NOT EXISTS users (
    name          VARCHAR   PRIMARY KEY,
    password_hash VARCHAR   NOT NULL,   -- argon2id, PHC string
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR   NOT NULL    -- a staff name, 'cli' or 'env'
);
-- What an account may do: 'admin' also manages staff accounts, 'staff' does
-- the rest (accounts made before roles were all admins). A disabled account
-- cannot sign in.
ALTER TABLE users ADD COLUMN IF NOT EXISTS role VARCHAR DEFAULT 'admin';
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_by VARCHAR;

-- Console sessions (a cookie holds the token).
CREATE TABLE IF NOT EXISTS sessions (
    token_hash VARCHAR   PRIMARY KEY,
    name       VARCHAR   NOT NULL,
    csrf       VARCHAR   NOT NULL,      -- sent back in X-CSRF-Token on every write
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- Share links for leaders (kind 'link'), wall tokens ('wall') and ingest keys ('ingest').
CREATE TABLE IF NOT EXISTS credentials (
    id             VARCHAR   PRIMARY KEY,   -- short public id, for the console
    kind           VARCHAR   NOT NULL,      -- link, wall, ingest
    label          VARCHAR   NOT NULL,      -- ingest: the source name stored with each event
    scope          VARCHAR,                 -- link: 'city' or a district code
    token_hash     VARCHAR   NOT NULL UNIQUE,
    created_at     TIMESTAMP NOT NULL,
    created_by     VARCHAR   NOT NULL,
    expires_at     TIMESTAMP,               -- NULL: until revoked
    revoked_at     TIMESTAMP,
    revoked_by     VARCHAR,
    last_used_at   TIMESTAMP,
    last_used_from VARCHAR
);

-- The addresses each credential was used from (a new one is audited).
CREATE TABLE IF NOT EXISTS credential_addresses (
    credential_id VARCHAR   NOT NULL,
    address       VARCHAR   NOT NULL,
    first_seen    TIMESTAMP NOT NULL,
    PRIMARY KEY (credential_id, address)
);

-- The audit trail: appended to, never changed through the API.
CREATE TABLE IF NOT EXISTS audit (
    logged_at TIMESTAMP NOT NULL,
    actor   VARCHAR   NOT NULL,   -- staff name, 'admin-token', a credential id, or '-' (unknown)
    action  VARCHAR   NOT NULL,   -- login, login_failed, logout, credential_created, ...
    target  VARCHAR,              -- what it acted on (a credential id, a user name, ...)
    address VARCHAR,              -- the client's address
    detail  VARCHAR               -- a short note (never a secret)
);
