-- Run searches that start from a filtered param, tag or metric look each candidate run up
-- by id to check its experiment and lifecycle stage and to order by start time: this
-- index answers that without reading the run's row.
CREATE INDEX runs_lookup ON runs (run_uuid, experiment_id, lifecycle_stage, start_time)
