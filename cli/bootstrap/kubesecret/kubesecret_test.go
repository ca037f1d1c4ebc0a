package kubesecret

// No Kubernetes API server can run on the build machines, so these tests
// use client-go's fake clientset, which keeps objects in memory and applies
// create/get/update as the API does (resource versions, AlreadyExists,
// NotFound). RBAC is exercised by a reactor answering Forbidden, as the API
// server would for a Role without the verb. The bootstrap's logic with this
// Output runs against the live mesh in deploy/local/bootstrape2e.

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/sentryagent/agentidp/cli/bootstrap"
)

func cred(secret string) bootstrap.Credential {
	return bootstrap.Credential{URL: "https://idp.example.com", ClientID: "agent-1",
		ClientSecret: bootstrap.Secret(secret), CredentialID: "cred-" + secret}
}

func TestSecretCreateLoadUpdate(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	s := New(client, "agentidp", "agentidp-platform-admin")
	if got := s.String(); got != "Kubernetes Secret agentidp/agentidp-platform-admin" {
		t.Errorf("String() = %q", got)
	}
	if _, ok, err := s.Load(ctx); ok || err != nil {
		t.Fatalf("a missing Secret: ok=%v err=%v, want nothing held", ok, err)
	}
	if err := s.Prepare(ctx); err != nil {
		t.Fatalf("Prepare with no Secret yet: %v", err)
	}
	if err := s.Save(ctx, cred("one")); err != nil {
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
	got, ok, err := s.Load(ctx)
	if err != nil || !ok || got.ClientID != "agent-1" || got.ClientSecret.Reveal() != "one" || got.CredentialID != "cred-one" {
		t.Fatalf("Load = %+v, %v, %v", got, ok, err)
	}

	// Someone labels it; a new credential replaces the data and keeps that.
	sec.Labels["team"] = "platform"
	if _, err := client.CoreV1().Secrets("agentidp").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := cred("two")
	c.URL = ""
	if err := s.Save(ctx, c); err != nil {
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

// A Secret created by someone else between the Get and the Create (another
// Job pod) is updated, not an error.
func TestSecretSaveRacesCreate(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	first := true
	client.PrependReactor("create", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !first {
			return false, nil, nil
		}
		first = false
		// The other writer wins the create.
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"AGENTIDP_CLIENT_ID": []byte("x")}}
		if err := client.Tracker().Add(other); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewAlreadyExists(corev1.Resource("secrets"), "s")
	})
	s := New(client, "ns", "s")
	if err := s.Save(ctx, cred("mine")); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.Load(ctx); !ok || got.ClientSecret.Reveal() != "mine" {
		t.Errorf("after the race: %+v", got)
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
