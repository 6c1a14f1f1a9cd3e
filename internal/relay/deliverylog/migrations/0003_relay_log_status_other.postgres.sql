-- Nearly every entry says delivered, and an operator looking for entries of
-- one status looks for the others (failed, dead-lettered, skipped): those
-- are indexed by status; delivered entries are found through relay_log_at,
-- where almost every entry matches. Every delivered row is then written to
-- one index fewer. Queries for a status other than delivered repeat the
-- index's condition (see Query.filters) so that it is used.
DROP INDEX relay_log_status;
CREATE INDEX relay_log_status_other ON relay_log (status, at, id) WHERE status <> 'delivered';
