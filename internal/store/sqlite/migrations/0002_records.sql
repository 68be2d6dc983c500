CREATE TABLE records (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
