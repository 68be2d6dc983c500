-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is the
-- zero time. JSON fields are TEXT, NULL when empty. Tags are a JSON array.

CREATE TABLE projects (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	name           TEXT    NOT NULL UNIQUE,
	repo_url       TEXT    NOT NULL,
	default_branch TEXT    NOT NULL,
	webhook_secret TEXT    NOT NULL,
	public         INTEGER NOT NULL,
	poll_interval  INTEGER NOT NULL,
	created_at     INTEGER
);

CREATE TABLE variables (
	project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	key        TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	masked     INTEGER NOT NULL,
	protected  INTEGER NOT NULL,
	file       INTEGER NOT NULL,
	PRIMARY KEY (project_id, key)
);

CREATE TABLE pipelines (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	ref         TEXT    NOT NULL,
	tag         INTEGER NOT NULL,
	sha         TEXT    NOT NULL,
	before_sha  TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	message     TEXT    NOT NULL,
	author      TEXT    NOT NULL,
	delivery_id TEXT    NOT NULL,
	variables   TEXT,
	trigger     TEXT,
	error       TEXT    NOT NULL,
	created_at  INTEGER,
	started_at  INTEGER,
	finished_at INTEGER,
	-- owner is the server coordinating the pipeline until owner_lease.
	owner       TEXT    NOT NULL DEFAULT '',
	owner_lease INTEGER
);
CREATE UNIQUE INDEX pipelines_delivery ON pipelines (project_id, delivery_id) WHERE delivery_id <> '';
CREATE INDEX pipelines_project ON pipelines (project_id, id DESC);
CREATE INDEX pipelines_unfinished ON pipelines (id)
	WHERE status NOT IN ('success', 'failed', 'canceled', 'skipped');

CREATE TABLE jobs (
	id                  INTEGER PRIMARY KEY AUTOINCREMENT,
	pipeline_id         INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
	project_id          INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	name                TEXT    NOT NULL,
	stage               TEXT    NOT NULL,
	attempt             INTEGER NOT NULL,
	status              TEXT    NOT NULL,
	when_               TEXT    NOT NULL,
	allow_failure       INTEGER NOT NULL,
	tags                TEXT    NOT NULL,
	retried             INTEGER NOT NULL,
	played              INTEGER NOT NULL,
	played_by           TEXT    NOT NULL,
	cancel_requested    INTEGER NOT NULL,
	runner_id           INTEGER NOT NULL,
	lease_until         INTEGER,
	runner_losses       INTEGER NOT NULL,
	payload             TEXT,
	result              TEXT,
	exit_code           INTEGER NOT NULL,
	failure_reason      TEXT    NOT NULL,
	reason              TEXT    NOT NULL,
	coverage            REAL,
	log_size            INTEGER NOT NULL,
	artifacts_size      INTEGER NOT NULL,
	artifacts_expire_at INTEGER,
	created_at          INTEGER,
	queued_at           INTEGER,
	started_at          INTEGER,
	finished_at         INTEGER
);
CREATE INDEX jobs_pipeline ON jobs (pipeline_id, id);
CREATE INDEX jobs_pending ON jobs (queued_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';

CREATE TABLE runners (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT    NOT NULL,
	token_hash   TEXT    NOT NULL UNIQUE,
	tags         TEXT    NOT NULL,
	run_untagged INTEGER NOT NULL,
	concurrency  INTEGER NOT NULL,
	last_seen    INTEGER,
	created_at   INTEGER
);

CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	hash       TEXT    NOT NULL UNIQUE,
	kind       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	project_id INTEGER NOT NULL,
	job_id     INTEGER NOT NULL,
	created_at INTEGER,
	expires_at INTEGER
);
CREATE INDEX tokens_project ON tokens (project_id);
CREATE INDEX tokens_expires ON tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE schedules (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	description TEXT    NOT NULL,
	cron        TEXT    NOT NULL,
	ref         TEXT    NOT NULL,
	variables   TEXT,
	active      INTEGER NOT NULL,
	next_run    INTEGER,
	last_run    INTEGER,
	created_at  INTEGER
);
CREATE INDEX schedules_project ON schedules (project_id);
CREATE INDEX schedules_due ON schedules (next_run) WHERE active = 1;

CREATE TABLE events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	project_id  INTEGER NOT NULL,
	pipeline_id INTEGER NOT NULL,
	job_id      INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	data        TEXT,
	created_at  INTEGER
);
CREATE INDEX events_project ON events (project_id, id);
CREATE INDEX events_pipeline ON events (pipeline_id, id) WHERE pipeline_id <> 0;
