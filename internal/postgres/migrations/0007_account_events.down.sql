DROP TABLE IF EXISTS account_events;
