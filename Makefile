# cellrig: the two commands are `make demo` and `make test` (see README.md).
SWIFT ?= swift
FORMAT_PATHS = Sources Tests Package.swift

.PHONY: all deps test-deps build demo test lint format bench bench-sim bench-daemon bench-criteria bench-serial soak soak-files install clean

all: build

deps:
	@scripts/install-deps.sh

# Headless Chromium for the report tests.
test-deps:
	@scripts/install-test-deps.sh

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
bench: bench-sim bench-daemon bench-criteria bench-serial

bench-sim: deps
	$(SWIFT) run -c release cellrig-bench-sim

bench-criteria: deps
	$(SWIFT) run -c release cellrig-bench-criteria

bench-daemon: deps
	$(SWIFT) run -c release cellrig-bench-daemon rigs/sim.yaml protocols/ccd-step-symmetric.yaml

bench-serial: deps
	$(SWIFT) run -c release cellrig-bench-serial

# Soak: long randomised runs to do before a release, never part of `make test`. Each step is its own target and
# prints its own figures; add a step by appending its target to SOAK_STEPS.
SOAK_STEPS = soak-files
SOAK_FUZZ_CASES ?= 5000

soak: $(SOAK_STEPS)

# Thousands of mutated protocol, rig and CSV files (fixed seed; CELLRIG_FUZZ_SEED=N for others), each timed (no case
# may take a second), and a 72 h recording at 0.1 s (2.6 M rows) streamed through the sample CSV reader.
soak-files: deps
	$(SWIFT) build --build-tests
	CELLRIG_FUZZ_CASES=$(SOAK_FUZZ_CASES) $(SWIFT) test --skip-build --filter FileFuzzTests

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
