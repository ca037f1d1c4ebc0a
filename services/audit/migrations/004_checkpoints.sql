-- +goose Up
-- Signed checkpoints of the chain (docs/audit.md, "Signed checkpoints"): a
-- copy for the API and for operators. Verification never trusts these rows:
-- each one's signature is checked against a public key obtained outside
-- PostgreSQL (Vault transit, a key file), so a forged or edited row shows
-- as checkpoint_invalid and a deleted one is still held by the file sink
-- and by whoever fetched GET /v1/audit/checkpoints.
CREATE TABLE audit_checkpoints (
    sequence  bigint      NOT NULL,
    hash      bytea       NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id    text        NOT NULL,
    algorithm text        NOT NULL,
    signature bytea       NOT NULL,
    -- Two replicas may sign the same head at different times: both stay.
    PRIMARY KEY (sequence, signed_at, key_id)
);

CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

REVOKE ALL ON audit_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON audit_checkpoints TO agentidp_audit_writer;

-- +goose Down
DROP TABLE audit_checkpoints;
