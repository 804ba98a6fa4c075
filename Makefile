# Weir's build and test entry points. `make test` is everything the project
# checks (CI runs it); `make unit` is the fast part.
GO ?= go
PKGS := ./...

# IMAGE is what `make image` builds and `make push` pushes: your registry.
IMAGE ?= weir:dev

.PHONY: all build image push unit test lint vet fmt-check e2e gateway-conformance bench sidebyside run demo clean

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$$(git describe --tags --always --dirty 2>/dev/null) -X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o bin/weir ./cmd/weir

## image: the container image (deploy/Dockerfile) with the version and commit of this checkout, tagged $(IMAGE)
image:
	docker build -f deploy/Dockerfile -t $(IMAGE) --build-arg VERSION=$$(git describe --tags --always --dirty 2>/dev/null || echo dev) --build-arg COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

## push: push $(IMAGE) (then point deploy/base or the chart at it: README "Install in a cluster")
push:
	docker push $(IMAGE)

## lint: gofmt and go vet over both modules
lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	@if [ -f conformance/go.mod ]; then cd conformance && $(GO) vet ./...; fi
	cd deploy/helm/test && $(GO) vet ./...

## unit: lint plus every unit, golden and fuzz-seed test of the main module, with -race
unit: lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	cd deploy/helm/test && $(GO) test -count=1 ./...   # renders deploy/helm/weir and builds the Kustomize base against golden files (its own module: Helm and kustomize stay out of Weir's)

## e2e: the local cluster and the end-to-end suite (needs root; builds Kubernetes once)
e2e:
	@if [ -f conformance/Makefile ]; then $(MAKE) -C conformance test; else echo "no conformance suite yet"; fi

## gateway-conformance: the upstream Gateway API conformance suite against Weir on the local cluster (root); report in conformance/reports/
gateway-conformance:
	$(MAKE) -C conformance gateway-conformance

## test: everything CI checks
test: unit e2e

## bench: go benchmarks of the data plane and the controller
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./proxy/... ./controller/...

## sidebyside: issue 13's scenarios, Weir against nginx, HAProxy and Caddy on this machine (ratios; see conformance/bench/sidebyside.sh)
sidebyside:
	conformance/bench/sidebyside.sh

## run: Weir offline on deploy/examples/demo.yaml in front of two local backends (http://127.0.0.1:8080)
run:
	deploy/examples/run-offline.sh

## demo: Weir in a local cluster (root) with the canary example of deploy/examples/demo-cluster.yaml; Ctrl-C ends it
demo:
	$(MAKE) -C conformance demo

clean:
	rm -rf bin
