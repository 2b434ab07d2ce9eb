-- Webhooks and usage (issue 14): a tenant's webhook endpoints, the outbox of events to
-- deliver to them (written in the same transaction as the call-row change each reports),
-- every delivery attempt, and the indexes that make usage over a year of calls cheap.

CREATE TABLE webhooks (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    url        text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    events     text[] NOT NULL
               CHECK (cardinality(events) BETWEEN 1 AND 5
                      AND events <@ ARRAY['call.started', 'call.ended', 'call.transferred', 'call.rejected',
                                         'call.summarized']),
    -- Write-only through the API: signs every delivery (X-VCA-Signature).
    secret     text NOT NULL CHECK (length(secret) BETWEEN 1 AND 500),
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX webhooks_tenant_active ON webhooks (tenant_id) WHERE is_active;

-- The outbox: one row per event and subscribed webhook. `event_id` is the event's id
-- (X-VCA-Event-Id), shared by the rows of one event; `payload` is the whole body.
CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL,
    tenant_id        uuid NOT NULL,
    webhook_id       uuid NOT NULL,
    event_type       text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a worker may next take the row; a worker that takes it moves this past its
    -- attempt (a lease), so no other worker sends it meanwhile.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    last_status_code integer,
    last_error       text,
    UNIQUE (event_id, webhook_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);

CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL CHECK (attempt >= 1),
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error       text,
    duration_ms bigint NOT NULL DEFAULT 0,
    UNIQUE (delivery_id, attempt)
);

-- Usage: index-only range scans over what the usage query reads.
CREATE INDEX calls_usage_tenant ON calls (tenant_id, started_at)
    INCLUDE (status, end_reason, answered_at, duration_ms, transfer_target, stt_audio_ms,
             llm_prompt_tokens, llm_completion_tokens, tts_characters);
CREATE INDEX calls_usage_all ON calls (started_at)
    INCLUDE (tenant_id, status, end_reason, answered_at, duration_ms, transfer_target, stt_audio_ms,
             llm_prompt_tokens, llm_completion_tokens, tts_characters);
