package grpc_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sentryagent/agentidp/libs/auditlog"
	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
)

// ListAuditCheckpoints pages through the stored checkpoints oldest first,
// each one verifiable from its API form alone; only the platform lists
// them, and bad paging is a 400.
func TestListAuditCheckpoints(t *testing.T) {
	c := newClients(t)
	ctx := context.Background()
	signer, err := checkpoint.LoadFileSigner(filepath.Join(t.TempDir(), "key.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkpoint.New(checkpoint.Config{Store: c.db.Store, Signer: signer})
	for i := range 5 {
		ev := auditlog.ToProto(auditlog.Event{ID: auditlog.NewID(), OccurredAt: time.Now(), Actor: "system",
			Action: auditlog.ActionAgentRegistered, Outcome: auditlog.OutcomeSuccess, Owner: "team-a"})
		if _, err := c.ingest.Record(ctx, &auditv1.RecordRequest{Events: []*auditv1.AuditEvent{ev}}); err != nil {
			t.Fatal(err)
		}
		if got, err := cp.Once(ctx, true); err != nil || got.Sequence != int64(i+1) {
			t.Fatalf("checkpoint %d: %+v %v", i, got, err)
		}
	}
	platform := as("platform", "audit:read platform:admin")
	keys, _ := signer.PublicKeys(ctx)
	var seqs []int64
	req := &auditv1.ListAuditCheckpointsRequest{PageSize: ptr(int32(2)), FromSequence: 2}
	for {
		page, err := c.audit.ListAuditCheckpoints(platform, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.GetCheckpoints() {
			got, err := grpctransport.CheckpointFromProto(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.VerifyCheckpoint(got); err != nil {
				t.Fatalf("checkpoint %d from the API: %v", got.Sequence, err)
			}
			seqs = append(seqs, got.Sequence)
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	if len(seqs) != 4 || seqs[0] != 2 || seqs[3] != 5 {
		t.Fatalf("sequences %v", seqs)
	}
	_, err = c.audit.ListAuditCheckpoints(as("team-a", "audit:read"), &auditv1.ListAuditCheckpointsRequest{})
	wantError(t, err, codes.PermissionDenied, "PLATFORM_ADMIN_REQUIRED", "")
	_, err = c.audit.ListAuditCheckpoints(platform, &auditv1.ListAuditCheckpointsRequest{PageSize: ptr(int32(0))})
	wantError(t, err, codes.InvalidArgument, "INVALID_PAGE_SIZE", "pageSize")
	_, err = c.audit.ListAuditCheckpoints(platform, &auditv1.ListAuditCheckpointsRequest{PageToken: "!!"})
	wantError(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "pageToken")
	_, err = c.audit.ListAuditCheckpoints(platform, &auditv1.ListAuditCheckpointsRequest{FromSequence: -1})
	wantError(t, err, codes.InvalidArgument, "INVALID_SEQUENCE_RANGE", "fromSequence")
}

func ptr[T any](v T) *T { return &v }
