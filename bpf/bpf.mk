# bpf/bpf.mk - builds sbx's BPF programs, their skeleton and build/libsbxbpf.a; the top Makefile includes it.
# It adds the library to SBX_EXTRA_LIBS/SBX_EXTRA_LDLIBS (bin/sbx and unit tests): bin/sbx-runtime stays free of libbpf.

BPF_CLANG ?= clang
BPFTOOL ?= bpftool
BPF_VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_OUT := build/bpf

SBX_BPF_LIB := build/libsbxbpf.a
SBX_BPF_CPPFLAGS := -I$(BPF_OUT) -Ibpf
SBX_BPF_LDLIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz
SBX_BPF_TEST := build/tests/test_bpf

BPF_LIB_SRCS := bpf/loader.c bpf/registry.c bpf/ksym.c
BPF_LIB_OBJS := $(BPF_LIB_SRCS:bpf/%.c=$(BPF_OUT)/%.o)
BPF_WARN := -std=gnu11 -Wall -Wextra -Werror

$(BPF_OUT):
	mkdir -p $@

# Generated from the build host's kernel BTF, never committed (CO-RE relocates it to the running kernel).
$(BPF_OUT)/vmlinux.h: | $(BPF_OUT)
	$(BPFTOOL) btf dump file $(BPF_VMLINUX_BTF) format c > $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/sbx.bpf.o: bpf/sbx.bpf.c bpf/sbx_events.h $(BPF_OUT)/vmlinux.h
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -I$(BPF_OUT) -Ibpf -c $< -o $@

# `gen object` links the object and drops DWARF; the skeleton embeds it in the binary.
$(BPF_OUT)/sbx.skel.h: $(BPF_OUT)/sbx.bpf.o
	$(BPFTOOL) gen object $(BPF_OUT)/sbx.linked.o $<
	$(BPFTOOL) gen skeleton $(BPF_OUT)/sbx.linked.o name sbx_skel > $@.tmp
	mv $@.tmp $@

# The ksym iterator of `sbx doctor --host`: an object and skeleton of its own, so the hooks never carry it.
$(BPF_OUT)/ksym.bpf.o: bpf/ksym.bpf.c $(BPF_OUT)/vmlinux.h
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -I$(BPF_OUT) -Ibpf -c $< -o $@

$(BPF_OUT)/ksym.skel.h: $(BPF_OUT)/ksym.bpf.o
	$(BPFTOOL) gen object $(BPF_OUT)/ksym.linked.o $<
	$(BPFTOOL) gen skeleton $(BPF_OUT)/ksym.linked.o name sbx_ksym_skel > $@.tmp
	mv $@.tmp $@

$(BPF_OUT)/%.o: bpf/%.c bpf/sbx_bpf.h bpf/sbx_bpf_int.h bpf/sbx_events.h $(BPF_OUT)/sbx.skel.h $(BPF_OUT)/ksym.skel.h
	$(CC) $(BPF_WARN) $(CFLAGS) $(CPPFLAGS) $(SBX_BPF_CPPFLAGS) -c $< -o $@

$(SBX_BPF_LIB): $(BPF_LIB_OBJS)
	$(AR) rcs $@ $^

# bin/sbx (the watcher, `sbx doctor`) and the unit tests link the loader; bin/sbx-runtime does not.
ifeq ($(filter $(SBX_BPF_LIB),$(SBX_EXTRA_LIBS)),)
SBX_EXTRA_LIBS += $(SBX_BPF_LIB)
SBX_EXTRA_LDLIBS += $(SBX_BPF_LDLIBS)
endif

# Standalone (`make -f bpf/bpf.mk bpf-check`, no top Makefile): build the unit test here.
ifeq ($(origin LIB),undefined)
$(BPF_OUT)/error.o: common/error.c common/error.h | $(BPF_OUT)
	$(CC) -std=gnu11 -Wall -Wextra $(CFLAGS) $(CPPFLAGS) -c $< -o $@

$(SBX_BPF_TEST): tests/test_bpf.c $(SBX_BPF_LIB) $(BPF_OUT)/error.o
	@mkdir -p $(dir $@)
	$(CC) $(BPF_WARN) $(CFLAGS) $(CPPFLAGS) tests/test_bpf.c $(BPF_OUT)/error.o -o $@ \
	  $(SBX_BPF_LIB) $(SBX_BPF_LDLIBS) $(LDFLAGS)
endif

.PHONY: bpf bpf-check
bpf: $(SBX_BPF_LIB)

# The BPF suite alone: unit tests (TAP) then the bats file.
bpf-check: $(SBX_BPF_TEST)
	$(SBX_BPF_TEST)
	bats --tap integration/bpf.bats
