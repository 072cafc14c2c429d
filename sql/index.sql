-- The TCM preventive-health index (治未病指数) of every district.
--
-- Inputs, refreshed every tick by the server (see src/store/index.rs):
--   district_target(code, target_people, target_managed, target_guardians)
--       from fixtures/regions/<region>/districts.csv
--   index_weight(component, weight)
--       from fixtures/regions/<region>/weights.csv
--   district_figures(code, people, managed, guardians)
--       the live figures of each district
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
WITH components AS (
    SELECT f.code, 'coverage' AS component,
           round(least(1.0::DOUBLE, f.people / t.target_people), 4) AS value
    FROM district_figures f JOIN district_target t USING (code)
    WHERE t.target_people > 0
    UNION ALL
    SELECT f.code, 'enrolment',
           round(least(1.0::DOUBLE, f.managed / t.target_managed), 4)
    FROM district_figures f JOIN district_target t USING (code)
    WHERE t.target_managed > 0
    UNION ALL
    SELECT f.code, 'guardians',
           round(least(1.0::DOUBLE, f.guardians / t.target_guardians), 4)
    FROM district_figures f JOIN district_target t USING (code)
    WHERE t.target_guardians > 0
    UNION ALL
    SELECT r.code, r.rate, CAST(r.value AS DOUBLE)
    FROM district_rates r
    WHERE r.n >= 1
),
scored AS (
    SELECT f.code,
           CAST(coalesce(round(100 * sum(w.weight * c.value) / nullif(sum(w.weight), 0), 1), 0) AS DOUBLE) AS idx
    FROM district_figures f
    LEFT JOIN components c USING (code)
    LEFT JOIN index_weight w USING (component)
    GROUP BY f.code
),
ranked AS (
    SELECT code, idx, row_number() OVER (ORDER BY idx DESC, code ASC) AS rank
    FROM scored
)
SELECT r.code, r.idx, r.rank, c.component, c.value
FROM ranked r
LEFT JOIN components c USING (code)
ORDER BY r.code, c.component;
