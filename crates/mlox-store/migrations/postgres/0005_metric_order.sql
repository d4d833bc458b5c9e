-- A run search ordered by a metric walks this index: with is_nan in it, the walk over one
-- key's numbers (NaN excluded) is in value order and needs no lookup of the row.
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, is_nan, value);
