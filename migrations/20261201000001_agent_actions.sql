-- Agent actions (issue 12): a tenant's transfer targets and HTTP tools, the AI profile's
-- keypad map and tool list, and the transferred call.

CREATE TABLE transfer_targets (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    name                 text NOT NULL CHECK (name ~ '^[a-z0-9-]{1,40}$'),
    kind                 text NOT NULL CHECK (kind IN ('dialplan', 'endpoint')),
    -- kind = dialplan: where the caller continues.
    context              text CHECK (context ~ '^[A-Za-z0-9_.+-]{1,80}$'),
    extension            text CHECK (extension ~ '^[A-Za-z0-9_.+*#-]{1,80}$'),
    priority             integer CHECK (priority BETWEEN 1 AND 10000),
    -- kind = endpoint: the agent's leg.
    endpoint             text CHECK (endpoint ~ '^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+@:-]{1,120}$'),
    ring_timeout_seconds integer CHECK (ring_timeout_seconds BETWEEN 5 AND 120),
    caller_id            text CHECK (length(caller_id) BETWEEN 1 AND 80),
    -- Spoken before transferring; NULL uses the daemon's default line.
    announce             text CHECK (length(announce) <= 500),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name),
    CHECK (
        (kind = 'dialplan' AND context IS NOT NULL AND extension IS NOT NULL AND priority IS NOT NULL
            AND endpoint IS NULL AND ring_timeout_seconds IS NULL AND caller_id IS NULL)
        OR
        (kind = 'endpoint' AND endpoint IS NOT NULL AND ring_timeout_seconds IS NOT NULL
            AND context IS NULL AND extension IS NULL AND priority IS NULL)
    )
);

CREATE TABLE tools (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'
                                     AND name NOT IN ('transfer_call', 'end_call')),
    description text NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 1000),
    parameters  jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
    url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    timeout_ms  integer NOT NULL DEFAULT 3000 CHECK (timeout_ms BETWEEN 100 AND 10000),
    -- Write-only through the API: signs every request (X-VCA-Signature).
    secret      text NOT NULL CHECK (length(secret) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

ALTER TABLE ai_profiles
    ADD COLUMN dtmf_map jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(dtmf_map) = 'object'),
    ADD COLUMN tools text[] NOT NULL DEFAULT '{}';

ALTER TABLE calls ADD COLUMN transfer_target text;
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('ringing', 'in_progress', 'completed', 'failed', 'rejected', 'interrupted', 'transferred'));
