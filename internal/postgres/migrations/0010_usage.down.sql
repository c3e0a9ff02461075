DROP TABLE IF EXISTS usage_pending;
DROP TABLE IF EXISTS usage_daily;
DROP TABLE IF EXISTS usage_hourly;
