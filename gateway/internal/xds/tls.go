package xds

import (
	"path/filepath"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// The SDS secrets every upstream cluster's TLS names: the gateway's mesh
// certificate and the mesh CA bundle.
const (
	SecretIdentity = "mesh-identity"
	SecretCA       = "mesh-ca"
)

// meshSecrets are the SDS resources of the gateway's mesh identity. They
// carry file names, not key material: Envoy reads the files itself and
// re-reads them when their directory changes (watched_directory: a
// rename into it, as the local stack writes, or the ..data swap of a
// Kubernetes Secret volume), so a rotated certificate is used without a
// new snapshot and the private key never crosses the xDS stream.
func meshSecrets(f mtls.Files) []types.Resource {
	file := func(p string) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: p}}
	}
	return []types.Resource{
		&tlsv3.Secret{Name: SecretIdentity, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: file(f.Cert),
			PrivateKey:       file(f.Key),
			WatchedDirectory: &core.WatchedDirectory{Path: filepath.Dir(f.Cert)},
		}}},
		&tlsv3.Secret{Name: SecretCA, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa:        file(f.CA),
			WatchedDirectory: &core.WatchedDirectory{Path: filepath.Dir(f.CA)},
		}}},
	}
}

// upstreamTLS is the transport socket of a cluster to a mesh service:
// mutual TLS with the gateway's certificate, accepting only a server
// certificate of the mesh CA whose URI SAN is the service's SPIFFE ID.
func upstreamTLS(svc catalog.Service) *core.TransportSocket {
	alpn := []string{"h2"}
	if svc.Protocol == catalog.HTTP {
		alpn = []string{"http/1.1"}
	}
	ctx := &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		// Envoy's clients default to at most TLS 1.2; the mesh is 1.3 only.
		TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3, TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3},
		AlpnProtocols:                  alpn,
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: SecretIdentity, SdsConfig: adsSource()}},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext: &tlsv3.CertificateValidationContext{
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
					SanType: tlsv3.SubjectAltNameMatcher_URI,
					Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: mtls.ID(svc.Name)}},
				}},
			},
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: SecretCA, SdsConfig: adsSource()},
		}},
	}}
	return &core.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)},
	}
}
