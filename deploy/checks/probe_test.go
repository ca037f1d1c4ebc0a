package checks

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"golang.org/x/mod/modfile"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
)

func TestProbe(t *testing.T) {
	_ = loader.Load
	_ = hclparse.NewParser
	_ = tfconfig.LoadModule
	_ = modfile.Parse
	_ = scheme.Codecs
	_ = krusty.MakeKustomizer
}
