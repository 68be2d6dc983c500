-- Times are timestamptz (microseconds); NULL is the zero time. JSON
-- fields are TEXT, kept byte for byte, NULL when empty. Tags are a jsonb array.

CREATE TABLE projects (
	id             BIGSERIAL PRIMARY KEY,
	name           TEXT    NOT NULL UNIQUE,
	repo_url       TEXT    NOT NULL,
	default_branch TEXT    NOT NULL,
	webhook_secret TEXT    NOT NULL,
	public         BOOLEAN NOT NULL,
	poll_interval  BIGINT NOT NULL,
	created_at     TIMESTAMPTZ
);

CREATE TABLE variables (
	project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	key        TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	masked     BOOLEAN NOT NULL,
	protected  BOOLEAN NOT NULL,
	file       BOOLEAN NOT NULL,
	PRIMARY KEY (project_id, key)
);

CREATE TABLE pipelines (
	id          BIGSERIAL PRIMARY KEY,
	project_id  BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	ref         TEXT    NOT NULL,
	tag         BOOLEAN NOT NULL,
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
	created_at  TIMESTAMPTZ,
	started_at  TIMESTAMPTZ,
	finished_at TIMESTAMPTZ,
	-- owner is the server coordinating the pipeline until owner_lease.
	owner       TEXT    NOT NULL DEFAULT '',
	owner_lease TIMESTAMPTZ
);
CREATE UNIQUE INDEX pipelines_delivery ON pipelines (project_id, delivery_id) WHERE delivery_id <> '';
CREATE INDEX pipelines_project ON pipelines (project_id, id DESC);
CREATE INDEX pipelines_unfinished ON pipelines (id)
	WHERE status NOT IN ('success', 'failed', 'canceled', 'skipped');

CREATE TABLE jobs (
	id                  BIGSERIAL PRIMARY KEY,
	pipeline_id         BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
	project_id          BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	name                TEXT    NOT NULL,
	stage               TEXT    NOT NULL,
	attempt             INTEGER NOT NULL,
	status              TEXT    NOT NULL,
	when_               TEXT    NOT NULL,
	allow_failure       BOOLEAN NOT NULL,
	tags                JSONB    NOT NULL,
	retried             BOOLEAN NOT NULL,
	played              BOOLEAN NOT NULL,
	played_by           TEXT    NOT NULL,
	cancel_requested    BOOLEAN NOT NULL,
	runner_id           BIGINT NOT NULL,
	lease_until         TIMESTAMPTZ,
	runner_losses       INTEGER NOT NULL,
	payload             TEXT,
	result              TEXT,
	exit_code           INTEGER NOT NULL,
	failure_reason      TEXT    NOT NULL,
	reason              TEXT    NOT NULL,
	coverage            DOUBLE PRECISION,
	log_size            BIGINT NOT NULL,
	artifacts_size      BIGINT NOT NULL,
	artifacts_expire_at TIMESTAMPTZ,
	created_at          TIMESTAMPTZ,
	queued_at           TIMESTAMPTZ,
	started_at          TIMESTAMPTZ,
	finished_at         TIMESTAMPTZ
);
CREATE INDEX jobs_pipeline ON jobs (pipeline_id, id);
CREATE INDEX jobs_pending ON jobs (queued_at, id) WHERE status = 'pending';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';

CREATE TABLE runners (
	id           BIGSERIAL PRIMARY KEY,
	name         TEXT    NOT NULL,
	token_hash   TEXT    NOT NULL UNIQUE,
	tags         JSONB    NOT NULL,
	run_untagged BOOLEAN NOT NULL,
	concurrency  INTEGER NOT NULL,
	last_seen    TIMESTAMPTZ,
	created_at   TIMESTAMPTZ
);

CREATE TABLE tokens (
	id         BIGSERIAL PRIMARY KEY,
	hash       TEXT    NOT NULL UNIQUE,
	kind       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	project_id BIGINT NOT NULL,
	job_id     BIGINT NOT NULL,
	created_at TIMESTAMPTZ,
	expires_at TIMESTAMPTZ
);
CREATE INDEX tokens_project ON tokens (project_id);
CREATE INDEX tokens_expires ON tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE schedules (
	id          BIGSERIAL PRIMARY KEY,
	project_id  BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	description TEXT    NOT NULL,
	cron        TEXT    NOT NULL,
	ref         TEXT    NOT NULL,
	variables   TEXT,
	active      BOOLEAN NOT NULL,
	next_run    TIMESTAMPTZ,
	last_run    TIMESTAMPTZ,
	created_at  TIMESTAMPTZ
);
CREATE INDEX schedules_project ON schedules (project_id);
CREATE INDEX schedules_due ON schedules (next_run) WHERE active;

CREATE TABLE events (
	id          BIGSERIAL PRIMARY KEY,
	project_id  BIGINT NOT NULL,
	pipeline_id BIGINT NOT NULL,
	job_id      BIGINT NOT NULL,
	type        TEXT    NOT NULL,
	data        TEXT,
	created_at  TIMESTAMPTZ
);
CREATE INDEX events_project ON events (project_id, id);
CREATE INDEX events_pipeline ON events (pipeline_id, id) WHERE pipeline_id <> 0;
