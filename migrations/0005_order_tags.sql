-- The merchant's tags on an order (lower case, sorted; the same as in the order's record):
-- lists filter by them with `tags @> ARRAY[…]` through the GIN index. Orders stored before
-- tags existed have none.
ALTER TABLE orders ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
CREATE INDEX orders_tags ON orders USING gin (tags);
