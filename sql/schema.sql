-- The store of Weibing: every accepted event, every rejected one, and a few settings.
-- All times are Beijing time (UTC+08:00) as wall-clock TIMESTAMPs, so that
-- date_trunc('day', ts) or date_trunc('month', ts) give Beijing days and months.

-- One row per accepted event. `id` is unique for all time: a repeated id is a
-- duplicate and is never stored twice. The writer keeps it so, with every
-- stored id's hash in memory (src/store/ids.rs); a primary key would check
-- the same at more than twice the cost of an append
-- (docs/decisions/0010-stored-ids-kept-as-hashes-not-a-primary-key.md).
-- `seq` is the order of arrival (gaps allowed).
--
-- The program's fixed lists are ENUM types: a value is stored as a one-byte
-- code and read (and compared, `kind = 'scan'`) as its text. Ingest appends
-- them as text, cast on the way in; a narrower row costs the writer about a
-- sixth less time an event
-- (docs/decisions/0012-the-fixed-lists-as-enum-types.md). The store makes
-- the types event_kind, colour_code, category_code, stage_code and rate_code
-- from the lists of src/model.rs (their one definition, in that order; the
-- codes are listed in docs/ingest.md) before this file runs, and makes them
-- again at open when a list has changed. Districts stay text: the region
-- files name them, and a region may change.
CREATE TABLE IF NOT EXISTS events (
    seq         BIGINT    NOT NULL,
    id          VARCHAR   NOT NULL,   -- unique (see above)
    ts          TIMESTAMP NOT NULL,   -- the event's own time, Beijing time
    kind        event_kind NOT NULL,  -- scan, assess, enroll, service, train, outcome
    district    VARCHAR   NOT NULL,   -- region code, e.g. 110106 (丰台区)
    person      VARCHAR   NOT NULL,   -- pseudonymous person id, never a phone or id-card number
    channel     VARCHAR,              -- scan: where the code was scanned
    colour      colour_code,          -- assess: green, orange, pink, yellow, blue
    team        VARCHAR,              -- enroll, service: the service team
    category    category_code,        -- service: one of the ten service categories
    stage       stage_code,           -- train: enrolled, certified
    rate        rate_code,            -- outcome: which of the nine rates
    value       BOOLEAN,              -- outcome: the observation
    received_at TIMESTAMP NOT NULL,   -- when the server committed it, Beijing time
    source      VARCHAR   NOT NULL    -- the ingest key's name
);

-- Every rejected event, with what was sent, so nothing sent is ever lost.
CREATE TABLE IF NOT EXISTS rejected (
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR   NOT NULL,   -- the ingest key's name
    format      VARCHAR   NOT NULL,   -- ndjson, json, csv, arrow
    line        BIGINT    NOT NULL,   -- 1-based line (NDJSON, CSV) or array index (JSON)
    event_id    VARCHAR,              -- the id, when one could be read
    reason      VARCHAR   NOT NULL,   -- which field, and why
    raw         VARCHAR   NOT NULL    -- the text as sent
);

-- Small settings that must survive a restart (the wall's launch moment).
-- Months closed for the monthly review (封账): the review as it stood when
-- closed, both levels, as its JSON answer (sql/review.sql, docs/review.md).
-- An admin's reopening (audited) deletes the row; closing again stores anew.
CREATE TABLE IF NOT EXISTS review_closed (
    month       VARCHAR   PRIMARY KEY,  -- YYYY-MM
    closed_at   TIMESTAMP NOT NULL,     -- Beijing time
    closed_by   VARCHAR   NOT NULL,
    figures     VARCHAR   NOT NULL
);

-- 一帐三单 (seed 001): the items of the task list (任务单), the supervision
-- list (督办单) and the feedback list (反馈单), each with who answers for it
-- and its deadline (整改时限 for feedback). An item is open until staff mark
-- it done; an open item past its deadline is overdue. Added and done by
-- staff, audited (docs/review.md).
CREATE TABLE IF NOT EXISTS ledger (
    id          BIGINT    PRIMARY KEY,
    list        VARCHAR   NOT NULL,   -- task, supervision, feedback
    district    VARCHAR   NOT NULL,   -- region code
    team        VARCHAR,              -- a registered team's id; NULL: the district's own
    title       VARCHAR   NOT NULL,
    owner       VARCHAR   NOT NULL,   -- who answers for it (a name or a post)
    deadline    DATE      NOT NULL,   -- Beijing date
    detail      VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    created_by  VARCHAR   NOT NULL,
    done_at     TIMESTAMP,
    done_by     VARCHAR,
    outcome     VARCHAR
);

-- The team registry as staff edit it in the console: a row here replaces the
-- team of that id in the region's teams.csv, or adds one (docs/review.md).
-- A team is retired by its active_to, never deleted. Audited (team_saved).
CREATE TABLE IF NOT EXISTS team_registry (
    id          VARCHAR   PRIMARY KEY,
    name        VARCHAR   NOT NULL,
    institution VARCHAR   NOT NULL,
    district    VARCHAR   NOT NULL,   -- region code
    level       VARCHAR   NOT NULL,   -- city, district
    discipline  VARCHAR   NOT NULL,   -- hypertension, diabetes, diet, psychology, exercise, non_drug
    target      BIGINT    NOT NULL,
    active_from DATE      NOT NULL,
    active_to   DATE,
    edited_at   TIMESTAMP NOT NULL,
    edited_by   VARCHAR   NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
    key         VARCHAR   PRIMARY KEY,
    value       VARCHAR   NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- One row per ingest request, written with its events: the console's
-- per-key health (requests, accepted, duplicates, rejected).
CREATE TABLE IF NOT EXISTS ingest_requests (
    received_at  TIMESTAMP NOT NULL,
    source       VARCHAR   NOT NULL,   -- the ingest key's name
    format       VARCHAR   NOT NULL,
    accepted     BIGINT    NOT NULL,
    duplicates   BIGINT    NOT NULL,
    rejected     BIGINT    NOT NULL    -- all of them, kept in `rejected` or not
);
-- Of the rejected, those counted but not kept in `rejected` (beyond the
-- first of a request, or the key's allowance for the day: docs/ingest.md).
ALTER TABLE ingest_requests ADD COLUMN IF NOT EXISTS not_kept BIGINT DEFAULT 0;
