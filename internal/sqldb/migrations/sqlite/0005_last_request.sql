-- The request a gateway last let through with the key ("METHOD /path"),
-- written behind with last_used_at.
ALTER TABLE keys ADD COLUMN last_request TEXT;
