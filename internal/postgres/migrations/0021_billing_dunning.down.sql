ALTER TABLE subscriptions DROP COLUMN IF EXISTS dunning_at;
