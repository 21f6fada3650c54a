# sbx - hardened OCI runtime.  `make` builds bin/sbx-runtime and bin/sbx; `make check` is what CI runs.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=
CC ?= gcc
SANITIZE ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKGS := libseccomp libcap mount yajl libcgroup libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# `make check`, `make demo` and `make deps` install the libraries first; other targets need them present.
ifeq ($(filter check demo deps clean format,$(MAKECMDGOALS)),)
ifeq ($(PKG_LIBS),)
$(error pkg-config cannot find $(PKGS): run hack/install-deps.sh (or make deps))
endif
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	  -DSBX_VERSION='"$(VERSION)"' -DSBX_COMMIT='"$(COMMIT)"' $(PKG_CFLAGS) -MMD -MP
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,--as-needed
ifneq ($(SANITIZE),)
# A sanitizer report must fail the run: UBSan aborts instead of printing and going on.
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer $(if $(findstring undefined,$(SANITIZE)),-fno-sanitize-recover=undefined)
LDFLAGS += -fsanitize=$(SANITIZE)
endif
# Added last, for builds that instrument every object (the fuzz build: -fsanitize=fuzzer-no-link).
CFLAGS += $(EXTRA_CFLAGS)

B := build
# Where the two programs go: a sanitized build lives beside the normal one (make B=build/san BIN=build/san/bin
# SANITIZE=address,undefined; hack/check.sh's sanitizer tier).
BIN := bin
LIB_SRCS := $(wildcard common/*.c oci/*.c policy/*.c profiles/*.c)
SHIM_COMMON := shim/args.c shim/args_tables.c shim/delegate.c
RT_SRCS := shim/runtime.c $(wildcard shim/rt_*.c)
# The watcher daemon and the engine-less sandbox are only in the human CLI.
SBX_SRCS := shim/sbx.c $(wildcard shim/cmd_*.c shim/install_*.c shim/doctor_*.c watcher/*.c sandbox/*.c)
TEST_SRCS := $(wildcard tests/test_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))
LIB := $(B)/libsbx.a
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
# Extra objects and libraries only the human CLI links (the watcher's BPF side); sbx-runtime stays lean.
SBX_EXTRA_LIBS :=
SBX_EXTRA_LDLIBS :=

all: $(BIN)/sbx-runtime $(BIN)/sbx $(B)/sbx-probe

-include bpf/bpf.mk hack/kernel/kernel.mk profiles/profiles.mk watcher/watch.mk

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The hardening memo keeps results of sbx's own code on disk: its key names the code that computed them, so a
# rebuilt sbx never reads an entry an older one wrote.
BUILD_ID_SRCS := $(sort $(LIB_SRCS) $(wildcard common/*.h oci/*.h policy/*.h profiles/*.h profiles/*.json))
$(B)/build_id.h: $(BUILD_ID_SRCS)
	@mkdir -p $(B)
	@echo "#define SBX_BUILD_ID \"$$(cat $(BUILD_ID_SRCS) | sha256sum | cut -c1-32)\"" >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
$(B)/policy/seccomp.o: $(B)/build_id.h
$(B)/policy/seccomp.o: CFLAGS += -I$(B)

$(LIB): $(call obj,$(LIB_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^

# sbx-runtime stands in front of every container start, so it is linked statically (position-independent, so
# still randomized): no dynamic loader to find, map and relocate four libraries before main, which cost more here
# than all of sbx's own work.  Debian ships yajl's static archive as libyajl_s.a.  Sanitizer runtimes need the
# dynamic loader, so a SANITIZE build links as before.
ifeq ($(SANITIZE),)
RT_LINK := $(filter-out -pie,$(LDFLAGS)) -static-pie
RT_LIBS := -lseccomp -lcap -l:libyajl_s.a
else
RT_LINK := $(LDFLAGS)
RT_LIBS := $(PKG_LIBS)
endif
$(BIN)/sbx-runtime: $(call obj,$(RT_SRCS) $(SHIM_COMMON)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(RT_LINK) -o $@ $^ $(RT_LIBS)

$(BIN)/sbx: $(call obj,$(SBX_SRCS) $(SHIM_COMMON) $(filter-out shim/runtime.c,$(RT_SRCS))) $(LIB) $(SBX_EXTRA_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SBX_EXTRA_LDLIBS)

# The probe runs inside minimal containers: static, no libraries.
$(B)/sbx-probe: tests/probe/sbx-probe.c
	@mkdir -p $(B)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

# The fault injector of integration/faults.bats (a seccomp supervisor: no hook in sbx's own code).
$(B)/sbx-fault: tests/fault/sbx-fault.c
	@mkdir -p $(B)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

$(B)/tests/%: tests/%.c $(call obj,$(SHIM_COMMON) $(filter-out shim/runtime.c shim/sbx.c,$(RT_SRCS) $(SBX_SRCS))) $(LIB) $(SBX_EXTRA_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(PKG_LIBS) $(SBX_EXTRA_LDLIBS)

unit: $(TESTS) $(B)/sbx-fault

# libFuzzer targets: tests/fuzz/fuzz_NAME.c, seed corpus tests/fuzz/NAME/.  Every object is rebuilt with clang under
# ASan+UBSan in $(FUZZ_B)/obj; `make fuzz FUZZ_SECONDS=N` runs each target N seconds (hack/fuzz.sh, TAP).
FUZZ_B := build/fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_B)/%,$(FUZZ_SRCS))
FUZZ_OBJ_SRCS := $(SHIM_COMMON) $(filter-out shim/runtime.c shim/sbx.c,$(RT_SRCS) $(SBX_SRCS))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_OBJ_SRCS)) $(FUZZ_B)/obj/libsbx.a
FUZZ_SECONDS ?= 60
fuzz-objs: $(SBX_EXTRA_LIBS)
	$(MAKE) B=$(FUZZ_B)/obj CC=clang EXTRA_CFLAGS='$(FUZZ_SAN) -fsanitize=fuzzer-no-link' $(FUZZ_OBJS)
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c fuzz-objs
	@mkdir -p $(dir $@)
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(SBX_EXTRA_LIBS) $(PKG_LIBS) $(SBX_EXTRA_LDLIBS)
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	hack/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# What CI runs on a fresh machine: dependencies, build, every test tier, one summary line.
check:
	hack/install-deps.sh
	$(MAKE) all unit
	hack/check.sh

# Deliberate breakages (hack/mutations/*.patch), each applied to a scratch copy and run against the tiers it names;
# fails when one is not caught.  Slow, so not part of `make check`: run it before resolving an issue in a guarded
# area.  MUTATIONS="name ..." picks some.
mutate: all unit
	MUTATIONS="$(MUTATIONS)" hack/mutate.sh

demo:
	hack/install-deps.sh
	$(MAKE) all
	hack/demo.sh

bench: all
	hack/bench.sh

# Man pages: docs/man/*.scd rendered with scdoc; sbx.json(5)'s settings come from docs/settings.md's table, which
# build/tests/test_config checks against the code.  integration/manpages.bats checks them against --help.
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
MAN_SRCS := $(wildcard docs/man/*.scd)
MAN_PAGES := $(patsubst docs/man/%.scd,$(B)/man/%,$(MAN_SRCS))
man: $(MAN_PAGES)
$(B)/man/sbx.json.5: docs/man/sbx.json.5.scd docs/man/settings.awk docs/settings.md
	@mkdir -p $(dir $@)
	awk -f docs/man/settings.awk docs/settings.md >$@.settings
	awk -v f=$@.settings '$$0 == "%SETTINGS%" { while ((getline l <f) > 0) print l; next } { print }' $< | scdoc >$@.tmp
	rm -f $@.settings
	mv $@.tmp $@
$(B)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp
	mv $@.tmp $@

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BIN)/sbx-runtime $(BIN)/sbx $(DESTDIR)$(BINDIR)/
	install -m 0644 $(B)/man/sbx.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(B)/man/sbx.json.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(B)/man/sbx-runtime.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 completion/sbx.bash $(DESTDIR)$(BASHCOMPDIR)/sbx

deps:
	hack/install-deps.sh

clean:
	rm -rf $(B) $(BIN)

format:
	clang-format -i $(LIB_SRCS) shim/*.c shim/*.h common/*.h oci/*.h policy/*.h profiles/*.h tests/*.c

.PHONY: fuzz fuzz-build fuzz-objs mutate all unit man check demo bench install deps clean format
-include $(shell find $(B) -name '*.d' 2>/dev/null)
