-- Search through term postings: one row per search term of each order, so that the orders
-- with a term are read newest first straight from the key (see src/store/postgres/search.rs).
-- The terms are those of the order's `search` text; orders stored before are posted here.
CREATE TABLE order_terms (
    term       text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    number     bigint NOT NULL,
    PRIMARY KEY (term, created_at, number)
);
INSERT INTO order_terms (term, created_at, number)
SELECT t, o.created_at, o.number
FROM orders o, unnest(string_to_array(btrim(o.search), ' ')) AS t
WHERE t <> ''
ON CONFLICT DO NOTHING;
