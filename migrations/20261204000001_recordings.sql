-- Call recordings (issue 14): a profile may record its calls (with a notice spoken first),
-- a tenant keeps recordings for its retention period, a call's recording is one or more
-- segments (a re-adopted call continues in a new file), and the call row carries the totals.
ALTER TABLE ai_profiles ADD COLUMN record_calls boolean NOT NULL DEFAULT false;
ALTER TABLE ai_profiles ADD COLUMN recording_notice text
    CHECK (recording_notice IS NULL OR length(recording_notice) BETWEEN 1 AND 500);
ALTER TABLE tenants ADD COLUMN recording_retention_days integer NOT NULL DEFAULT 90
    CHECK (recording_retention_days BETWEEN 1 AND 3650);

CREATE TABLE call_recordings (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL,
    call_id     uuid NOT NULL,
    segment     integer NOT NULL CHECK (segment >= 1),
    -- Relative to VCA_RECORDINGS_DIR.
    path        text NOT NULL CHECK (length(path) BETWEEN 1 AND 300),
    -- The daemon that writes (wrote) the file: the one whose disk holds it.
    node        text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'recording'
                CHECK (status IN ('recording', 'complete', 'partial', 'failed', 'deleted', 'expired')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    duration_ms bigint NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    bytes       bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    error       text,
    UNIQUE (call_id, segment),
    FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id) ON DELETE CASCADE
);
-- The sweeper's scan: files still on disk, oldest first.
CREATE INDEX call_recordings_kept ON call_recordings (started_at)
    WHERE status IN ('complete', 'partial', 'failed', 'recording');

ALTER TABLE calls ADD COLUMN recording_path text;
ALTER TABLE calls ADD COLUMN recording_status text
    CHECK (recording_status IN ('recording', 'complete', 'partial', 'failed', 'deleted', 'expired'));
ALTER TABLE calls ADD COLUMN recording_duration_ms bigint NOT NULL DEFAULT 0 CHECK (recording_duration_ms >= 0);
ALTER TABLE calls ADD COLUMN recording_bytes bigint NOT NULL DEFAULT 0 CHECK (recording_bytes >= 0);
ALTER TABLE calls ADD COLUMN recording_deleted_at timestamptz;
