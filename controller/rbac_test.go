package controller

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"weir.dev/weir/controller/translate"
)

// builtBase is what `kustomize build deploy/base` applies (kept equal to it
// by deploy/helm/test).
const builtBase = "../deploy/helm/test/testdata/base.golden.yaml"

// rbacRule is one rule of a ClusterRole (namespace "") or of a Role.
type rbacRule struct {
	role      string // the ClusterRole's or Role's name
	namespace string
	rule      rbacv1.PolicyRule
}

// readRBAC returns the rules of every ClusterRole and Role in a built
// manifest.
func readRBAC(t *testing.T, path string) []rbacRule {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []rbacRule
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var r struct {
			Kind     string
			Metadata metav1.ObjectMeta
			Rules    []rbacv1.PolicyRule
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &r))
		if r.Kind == "ClusterRole" || r.Kind == "Role" {
			require.True(t, r.Kind == "ClusterRole" || r.Metadata.Namespace != "", "a Role without a namespace")
			for _, rule := range r.Rules {
				out = append(out, rbacRule{role: r.Metadata.Name, namespace: r.Metadata.Namespace, rule: rule})
			}
		}
	}
	require.NotEmpty(t, out, path)
	return out
}

// request is what the API server's RBAC authorizer looks at.
type request struct {
	verb, group, resource, namespace, name string
}

func (r request) String() string {
	return fmt.Sprintf("%s %s/%s ns=%q name=%q", r.verb, r.group, r.resource, r.namespace, r.name)
}

func requestOf(a k8stesting.Action) request {
	r := request{verb: a.GetVerb(), group: a.GetResource().Group, resource: a.GetResource().Resource, namespace: a.GetNamespace()}
	if sub := a.GetSubresource(); sub != "" {
		r.resource += "/" + sub
	}
	switch a := a.(type) {
	case k8stesting.ListAction:
		r.name = selectedName(a.GetListRestrictions().Fields)
	case k8stesting.WatchAction:
		r.name = selectedName(a.GetWatchRestrictions().Fields)
	case k8stesting.GetAction:
		r.name = a.GetName()
	case k8stesting.DeleteAction:
		r.name = a.GetName()
	case k8stesting.PatchAction:
		r.name = a.GetName()
	case k8stesting.UpdateAction:
		if m, err := metaOf(a.GetObject()); err == nil {
			r.name = m.GetName()
		}
	}
	return r
}

// selectedName is the name a list or watch selects with metadata.name, which
// RBAC checks against resourceNames as it does a get's.
func selectedName(f fields.Selector) string {
	if f == nil {
		return ""
	}
	name, _ := f.RequiresExactMatch("metadata.name")
	return name
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

// grants is the index of the rule that allows r, or -1, as the RBAC
// authorizer decides (resourceNames never allow create, nor a list or watch
// that does not select one name).
func grants(rules []rbacRule, r request) int {
	for i, g := range rules {
		rule := g.rule
		if g.namespace != "" && g.namespace != r.namespace {
			continue
		}
		if !slices.Contains(rule.APIGroups, r.group) || !slices.Contains(rule.Resources, r.resource) || !slices.Contains(rule.Verbs, r.verb) {
			continue
		}
		if len(rule.ResourceNames) > 0 && (r.name == "" || !slices.Contains(rule.ResourceNames, r.name)) {
			continue
		}
		return i
	}
	return -1
}

// authorizer answers the fake clientset's requests as RBAC with rules
// would, and records what was denied and which (rule, group, resource,
// verb) were used.
type authorizer struct {
	rules  []rbacRule
	mu     sync.Mutex
	denied []string
	used   map[string]bool
}

func grantKey(i int, group, resource, verb string) string {
	return fmt.Sprintf("rule %d: %s %s/%s", i, verb, group, resource)
}

func (z *authorizer) allow(a k8stesting.Action) error {
	r := requestOf(a)
	z.mu.Lock()
	defer z.mu.Unlock()
	i := grants(z.rules, r)
	if i < 0 {
		z.denied = append(z.denied, r.String())
		return apierrors.NewForbidden(schema.GroupResource{Group: r.group, Resource: r.resource}, r.name, fmt.Errorf("RBAC: %s", r))
	}
	z.used[grantKey(i, r.group, r.resource, r.verb)] = true
	return nil
}

// reactors is the fake clientsets' (client-go's and the Gateway API's).
type reactors interface {
	PrependReactor(verb, resource string, f k8stesting.ReactionFunc)
	PrependWatchReactor(resource string, f k8stesting.WatchReactionFunc)
}

func (z *authorizer) install(client reactors) {
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if err := z.allow(a); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if err := z.allow(a); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
}

// unused lists every (rule, group, resource, verb) the rules grant that no
// request used; with roles, only those of the named roles.
func (z *authorizer) unused(roles ...string) []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	for i, g := range z.rules {
		if len(roles) > 0 && !slices.Contains(roles, g.role) {
			continue
		}
		for _, group := range g.rule.APIGroups {
			for _, res := range g.rule.Resources {
				for _, verb := range g.rule.Verbs {
					if k := grantKey(i, group, res, verb); !z.used[k] {
						out = append(out, k)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestBaseRBACIsExactlyWhatWeirUses runs the controller as deploy/base runs
// it (Ingress only, status through the Lease, Events, auth-secret, its
// global ConfigMap) against
// the RBAC rules of the built base: no request may be denied, and every
// grant must be used by some request.
func TestBaseRBACIsExactlyWhatWeirUses(t *testing.T) {
	ctx := context.Background()
	const ns = "weir-system" // deploy/base's namespace
	front := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: ns},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}}}}}
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: "default"}, Data: map[string][]byte{"auth": []byte("u:$apr1$x$y")}}
	auth := map[string]string{"nginx.ingress.kubernetes.io/auth-type": "basic", "nginx.ingress.kubernetes.io/auth-secret": "users"}
	client := fake.NewClientset(class(), service("web"), front, users, ingress("ok", "ok.test", "web", auth),
		ingress("bad", "bad.test", "nope", nil))
	z := &authorizer{rules: readRBAC(t, builtBase), used: map[string]bool{}}
	z.install(client)

	c, err := New(client, Options{HoldOff: 10 * time.Millisecond, Events: true, ConfigMap: ns + "/weir", Status: &StatusOptions{
		PublishService: ns + "/weir", ElectionID: "weir-leader", ElectionNamespace: ns, Identity: "weir-0"}}, &recorder{}, nil, nil)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	// The test reads and writes through the tracker, past the authorizer.
	tr := client.Tracker()
	require.Eventually(t, func() bool {
		o, err := tr.Get(networkingv1.SchemeGroupVersion.WithResource("ingresses"), "default", "ok")
		return err == nil && len(o.(*networkingv1.Ingress).Status.LoadBalancer.Ingress) == 1
	}, 30*time.Second, 20*time.Millisecond, "the leader writes status")
	eventCount := func() int32 {
		o, err := tr.List(corev1.SchemeGroupVersion.WithResource("events"), corev1.SchemeGroupVersion.WithKind("Event"), "default")
		require.NoError(t, err)
		for _, e := range o.(*corev1.EventList).Items {
			if e.InvolvedObject.Name == "bad" && e.Reason == translate.ReasonServiceNotFound {
				return e.Count
			}
		}
		return 0
	}
	require.Eventually(t, func() bool { return eventCount() == 1 }, 30*time.Second, 20*time.Millisecond, "the problem's Event")
	// The problem goes and comes back: its Event's count is patched.
	services := corev1.SchemeGroupVersion.WithResource("services")
	require.NoError(t, tr.Create(services, service("nope"), "default"))
	require.Eventually(t, func() bool {
		return !strings.Contains(translate.FormatProblems(c.Last().Problems), translate.ReasonServiceNotFound)
	},
		30*time.Second, 20*time.Millisecond)
	require.NoError(t, tr.Delete(services, "default", "nope"))
	require.Eventually(t, func() bool { return eventCount() == 2 }, 30*time.Second, 20*time.Millisecond, "the repeated Event")
	// The leader renews the Lease (get, update) every 2 s.
	if !assert.Eventually(t, func() bool { return len(z.unused()) == 0 }, 30*time.Second, 50*time.Millisecond) {
		t.Errorf("deploy/base grants what Weir never uses: %v", z.unused())
	}

	z.mu.Lock()
	defer z.mu.Unlock()
	assert.Empty(t, z.denied, "deploy/base's RBAC denies requests Weir makes")
}
