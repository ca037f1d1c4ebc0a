package xds

import (
	"net/netip"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/sentryagent/agentidp/libs/mtls"
)

// TestMeshTLSClusters: with the gateway's mesh files, every service
// cluster is mutual TLS with the SDS identity, accepting only its own
// service's SPIFFE ID, and the snapshot carries the two secrets naming the
// files (not their contents) with a watched directory.
func TestMeshTLSClusters(t *testing.T) {
	files := mtls.FilesIn("/etc/mesh", "gateway")
	b, err := NewBuilder(BuilderConfig{GatewayHTTP: netip.MustParseAddrPort("127.0.0.1:18080"), Mesh: &files})
	if err != nil {
		t.Fatal(err)
	}
	res := resolved(8080, "127.0.0.1:9101")
	res.Config.Services["token"] = resolved(8080).Config.Services["registry"]
	res.Endpoints["token"] = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9103")}
	snap, err := b.Build(res)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range snap.GetResources(resource.ClusterType) {
		c := r.(*cluster.Cluster)
		if name == GatewayHTTPCluster {
			continue
		}
		ts := c.GetTransportSocket()
		if ts == nil {
			t.Errorf("%s: plaintext cluster", name)
			continue
		}
		var up tlsv3.UpstreamTlsContext
		if err := ts.GetTypedConfig().UnmarshalTo(&up); err != nil {
			t.Fatal(err)
		}
		common := up.GetCommonTlsContext()
		if sds := common.GetTlsCertificateSdsSecretConfigs(); len(sds) != 1 || sds[0].GetName() != SecretIdentity {
			t.Errorf("%s: client certificate %v", name, sds)
		}
		combined := common.GetCombinedValidationContext()
		sans := combined.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
		if len(sans) != 1 || sans[0].GetSanType() != tlsv3.SubjectAltNameMatcher_URI || sans[0].GetMatcher().GetExact() != mtls.ID(name) {
			t.Errorf("%s: accepts %v, want only %s", name, sans, mtls.ID(name))
		}
		if combined.GetValidationContextSdsSecretConfig().GetName() != SecretCA {
			t.Errorf("%s: CA from %v", name, combined.GetValidationContextSdsSecretConfig())
		}
		wantALPN := "h2"
		if name == "token" {
			wantALPN = "http/1.1"
		}
		if alpn := common.GetAlpnProtocols(); len(alpn) != 1 || alpn[0] != wantALPN {
			t.Errorf("%s: ALPN %v, want %s", name, alpn, wantALPN)
		}
	}
	secrets := snap.GetResources(resource.SecretType)
	id, ok := secrets[SecretIdentity].(*tlsv3.Secret)
	if !ok {
		t.Fatalf("no %s secret: %v", SecretIdentity, secrets)
	}
	tc := id.GetTlsCertificate()
	if tc.GetCertificateChain().GetFilename() != files.Cert || tc.GetPrivateKey().GetFilename() != files.Key ||
		tc.GetWatchedDirectory().GetPath() != "/etc/mesh/gateway" || len(tc.GetPrivateKey().GetInlineBytes()) != 0 {
		t.Errorf("identity secret: %v", tc)
	}
	ca, ok := secrets[SecretCA].(*tlsv3.Secret)
	if !ok || ca.GetValidationContext().GetTrustedCa().GetFilename() != files.CA {
		t.Errorf("CA secret: %v", secrets[SecretCA])
	}

	// Without mesh files (development), no TLS and no secrets.
	plain, err := newBuilder(t).Build(resolved(8080, "127.0.0.1:9101"))
	if err != nil {
		t.Fatal(err)
	}
	if c := plain.GetResources(resource.ClusterType)["registry"].(*cluster.Cluster); c.GetTransportSocket() != nil {
		t.Error("plaintext builder made a TLS cluster")
	}
	if len(plain.GetResources(resource.SecretType)) != 0 {
		t.Error("plaintext snapshot has secrets")
	}
}
