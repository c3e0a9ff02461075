-- Back to the actor types of 0001. The audit log is append-only and never rewritten,
-- so rows an OAuth client wrote stay: the restored constraint is NOT VALID, which
-- checks every new row but not the existing ones.
ALTER TABLE audit_logs DROP CONSTRAINT IF EXISTS audit_logs_actor_type_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_actor_type_check
    CHECK (actor_type IN ('account', 'api_key', 'system')) NOT VALID;
