# Every target runs on the Node 24 that `npm ci` installs into node_modules (package `node`).
SHELL := bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup run test unit integration lint typecheck crds bench cluster-up cluster-down emulator images

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: node_modules/.installed ## npm packages, Debian packages of the node, the cluster's binaries and images, Alertmanager, Prometheus
	bash test/cluster/packages.sh
	bash test/cluster/build.sh
	bash test/cluster/build.sh node
	bash test/alertmanager/build.sh
	bash test/monitoring/build.sh

run: setup ## the operator against $$KUBECONFIG, or against a local control plane + emulator it starts
	bash test/local/run.sh

test: node_modules/.installed ## the whole suite: type check, lint, unit and integration tests (builds what they need)
	bash test/suite.sh

unit: node_modules/.installed
	npm run test:unit

integration: setup images
	npm run test:integration

lint: node_modules/.installed
	npm run lint

typecheck: node_modules/.installed
	npm run typecheck

bench: setup ## benchmarks; figures are printed and written to bench/results/
	bash test/bench/run.sh

cluster-up: setup ## a local control plane (NODE=1: and a node that runs pods); prints its KUBECONFIG
	bash test/cluster/up.sh
	if [ -n "$(NODE)" ]; then bash test/cluster/node-up.sh; fi

cluster-down:
	bash test/cluster/down.sh

images: node_modules/.installed ## the operator's and the emulator's images as archives containerd imports
	bash test/image/setup.sh
	bash test/image/build.sh

emulator: node_modules/.installed ## the DingTalk emulator on its own (PORT, default 8780)
	node test/emulator/main.ts
