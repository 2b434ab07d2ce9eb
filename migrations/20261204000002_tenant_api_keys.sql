-- Tenant API keys: bearer keys that reach only their tenant's routes of the admin API,
-- as `admin` (everything under the tenant) or `viewer` (reads only). The key itself,
-- `vcak_<id>_<secret>`, is shown once when created; only the SHA-256 of its secret is
-- kept. Deleting a tenant deletes its keys; deleting a key is revoking it.

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('admin', 'viewer')),
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Updated at most once a minute per key, so using a key is not a write per request.
    last_used_at  timestamptz,
    CHECK (expires_at IS NULL OR expires_at > created_at),
    UNIQUE (tenant_id, id)
);
-- The list, newest first, paged by (created_at, id).
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at DESC, id DESC);
