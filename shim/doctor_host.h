/* doctor_host.h - `sbx doctor --host`: the running kernel's module posture as findings (id, severity, evidence,
   fix), read from a root directory so that tests can point it at a fake /proc and /sys. */
#ifndef SBX_DOCTOR_HOST_H
#define SBX_DOCTOR_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../common/config.h"
#include "../common/error.h"

enum host_sev
{
  HOST_OK,       /* checked and as it should be */
  HOST_INFO,     /* a fact the operator should know, nothing to fix */
  HOST_LOW,
  HOST_MEDIUM,
  HOST_HIGH,
  HOST_CRITICAL,
};

struct host_finding
{
  char *id; /* stable across runs: what --baseline compares ("taint.E", "module.dummy.unsigned") */
  enum host_sev sev;
  char *title;
  char *evidence; /* what was read, from where */
  char *fix;      /* one line; "" when there is nothing to do */
};

/* Whether the kernel loads modules at all: the module checks apply only when it does. */
enum host_modules
{
  HOST_MODULES_UNKNOWN,
  HOST_MODULES_NONE,     /* CONFIG_MODULES off: the strongest posture */
  HOST_MODULES_DISABLED, /* kernel.modules_disabled=1: no more loads until reboot */
  HOST_MODULES_LOADABLE,
};

struct host_report
{
  struct host_finding *v;
  size_t n, cap;
  char release[128];
  enum host_modules modules;
  /* Filled by the checks for those that follow. */
  char *config;         /* the kernel config text when readable, else NULL */
  char config_src[64];  /* where it came from */
  char lockdown[32];    /* "none", "integrity", "confidentiality", "" when unknown */
  bool sig_enforced;    /* the kernel refuses unsigned modules */
};

struct host_opts
{
  const char *root;             /* "/" or a fixture tree */
  const struct sbx_config *cfg; /* host.module_allowlist; may be NULL */
  bool probe_bpf;               /* also load sbx's BPF hooks to see which can (real hosts only) */
};

/* Every check, into R.  Fails only when ROOT cannot be opened or a setting is malformed; what cannot be read
   becomes a finding that says so. */
int host_audit (const struct host_opts *o, struct host_report *r, sbx_err *err);
void host_report_free (struct host_report *r);

const char *host_sev_name (enum host_sev s);
/* -1 when S names no severity. */
int host_sev_parse (const char *s);
const struct host_finding *host_find (const struct host_report *r, const char *id);

/* The entry point behind `sbx doctor --host ...` (ARGV[0] is "--host"). */
int host_doctor_main (int argc, char **argv);

/* Internal to doctor_host*.c. */
struct host_ctx
{
  int rootfd;
  const struct host_opts *o;
  struct host_report *r;
  char **loaded; /* loaded module names (every view), set by host_check_modules */
  size_t nloaded;
};
void host_add (struct host_ctx *c, enum host_sev sev, const char *id, const char *title, const char *fix,
               const char *evfmt, ...) __attribute__ ((format (printf, 6, 7)));
/* Open ROOT/PATH resolved inside the root (O_NONBLOCK, O_CLOEXEC added). */
int host_open (struct host_ctx *c, const char *path, int flags);
/* Read ROOT/PATH (absolute as seen on the host), at most MAX bytes: 0, or -1 with errno set (EFBIG when larger). */
int host_read (struct host_ctx *c, const char *path, size_t max, char **out, size_t *len);
/* The first line of ROOT/PATH without its newline, in BUF; false when unreadable. */
bool host_read_line (struct host_ctx *c, const char *path, char *buf, size_t size);
bool host_exists (struct host_ctx *c, const char *path);
/* The value of CONFIG_NAME in the kernel config: "y", "m", a string, "n" when "is not set", NULL when unknown. */
const char *host_kconfig (struct host_ctx *c, const char *name, char *buf, size_t size);
/* Copy S into BUF with anything but printable ASCII replaced by '?', at most SIZE-1 bytes. */
const char *host_clean (const char *s, char *buf, size_t size);

/* Severity and description of taint LETTER; NULL for one this sbx does not know. */
const char *host_taint_desc (char letter, enum host_sev *sev);
/* A module name as the kernel spells it (MODULE_NAME_LEN, [A-Za-z0-9_-]); '-' becomes '_' in BUF. */
bool host_modname (const char *s, size_t n, char *buf, size_t size);

void host_check_modules (struct host_ctx *c);
void host_check_autoload (struct host_ctx *c);
int host_check_allowlist (struct host_ctx *c, sbx_err *err);

/* Output (doctor_host_out.c). */
void host_print_text (FILE *out, const struct host_report *r, const char *root, bool verbose);
int host_to_json (const struct host_report *r, const char *root, const struct host_report *resolved, char **out,
                  size_t *len, sbx_err *err);

#endif
