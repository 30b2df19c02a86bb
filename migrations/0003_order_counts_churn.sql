-- Every intake and action updates a few order_counts rows. Leave room on each page for their
-- new versions (updates stay on the page, no index entries move) and vacuum the table after a
-- thousand dead versions rather than after a fifth of the table, so the status counts read a
-- few pages, not thousands.
ALTER TABLE order_counts SET (
    fillfactor = 20,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);
