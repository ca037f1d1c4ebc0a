package checkpoint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"

	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
)

// FileName is the sink's file in AUDIT_CHECKPOINT_DIR.
const FileName = "checkpoints.jsonl"

// FileSink appends each checkpoint as one line of JSON (the API's
// AuditCheckpoint JSON) to AUDIT_CHECKPOINT_DIR/checkpoints.jsonl, opened
// O_APPEND and synced after every line. Point the directory at storage the
// database's administrators cannot write (another host's mount, an
// append-only or object-locked volume, a log shipper's input): it is the
// copy that survives someone deleting the checkpoints' rows.
type FileSink struct {
	path string
	mu   sync.Mutex
}

// NewFileSink creates dir if needed.
func NewFileSink(dir string) (*FileSink, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("AUDIT_CHECKPOINT_DIR: %w", err)
	}
	return &FileSink{path: filepath.Join(dir, FileName)}, nil
}

// Path is the sink's file.
func (s *FileSink) Path() string { return s.path }

// Append writes c as one line and syncs it.
func (s *FileSink) Append(c audit.Checkpoint) error {
	line, err := protojson.Marshal(grpctransport.CheckpointToProto(c))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("checkpoint sink: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("checkpoint sink: %w", werr)
	}
	return nil
}

// ReadFile reads checkpoints from a JSON-lines file of AuditCheckpoint
// objects (the sink's file), or from a saved GET /v1/audit/checkpoints
// answer ({"checkpoints": [...]}). A missing file holds none.
func ReadFile(path string) ([]audit.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var page auditv1.ListAuditCheckpointsResponse
	if err := protojson.Unmarshal(b, &page); err == nil {
		return fromProtos(path, page.GetCheckpoints())
	}
	var out []*auditv1.AuditCheckpoint
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var c auditv1.AuditCheckpoint
		if err := protojson.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, &c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return fromProtos(path, out)
}

func fromProtos(path string, in []*auditv1.AuditCheckpoint) ([]audit.Checkpoint, error) {
	out := make([]audit.Checkpoint, 0, len(in))
	for i, p := range in {
		c, err := grpctransport.CheckpointFromProto(p)
		if err != nil {
			return nil, fmt.Errorf("%s: checkpoint %d: %w", path, i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}
