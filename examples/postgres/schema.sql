-- A fleet's device registry in PostgreSQL, shaped like OpenClaw's SQLite tables
-- (shared/openclaw/sqlite-schema.sql) with jsonb for the list and object columns.
-- scopemigrate creates its own ledger table (scopemigrate_ledger) on first commit.
CREATE TABLE IF NOT EXISTS device_pairing_paired (
  device_id text PRIMARY KEY,
  public_key text NOT NULL,
  display_name text,
  operator_label text,
  platform text,
  device_family text,
  client_id text,
  client_mode text,
  browser_origin text,
  role text,
  roles_json jsonb,
  scopes_json jsonb,
  approved_scopes_json jsonb,
  remote_ip text,
  tokens_json jsonb,
  approved_via text,
  node_surface_json jsonb,
  pending_node_surface_json jsonb,
  created_at_ms bigint NOT NULL,
  approved_at_ms bigint NOT NULL,
  last_seen_at_ms bigint,
  last_seen_reason text
);
CREATE INDEX IF NOT EXISTS idx_device_pairing_paired_approved
  ON device_pairing_paired (approved_at_ms DESC, device_id);

CREATE TABLE IF NOT EXISTS device_pairing_pending (
  request_id text PRIMARY KEY,
  device_id text NOT NULL,
  public_key text NOT NULL,
  display_name text,
  platform text,
  device_family text,
  client_id text,
  client_mode text,
  browser_origin text,
  role text,
  roles_json jsonb,
  scopes_json jsonb,
  remote_ip text,
  silent integer,
  is_repair integer,
  ts bigint NOT NULL,
  refreshed_at_ms bigint
);
CREATE INDEX IF NOT EXISTS idx_device_pairing_pending_device
  ON device_pairing_pending (device_id, ts DESC);
