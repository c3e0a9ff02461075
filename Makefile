# CODITECT — developer entry points. `make` (or `make help`) lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO      ?= go
BIN_DIR := bin
# Extra arguments for `coditect dev`, e.g. make run ARGS="--addr 127.0.0.1:9090".
ARGS    ?=

.PHONY: help run build test generate check-generated vet fmt clean tools web web-api

help: ## Show this help (the default target)
	@echo "Usage: make <target>"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_.-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: web ## Build the web app and the binary, then start the local platform at http://127.0.0.1:8080/ (bin/coditect dev, flags via ARGS=...); installs PostgreSQL and Redis if missing (as root)
	@if [ "$$(id -u)" = 0 ]; then bash scripts/ensure-postgres.sh --redis; else bash scripts/ensure-postgres.sh; fi
	$(GO) build -o $(BIN_DIR)/coditect ./cmd/coditect
	./$(BIN_DIR)/coditect dev $(ARGS)

build: web ## Build the web app, then all commands (./cmd/...) into bin/ with the app embedded
	@mkdir -p $(BIN_DIR)
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

test: ## Run go vet, the sqlc drift check, go test -race (private PostgreSQL, Redis and stripe-mock), then scripts/checks (promtool rules; the web app in Chromium)
	bash scripts/test.sh

generate: ## Regenerate the sqlc code (sqlc.yaml)
	$(GO) tool sqlc generate

check-generated: ## Fail if the sqlc-generated code is out of date
	$(GO) tool sqlc diff

vet: ## Run go vet
	$(GO) vet ./...

fmt: ## Fail (listing the files) if any Go file is not gofmt-formatted
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './bin/*' -not -path './.coditect/*' -not -path '*/node_modules/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$files" ]; then echo "These files need gofmt -w:"; echo "$$files"; exit 1; fi

clean: ## Remove build output (bin/, web/dist); never touches local dev data in .coditect/
	rm -rf $(BIN_DIR)
	find web/dist -mindepth 1 ! -name .gitkeep -delete

tools: ## Build the pinned tools (sqlc, from go.mod's tool directive)
	$(GO) tool sqlc version

.PHONY: bench
bench: ## Load-test the API beside pgbench on a private PostgreSQL (SCALE=1000 tenants, or SCALE=1000000; see bench/README.md)
	bash bench/run.sh

# The web app (web/, React + TypeScript + Vite). npm install (from the lock file) runs only when package-lock.json
# is newer than the installed tree (npm writes node_modules/.package-lock.json).
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm install --no-audit --no-fund

web: web/node_modules/.package-lock.json ## Build the web app into web/dist (npm install from the lock file when needed, then vite build); embedded by the next go build
	cd web && npm run build

web-api: web/node_modules/.package-lock.json ## Regenerate web/src/api/schema.d.ts from `coditect openapi` (after changing routes)
	@mkdir -p $(BIN_DIR)
	$(GO) build -o $(BIN_DIR)/coditect ./cmd/coditect
	cd web && CODITECT_BIN=../$(BIN_DIR)/coditect node scripts/gen-api.mjs
