DROP TABLE IF EXISTS tenant_activity;
DROP TABLE IF EXISTS platform_stats_hourly;
