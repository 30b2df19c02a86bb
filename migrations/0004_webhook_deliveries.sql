-- Webhook deliveries are outbox messages with an endpoint: an endpoint's deliveries are listed
-- through this index (Settings > Webhooks, GET /api/v1/webhooks/{id}/deliveries).
ALTER TABLE outbox ADD COLUMN endpoint uuid;
CREATE INDEX outbox_by_endpoint ON outbox (endpoint, id) WHERE endpoint IS NOT NULL;
