/* embed.c - the profiles shipped with sbx, built into the binary so it works with no installed files. */
#define _GNU_SOURCE
#include <string.h>

#include "profile.h"

/* The assembler copies each JSON file in at build time (make runs from the top of the tree); profiles.mk makes
   this object depend on them. */
#define SBX_EMBED(sym, file)                                                                                 \
  __asm__ (".section .rodata\n"                                                                              \
           ".global " #sym "_start\n"                                                                        \
           ".global " #sym "_end\n"                                                                          \
           ".balign 16\n" #sym "_start:\n"                                                                   \
           ".incbin \"" file "\"\n" #sym "_end:\n"                                                           \
           ".byte 0\n"                                                                                       \
           ".previous\n");                                                                                   \
  extern const char sym##_start[], sym##_end[]

SBX_EMBED (sbx_prof_default, "profiles/default.json");
SBX_EMBED (sbx_prof_strict, "profiles/strict.json");
SBX_EMBED (sbx_prof_baseline, "profiles/baseline.json");

const char *const sbx_embedded_profile_names[] = { "default", "strict", "baseline", NULL };

int
sbx_embedded_profile (const char *name, const char **data, size_t *len)
{
  static const struct
  {
    const char *name, *start, *end;
  } table[] = {
    { "default", sbx_prof_default_start, sbx_prof_default_end },
    { "strict", sbx_prof_strict_start, sbx_prof_strict_end },
    { "baseline", sbx_prof_baseline_start, sbx_prof_baseline_end },
  };

  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp (name, table[i].name) == 0)
      {
        *data = table[i].start;
        *len = (size_t) (table[i].end - table[i].start);
        return 0;
      }
  return -1;
}
