-- orderdeck on PostgreSQL: the schema the pages and the API query.
-- Orders keep their facts in `body` (the same versioned record the embedded store keeps) and
-- the columns every list sorts, filters and searches by. See docs/POSTGRES.md.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Order numbers: unique, never reused; a number whose order is never stored is a gap.
CREATE SEQUENCE order_numbers START 1001;

CREATE TABLE customers (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    email        text NOT NULL,
    phone        text NOT NULL,
    created_at   timestamptz NOT NULL,
    orders_count bigint NOT NULL DEFAULT 0,
    -- " term term …": a query word matches the start of a term.
    search       text NOT NULL
);
CREATE INDEX customers_created ON customers (created_at DESC, id DESC);
CREATE INDEX customers_search ON customers USING gin (search gin_trgm_ops);

-- How an intake finds its customer: "e:<email>", or "p:<phone digits>" when there is no
-- e-mail. A customer is found by both of their contacts.
CREATE TABLE customer_keys (
    key         text PRIMARY KEY,
    customer_id uuid NOT NULL
);

CREATE TABLE orders (
    number             bigint PRIMARY KEY,
    id                 uuid NOT NULL UNIQUE,
    version            bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    customer_id        uuid NOT NULL REFERENCES customers (id),
    customer_name      text NOT NULL,
    customer_email     text NOT NULL,
    -- lower(customer_name), what the customer sort orders by.
    customer_sort      text COLLATE "C" NOT NULL,
    total              numeric NOT NULL,
    currency           text NOT NULL,
    payment_status     smallint NOT NULL,
    fulfillment_status smallint NOT NULL,
    test               boolean NOT NULL,
    items_count        integer NOT NULL,
    search             text NOT NULL,
    body               bytea NOT NULL
);
-- One index per list sort (the number breaks ties), and the default sort within each filter.
CREATE INDEX orders_created ON orders (created_at, number);
CREATE INDEX orders_total ON orders (total, number);
CREATE INDEX orders_customer ON orders (customer_sort, number);
CREATE INDEX orders_payment ON orders (payment_status, created_at, number);
CREATE INDEX orders_fulfillment ON orders (fulfillment_status, created_at, number);
CREATE INDEX orders_test ON orders (test, created_at, number);
CREATE INDEX orders_search ON orders USING gin (search gin_trgm_ops);

-- Status counters, spread over slots so that concurrent intakes do not queue on one row;
-- summed when read.
CREATE TABLE order_counts (
    name  text NOT NULL,
    slot  smallint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (name, slot)
);

-- A row here means a real (non-test) order exists: test orders are allowed only before.
CREATE TABLE real_orders_exist (
    flag boolean PRIMARY KEY
);

CREATE TABLE idempotency_keys (
    key    text PRIMARY KEY,
    hash   bytea NOT NULL,
    number bigint NOT NULL
);

CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    order_number    bigint,
    status          smallint NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    -- While an instance delivers a message it holds it until then (a crashed instance's
    -- messages come back when the lease runs out).
    leased_until    timestamptz,
    body            bytea NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 0;
CREATE INDEX outbox_by_order ON outbox (order_number, id) WHERE order_number IS NOT NULL;
CREATE INDEX outbox_by_status ON outbox (status, id);

CREATE TABLE tokens (
    hash bytea PRIMARY KEY,
    id   uuid NOT NULL UNIQUE,
    body bytea NOT NULL
);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE members (
    username text PRIMARY KEY,
    body     bytea NOT NULL
);

CREATE TABLE sessions (
    key        bytea PRIMARY KEY,
    username   text NOT NULL REFERENCES members (username) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    body       bytea NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
