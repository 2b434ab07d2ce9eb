-- vca-bridge schema: tenants, their phone numbers and AI profiles, and every call with
-- its events and transcript. Every tenant-scoped table carries tenant_id, and child rows
-- reference their parent through (tenant_id, id) so a row can never point into another
-- tenant's data.

CREATE TABLE tenants (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'suspended', 'deleted')),
    plan                 text NOT NULL DEFAULT 'starter'
                         CHECK (plan IN ('starter', 'growth', 'custom')),
    max_concurrent_calls integer NOT NULL DEFAULT 5
                         CHECK (max_concurrent_calls BETWEEN 1 AND 10000),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE phone_numbers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    did_number    text NOT NULL CHECK (did_number ~ '^\+[1-9][0-9]{7,14}$'),
    provider_type text NOT NULL DEFAULT 'generic' CHECK (provider_type IN ('generic', 'tata')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
-- A DID belongs to at most one tenant; this index also serves the call-routing lookup.
CREATE UNIQUE INDEX phone_numbers_did_number_key ON phone_numbers (did_number);

CREATE TABLE ai_profiles (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    name                   text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role                   text NOT NULL DEFAULT 'receptionist'
                           CHECK (role IN ('receptionist', 'sales', 'support', 'dispatcher', 'custom')),
    system_prompt          text NOT NULL CHECK (length(btrim(system_prompt)) > 0),
    greeting               text NOT NULL DEFAULT '',
    language               text NOT NULL DEFAULT 'en' CHECK (length(language) BETWEEN 2 AND 35),
    voice                  text,
    -- Language model for this profile; NULL uses the daemon's VCA_LLM_MODEL.
    llm_model              text CHECK (llm_model IS NULL OR length(llm_model) BETWEEN 1 AND 200),
    max_turns              integer NOT NULL DEFAULT 20 CHECK (max_turns BETWEEN 1 AND 1000),
    max_duration_seconds   integer NOT NULL DEFAULT 300 CHECK (max_duration_seconds BETWEEN 10 AND 86400),
    endpointing_silence_ms integer NOT NULL DEFAULT 600 CHECK (endpointing_silence_ms BETWEEN 100 AND 5000),
    is_default             boolean NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
-- At most one default profile per tenant, whatever the application does.
CREATE UNIQUE INDEX ai_profiles_one_default ON ai_profiles (tenant_id) WHERE is_default;

CREATE TABLE calls (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL for a call rejected before it matched a tenant (unknown DID).
    tenant_id            uuid REFERENCES tenants (id),
    phone_number_id      uuid,
    ai_profile_id        uuid,
    channel_id           text NOT NULL,
    caller               text NOT NULL DEFAULT '',
    called               text NOT NULL DEFAULT '',
    direction            text NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound')),
    status               text NOT NULL DEFAULT 'ringing'
                         CHECK (status IN ('ringing', 'in_progress', 'completed', 'failed', 'rejected', 'interrupted')),
    started_at           timestamptz NOT NULL DEFAULT now(),
    answered_at          timestamptz,
    ended_at             timestamptz,
    duration_ms          bigint CHECK (duration_ms >= 0),
    end_reason           text,
    turn_count           integer NOT NULL DEFAULT 0 CHECK (turn_count >= 0),
    stt_audio_ms         bigint NOT NULL DEFAULT 0,
    llm_prompt_tokens    bigint NOT NULL DEFAULT 0,
    llm_completion_tokens bigint NOT NULL DEFAULT 0,
    tts_characters       bigint NOT NULL DEFAULT 0,
    -- What a restarted daemon needs to re-adopt the call (see DESIGN.md step 7): which
    -- Asterisk application the call lives in, its bridge, External Media channel and port.
    ari_node             text NOT NULL DEFAULT '',
    bridge_id            text,
    media_channel_id     text,
    rtp_port             integer,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, phone_number_id) REFERENCES phone_numbers (tenant_id, id)
        ON DELETE SET NULL (phone_number_id),
    FOREIGN KEY (tenant_id, ai_profile_id) REFERENCES ai_profiles (tenant_id, id)
        ON DELETE SET NULL (ai_profile_id),
    -- A final call has its end; a live one has none.
    CHECK ((status IN ('ringing', 'in_progress')) = (ended_at IS NULL))
);
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at DESC, id DESC);
CREATE INDEX calls_live ON calls (ari_node) WHERE status IN ('ringing', 'in_progress');
CREATE INDEX calls_channel ON calls (channel_id);

CREATE TABLE call_events (
    id        bigserial PRIMARY KEY,
    call_id   uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    tenant_id uuid,
    kind      text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    at        timestamptz NOT NULL DEFAULT now(),
    details   jsonb NOT NULL DEFAULT '{}'::jsonb,
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX call_events_call ON call_events (call_id, id);

CREATE TABLE transcript_turns (
    id          bigserial PRIMARY KEY,
    call_id     uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 0),
    speaker     text NOT NULL CHECK (speaker IN ('caller', 'agent')),
    text        text NOT NULL,
    start_ms    bigint NOT NULL CHECK (start_ms >= 0),
    end_ms      bigint NOT NULL CHECK (end_ms >= start_ms),
    interrupted boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_id, seq),
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id) ON DELETE CASCADE
);
