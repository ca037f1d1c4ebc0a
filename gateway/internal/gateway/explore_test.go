package gateway_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	reg := &fakeRegistry{name: "a"}
	reg.start(t, "127.0.0.1:0")
	s := startStack(t, reg.Addr())
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	many := `{"name":"x","metadata":{` 
	for i := 0; i < 60000; i++ {
		if i > 0 {
			many += ","
		}
		many += fmt.Sprintf(`"k%d":"v"`, i)
	}
	many += "}}"
	for _, r := range []struct{ m, p, b string }{
		{"POST", "/v1/agents", big},
		{"POST", "/v1/agents", many},
		{"POST", "/v1/agents?bogus=1", `{"name":"x"}`},
		{"POST", "/v1/agents?requestId=abc", `{"name":"x"}`},
		{"GET", "/v1/agents?pageSize=1&pageSize=2", ""},
		{"GET", "/v1/agents?page_size=1", ""},
		{"POST", "/v1/agents", `[1,2]`},
		{"POST", "/v1/agents", `{"capabilities":"x"}`},
		{"GET", "/v1/agents/", ""},
		{"GET", "/v1/agentsx", ""},
		{"GET", "//v1//agents", ""},
	} {
		resp := s.do(r.m, r.p, r.b)
		t.Logf("%s %s (%d bytes) -> %d %v\n%s", r.m, r.p, len(r.b), resp.status, resp.header, resp.body)
	}
	t.Fail()
	return
	reg.stop()
	start := time.Now()
	resp := s.do("GET", "/v1/agents/abc", "")
	t.Logf("stopped: %s %d %v\n%s", time.Since(start), resp.status, resp.header, resp.body)
	time.Sleep(3 * time.Second)
	start = time.Now()
	resp = s.do("GET", "/v1/agents/abc", "")
	t.Logf("stopped 3s: %s %d %v\n%s", time.Since(start), resp.status, resp.header, resp.body)
	resp = s.do("GET", "/readyz", "")
	t.Logf("readyz: %d %s", resp.status, resp.body)
	t.Fail()
}
