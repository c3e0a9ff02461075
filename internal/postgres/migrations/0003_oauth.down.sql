DROP TABLE IF EXISTS oauth_requests, oauth_client_ids, oauth_clients;
