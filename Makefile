# offsetctl — see README.md. The two commands a newcomer runs: `make demo`, `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/offsetctl
PKGS  := ./...

.PHONY: all build test test-short demo bench fmt vet lint golden ensure-postgres ensure-mariadb clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/offsetctl

# Installs Debian's PostgreSQL and MariaDB server packages when their binaries
# are missing (as root), then runs every test with one throwaway PostgreSQL
# cluster and one throwaway MariaDB server for the run.
test: ensure-postgres ensure-mariadb
	$(GO) vet $(PKGS)
	$(GO) run ./internal/tools/withpg -- $(GO) run ./internal/tools/withmariadb -- $(GO) test -count=1 -timeout 9m $(PKGS)

test-short: ensure-postgres ensure-mariadb
	$(GO) run ./internal/tools/withpg -- $(GO) run ./internal/tools/withmariadb -- $(GO) test -short -count=1 $(PKGS)

demo: ensure-postgres build
	./$(BIN) demo

bench: ensure-postgres ensure-mariadb build
	bash bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Rewrites golden files: only packages whose tests define -update.
golden:
	$(GO) run ./internal/tools/withpg -- $(GO) test -count=1 $$(grep -l 'golden.Flag()' -r --include='*_test.go' . | xargs -n1 dirname | sort -u) -update

ensure-postgres:
	@bash scripts/ensure-postgres.sh

ensure-mariadb:
	@bash scripts/ensure-mariadb.sh

clean:
	rm -rf bin
