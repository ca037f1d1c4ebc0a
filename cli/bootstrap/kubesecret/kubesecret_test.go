package kubesecret

// No Kubernetes API server can run on the build machines, so these tests
// use client-go's fake clientset (kubesecrettest: with resourceVersions and
// the update conflicts they cause, as the API server has). RBAC is
// exercised by a reactor answering Forbidden, as the API server would for a
// Role without the verb. The bootstrap's logic with this Output runs
// against the live mesh in deploy/local/bootstrape2e.

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/cli/bootstrap/kubesecret/kubesecrettest"
)

func cred(secret string) bootstrap.Credential {
	return bootstrap.Credential{URL: "https://idp.example.com", ClientID: "agent-1",
		ClientSecret: bootstrap.Secret(secret), CredentialID: "cred-" + secret}
}

func TestSecretCreateLoadUpdate(t *testing.T) {
	ctx := context.Background()
	client := kubesecrettest.Clientset()
	s := New(client, "agentidp", "agentidp-platform-admin")
	if got := s.String(); got != "Kubernetes Secret agentidp/agentidp-platform-admin" {
		t.Errorf("String() = %q", got)
	}
	if c, v, err := s.Load(ctx); c.Complete() || v != "" || err != nil {
		t.Fatalf("a missing Secret: %+v, %q, %v; want nothing held", c, v, err)
	}
	if err := s.Prepare(ctx); err != nil {
		t.Fatalf("Prepare with no Secret yet: %v", err)
	}
	if err := s.Save(ctx, cred("one"), ""); err != nil {
		t.Fatal(err)
	}
	sec, err := client.CoreV1().Secrets("agentidp").Get(ctx, "agentidp-platform-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"AGENTIDP_URL": "https://idp.example.com", "AGENTIDP_CLIENT_ID": "agent-1", "AGENTIDP_CLIENT_SECRET": "one"}
	if len(sec.Data) != len(want) {
		t.Errorf("data keys %v, want %v", keys(sec.Data), want)
	}
	for k, v := range want {
		if string(sec.Data[k]) != v {
			t.Errorf("data[%s] = %q, want %q", k, sec.Data[k], v)
		}
	}
	if sec.Type != corev1.SecretTypeOpaque || sec.Labels[labelManagedBy] != managedBy ||
		sec.Annotations[annotationCredential] != "cred-one" || sec.Annotations[annotationAgent] != "agent-1" {
		t.Errorf("type %s, labels %v, annotations %v", sec.Type, sec.Labels, sec.Annotations)
	}
	got, v1, err := s.Load(ctx)
	if err != nil || v1 != bootstrap.Version(sec.ResourceVersion) || got.ClientID != "agent-1" || got.ClientSecret.Reveal() != "one" || got.CredentialID != "cred-one" {
		t.Fatalf("Load = %+v, %q, %v", got, v1, err)
	}

	// Someone labels it: a Save against the version read before is
	// refused; against the current one it replaces the data and keeps the
	// label.
	sec.Labels["team"] = "platform"
	if _, err := client.CoreV1().Secrets("agentidp").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := cred("two")
	c.URL = ""
	if err := s.Save(ctx, c, v1); !errors.Is(err, bootstrap.ErrChanged) {
		t.Errorf("Save against a stale version: %v, want ErrChanged", err)
	}
	if err := s.Save(ctx, c, ""); !errors.Is(err, bootstrap.ErrChanged) {
		t.Errorf("Save as new of an existing Secret: %v, want ErrChanged", err)
	}
	_, v2, _ := s.Load(ctx)
	if err := s.Save(ctx, c, v2); err != nil {
		t.Fatal(err)
	}
	sec, _ = client.CoreV1().Secrets("agentidp").Get(ctx, "agentidp-platform-admin", metav1.GetOptions{})
	if string(sec.Data["AGENTIDP_CLIENT_SECRET"]) != "two" || sec.Labels["team"] != "platform" || sec.Annotations[annotationCredential] != "cred-two" {
		t.Errorf("after the second Save: data %v labels %v annotations %v", keys(sec.Data), sec.Labels, sec.Annotations)
	}
	if _, ok := sec.Data["AGENTIDP_URL"]; ok {
		t.Error("the old AGENTIDP_URL survived a credential without one")
	}
}

// Another Job pod writes the Secret between this one's Load and Save: the
// API server refuses the second write (a Conflict on update), and Save
// says ErrChanged.
func TestSecretSaveLosesARace(t *testing.T) {
	ctx := context.Background()
	client := kubesecrettest.Clientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", ResourceVersion: "1"}})
	s := New(client, "ns", "s")
	_, v, _ := s.Load(ctx)
	if err := s.Save(ctx, cred("theirs"), v); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, cred("mine"), v); !errors.Is(err, bootstrap.ErrChanged) {
		t.Fatalf("the second Save against the same version = %v, want ErrChanged", err)
	}
	if got, _, _ := s.Load(ctx); got.ClientSecret.Reveal() != "theirs" {
		t.Errorf("the Secret holds %s, want the first writer's", got.CredentialID)
	}
}

// Without the Role's get, Prepare fails before any credential is created,
// and says why.
func TestSecretPrepareForbidden(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "s", nil)
	})
	err := New(client, "ns", "s").Prepare(context.Background())
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("Prepare = %v, want Forbidden", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
