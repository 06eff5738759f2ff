# Everyday commands. `make demo` and `make test` are the two set-up commands the README promises:
# each installs what it needs on a fresh Debian machine (as root) before it runs.
.PHONY: demo test test-slow test-cluster cluster image lint format bench build deps-demo deps-test deps-build clean

DEMO_PACKAGES := rsync
TEST_PACKAGES := rsync tinyproxy stunnel4 iproute2 util-linux procps chromium python3 openssl
# What node-gyp needs for the native TLS relay (native/relay/).
BUILD_PACKAGES := g++ make python3
RELAY_ADDON := native/relay/build/Release/dvm_relay.node
NODE_DEPS := node_modules/.package-lock.json
# What the formatter (prettier, .prettierrc.json) keeps in shape.
FORMATTED := '**/*.{ts,mjs,js}'

demo: deps-demo build
	node dist/controller/cli/dvm.js demo

CLUSTER_DIR ?= /var/lib/dvm-test-cluster
CONTAINERD_SOCK := $(CLUSTER_DIR)/containerd/containerd.sock

# Everything: type checks, the unit/local/fault suite, then the end-to-end suite on the real
# single-node cluster (brought up by test/cluster/up.sh, left running; test/cluster/down.sh stops it)
# with the agent image built here and imported into it.
test: deps-test build lint cluster image
	npx tsc -p tsconfig.test.json
	npx tap
	$(MAKE) --no-print-directory test-cluster

# The real-cluster tests alone, one file at a time (they share one node's CPUs).
test-cluster:
	npx tap --jobs=1 --include 'test/cluster-e2e/**/*.test.ts' --include test/cluster-smoke.test.ts --exclude 'test/support/**'

# The linter, then the formatter's check (`make format` rewrites): both are part of make test.
lint: $(NODE_DEPS)
	npx eslint .
	npx prettier --check --log-level warn $(FORMATTED)

format: $(NODE_DEPS)
	npx prettier --write --log-level warn $(FORMATTED)

cluster:
	test/cluster/up.sh >/dev/null

# The agent image (transfer pods) and the controller image (deploy/controller/), both imported.
image: build
	images/build.sh --import --address $(CONTAINERD_SOCK)
	images/build.sh --controller --import --address $(CONTAINERD_SOCK)

# The long fault scenarios (30 s link outages and the like) on their own.
test-slow: deps-test build
	DVM_SLOW=1 npx tap test/faults

bench: deps-test build
	node dist/bench/copy-bench.js

# The TypeScript projects and the native relay (agent/tunnel/native-relay.ts loads it; without it
# the agents relay in JavaScript and say so), then the agent in one file (agent/bundle.sh says why).
build: $(NODE_DEPS) $(RELAY_ADDON)
	npx tsc -b
	agent/bundle.sh

$(RELAY_ADDON): native/relay/binding.gyp native/relay/build.sh $(wildcard native/relay/*.c native/relay/*.h) | deps-build
	native/relay/build.sh

$(NODE_DEPS): package-lock.json
	npm ci --no-audit --no-fund

deps-demo:
	@tools/apt-install.sh $(DEMO_PACKAGES)

deps-test:
	@tools/apt-install.sh $(TEST_PACKAGES)

deps-build:
	@tools/apt-install.sh $(BUILD_PACKAGES)

clean:
	rm -rf dist .tap native/relay/build
