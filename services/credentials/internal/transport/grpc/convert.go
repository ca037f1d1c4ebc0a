package grpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func credentialToProto(c credential.Credential, now time.Time) *credentialsv1.Credential {
	return &credentialsv1.Credential{
		CredentialId:            c.ID.String(),
		AgentId:                 c.AgentID.String(),
		ClientId:                c.AgentID.String(),
		Status:                  string(c.Status(now)),
		CreatedAt:               timestamppb.New(c.CreatedAt),
		ExpiresAt:               ts(c.ExpiresAt),
		LastUsedAt:              ts(c.LastUsedAt),
		RevokedAt:               ts(c.RevokedAt),
		SecretVersion:           c.SecretVersion,
		RotatedFrom:             c.RotatedFrom,
		RotatedAt:               ts(c.RotatedAt),
		PreviousSecretExpiresAt: ts(c.PreviousSecretExpiresAt),
		Storage:                 string(c.Storage),
	}
}

func encodeIssued(_ context.Context, resp any) (any, error) {
	i := resp.(credential.Issued)
	return &credentialsv1.IssuedCredential{
		Credential:   credentialToProto(i.Credential, time.Now()),
		ClientId:     i.Credential.AgentID.String(),
		ClientSecret: i.Secret.Reveal(),
	}, nil
}

func encodeCredential(_ context.Context, resp any) (any, error) {
	return credentialToProto(resp.(credential.Credential), time.Now()), nil
}

func encodeList(_ context.Context, resp any) (any, error) {
	page := resp.(credential.Page)
	now := time.Now()
	out := &credentialsv1.ListCredentialsResponse{NextPageToken: page.NextPageToken,
		Credentials: make([]*credentialsv1.Credential, len(page.Credentials))}
	for i, c := range page.Credentials {
		out.Credentials[i] = credentialToProto(c, now)
	}
	return out, nil
}

func encodeVerify(_ context.Context, resp any) (any, error) {
	v := resp.(credential.Verified)
	return &credentialsv1.VerifyClientSecretResponse{
		AgentId:      v.AgentID.String(),
		CredentialId: v.CredentialID.String(),
		Scopes:       v.Scopes,
		AgentStatus:  v.AgentStatus,
		ValidUntil:   ts(v.ValidUntil),
		Owner:        v.Owner,
	}, nil
}
