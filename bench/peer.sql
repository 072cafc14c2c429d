-- The polling peer of the pipeline benchmark (benches/pipeline/peer.rs): the
-- same events in PostgreSQL, and the queries a dashboard re-runs on every
-- refresh to draw the figures Weibing pushes (see src/aggregate/mod.rs).
--
-- Above the first `-- query:` line: the schema, run once. Below it: one
-- section per query, each after a line `-- query: <name>`; a refresh runs
-- them all, in order. A row whose district is NULL is the city-wide figure.
-- "Latest" is by event time, then id, as in Weibing.

CREATE TABLE events (
    id       text        PRIMARY KEY,   -- a repeated id is a duplicate: ON CONFLICT (id) DO NOTHING
    ts       timestamptz NOT NULL,      -- the event's own time
    kind     text        NOT NULL,      -- scan, assess, enroll, service, train, outcome
    district text        NOT NULL,      -- region code, e.g. 110106
    person   text        NOT NULL,      -- pseudonymous person id
    channel  text,                      -- scan
    colour   text,                      -- assess: green, yellow, orange, pink, blue
    team     text,                      -- enroll, service
    category text,                      -- service
    stage    text,                      -- train: enrolled, certified
    rate     text,                      -- outcome: which rate
    value    boolean                    -- outcome: the observation
);

-- Every figure filters on a kind, most group by district; the "latest" ones
-- look persons up.
CREATE INDEX events_kind_district ON events (kind, district);
CREATE INDEX events_person ON events (person);

-- query: people
-- Distinct persons who scanned.
SELECT district, count(DISTINCT person) AS people
FROM events
WHERE kind = 'scan'
GROUP BY GROUPING SETS ((), (district));

-- query: colours
-- The five colours: each person's latest assessment, counted where it was made.
WITH latest AS (
    SELECT DISTINCT ON (person) person, district, colour
    FROM events
    WHERE kind = 'assess'
    ORDER BY person, ts DESC, id DESC
)
SELECT district, colour, count(*) AS people
FROM latest
GROUP BY GROUPING SETS ((colour), (district, colour));

-- query: enrolment
-- Distinct persons enrolled with a team, distinct persons served, services.
SELECT district,
       count(DISTINCT person) FILTER (WHERE kind = 'enroll')  AS enrolled,
       count(DISTINCT person) FILTER (WHERE kind = 'service') AS served,
       count(*) FILTER (WHERE kind = 'service')               AS services
FROM events
WHERE kind IN ('enroll', 'service')
GROUP BY GROUPING SETS ((), (district));

-- query: categories
-- Services by category.
SELECT district, category, count(*) AS services
FROM events
WHERE kind = 'service'
GROUP BY GROUPING SETS ((category), (district, category));

-- query: guardians
-- Distinct persons in training (either stage), and certified guardians.
SELECT district,
       count(DISTINCT person)                                    AS trainees,
       count(DISTINCT person) FILTER (WHERE stage = 'certified') AS guardians
FROM events
WHERE kind = 'train'
GROUP BY GROUPING SETS ((), (district));

-- query: rates
-- Each rate's share of true among the persons observed, by each person's
-- latest observation of it, counted where it was made.
WITH latest AS (
    SELECT DISTINCT ON (person, rate) district, rate, value
    FROM events
    WHERE kind = 'outcome'
    ORDER BY person, rate, ts DESC, id DESC
)
SELECT district, rate,
       round(avg(value::int), 4) AS share,
       count(*)                  AS observed
FROM latest
GROUP BY district, rate;
