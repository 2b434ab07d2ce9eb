-- Indian languages (issue 13): the other languages a caller may switch to, and the
-- profile's own wording of the lines the daemon speaks by itself. Tags are checked by the
-- admin API (BCP 47, supported languages); the database keeps their shape sane.
ALTER TABLE ai_profiles
    ADD COLUMN IF NOT EXISTS languages text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(languages) <= 12
               AND array_to_string(languages, ',') ~ '^([A-Za-z]{2,3}(-[A-Za-z0-9]{2,4}){0,2}(,|$))*$'),
    ADD COLUMN IF NOT EXISTS lines jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(lines) = 'object' AND octet_length(lines::text) <= 32768);
