package checks

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// autoscaled are the services that scale on load and must have a
// HorizontalPodAutoscaler wherever they are deployed (the hot paths).
var autoscaled = []string{"token", "authz"}

// rendered is one overlay, built and decoded.
type rendered struct {
	Namespace    string
	Deployments  map[string]*appsv1.Deployment
	Services     map[string]*corev1.Service
	ConfigMaps   map[string]*corev1.ConfigMap
	Policies     []*networkingv1.NetworkPolicy
	PDBs         []*policyv1.PodDisruptionBudget
	HPAs         []*autoscalingv2.HorizontalPodAutoscaler
	Jobs         []*batchv1.Job
	Accounts     map[string]*corev1.ServiceAccount
	Roles        map[string]*rbacv1.Role
	Bindings     []*rbacv1.RoleBinding
	Secrets      []string
	SecretRefs   map[string]bool // "name/key" referenced by env
	CertManager  []*cmObject     // cert-manager.io/v1 Certificates and Issuers
	Unrecognised []string
}

// strictDecoder rejects unknown and duplicate fields, as `kubectl apply
// --validate=strict` does.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

func buildOverlay(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{
		Deployments: map[string]*appsv1.Deployment{}, Services: map[string]*corev1.Service{},
		ConfigMaps: map[string]*corev1.ConfigMap{}, SecretRefs: map[string]bool{},
		Accounts: map[string]*corev1.ServiceAccount{}, Roles: map[string]*rbacv1.Role{},
	}
	namespaces := map[string]bool{}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if cm, ok, err := decodeCertManager(y); ok {
			if err != nil {
				t.Errorf("%s %s does not decode strictly: %v", res.GetKind(), res.GetName(), err)
			} else {
				r.CertManager = append(r.CertManager, cm)
				namespaces[cm.Metadata.Namespace] = true
			}
			continue
		}
		obj, gvk, err := strictDecoder.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s %s does not decode strictly: %v", res.GetKind(), res.GetName(), err)
			continue
		}
		if acc, ok := obj.(metav1.Object); ok && gvk.Kind != "Namespace" {
			namespaces[acc.GetNamespace()] = true
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.Deployments[o.Name] = o
		case *corev1.Service:
			r.Services[o.Name] = o
		case *corev1.ConfigMap:
			r.ConfigMaps[o.Name] = o
		case *networkingv1.NetworkPolicy:
			r.Policies = append(r.Policies, o)
		case *policyv1.PodDisruptionBudget:
			r.PDBs = append(r.PDBs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.HPAs = append(r.HPAs, o)
		case *batchv1.Job:
			r.Jobs = append(r.Jobs, o)
		case *corev1.ServiceAccount:
			r.Accounts[o.Name] = o
		case *rbacv1.Role:
			r.Roles[o.Name] = o
		case *rbacv1.RoleBinding:
			r.Bindings = append(r.Bindings, o)
		case *corev1.Secret:
			r.Secrets = append(r.Secrets, o.Name)
		case *corev1.Namespace:
		default:
			r.Unrecognised = append(r.Unrecognised, gvk.String())
		}
	}
	if len(namespaces) != 1 {
		t.Errorf("objects are spread over namespaces %v", namespaces)
	}
	for ns := range namespaces {
		r.Namespace = ns
	}
	for _, d := range r.Deployments {
		for _, c := range allContainers(&d.Spec.Template.Spec) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					r.SecretRefs[e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key] = true
				}
			}
		}
	}
	return r
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// imageName is the last path element of an image reference: the service.
func imageName(ref string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	base := path.Base(ref)
	name, _, _ := strings.Cut(base, ":")
	return name
}

func containerFor(d *appsv1.Deployment, image string) *corev1.Container {
	for _, c := range allContainers(&d.Spec.Template.Spec) {
		if imageName(c.Image) == image {
			return c
		}
	}
	return nil
}

// portNumber resolves a probe or Service target port against a container.
func portNumber(c *corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

func probePort(c *corev1.Container, pr *corev1.Probe) (int, string) {
	switch {
	case pr.HTTPGet != nil:
		return portNumber(c, pr.HTTPGet.Port), pr.HTTPGet.Path
	case pr.TCPSocket != nil:
		return portNumber(c, pr.TCPSocket.Port), ""
	case pr.GRPC != nil:
		return int(pr.GRPC.Port), ""
	}
	return 0, ""
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(podLabels))
}

// secretLike are variables whose value must come from a Secret.
var secretLike = regexp.MustCompile(`^(DATABASE_URL|REDIS_URL)$|(TOKEN|KEY|PASSWORD|SECRET)$`)

func overlays(t *testing.T, m *mesh) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(m.Root, "deploy", "k8s", "overlays", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no overlays under deploy/k8s/overlays")
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// TestKubernetes builds every overlay with kustomize, decodes every object
// strictly with client-go's scheme, and checks each deployable: probes,
// resources, environment, Service, NetworkPolicy (callers derived from the
// source), PodDisruptionBudget, and an HPA for the hot paths.
func TestKubernetes(t *testing.T) {
	m := loadMesh(t)
	envoyImg := loadEnvoyImage(t)
	readme, err := os.ReadFile(filepath.Join(m.Root, "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range overlays(t, m) {
		overlay := filepath.Base(dir)
		t.Run(overlay, func(t *testing.T) {
			r := buildOverlay(t, dir)
			if len(r.Unrecognised) > 0 {
				t.Errorf("objects no test looks at: %v", r.Unrecognised)
			}
			if len(r.Secrets) > 0 {
				t.Errorf("Secrets %v are defined in the manifests; reference them, create them out of band", r.Secrets)
			}
			for ref := range r.SecretRefs {
				name, _, _ := strings.Cut(ref, "/")
				if !strings.Contains(string(readme), "`"+name+"`") {
					t.Errorf("deploy/README.md does not document the Secret %s (referenced as %s)", name, ref)
				}
			}
			checkDefaultDeny(t, r)
			for _, name := range m.Names() {
				t.Run(name, func(t *testing.T) { checkK8sService(t, m, r, m.Services[name], envoyImg, overlay) })
			}
			t.Run("bootstrap", func(t *testing.T) { checkK8sBootstrap(t, m, r, envoyImg, overlay) })
		})
	}
}

func checkDefaultDeny(t *testing.T, r *rendered) {
	t.Helper()
	var deny, dns bool
	for _, np := range r.Policies {
		if len(np.Spec.PodSelector.MatchLabels) > 0 || len(np.Spec.PodSelector.MatchExpressions) > 0 {
			continue
		}
		types := np.Spec.PolicyTypes
		if len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
			slices.Contains(types, networkingv1.PolicyTypeIngress) && slices.Contains(types, networkingv1.PolicyTypeEgress) {
			deny = true
		}
		for _, e := range np.Spec.Egress {
			for _, p := range e.Ports {
				if p.Port != nil && p.Port.IntValue() == 53 {
					dns = true
				}
			}
		}
		if len(np.Spec.Ingress) > 0 {
			t.Errorf("NetworkPolicy %s admits ingress to every pod", np.Name)
		}
	}
	if !deny {
		t.Error("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
	if !dns {
		t.Error("no NetworkPolicy lets pods resolve names (egress to port 53)")
	}
}

func checkK8sService(t *testing.T, m *mesh, r *rendered, s *service, envoyImg *envoyImage, overlay string) {
	d := r.Deployments[s.Name]
	if d == nil {
		t.Fatalf("no Deployment %s", s.Name)
	}
	podLabels := d.Spec.Template.Labels
	if !selects(d.Spec.Selector, podLabels) {
		t.Errorf("the Deployment's selector does not select its own pods")
	}
	c := containerFor(d, s.Name)
	if c == nil {
		t.Fatalf("Deployment %s has no container running the %s image", s.Name, s.Name)
	}
	pod := &d.Spec.Template.Spec

	// Probes on the admin port; readiness is /readyz for services others call.
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Errorf("container %s lacks a readiness or liveness probe", c.Name)
	} else {
		for what, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if port, _ := probePort(c, pr); port != s.AdminPort() {
				t.Errorf("%s probe on port %d, want the admin port %d (%s)", what, port, s.AdminPort(), s.AdminVar())
			}
		}
		if _, p := probePort(c, c.ReadinessProbe); s.ServePort() != 0 && p != "/readyz" {
			t.Errorf("readiness probe path %q, want /readyz (ready only when its dependencies are)", p)
		}
	}
	for _, cc := range allContainers(pod) {
		checkContainerBasics(t, pod, cc)
	}
	for _, e := range c.Env {
		if e.Name == "VAULT_ADDR" {
			checkVaultLogin(t, r, pod, c)
		}
	}

	// Environment: names the service reads, literals where they must be
	// literal, secrets from Secrets.
	var names []string
	literal := map[string]string{}
	set := map[string]bool{}
	for _, e := range c.Env {
		names = append(names, e.Name)
		set[e.Name] = true
		if e.ValueFrom == nil {
			literal[e.Name] = e.Value
		}
		if secretLike.MatchString(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom hides which variables a container gets; list them")
	}
	checkEnvNames(t, s, names)
	checkEnv(t, m, s, func(v string) (string, bool) {
		if l, ok := literal[v]; ok {
			return l, true
		}
		return "", set[v]
	}, envoyImg, func(dep string) string { return dep })
	checkMeshCertificate(t, r, pod, c, s.Name)

	// Ports it listens on are declared.
	declared := map[int]bool{}
	for _, cp := range c.Ports {
		declared[int(cp.ContainerPort)] = true
	}
	for _, v := range s.listenVars(m) {
		if literal[v] != "" && strings.HasPrefix(literal[v], "0.0.0.0:") && !declared[s.defaultPort(v)] {
			t.Errorf("listens on %d (%s) without declaring the container port", s.defaultPort(v), v)
		}
	}

	// A headless Service per service others call.
	if s.ServePort() != 0 {
		svc := r.Services[s.Name]
		switch {
		case svc == nil:
			t.Errorf("no Service %s (callers dial %s:%d)", s.Name, s.Name, s.ServePort())
		case !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels):
			t.Errorf("Service %s does not select the Deployment's pods", s.Name)
		case svc.Spec.ClusterIP != corev1.ClusterIPNone:
			t.Errorf("Service %s is not headless: gRPC clients and the gateway must see every pod", s.Name)
		default:
			found := false
			for _, p := range svc.Spec.Ports {
				if int(p.Port) == s.ServePort() && portNumber(c, p.TargetPort) == s.ServePort() {
					found = true
				}
			}
			if !found {
				t.Errorf("Service %s does not expose %d", s.Name, s.ServePort())
			}
		}
	}

	checkPolicies(t, m, r, s, podLabels)

	// Disruption budget and autoscaling.
	pdb := false
	for _, p := range r.PDBs {
		if selects(p.Spec.Selector, podLabels) && (p.Spec.MaxUnavailable != nil || p.Spec.MinAvailable != nil) {
			pdb = true
		}
	}
	if !pdb {
		t.Errorf("no PodDisruptionBudget selects its pods")
	}
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	for _, h := range r.HPAs {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name {
			hpa = h
		}
	}
	if slices.Contains(autoscaled, s.Name) && hpa == nil {
		t.Errorf("no HorizontalPodAutoscaler: %s is a hot path", s.Name)
	}
	if hpa != nil {
		if d.Spec.Replicas != nil {
			t.Errorf("sets replicas while an HPA owns the count (every apply would fight it)")
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
			t.Errorf("HPA %s: want 1 ≤ minReplicas < maxReplicas", hpa.Name)
		}
	}

	if overlay == "production" {
		for _, cc := range allContainers(pod) {
			if tag := cc.Image[strings.LastIndex(cc.Image, ":")+1:]; tag == "dev" || tag == "latest" || !strings.Contains(cc.Image, ":") {
				t.Errorf("production runs image %s: pin a release tag", cc.Image)
			}
		}
	}

	if s.Name == "gateway" {
		checkK8sGateway(t, m, r, d, c, envoyImg)
	}
}

func checkContainerBasics(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("container %s: want cpu and memory requests and a memory limit", c.Name)
	}
	sc := c.SecurityContext
	nonRoot := (pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot) ||
		(sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot)
	if !nonRoot || sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: want runAsNonRoot, readOnlyRootFilesystem and no privilege escalation", c.Name)
	}
}

// peerName describes who a NetworkPolicy peer admits: a pod of this
// namespace by name, a namespace, an address block, or anyone.
func peerName(p networkingv1.NetworkPolicyPeer) string {
	switch {
	case p.IPBlock != nil:
		return "ipBlock:" + p.IPBlock.CIDR
	case p.NamespaceSelector != nil:
		return "namespace:" + labels.Set(p.NamespaceSelector.MatchLabels).String()
	case p.PodSelector != nil:
		if n := p.PodSelector.MatchLabels["app.kubernetes.io/name"]; n != "" && len(p.PodSelector.MatchLabels) == 1 {
			return n
		}
		return "pods:" + labels.Set(p.PodSelector.MatchLabels).String()
	}
	return "anyone"
}

func rulePorts(ports []networkingv1.NetworkPolicyPort, port int) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Port == nil {
			return true
		}
		if p.Port.IntValue() == port {
			return true
		}
	}
	return false
}

// checkPolicies derives who may reach the service's serving port from the
// policies that select its pods and compares with its callers in the
// source; checks it may reach every dependency; and allows its admin port
// only to the monitoring namespace.
func checkPolicies(t *testing.T, m *mesh, r *rendered, s *service, podLabels map[string]string) {
	t.Helper()
	selected := false
	ingressFrom := func(port int) []string {
		var out []string
		for _, np := range r.Policies {
			if !selects(&np.Spec.PodSelector, podLabels) {
				continue
			}
			for _, rule := range np.Spec.Ingress {
				if !rulePorts(rule.Ports, port) {
					continue
				}
				if len(rule.From) == 0 {
					out = append(out, "anyone")
				}
				for _, p := range rule.From {
					out = append(out, peerName(p))
				}
			}
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	for _, np := range r.Policies {
		if selects(&np.Spec.PodSelector, podLabels) && len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
			selected = true
		}
	}
	if !selected {
		t.Errorf("no NetworkPolicy of its own selects its pods")
	}
	if port := s.ServePort(); port != 0 {
		if got, want := ingressFrom(port), m.Callers(s.Name); !slices.Equal(got, want) {
			t.Errorf("port %d admits %v; its callers (from the services' *_ADDR settings and the gateway's catalog) are %v", port, got, want)
		}
	}
	for _, from := range ingressFrom(s.AdminPort()) {
		if !strings.HasPrefix(from, "namespace:") {
			t.Errorf("admin port %d admits %s; metrics are for the monitoring namespace only", s.AdminPort(), from)
		}
	}
	for dep := range m.Deps(s) {
		port := m.Services[dep].ServePort()
		ok := false
		for _, np := range r.Policies {
			if !selects(&np.Spec.PodSelector, podLabels) {
				continue
			}
			for _, rule := range np.Spec.Egress {
				if !rulePorts(rule.Ports, port) {
					continue
				}
				for _, p := range rule.To {
					if peerName(p) == dep {
						ok = true
					}
				}
			}
		}
		if !ok {
			t.Errorf("no egress rule lets it reach %s:%d, which it calls", dep, port)
		}
	}
}

// checkK8sGateway checks the gateway pod: Envoy beside the control plane,
// the config map the control plane reads, the public Service, and that the
// Envoy listener is the one port open to anyone.
func checkK8sGateway(t *testing.T, m *mesh, r *rendered, d *appsv1.Deployment, cp *corev1.Container, envoyImg *envoyImage) {
	t.Helper()
	envoy := containerFor(d, "envoy")
	if envoy == nil {
		t.Fatal("the gateway pod has no Envoy container")
	}
	if envoy.ReadinessProbe == nil || envoy.LivenessProbe == nil {
		t.Errorf("the Envoy container lacks a readiness or liveness probe")
	}
	// The control plane hands Envoy its certificate's paths over SDS:
	// Envoy mounts the same volume at the same place.
	var meshDir string
	for _, e := range cp.Env {
		if e.Name == "TLS_CERT_FILE" {
			meshDir = filepath.Dir(e.Value)
		}
	}
	cpVolume := func(c *corev1.Container) string {
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == meshDir && vm.SubPath == "" {
				return vm.Name
			}
		}
		return ""
	}
	if v := cpVolume(cp); v == "" || cpVolume(envoy) != v {
		t.Errorf("Envoy does not mount the control plane's mesh certificate volume (%q) at %s", v, meshDir)
	}
	if slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == cp.Name }) {
		t.Logf("the control plane is an ordinary container; a native sidecar (init container, restartPolicy Always) would start before Envoy and stop after it")
	}
	var cfgPath string
	for _, e := range cp.Env {
		if e.Name == "GATEWAY_CONFIG" {
			cfgPath = e.Value
		}
	}
	var cmName string
	for _, vm := range cp.VolumeMounts {
		if vm.MountPath == filepath.Dir(cfgPath) && vm.SubPath == "" {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	cm := r.ConfigMaps[cmName]
	if cm == nil {
		t.Fatalf("GATEWAY_CONFIG %q is not a mounted ConfigMap (mount the directory, not a subPath, so edits reach the control plane)", cfgPath)
	}
	data, ok := cm.Data[filepath.Base(cfgPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cmName, filepath.Base(cfgPath))
	}
	cfg := parseGatewayConfig(t, "ConfigMap "+cmName, []byte(data))
	listener := 0
	for _, p := range envoy.Ports {
		if int(p.ContainerPort) == cfg.Listener.Port {
			listener = cfg.Listener.Port
		}
	}
	checkGatewayConfig(t, m, "ConfigMap "+cmName, cfg, listener, func(s string) string { return s })

	// The public Service targets Envoy's listener.
	public := false
	for _, svc := range r.Services {
		if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d.Spec.Template.Labels) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if portNumber(envoy, p.TargetPort) == cfg.Listener.Port {
				public = true
			}
		}
	}
	if !public {
		t.Errorf("no Service exposes Envoy's listener (%d)", cfg.Listener.Port)
	}
	// Only Envoy's listener is open to anyone, in the whole namespace.
	for _, np := range r.Policies {
		for _, rule := range np.Spec.Ingress {
			anyone := len(rule.From) == 0
			for _, p := range rule.From {
				if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
					anyone = true
				}
			}
			if !anyone {
				continue
			}
			if !selects(&np.Spec.PodSelector, d.Spec.Template.Labels) || len(rule.Ports) != 1 || rule.Ports[0].Port.IntValue() != cfg.Listener.Port {
				t.Errorf("NetworkPolicy %s opens %v to anyone; only the gateway's listener (%d) may be", np.Name, rule.Ports, cfg.Listener.Port)
			}
		}
	}
}

// TestKubernetesStrictDecoding makes sure the decoder the overlays are
// checked with does reject what it should.
func TestKubernetesStrictDecoding(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 1\n  replcas: 2\n")
	if _, _, err := strictDecoder.Decode(bad, nil, nil); err == nil {
		t.Fatal("a misspelt field decoded without error")
	}
	var _ runtime.Object = &appsv1.Deployment{}
}

// checkK8sBootstrap checks the Job that gives a Kubernetes deployment its
// first platform admin: the CLI's image running `bootstrap --output
// k8s-secret=NAME`, its settings, a service account whose Role allows
// exactly what the Job does with the Secret (and nothing else), a
// NetworkPolicy letting it reach the services it calls and the API server
// only, and the Secret documented for operators.
func checkK8sBootstrap(t *testing.T, m *mesh, r *rendered, envoyImg *envoyImage, overlay string) {
	bs := m.Bootstrap
	var job *batchv1.Job
	var c *corev1.Container
	for _, j := range r.Jobs {
		for _, cc := range allContainers(&j.Spec.Template.Spec) {
			if imageName(cc.Image) == cliModule {
				job, c = j, cc
			}
		}
	}
	if job == nil {
		t.Fatalf("no Job runs the %s image: a Kubernetes deployment would have no way to its first admin", cliModule)
	}
	pod := &job.Spec.Template.Spec
	checkMeshCertificate(t, r, pod, c, bs.Name)
	podLabels := job.Spec.Template.Labels
	if podLabels["app.kubernetes.io/name"] != bs.Name {
		t.Errorf("the Job's pods are labelled app.kubernetes.io/name=%q, want %q (the services' policies admit it by that name)", podLabels["app.kubernetes.io/name"], bs.Name)
	}
	secretName := checkBootstrapArgs(t, append(append([]string{}, c.Command...), c.Args...), "k8s-secret")

	// A Job that runs once and can run again.
	if p := pod.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q", p)
	}
	if job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("want a backoffLimit and an activeDeadlineSeconds: retries, but not forever")
	}
	if job.Spec.TTLSecondsAfterFinished == nil {
		t.Errorf("no ttlSecondsAfterFinished: a finished Job is immutable, so the next apply with a new image would fail")
	}
	for _, cc := range allContainers(pod) {
		checkContainerBasics(t, pod, cc)
	}
	if overlay == "production" {
		if tag := c.Image[strings.LastIndex(c.Image, ":")+1:]; tag == "dev" || tag == "latest" || !strings.Contains(c.Image, ":") {
			t.Errorf("production runs image %s: pin a release tag", c.Image)
		}
	}

	// Settings: what the bootstrap reads, each service by name and port,
	// and the URL tokens name (the token service's ISSUER, from the same
	// ConfigMap key).
	var names []string
	literal := map[string]string{}
	set := map[string]bool{}
	for _, e := range c.Env {
		names = append(names, e.Name)
		set[e.Name] = true
		if e.ValueFrom == nil {
			literal[e.Name] = e.Value
		}
		if secretLike.MatchString(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", e.Name)
		}
	}
	checkEnvNames(t, bs, names)
	checkEnv(t, m, bs, func(v string) (string, bool) {
		if l, ok := literal[v]; ok {
			return l, true
		}
		return "", set[v]
	}, envoyImg, func(dep string) string { return dep })
	envSource := func(c *corev1.Container, name string) string {
		for _, e := range c.Env {
			if e.Name == name && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				return e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
			}
		}
		return ""
	}
	if tok := r.Deployments["token"]; tok != nil {
		if want, got := envSource(containerFor(tok, "token"), "ISSUER"), envSource(c, "AGENTIDP_URL"); got == "" || got != want {
			t.Errorf("AGENTIDP_URL comes from %q, the token service's ISSUER from %q", got, want)
		}
	}

	// The API: its own service account, with a token (the only pod that
	// has one), bound to a Role that allows exactly the Secret's get,
	// update and create.
	sa := pod.ServiceAccountName
	if sa == "" || r.Accounts[sa] == nil {
		t.Fatalf("serviceAccountName %q is not a ServiceAccount of the manifests", sa)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken is not true: the bootstrap needs its token to write the Secret")
	}
	for name, d := range r.Deployments {
		if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("Deployment %s mounts a service account token; only the bootstrap talks to the API", name)
		}
	}
	granted := map[string]bool{}
	for _, b := range r.Bindings {
		bound := false
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == r.Namespace {
				bound = true
			}
		}
		if !bound {
			continue
		}
		role := r.Roles[b.RoleRef.Name]
		if b.RoleRef.Kind != "Role" || role == nil {
			t.Errorf("RoleBinding %s binds %s %s, not a Role of the manifests", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		for _, rule := range role.Rules {
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, v := range rule.Verbs {
						names := rule.ResourceNames
						if len(names) == 0 {
							names = []string{"*"}
						}
						for _, n := range names {
							granted[g+"/"+res+"/"+n+":"+v] = true
						}
					}
				}
			}
			if len(rule.NonResourceURLs) > 0 {
				t.Errorf("Role %s grants non-resource URLs %v", role.Name, rule.NonResourceURLs)
			}
		}
	}
	want := map[string]bool{
		"/secrets/" + secretName + ":get": true, "/secrets/" + secretName + ":update": true,
		// RBAC cannot limit create to a name: the name is not part of the
		// request it authorises.
		"/secrets/*:create": true,
	}
	for g := range granted {
		if !want[g] {
			t.Errorf("the bootstrap's service account may %s; it needs only get and update of the Secret %s, and create", g, secretName)
		}
	}
	for g := range want {
		if !granted[g] {
			t.Errorf("the bootstrap's service account may not %s", g)
		}
	}

	// The network: nothing in, out only to the services it calls and to
	// the API server.
	selected := false
	for _, np := range r.Policies {
		if !selects(&np.Spec.PodSelector, podLabels) {
			continue
		}
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
			selected = true
		}
		if len(np.Spec.Ingress) > 0 {
			t.Errorf("NetworkPolicy %s admits ingress to the bootstrap, which serves nothing", np.Name)
		}
	}
	if !selected {
		t.Errorf("no NetworkPolicy of its own selects the bootstrap's pods")
	}
	egressTo := func(peer string, port int) bool {
		for _, np := range r.Policies {
			if !selects(&np.Spec.PodSelector, podLabels) {
				continue
			}
			for _, rule := range np.Spec.Egress {
				if !rulePorts(rule.Ports, port) {
					continue
				}
				for _, p := range rule.To {
					if peerName(p) == peer || (strings.HasPrefix(peer, "ipBlock:") && strings.HasPrefix(peerName(p), "ipBlock:")) {
						return true
					}
				}
			}
		}
		return false
	}
	for dep := range m.Deps(bs) {
		if !egressTo(dep, m.Services[dep].ServePort()) {
			t.Errorf("no egress rule lets it reach %s:%d, which it calls", dep, m.Services[dep].ServePort())
		}
	}
	if !egressTo("ipBlock:", 443) {
		t.Errorf("no egress rule lets it reach the Kubernetes API (443)")
	}

	// Operators find the Secret in the docs.
	docs, err := os.ReadFile(filepath.Join(m.Root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docs), "`"+secretName+"`") {
		t.Errorf("docs/deploy.md does not name the Secret %s the bootstrap Job writes", secretName)
	}
}

// checkVaultLogin: a service that uses Vault logs in with the Kubernetes
// auth method (libs/vaultclient), as its own ServiceAccount, with a
// projected token whose only audience is Vault mounted where
// VAULT_K8S_JWT_PATH points, and holds no static VAULT_TOKEN (production
// refuses a root token, and a static token in a Secret outlives its pod).
func checkVaultLogin(t *testing.T, r *rendered, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.Name == "VAULT_TOKEN" || e.Name == "VAULT_ALLOW_ROOT_TOKEN" {
			t.Errorf("sets %s: log in with the Kubernetes auth method instead", e.Name)
		}
	}
	if env["VAULT_AUTH_METHOD"] != "kubernetes" || env["VAULT_K8S_ROLE"] == "" || env["VAULT_K8S_JWT_PATH"] == "" {
		t.Errorf("VAULT_AUTH_METHOD=%q VAULT_K8S_ROLE=%q VAULT_K8S_JWT_PATH=%q: want the kubernetes method with a role and a JWT path",
			env["VAULT_AUTH_METHOD"], env["VAULT_K8S_ROLE"], env["VAULT_K8S_JWT_PATH"])
		return
	}
	if sa := pod.ServiceAccountName; sa == "" || sa == "default" || r.Accounts[sa] == nil {
		t.Errorf("serviceAccountName %q: want a ServiceAccount of its own in the manifests (Vault's role binds it)", sa)
	}
	found := false
	for _, m := range c.VolumeMounts {
		if filepath.Dir(env["VAULT_K8S_JWT_PATH"]) != m.MountPath {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if sat := src.ServiceAccountToken; sat != nil && sat.Audience == "vault" &&
					filepath.Join(m.MountPath, sat.Path) == env["VAULT_K8S_JWT_PATH"] {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("VAULT_K8S_JWT_PATH %s is not a projected service account token with audience vault", env["VAULT_K8S_JWT_PATH"])
	}
}
