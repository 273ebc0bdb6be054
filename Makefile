# offsetctl — see README.md. The two commands a newcomer runs: `make demo`, `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/offsetctl
PKGS  := ./...

.PHONY: all build test test-short test-conftest fuzz demo bench fmt vet lint golden ensure-postgres ensure-openssh ensure-mariadb clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/offsetctl

# Installs Debian's PostgreSQL, MariaDB and OpenSSH client packages when
# their binaries are missing (as root), then runs every test with one
# throwaway PostgreSQL cluster and one throwaway MariaDB server for the run.
test: ensure-postgres ensure-openssh ensure-mariadb
	$(GO) vet $(PKGS)
	$(GO) run ./internal/tools/withpg -- $(GO) run ./internal/tools/withmariadb -- $(GO) test -count=1 -timeout 9m $(PKGS)
	cd examples/conftest && $(GO) test -count=1 ./...

# Runs every fuzz target for FUZZTIME each (default 10m); `make test` runs
# their seed corpora only. FUZZ="FuzzBackup FuzzPlanFile" picks targets.
FUZZTIME ?= 10m
fuzz: ensure-postgres
	FUZZTIME=$(FUZZTIME) $(GO) run ./internal/tools/withpg -- bash scripts/fuzz.sh $(FUZZ)

# go test -short: leaves out the real Kafka/Connect/Debezium tier
# (internal/realstack.Get), the examples' runbook replays and the
# large-table comparisons; the rest is the same as make test.
test-short: ensure-postgres ensure-openssh ensure-mariadb
	$(GO) run ./internal/tools/withpg -- $(GO) run ./internal/tools/withmariadb -- $(GO) test -short -count=1 $(PKGS)

# The example Rego policy evaluated with OPA's Go API against plan files
# (examples/conftest, a module of its own, so that OPA stays out of go.mod;
# make test runs it too: about 71 s of CPU to compile on a cold cache).
test-conftest:
	cd examples/conftest && $(GO) test -count=1 ./...

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

ensure-openssh:
	@bash scripts/ensure-openssh.sh

ensure-mariadb:
	@bash scripts/ensure-mariadb.sh

clean:
	rm -rf bin
