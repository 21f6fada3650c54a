# profiles.mk - the profile JSON files are assembled into build/profiles/embed.o (.incbin): rebuild it when one
# changes.  Included from the top-level Makefile.
$(B)/profiles/embed.o: $(wildcard profiles/*.json)

# The escape-attempt suite's own static probe (integration/escape.bats), next to the lead's build/sbx-probe.
all: $(B)/sbx-escape
$(B)/sbx-escape: tests/probe/sbx-escape.c
	@mkdir -p $(B)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
