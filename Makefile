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
	bench-serial install install-sim-rig uninstall check-unit check-install check-service clean

all: build-debug

deps:
	@scripts/install-deps.sh

# Headless Chromium for the report tests.
test-deps:
	@scripts/install-test-deps.sh

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
bench: bench-sim bench-daemon bench-criteria bench-serial

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

clean:
	rm -rf .build .demo
