-- Post-call summary (issue 14): a profile may ask for one; the call row keeps it.
ALTER TABLE ai_profiles ADD COLUMN post_call_summary boolean NOT NULL DEFAULT false;
ALTER TABLE calls ADD COLUMN summary text;
ALTER TABLE calls ADD COLUMN outcome jsonb;
ALTER TABLE calls ADD COLUMN summarized_at timestamptz;
