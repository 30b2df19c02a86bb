-- A customer's order count, spread over slots like the status counters: an intake from a known
-- customer adds one to a random slot of theirs instead of writing their row, so many orders
-- from one customer at once (a storefront's test buyer, a wholesale account) do not pile new
-- versions onto one row that every intake then has to read through. `customers.orders_count`
-- keeps the count up to here (and what `orderdeck copy` writes); the slots hold what came
-- since. `customers_counted` reads a customer with the two added.
CREATE TABLE customer_counts (
    customer_id uuid NOT NULL,
    slot        smallint NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (customer_id, slot)
);
CREATE VIEW customers_counted AS
SELECT c.id, c.name, c.email, c.phone, c.created_at, c.search,
       GREATEST(c.orders_count
                + COALESCE((SELECT sum(k.n) FROM customer_counts k WHERE k.customer_id = c.id), 0),
                0)::bigint AS orders_count
FROM customers c;
-- Every intake took a share lock on its customer's row for this key (customers are never
-- deleted; `orderdeck check` reports an order whose customer is missing).
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_customer_id_fkey;
