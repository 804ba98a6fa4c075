package gatewayconf

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	"weir.dev/weir/conformance/localcluster"
	"weir.dev/weir/conformance/weirdeploy"
)

// Environment of the run:
//   - WEIR_GATEWAY_CONFORMANCE=1 runs it (make gateway-conformance sets it);
//     without it the test skips, so `go test ./...` stays fast.
//   - WEIR_GATEWAY_REQUIRE=1 turns "Weir has no Gateway side yet" (no flag,
//     Pods not Ready, class not accepted) from a skip into a failure.
//   - WEIR_GATEWAY_RUN_TEST=<ShortName> runs one test (no report written);
//     WEIR_GATEWAY_SKIP_TESTS=a,b skips tests while iterating.
//   - WEIR_GATEWAY_ACCEPT_TIMEOUT (default 3m) bounds the wait for the class.
//   - WEIR_GATEWAY_FLAGS replaces the flags read from weir --help.
//   - WEIR_REPO=<checkout> builds Weir from, and deploys it from the deploy/
//     of, another checkout (a branch in progress); default this repository.
//   - WEIR_GATEWAY_REPORT=<file> writes the report there instead of
//     reports/ (for runs that are not of this repository's Weir).

// reportFile is the report of the last full run, one per Gateway API version.
const reportFile = "gateway-api-v1.6.3-report.yaml"

func TestGatewayConformance(t *testing.T) {
	if os.Getenv("WEIR_GATEWAY_CONFORMANCE") == "" {
		t.Skip("the Gateway API conformance run is opt-in: make gateway-conformance (or WEIR_GATEWAY_CONFORMANCE=1)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root (network and mount namespaces)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	root, err := weirdeploy.RepoRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := os.Getenv("WEIR_REPO"); r != "" {
		root = r
	}
	bin := filepath.Join(t.TempDir(), "weir")
	if err := weirdeploy.BuildWeir(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	flags, err := GatewayFlags(ctx, bin)
	if err != nil {
		notReady(t, "%v", err)
	}
	bins, err := localcluster.BuildBinaries(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	// The base manifests run one CoreDNS Pod that only UDPRoute tests (not in
	// the profiles run here) use; echo-basic stands in so it is Ready.
	c := localcluster.Start(t, localcluster.Options{Name: localcluster.CheckoutName("gwconf"), WeirBinary: bin, Binaries: &bins,
		Images: []localcluster.ImageRule{{Contains: "coredns", Binary: bins.EchoBasic}}})
	if err := InstallCRDs(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := weirdeploy.Deploy(ctx, c, root, weirdeploy.Options{ExtraArgs: append(flags, "--shutdown-delay=0s")}); err != nil {
		notReady(t, "Weir with %v did not become Ready: %v\n%s", flags, err, WeirLogTail(ctx, c, weirdeploy.Namespace, weirdeploy.Selector, 20))
	}
	if err := ApplyDeployGatewayAPI(ctx, c, root, weirdeploy.Namespace); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyYAML(ctx, GatewayClassYAML(), ""); err != nil {
		t.Fatal(err)
	}
	cl := suiteClient(t, c)
	feats, err := WaitAccepted(ctx, cl, ClassName, acceptTimeout())
	if err != nil {
		notReady(t, "%v\n%s", err, WeirLogTail(ctx, c, weirdeploy.Namespace, weirdeploy.Selector, 20))
	}
	t.Logf("Weir accepted GatewayClass %s and claims %d features: %v", ClassName, len(feats), feats)
	conformance.RunConformanceWithOptions(t, options(ctx, t, c, cl, root))
}

// notReady skips (or, with WEIR_GATEWAY_REQUIRE, fails) when Weir's Gateway
// side is missing or does not come up: the suite cannot start.
func notReady(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("WEIR_GATEWAY_REQUIRE") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf("Weir's Gateway API side is not ready, the suite did not run: "+format, args...)
}

func acceptTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("WEIR_GATEWAY_ACCEPT_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 3 * time.Minute
}

// suiteClient is the controller-runtime client the suite needs, with every
// Gateway API scheme it reads.
func suiteClient(t *testing.T, c *localcluster.Cluster) client.Client {
	t.Helper()
	crlog.SetLogger(zap.New(zap.WriteTo(os.Stdout), zap.UseDevMode(true)))
	cl, err := client.New(c.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{v1alpha3.Install, v1alpha2.Install, xv1alpha1.Install, gatewayv1.Install, apiextensionsv1.AddToScheme} {
		if err := install(cl.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

// options are the suite's settings: Weir's class, both profiles, features
// inferred from the class's status, the pool's addresses for the static
// address test, and the report.
func options(ctx context.Context, t *testing.T, c *localcluster.Cluster, cl client.Client, root string) suite.ConformanceOptions {
	t.Helper()
	static := c.StaticLoadBalancerAddresses()
	ipType := gatewayv1.IPAddressType
	opts := suite.ConformanceOptions{
		Client: cl, Clientset: c.Client, RestConfig: c.Config,
		ManifestFS: []fs.FS{&conformance.Manifests},
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     ClassName,
			CleanupBaseResources: false, // the cluster goes away after the run
			CleanupTestResources: true,
			TimeoutConfig:        config.DefaultTimeoutConfig(),
			ConformanceProfiles: []suite.ConformanceProfileName{
				suite.GatewayHTTPConformanceProfileName, suite.GatewayGRPCConformanceProfileName,
			},
			UsableNetworkAddresses:   []gatewayv1.GatewaySpecAddress{{Type: &ipType, Value: static[0].String()}},
			UnusableNetworkAddresses: []gatewayv1.GatewaySpecAddress{{Type: &ipType, Value: localcluster.UnusableLoadBalancerAddress.String()}},
			RunTest:                  os.Getenv("WEIR_GATEWAY_RUN_TEST"),
			Implementation: confv1.Implementation{
				Organization: "weir.dev",
				Project:      "weir",
				URL:          "https://github.com/weir-dev/weir",
				Version:      Version(ctx, root),
				Contact:      []string{"@weir-dev/maintainers"},
			},
		},
	}
	if v := os.Getenv("WEIR_GATEWAY_SKIP_TESTS"); v != "" {
		opts.SkipTests = strings.Split(v, ",")
	}
	if opts.RunTest == "" { // only a full run replaces the report in the repository
		dir, err := localcluster.ModuleDir(ctx)
		if err != nil {
			t.Fatal(err)
		}
		opts.ReportOutputPath = filepath.Join(dir, "reports", reportFile)
	}
	if v := os.Getenv("WEIR_GATEWAY_REPORT"); v != "" {
		opts.ReportOutputPath = v
	}
	if opts.ReportOutputPath != "" {
		if err := os.MkdirAll(filepath.Dir(opts.ReportOutputPath), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return opts
}
