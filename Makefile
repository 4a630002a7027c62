# cellrig: the two commands are `make demo` and `make test` (see README.md).
# Installing as a service: `make build` as yourself, then `sudo make install` (docs/install.md).
SWIFT ?= swift
FORMAT_PATHS = Sources Tests Package.swift

# Where `make install` puts things. Packagers: DESTDIR=... PREFIX=/usr UNITDIR=/usr/lib/systemd/system ...
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/cellrig
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MODULESLOADDIR ?= $(SYSCONFDIR)/modules-load.d
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
INSTALL_DIRS = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" DATADIR="$(DATADIR)" DOCDIR="$(DOCDIR)" \
	MANDIR="$(MANDIR)" BASHCOMPDIR="$(BASHCOMPDIR)" ZSHCOMPDIR="$(ZSHCOMPDIR)" FISHCOMPDIR="$(FISHCOMPDIR)" \
	SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" SYSUSERSDIR="$(SYSUSERSDIR)" TMPFILESDIR="$(TMPFILESDIR)" \
	MODULESLOADDIR="$(MODULESLOADDIR)" UDEVRULESDIR="$(UDEVRULESDIR)"

.PHONY: all deps test-deps build build-debug demo test lint format bench bench-sim bench-daemon bench-criteria \
	bench-serial bench-sync soak soak-files soak-restarts install install-sim-rig uninstall check-unit check-install check-service clean

all: build-debug

deps:
	@scripts/install-deps.sh

# Headless Chromium for the report tests; PostgreSQL, installed and started, for the fleet sync tests.
test-deps:
	@scripts/install-test-deps.sh
	@scripts/start-test-postgres.sh

build-debug: deps
	$(SWIFT) build

# Release programs (Swift runtime linked in), man pages and completions, staged in .build/stage for install.
build: deps
	@SWIFT="$(SWIFT)" scripts/build-release.sh

demo: build-debug
	@scripts/demo.sh

# The unit and install checks first, so the test suite's summary is the last thing printed. `make check-service`
# (the installed daemon under a real systemd in a container; needs root and systemd-nspawn) is run on its own.
test: deps test-deps check-unit check-install
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

# Copies what `make build` staged; compiles nothing, so it runs as root without Swift on the PATH.
install:
	@$(INSTALL_DIRS) scripts/install.sh install

# Optional: cellrig-sim as a service and the simulated serial rig for cellrigd (docs/install.md).
install-sim-rig:
	@$(INSTALL_DIRS) scripts/install.sh install-sim-rig

# Removes what install and install-sim-rig put; keeps the database and the rig files you edited.
uninstall:
	@$(INSTALL_DIRS) scripts/install.sh uninstall

# systemd-analyze security of the units; fails above an exposure of 2.0.
check-unit:
	@scripts/check-unit.sh

# Installs into a temporary DESTDIR with an empty environment and checks every file (needs `make build`).
check-install: build
	@scripts/check-install.sh

# Boots systemd in a container (systemd-nspawn, as root), installs, and runs a simulated CCD through the service.
check-service: build
	@scripts/check-service.sh

# Soak: long randomised runs to do before a release, never part of `make test`. Each step is its own target and
# prints its own figures; add a step by appending its target to SOAK_STEPS.
SOAK_STEPS = soak-files soak-restarts
SOAK_RESTARTS ?= 100
SOAK_FUZZ_CASES ?= 5000

soak: $(SOAK_STEPS)

# Thousands of mutated protocol, rig and CSV files (fixed seed; CELLRIG_FUZZ_SEED=N for others), each timed (no case
# may take a second), and a 72 h recording at 0.1 s (2.6 M rows) streamed through the sample CSV reader.
soak-files: deps
	$(SWIFT) build --build-tests
	CELLRIG_FUZZ_CASES=$(SOAK_FUZZ_CASES) $(SWIFT) test --skip-build --filter FileFuzzTests

# The real cellrigd SIGKILLed at random moments of simulated CCD runs, SOAK_RESTARTS times, and started again each
# time; prints the kills, resumes, CCDs, restart events and seq gaps it counted.
soak-restarts: deps
	$(SWIFT) build --build-tests
	CELLRIG_SOAK_RESTARTS=$(SOAK_RESTARTS) $(SWIFT) test --skip-build --filter RestartSoakTests

# Samples/s the fleet sync sends into PostgreSQL against a plain COPY of the same rows; needs the test server.
bench-sync: deps test-deps
	$(SWIFT) run -c release cellrig-bench-sync

PREFIX ?= /usr/local
clean:
	rm -rf .build .demo
