DROP TABLE IF EXISTS stripe_events;
DROP TABLE IF EXISTS subscriptions;
DROP TABLE IF EXISTS stripe_customers;
DROP TABLE IF EXISTS billing_customers;
DROP TABLE IF EXISTS plans;
