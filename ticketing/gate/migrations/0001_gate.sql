-- The access-control server of each event.
CREATE TABLE gate_servers (
    event_id    TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    starts_ns   BIGINT NOT NULL,
    ends_ns     BIGINT NOT NULL,
    time_zone   TEXT NOT NULL,
    areas       TEXT NOT NULL,
    dropped     INTEGER NOT NULL DEFAULT 0,
    created_ns  BIGINT NOT NULL
);

CREATE TABLE gate_keys (
    event_id   TEXT NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    seed       TEXT NOT NULL,
    active     INTEGER NOT NULL,
    retired    INTEGER NOT NULL DEFAULT 0,
    created_ns BIGINT NOT NULL,
    PRIMARY KEY (event_id, key_id)
);

CREATE TABLE gate_gates (
    event_id  TEXT NOT NULL,
    gate_id   TEXT NOT NULL,
    name      TEXT NOT NULL,
    areas     TEXT NOT NULL,
    direction TEXT NOT NULL,
    list_id   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, gate_id)
);

CREATE TABLE gate_lists (
    event_id          TEXT NOT NULL,
    list_id           TEXT NOT NULL,
    name              TEXT NOT NULL,
    areas             TEXT NOT NULL,
    multiple_entries  INTEGER NOT NULL,
    entry_after_exit  INTEGER NOT NULL,
    PRIMARY KEY (event_id, list_id)
);

CREATE TABLE gate_enrolments (
    code_hash  TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL,
    gate_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    expires_ns BIGINT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE gate_devices (
    device_id  TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL,
    gate_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_id     TEXT NOT NULL DEFAULT '',
    revoked    INTEGER NOT NULL DEFAULT 0,
    created_ns BIGINT NOT NULL
);

-- Answers by nonce, so a retried scan gets its first answer.
CREATE TABLE gate_nonces (
    event_id TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    answer   TEXT NOT NULL,
    PRIMARY KEY (event_id, nonce)
);

-- The access list: the projection of every ticket's stream.
CREATE TABLE gate_passes (
    event_id  TEXT NOT NULL,
    pass_id   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    area_id   TEXT NOT NULL,
    status    TEXT NOT NULL,
    inside    INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    flagged   INTEGER NOT NULL,
    position  BIGINT NOT NULL,
    PRIMARY KEY (event_id, pass_id)
);

CREATE TABLE gate_scans (
    event_id  TEXT NOT NULL,
    scan_id   TEXT NOT NULL,
    pass_id   TEXT NOT NULL,
    gate_id   TEXT NOT NULL,
    list_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at_ns     BIGINT NOT NULL,
    result    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    forced    INTEGER NOT NULL,
    flag      TEXT NOT NULL,
    counted   INTEGER NOT NULL,
    position  BIGINT NOT NULL,
    PRIMARY KEY (event_id, scan_id)
);
CREATE INDEX gate_scans_pass ON gate_scans (event_id, pass_id);

-- What devices follow: every change of a pass's status, by position.
CREATE TABLE gate_changes (
    position BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL,
    pass_id  TEXT NOT NULL,
    area_id  TEXT NOT NULL,
    status   TEXT NOT NULL
);
CREATE INDEX gate_changes_event ON gate_changes (event_id, position);
