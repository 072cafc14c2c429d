-- The TCM preventive-health index (治未病指数) of every district.
--
-- Inputs, filled by the server before each run (see src/store/index.rs):
--   index_weight(component, weight)
--       from fixtures/regions/<region>/weights.csv
--   district_figures(code, people, managed, guardians,
--                    target_people, target_managed, target_guardians)
--       the live figures of each district, beside its targets from
--       fixtures/regions/<region>/districts.csv
--   district_rates(code, rate, value, n)
--       each rate's share of true among the persons observed (n ≥ 1 only)
--
-- Components lie in [0, 1], rounded to 4 decimals (as published in the state,
-- so the index can be checked by hand from the published numbers):
--   coverage  = min(1, people    / target_people)
--   enrolment = min(1, managed   / target_managed)
--   guardians = min(1, guardians / target_guardians)
--   <rate>    = the rate's share of true, for each rate with n ≥ 1
-- index = 100 × Σ weight·component / Σ weight over the components present, one decimal.
-- rank 1 is the highest index; ties go to the lower code.
--
-- Output: one row per component of each district, and one more per district
-- with component NULL (so a district without components still has its index,
-- 0, and its rank). DuckDB spends most of the time of a query this small
-- setting up each operator, so the query keeps to one join.
--
-- This file is the definition. The tick computes the same formula in Rust
-- (src/aggregate/index.rs: this query costs 12-16 ms every tick, the formula
-- microseconds), checks it against this query once a minute, and runs this
-- query alone from the first difference (an error in the log, the metric
-- weibing_index_by_sql = 1). When you change this file, change the formula
-- too: `cargo test` compares the two over random figures and tells you.
WITH components AS (
    SELECT code, 'coverage' AS component,
           round(least(1.0::DOUBLE, people / target_people), 4) AS value
    FROM district_figures
    WHERE target_people > 0
    UNION ALL
    SELECT code, 'enrolment',
           round(least(1.0::DOUBLE, managed / target_managed), 4)
    FROM district_figures
    WHERE target_managed > 0
    UNION ALL
    SELECT code, 'guardians',
           round(least(1.0::DOUBLE, guardians / target_guardians), 4)
    FROM district_figures
    WHERE target_guardians > 0
    UNION ALL
    SELECT code, rate, CAST(value AS DOUBLE)
    FROM district_rates
    WHERE n >= 1
    UNION ALL
    SELECT code, NULL, NULL
    FROM district_figures
),
scored AS (
    SELECT c.code, c.component, c.value,
           CAST(coalesce(round(100 * sum(w.weight * c.value) OVER district
                               / nullif(sum(w.weight) OVER district, 0), 1), 0) AS DOUBLE) AS idx
    FROM components c
    LEFT JOIN index_weight w USING (component)
    WINDOW district AS (PARTITION BY c.code)
)
SELECT code, idx, dense_rank() OVER (ORDER BY idx DESC, code ASC) AS rank, component, value
FROM scored
ORDER BY code, component;
