# Set-up and everyday commands. `make demo` and `make test` are the two the README promises.
.PHONY: setup build test test-slow demo bench clean

setup:
	npm ci --no-audit --no-fund

build:
	npx tsc -p tsconfig.json

test: build
	npx tap

demo: build
	node dist/controller/cli/dvm.js demo

bench: build
	node dist/bench/copy-bench.js

clean:
	rm -rf dist .tap
