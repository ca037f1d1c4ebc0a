-- +goose Up
-- Rotation: a credential keeps its id and gets a new secret version; the
-- previous version stays valid until previous_secret_expires_at (the grace
-- period). Each version's verifier moves to credential_secrets.
CREATE TABLE credential_secrets (
    credential_id uuid        NOT NULL REFERENCES credentials (credential_id) ON DELETE CASCADE,
    version       bigint      NOT NULL,
    secret_hash   text        NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (credential_id, version),
    CONSTRAINT credential_secrets_version_check CHECK (version >= 1)
);

INSERT INTO credential_secrets (credential_id, version, secret_hash, created_at)
SELECT credential_id, 1, secret_hash, created_at FROM credentials;

ALTER TABLE credentials
    ADD COLUMN secret_version             bigint NOT NULL DEFAULT 1,
    ADD COLUMN rotated_from               bigint NOT NULL DEFAULT 0,
    ADD COLUMN rotated_at                 timestamptz,
    ADD COLUMN previous_secret_expires_at timestamptz,
    DROP COLUMN secret_hash;

-- +goose Down
ALTER TABLE credentials ADD COLUMN secret_hash text;
UPDATE credentials c SET secret_hash = s.secret_hash
FROM credential_secrets s
WHERE s.credential_id = c.credential_id AND s.version = c.secret_version;
ALTER TABLE credentials
    ALTER COLUMN secret_hash SET NOT NULL,
    DROP COLUMN secret_version,
    DROP COLUMN rotated_from,
    DROP COLUMN rotated_at,
    DROP COLUMN previous_secret_expires_at;
DROP TABLE credential_secrets;
