-- OAuth clients act for their organization with client-credentials access tokens
-- (actor kind "oauth_client"); their changes are audited under that actor type, with
-- the client's id (oauth_clients.id) as actor_id.
ALTER TABLE audit_logs DROP CONSTRAINT IF EXISTS audit_logs_actor_type_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_actor_type_check
    CHECK (actor_type IN ('account', 'api_key', 'system', 'oauth_client'));
