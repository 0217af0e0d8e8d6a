# stx-build — see README.md. Every target installs what it needs.
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/stx-build
EXAMPLE ?= examples
OUT     ?= out

.PHONY: all deps build buildkit demo demo-run test test-short e2e e2e-starlingx e2e-real bench fuzz lint golden clean

all: build

deps:
	@scripts/install-deps.sh

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stx-build

# buildkitd and buildctl from the BuildKit module go.mod pins, into bin/
# (for the BuildKit worker tests and docs/workers.md).
buildkit:
	@scripts/build-buildkit.sh bin

# The whole pipeline that exists so far, on the bundled example: the graph,
# then every package built for amd64 and arm64 into out/<arch>/repo.
# With examples/stx.lock: from the locked packages (fetched into the
# package store first); when the archive has dropped a locked version, from
# a copy without the lock, saying so (scripts/demo-project.sh).
demo: deps build buildkit
	@mkdir -p $(OUT)
	@$(MAKE) --no-print-directory demo-run EXAMPLE="$$(scripts/demo-project.sh $(BIN) $(EXAMPLE) $(OUT))"

demo-run:
	$(BIN) -v graph -C $(EXAMPLE)
	$(BIN) graph -C $(EXAMPLE) --arch amd64 --format json > $(OUT)/graph-amd64.json
	$(BIN) graph -C $(EXAMPLE) --arch arm64 --format dot > $(OUT)/graph-arm64.dot
	$(BIN) graph -C $(EXAMPLE) --why stx-tools libstx --arch amd64
	$(BIN) build -C $(EXAMPLE) -o $(CURDIR)/$(OUT)
	@echo "demo: packages in $(OUT)/amd64/repo and $(OUT)/arm64/repo, logs in $(OUT)/<arch>/logs"
	@ls $(OUT)/amd64/debs $(OUT)/arm64/debs
	$(BIN) image -C $(EXAMPLE) -o $(CURDIR)/$(OUT) --no-build
	$(BIN) iso -C $(EXAMPLE) --out $(CURDIR)/$(OUT) --no-build
	$(BIN) iso inspect $(OUT)/iso/example-amd64.iso | head -n 16
	$(BIN) boot $(OUT)/iso/example-amd64.iso --firmware bios --expect "STX-BOOT-MARKER: stx-build example booted" -q --log $(OUT)/iso/boot-amd64-bios.log
	$(BIN) boot $(OUT)/iso/example-amd64.iso --firmware uefi --expect "STX-BOOT-MARKER: stx-build example booted" -q --log $(OUT)/iso/boot-amd64-uefi.log
	$(BIN) boot $(OUT)/iso/example-arm64.iso --firmware uefi --expect "STX-BOOT-MARKER: stx-build example booted" -q --log $(OUT)/iso/boot-arm64-uefi.log
	@cd $(OUT)/iso && sha256sum -c SHA256SUMS
	scripts/demo-buildkit.sh $(BIN) $(EXAMPLE) $(OUT)

# Unit and integration tests. Integration tests reach the host's configured
# Debian mirror through apt, make a base root with mmdebstrap and build the
# example packages for amd64 and arm64 (needs root). STX_TEST_CACHE reuses a
# cache directory between runs.
# The package-build tests run as two shards beside the other packages
# (scripts/test.sh).
test: deps buildkit
	GO=$(GO) OUT=$(OUT) scripts/test.sh

# Unit tests only: fast, no network.
test-short:
	$(GO) test -short ./...

# Slow end-to-end checks beyond make test: the ISO test also builds the arm64
# ISO from a second checkout and compares it (docs/iso.md). STX_BOOT_LOGS=DIR
# keeps the boot consoles. The kernel tests build
# examples/kernel for amd64 twice and arm64 once, then boot its ISO with that
# kernel in qemu, and build it for amd64 on this machine and on a buildkitd,
# compared bit for bit (docs/kernel.md).
e2e: deps buildkit
	STX_ISO_E2E=1 $(GO) test -count=1 -timeout 90m -run TestExampleISO -v ./builders/iso/
	STX_E2E=1 STX_REQUIRE_BUILDKIT=1 $(GO) test -count=1 -timeout 150m -run 'TestKernelE2E|TestKernelBuildKitE2E' -v ./buildrun/

# Real StarlingX packages (fault, update, utilities) built for amd64 on trixie
# from two checkouts, compared bit for bit (scripts/e2e-starlingx.sh;
# docs/starlingx.md). Needs the network (git, a Debian mirror) and root.
e2e-starlingx: build
	scripts/e2e-starlingx.sh

# 12 real Debian bookworm sources with build-dependency edges between them,
# built for amd64 and arm64 (cross; emulated where cross build-deps cannot
# be installed) from two checkouts with separate caches; fails unless every
# build succeeds and >= 95% of the .debs are bit-identical
# (scripts/e2e-real.sh; docs/real-debian.md). Needs the network and root;
# results in /var/tmp/stx-e2e-real.
e2e-real: deps build
	scripts/e2e-real.sh

bench: deps
	@mkdir -p $(OUT)
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./graph/ | tee $(OUT)/bench-graph.txt
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./cache/buildkey/ | tee $(OUT)/bench-cache.txt
	scripts/bench-sched.sh | tee $(OUT)/bench-sched.txt
	scripts/bench-workers.sh 3 | tee $(OUT)/bench-workers.txt
	scripts/bench-roots.sh 3 | tee $(OUT)/bench-roots.txt
	scripts/bench-build.sh 3 | tee $(OUT)/bench-build.txt
	scripts/bench-setup.sh 5 | tee $(OUT)/bench-setup.txt
	scripts/bench-plan.sh 1 | tee $(OUT)/bench-plan.txt
	scripts/bench-lock.sh 3 | tee $(OUT)/bench-lock.txt
	scripts/bench-deb.sh 3 | tee $(OUT)/bench-deb.txt

# Every fuzz target of the parsers (go test -fuzz takes one target per run),
# FUZZTIME each. A crasher is written under the package's testdata/fuzz/ and
# from then on runs with the ordinary tests: keep it, and fix the bug.
FUZZTIME ?= 30s
# Minimizing a new input may otherwise take a minute of a short run.
FUZZMINIMIZE ?= 5s
FUZZPKGS ?= ./deb822 ./debsrc ./dpkgstatus ./graph ./manifests ./manifests/starlingx ./store
fuzz:
	@set -e; for pkg in $(FUZZPKGS); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
		done; \
	done

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$fmt" ]]; then echo "gofmt: $$fmt"; exit 1; fi
	$(GO) vet ./...

# Regenerate every golden file after an intended output change; review the
# diff. Every test that writes one has Golden in its name, except
# TestExampleISO (builders/iso/testdata/golden.json). The image digest and
# the ISOs are built for real: root and the network, as for make test.
golden:
	$(GO) test -count=1 -run Golden ./graph/ ./cmd/... ./repo/ ./aptenv/ ./report/ ./store/ ./manifests/starlingx/ -update
	$(GO) test -count=1 -run Golden -timeout 30m ./builders/image/ -update
	$(GO) test -count=1 -run TestExampleISO -timeout 60m ./builders/iso/ -update

clean:
	rm -rf bin $(OUT)
