-- Signing-key seeds sealed with the server's secret key (sealed = 1).
ALTER TABLE gate_keys ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- When each nonce was answered, so answers past their retention are pruned.
ALTER TABLE gate_nonces ADD COLUMN created_ns BIGINT NOT NULL DEFAULT 0;
CREATE INDEX gate_nonces_created ON gate_nonces (created_ns);

-- The user who bought a ticket, so only they fetch its pass.
ALTER TABLE gate_passes ADD COLUMN buyer_id TEXT NOT NULL DEFAULT '';
CREATE INDEX gate_passes_order ON gate_passes (order_id);

-- Staff changes for an event without an access-control server (yet): the
-- latest per staff member, applied when the server is prepared.
CREATE TABLE gate_staff_pending (
    event_id TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    message  TEXT NOT NULL,
    at_ns    BIGINT NOT NULL,
    PRIMARY KEY (event_id, staff_id)
);
