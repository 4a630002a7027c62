# cellrig: the two commands are `make demo` and `make test` (see README.md).
SWIFT ?= swift
FORMAT_PATHS = Sources Tests Package.swift

.PHONY: all deps test-deps build demo test lint format bench bench-sim bench-daemon bench-criteria bench-serial bench-sync install clean

all: build

deps:
	@scripts/install-deps.sh

# Headless Chromium for the report tests; PostgreSQL, installed and started, for the fleet sync tests.
test-deps:
	@scripts/install-test-deps.sh
	@scripts/start-test-postgres.sh

build: deps
	$(SWIFT) build

demo: build
	@scripts/demo.sh

test: deps test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(SWIFT) format lint --strict -r $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --strict -r $(FORMAT_PATHS)

format:
	$(SWIFT) format -i -r $(FORMAT_PATHS)

# Benchmarks print rates and ratios; they are not tests and assert nothing about time.
bench: bench-sim bench-daemon bench-criteria bench-serial bench-sync

bench-sim: deps
	$(SWIFT) run -c release cellrig-bench-sim

bench-criteria: deps
	$(SWIFT) run -c release cellrig-bench-criteria

bench-daemon: deps
	$(SWIFT) run -c release cellrig-bench-daemon rigs/sim.yaml protocols/ccd-step-symmetric.yaml

bench-serial: deps
	$(SWIFT) run -c release cellrig-bench-serial

# Samples/s the fleet sync sends into PostgreSQL against a plain COPY of the same rows; needs the test server.
bench-sync: deps test-deps
	$(SWIFT) run -c release cellrig-bench-sync

PREFIX ?= /usr/local
install: deps
	$(SWIFT) build -c release --product cellrigd
	$(SWIFT) build -c release --product cellrig
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 .build/release/cellrigd .build/release/cellrig $(DESTDIR)$(PREFIX)/bin/
	install -D -m 0644 systemd/cellrigd.service $(DESTDIR)/etc/systemd/system/cellrigd.service
	install -D -m 0644 systemd/cellrig.sysusers $(DESTDIR)/usr/lib/sysusers.d/cellrig.conf
	install -D -m 0644 systemd/cellrig.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/cellrig.conf
	install -d $(DESTDIR)/etc/cellrig/rigs
	test -e $(DESTDIR)/etc/cellrig/rigs/sim.yaml || install -m 0644 rigs/sim.yaml $(DESTDIR)/etc/cellrig/rigs/

clean:
	rm -rf .build .demo
