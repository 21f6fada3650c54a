# profiles.mk - the profile JSON files are assembled into build/profiles/embed.o (.incbin): rebuild it when one
# changes.  Included from the top-level Makefile.
$(B)/profiles/embed.o: $(wildcard profiles/*.json)
