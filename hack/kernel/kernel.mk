# hack/kernel/kernel.mk - `make check-kernel`: the real-kernel tier (Debian kernel under qemu; docs/kernel-tier.md).
# Included by the top-level Makefile; it needs sbx's binaries built, then boots the guest and runs its suite.

KERNEL_TIER_DEPS ?= all

.PHONY: check-kernel
check-kernel: $(KERNEL_TIER_DEPS)
	@hack/kernel/run.sh | hack/kernel/tap-summary.sh
