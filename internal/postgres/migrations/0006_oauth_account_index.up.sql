-- A password reset ends the account's OAuth grants: find them by account.
CREATE INDEX oauth_requests_account ON oauth_requests (account_id) WHERE account_id IS NOT NULL;
