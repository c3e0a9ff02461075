DROP INDEX IF EXISTS oauth_requests_account;
