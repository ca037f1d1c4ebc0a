package grpc_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func parseUUID(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
