-- The monthly review (seed 001: management data captured every month and
-- compared against the 治未病专业技术方案 standard): the counts of a month,
-- per service team and per district, from the stored events.
--
-- Parameters, Beijing wall-clock microseconds: $1 the month's start, $2 the
-- next month's start, $3 the previous month's start. "As of the month's end"
-- means events with ts < $2. The store runs each statement below (they are
-- separated by their `-- name:` lines); src/aggregate/review.rs turns the
-- counts into rates, standards, passes and ranks, with the registry's teams.

-- name: managed
-- Managed persons per team as of the month's end (a person enrolled with a
-- team counts once for it), those first enrolled with it this month, and
-- those it had at the month's start.
SELECT district, team,
       count(*) AS managed,
       count(*) FILTER (WHERE first_at >= make_timestamp($1::BIGINT)) AS managed_new,
       count(*) FILTER (WHERE first_at < make_timestamp($1::BIGINT)) AS managed_before
FROM (
    SELECT district, team, person, min(ts) AS first_at
    FROM events
    WHERE kind = 'enroll' AND ts < make_timestamp($2::BIGINT)
    GROUP BY district, team, person
)
GROUP BY district, team;

-- name: district_managed
-- Managed persons per district (enrolled with any of its teams).
SELECT district,
       count(*) AS managed,
       count(*) FILTER (WHERE first_at >= make_timestamp($1::BIGINT)) AS managed_new,
       count(*) FILTER (WHERE first_at < make_timestamp($1::BIGINT)) AS managed_before
FROM (
    SELECT district, person, min(ts) AS first_at
    FROM events
    WHERE kind = 'enroll' AND ts < make_timestamp($2::BIGINT)
    GROUP BY district, person
)
GROUP BY district;

-- name: services
-- Services this month and the month before, per team and category.
SELECT district, team, category::VARCHAR AS category,
       count(*) FILTER (WHERE ts >= make_timestamp($1::BIGINT)) AS services,
       count(*) FILTER (WHERE ts < make_timestamp($1::BIGINT)) AS services_before
FROM events
WHERE kind = 'service'
  AND ts >= make_timestamp($3::BIGINT) AND ts < make_timestamp($2::BIGINT)
GROUP BY district, team, category;

-- name: scans
-- Scans this month whose channel names a team (a team's own QR code: the
-- partner sends the team's id as the scan's channel), per district and
-- channel; src/aggregate/review.rs keeps the channels that are team ids.
SELECT district, channel, count(*) AS scans
FROM events
WHERE kind = 'scan' AND channel IS NOT NULL
  AND ts >= make_timestamp($1::BIGINT) AND ts < make_timestamp($2::BIGINT)
GROUP BY district, channel;

-- name: guardians
-- Persons certified as health guardians this month (their first
-- certification), by the district where certified and by the team that
-- manages them (their latest enrolment as of the month's end; '' for none)
-- with that team's district.
WITH certified AS (
    SELECT person, district, min(ts) AS first_at
    FROM events
    WHERE kind = 'train' AND stage = 'certified' AND ts < make_timestamp($2::BIGINT)
    GROUP BY person, district
),
manager AS (
    SELECT person, district, team
    FROM events
    WHERE kind = 'enroll' AND ts < make_timestamp($2::BIGINT)
    QUALIFY row_number() OVER (PARTITION BY person ORDER BY ts DESC, id DESC) = 1
)
SELECT c.district, coalesce(m.district, '') AS team_district, coalesce(m.team, '') AS team,
       count(*) AS guardians
FROM certified c LEFT JOIN manager m USING (person)
WHERE c.first_at >= make_timestamp($1::BIGINT)
GROUP BY ALL;

-- name: team_rates
-- The nine rates of each team's managed persons: a person is managed by the
-- team of their latest enrolment (by event time, then id) as of the month's
-- end, and counts with their latest observation of each rate (compliance is
-- counted as participation, as everywhere).
WITH manager AS (
    SELECT person, district, team
    FROM events
    WHERE kind = 'enroll' AND ts < make_timestamp($2::BIGINT)
    QUALIFY row_number() OVER (PARTITION BY person ORDER BY ts DESC, id DESC) = 1
),
observed AS (
    SELECT person,
           CASE rate WHEN 'compliance' THEN 'participation' ELSE rate::VARCHAR END AS slot,
           value
    FROM events
    WHERE kind = 'outcome' AND ts < make_timestamp($2::BIGINT)
    QUALIFY row_number() OVER (PARTITION BY person, slot ORDER BY ts DESC, id DESC) = 1
)
SELECT m.district, m.team, o.slot AS rate,
       count(*) AS n, count(*) FILTER (WHERE o.value) AS yes
FROM observed o JOIN manager m USING (person)
GROUP BY m.district, m.team, o.slot;

-- name: district_rates
-- The nine rates of each district: each person's latest observation of a
-- rate as of the month's end, in the district where it was made (as the
-- live figures count them).
SELECT district, slot AS rate, count(*) AS n, count(*) FILTER (WHERE value) AS yes
FROM (
    SELECT district,
           CASE rate WHEN 'compliance' THEN 'participation' ELSE rate::VARCHAR END AS slot,
           value
    FROM events
    WHERE kind = 'outcome' AND ts < make_timestamp($2::BIGINT)
    QUALIFY row_number() OVER (PARTITION BY person, slot ORDER BY ts DESC, id DESC) = 1
)
GROUP BY district, slot;

-- name: revisions
-- Events of the month stored after it was closed ($3: the closing time,
-- in place of the previous month's start),
-- per district, team and kind.
SELECT district, coalesce(team, '') AS team, kind::VARCHAR AS kind, count(*) AS events,
       epoch_us(min(received_at)) AS first_received, epoch_us(max(received_at)) AS last_received
FROM events
WHERE ts >= make_timestamp($1::BIGINT) AND ts < make_timestamp($2::BIGINT)
  AND received_at > make_timestamp($3::BIGINT)
GROUP BY ALL
ORDER BY district, team, kind;
