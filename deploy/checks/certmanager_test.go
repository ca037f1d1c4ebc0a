package checks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The cert-manager objects of the overlays (cert-manager.io/v1), with just
// the fields AgentIdP uses; decoded strictly, so a misspelt field fails
// here as `kubectl apply --validate=strict` would with the CRDs installed.
type cmObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec cmSpec `json:"spec"`
}

type cmSpec struct {
	// Issuer
	SelfSigned *struct{} `json:"selfSigned,omitempty"`
	CA         *struct {
		SecretName string `json:"secretName"`
	} `json:"ca,omitempty"`
	// Certificate
	IsCA        bool     `json:"isCA,omitempty"`
	CommonName  string   `json:"commonName,omitempty"`
	SecretName  string   `json:"secretName,omitempty"`
	URIs        []string `json:"uris,omitempty"`
	Duration    string   `json:"duration,omitempty"`
	RenewBefore string   `json:"renewBefore,omitempty"`
	Usages      []string `json:"usages,omitempty"`
	PrivateKey  *struct {
		Algorithm      string `json:"algorithm"`
		Size           int    `json:"size"`
		Encoding       string `json:"encoding,omitempty"`
		RotationPolicy string `json:"rotationPolicy,omitempty"`
	} `json:"privateKey,omitempty"`
	IssuerRef *struct {
		Name  string `json:"name"`
		Kind  string `json:"kind"`
		Group string `json:"group"`
	} `json:"issuerRef,omitempty"`
}

// decodeCertManager decodes a cert-manager object, or reports that y is
// not one.
func decodeCertManager(y []byte) (*cmObject, bool, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
	}
	if err := yaml.Unmarshal(y, &head); err != nil || !strings.HasPrefix(head.APIVersion, "cert-manager.io/") {
		return nil, false, err
	}
	var o cmObject
	if err := yaml.UnmarshalStrict(y, &o); err != nil {
		return nil, true, err
	}
	if o.APIVersion != "cert-manager.io/v1" || (o.Kind != "Certificate" && o.Kind != "Issuer") {
		return nil, true, fmt.Errorf("%s %s: want cert-manager.io/v1 Certificate or Issuer", o.APIVersion, o.Kind)
	}
	return &o, true, nil
}

// checkMeshCertificate: the pod mounts, where its container's TLS_* point,
// a Secret that a Certificate of the mesh CA issues with the identity's
// SPIFFE ID as its only URI SAN, for both server and client auth, renewed
// before it expires.
func checkMeshCertificate(t *testing.T, r *rendered, pod *corev1.PodSpec, c *corev1.Container, identity string) {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	dir := strings.TrimSuffix(env["TLS_CERT_FILE"], "/tls.crt")
	if dir == "" || env["TLS_KEY_FILE"] != dir+"/tls.key" || env["TLS_CA_FILE"] != dir+"/ca.crt" {
		t.Errorf("%s: TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE = %q, %q, %q: want tls.crt, tls.key, ca.crt of one mounted Secret",
			c.Name, env["TLS_CERT_FILE"], env["TLS_KEY_FILE"], env["TLS_CA_FILE"])
		return
	}
	var volume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			if m.SubPath != "" || !m.ReadOnly {
				t.Errorf("%s: the mesh Secret is mounted with subPath %q, readOnly %v: a subPath never sees a renewal", c.Name, m.SubPath, m.ReadOnly)
			}
			volume = m.Name
		}
	}
	var secret string
	for _, v := range pod.Volumes {
		if v.Name == volume && v.Secret != nil {
			secret = v.Secret.SecretName
		}
	}
	if secret == "" {
		t.Errorf("%s: nothing mounted at %s from a Secret", c.Name, dir)
		return
	}
	want := "spiffe://agentidp.local/" + identity
	var cert *cmObject
	for _, o := range r.CertManager {
		if o.Kind == "Certificate" && o.Spec.SecretName == secret {
			cert = o
		}
	}
	if cert == nil {
		t.Errorf("%s: no cert-manager Certificate writes the Secret %s", c.Name, secret)
		return
	}
	if !slices.Equal(cert.Spec.URIs, []string{want}) {
		t.Errorf("Certificate %s: uris %v, want [%s]", cert.Metadata.Name, cert.Spec.URIs, want)
	}
	for _, u := range []string{"server auth", "client auth"} {
		if !slices.Contains(cert.Spec.Usages, u) {
			t.Errorf("Certificate %s: usages %v lack %q", cert.Metadata.Name, cert.Spec.Usages, u)
		}
	}
	if cert.Spec.RenewBefore == "" || cert.Spec.Duration == "" {
		t.Errorf("Certificate %s: want a duration and renewBefore (rotation)", cert.Metadata.Name)
	}
	if cert.Spec.IssuerRef == nil {
		t.Errorf("Certificate %s: no issuerRef", cert.Metadata.Name)
		return
	}
	// Its issuer is a CA issuer whose CA is a Certificate of this overlay.
	var issuer *cmObject
	for _, o := range r.CertManager {
		if o.Kind == "Issuer" && o.Metadata.Name == cert.Spec.IssuerRef.Name {
			issuer = o
		}
	}
	if issuer == nil || issuer.Spec.CA == nil {
		t.Errorf("Certificate %s: issuer %s is not a CA Issuer of this overlay", cert.Metadata.Name, cert.Spec.IssuerRef.Name)
		return
	}
	for _, o := range r.CertManager {
		if o.Kind == "Certificate" && o.Spec.SecretName == issuer.Spec.CA.SecretName && o.Spec.IsCA {
			return
		}
	}
	t.Errorf("Issuer %s: its CA Secret %s is not an isCA Certificate of this overlay", issuer.Metadata.Name, issuer.Spec.CA.SecretName)
}
