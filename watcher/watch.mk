# watcher/watch.mk - link the BPF loader into bin/sbx (watcher, doctor) when the tree has it; sbx-runtime stays lean.
# Include after bpf/bpf.mk and before the bin/sbx rule.
ifneq ($(SBX_BPF_LIB),)
ifeq ($(filter $(SBX_BPF_LIB),$(SBX_EXTRA_LIBS)),)
SBX_EXTRA_LIBS += $(SBX_BPF_LIB)
SBX_EXTRA_LDLIBS += $(SBX_BPF_LDLIBS)
endif
endif
