DROP TABLE IF EXISTS signing_keys, invitation_tokens, invitations, email_tokens, recovery_codes;
ALTER TABLE sessions DROP COLUMN IF EXISTS cookie_hash, DROP COLUMN IF EXISTS refresh_generation;
ALTER TABLE accounts
    DROP COLUMN IF EXISTS totp_secret,
    DROP COLUMN IF EXISTS totp_pending_secret,
    DROP COLUMN IF EXISTS totp_enabled_at,
    DROP COLUMN IF EXISTS totp_last_step,
    DROP COLUMN IF EXISTS password_changed_at;
