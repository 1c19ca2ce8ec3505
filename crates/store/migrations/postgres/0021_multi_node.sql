-- Multi-node jobs: each attempt is one node's pod (its rank), and a node's exit is kept on its
-- attempt until every node has exited (the job's exit is the first failure, or 0 once all are 0).
ALTER TABLE attempts ADD COLUMN node BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN exit_code BIGINT;
