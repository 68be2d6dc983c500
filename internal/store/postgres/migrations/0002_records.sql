CREATE TABLE records (
    kind       TEXT        NOT NULL,
    key        TEXT        NOT NULL,
    version    BIGINT      NOT NULL,
    data       TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
