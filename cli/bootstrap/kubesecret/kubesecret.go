// Package kubesecret hands the platform admin's credential over as a
// Kubernetes Secret in the bootstrap Job's namespace (deploy/k8s): keys
// AGENTIDP_URL, AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET, ready for
// `envFrom: secretRef`.
package kubesecret

import (
	"context"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sentryagent/agentidp/cli/bootstrap"
)

// Labels and annotations on the Secret: who wrote it and which credential
// it holds (ids only, for an operator's kubectl describe).
const (
	labelManagedBy       = "app.kubernetes.io/managed-by"
	managedBy            = "agentidp-bootstrap"
	annotationAgent      = "agentidp.dev/agent-id"
	annotationCredential = "agentidp.dev/credential-id"
)

// namespaceFile is where Kubernetes tells a pod its namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Secret is one Secret, read and written through the API. The bootstrap
// Job's Role allows exactly that (get and update of this name, create).
type Secret struct {
	client    kubernetes.Interface
	namespace string
	name      string
}

var (
	_ bootstrap.Output = (*Secret)(nil)
	_ bootstrap.Holder = (*Secret)(nil)
)

// New returns the Secret name in namespace, through client.
func New(client kubernetes.Interface, namespace, name string) *Secret {
	return &Secret{client: client, namespace: namespace, name: name}
}

// InCluster connects with the pod's service account (client-go's in-cluster
// configuration); namespace "" is the pod's own.
func InCluster(namespace, name string) (*Secret, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("k8s-secret needs to run in a Kubernetes pod: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		b, err := os.ReadFile(namespaceFile)
		if err != nil {
			return nil, fmt.Errorf("the pod's namespace (set --namespace): %w", err)
		}
		namespace = strings.TrimSpace(string(b))
	}
	return New(client, namespace, name), nil
}

func (s *Secret) String() string { return fmt.Sprintf("Kubernetes Secret %s/%s", s.namespace, s.name) }

// Holds: the Secret keeps the secret for the next run to check.
func (s *Secret) Holds() bool { return true }

// Load reads the Secret; a missing Secret holds nothing. The Version is
// its resourceVersion.
func (s *Secret) Load(ctx context.Context) (bootstrap.Credential, bootstrap.Version, error) {
	sec, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return bootstrap.Credential{}, "", nil
	}
	if err != nil {
		return bootstrap.Credential{}, "", err
	}
	c := bootstrap.Credential{
		URL:          string(sec.Data[bootstrap.VarURL]),
		ClientID:     string(sec.Data[bootstrap.VarClientID]),
		ClientSecret: bootstrap.Secret(sec.Data[bootstrap.VarClientSecret]),
		CredentialID: sec.Annotations[annotationCredential],
	}
	return c, bootstrap.Version(sec.ResourceVersion), nil
}

// Prepare reads the Secret: the API answers and the Role lets the Job read
// it (a missing Secret is fine: Save creates it).
func (s *Secret) Prepare(ctx context.Context) error {
	_, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// Save creates the Secret (since ""), or replaces its data and annotations
// if it is still at resourceVersion since (keeping labels and annotations
// that others added). The API server does the compare-and-set: a create
// of an existing Secret, or an update of a changed one, is ErrChanged.
func (s *Secret) Save(ctx context.Context, c bootstrap.Credential, since bootstrap.Version) error {
	data := map[string][]byte{}
	for k, v := range c.Vars() {
		data[k] = []byte(v)
	}
	secrets := s.client.CoreV1().Secrets(s.namespace)
	if since == "" {
		_, err := secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: s.name, Namespace: s.namespace,
				Labels: map[string]string{labelManagedBy: managedBy, "app.kubernetes.io/part-of": "agentidp"},
				Annotations: map[string]string{
					annotationAgent: c.ClientID, annotationCredential: c.CredentialID,
				},
			},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s was created meanwhile: %w", s, bootstrap.ErrChanged)
		}
		return err
	}
	cur, err := secrets.Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && cur.ResourceVersion != string(since)) {
		return fmt.Errorf("%s changed meanwhile: %w", s, bootstrap.ErrChanged)
	}
	if err != nil {
		return err
	}
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[annotationAgent] = c.ClientID
	cur.Annotations[annotationCredential] = c.CredentialID
	cur.Data, cur.StringData = data, nil
	_, err = secrets.Update(ctx, cur, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("%s changed meanwhile: %w", s, bootstrap.ErrChanged)
	}
	return err
}
