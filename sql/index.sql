-- The TCM preventive-health index (治未病指数) of every district.
-- docs/index.md explains each choice, in Chinese and English, with a worked example.
--
-- Inputs, filled by the server before each run (src/store/index.rs):
--   index_weight(component, weight, half)     fixtures/regions/<region>/weights.csv
--   index_setting(cap, prior)                 fixtures/regions/<region>/index.csv
--   rate_standard(rate, floor, standard)      fixtures/regions/<region>/rates.csv
--   district_figures(code, people, interactive, managed, guardians,
--                    planned_people, planned_interactive, planned_managed, planned_guardians,
--                    target_managed)
--       each district's live figures; planned_* is its target pro-rated to the date
--       along the calendar of targets.csv and milestones.csv (whole persons);
--       target_managed is its target population of key people (districts.csv)
--   district_rates(code, rate, trues, n)
--       each observed rate (the eight besides management): n persons, each counted by
--       their latest observation, trues of them true; rows with n ≥ k only, k the
--       privacy setting (docs/privacy.md): a rate of fewer persons is not reported yet
--
-- Components, each in [0, 1] and rounded to 4 decimals as published:
--   progress half: reach (people), interactive, managed, guardians
--       = min(cap, value / max(planned, 1)) / cap
--   quality half, the nine rates (三案九率), each scored against its standard:
--       score = clamp((rate − floor) / (standard − floor), 0, 1)
--     management (管理率) = managed / target_managed (a census, not a sample)
--     the others: the district's share pulled toward the city's share by `prior`
--       persons, rate = (trues + prior × city_trues / city_n) / (n + prior);
--       a rate observed on nobody (or on fewer than k) has no component
--   (`adjusted` is that rate before scoring, rounded to 4 decimals.)
-- index = 100 × Σ weight·component / Σ weight over every row of index_weight, a
--   component without data counted as 0; one decimal. progress and quality: the
--   same over the weights of that half only.
-- rank 1 is the highest index; ties go to the lower code.
--
-- Output: one row per component of each district, and one more per district with
-- component NULL (a district without components still has its index, 0, and rank).
--
-- This file is the definition. The tick computes the same in Rust
-- (src/aggregate/index.rs, microseconds where this query costs DuckDB milliseconds);
-- `cargo test` compares the two over random figures. Change them together.
WITH setting AS (
    SELECT cap, prior FROM index_setting
),
city AS (
    SELECT rate, sum(trues) AS trues, sum(n) AS n
    FROM district_rates
    GROUP BY rate
),
adjusted AS (
    SELECT d.code, d.rate,
           (d.trues + s.prior * (c.trues / c.n)) / (d.n + s.prior) AS rate_value
    FROM district_rates d
    JOIN city c USING (rate)
    CROSS JOIN setting s
    WHERE d.n >= 1
),
components AS (
    SELECT code, 'reach' AS component,
           round(least(s.cap, people / greatest(planned_people, 1)) / s.cap, 4) AS value,
           CAST(NULL AS DOUBLE) AS adjusted
    FROM district_figures CROSS JOIN setting s
    UNION ALL
    SELECT code, 'interactive',
           round(least(s.cap, interactive / greatest(planned_interactive, 1)) / s.cap, 4),
           NULL
    FROM district_figures CROSS JOIN setting s
    UNION ALL
    SELECT code, 'managed',
           round(least(s.cap, managed / greatest(planned_managed, 1)) / s.cap, 4),
           NULL
    FROM district_figures CROSS JOIN setting s
    UNION ALL
    SELECT code, 'guardians',
           round(least(s.cap, guardians / greatest(planned_guardians, 1)) / s.cap, 4),
           NULL
    FROM district_figures CROSS JOIN setting s
    UNION ALL
    SELECT f.code, 'management',
           round(greatest(0::DOUBLE, least(1::DOUBLE,
                 (f.managed / f.target_managed - r.floor) / (r.standard - r.floor))), 4),
           round(f.managed / f.target_managed, 4)
    FROM district_figures f
    JOIN rate_standard r ON r.rate = 'management'
    WHERE f.target_managed > 0
    UNION ALL
    SELECT a.code, a.rate,
           round(greatest(0::DOUBLE, least(1::DOUBLE,
                 (a.rate_value - r.floor) / (r.standard - r.floor))), 4),
           round(a.rate_value, 4)
    FROM adjusted a
    JOIN rate_standard r USING (rate)
),
weighted AS (
    SELECT f.code, w.half, w.weight, coalesce(c.value, 0) AS value
    FROM district_figures f
    CROSS JOIN index_weight w
    LEFT JOIN components c ON c.code = f.code AND c.component = w.component
),
district AS (
    SELECT code,
           CAST(coalesce(round(100 * sum(weight * value)
                               / nullif(sum(weight), 0), 1), 0) AS DOUBLE) AS idx,
           CAST(coalesce(round(100 * sum(weight * value) FILTER (WHERE half = 'progress')
                               / nullif(sum(weight) FILTER (WHERE half = 'progress'), 0), 1), 0) AS DOUBLE) AS progress,
           CAST(coalesce(round(100 * sum(weight * value) FILTER (WHERE half = 'quality')
                               / nullif(sum(weight) FILTER (WHERE half = 'quality'), 0), 1), 0) AS DOUBLE) AS quality
    FROM weighted
    GROUP BY code
    UNION ALL
    -- Districts of a region without weights.
    SELECT code, 0, 0, 0 FROM district_figures WHERE NOT EXISTS (SELECT 1 FROM index_weight)
),
ranked AS (
    SELECT code, idx, progress, quality,
           row_number() OVER (ORDER BY idx DESC, code ASC) AS rank
    FROM district
)
SELECT r.code, r.idx, r.rank, r.progress, r.quality, c.component, c.value, c.adjusted
FROM ranked r
LEFT JOIN (SELECT code, component, value, adjusted FROM components
           UNION ALL
           SELECT code, NULL, NULL, NULL FROM district_figures) c USING (code)
ORDER BY r.code, c.component NULLS FIRST;
