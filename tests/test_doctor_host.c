/* test_doctor_host.c - `sbx doctor --host` against fixture trees: fake /proc, /sys, /lib/modules and modprobe.d
   under a temp dir, one per case, each check and its edge cases (taint bits, unsigned and out-of-tree modules,
   hidden modules in every direction, blacklist vs install, modules_disabled, missing, unreadable, huge and
   garbage files), then the command itself: --json, --fail-on, --baseline. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "../bpf/sbx_bpf.h"
#include "../shim/doctor_host.h"
#include "tap.h"

#define REL "6.1.0-test"

static char root[PATH_MAX];

/* Write ROOT/PATH (parents created) with the formatted text. */
static void __attribute__ ((format (printf, 2, 3)))
fx (const char *path, const char *fmt, ...)
{
  char full[PATH_MAX * 2];
  va_list ap;
  FILE *f;

  snprintf (full, sizeof full, "%s/%s", root, path);
  for (char *p = full + strlen (root) + 1; (p = strchr (p, '/')) != NULL; p++)
    {
      *p = '\0';
      mkdir (full, 0755);
      *p = '/';
    }
  f = fopen (full, "w");
  if (f == NULL)
    {
      tap_bail ("fixture %s: %s", full, strerror (errno));
      exit (1);
    }
  va_start (ap, fmt);
  vfprintf (f, fmt, ap);
  va_end (ap);
  fclose (f);
}

static void
fx_rm (const char *path)
{
  char cmd[PATH_MAX * 2 + 16];
  snprintf (cmd, sizeof cmd, "rm -rf '%s/%s'", root, path);
  if (system (cmd) != 0)
    tap_diag ("rm %s failed", path);
}

static void
fx_chmod (const char *path, mode_t mode)
{
  char full[PATH_MAX * 2];
  snprintf (full, sizeof full, "%s/%s", root, path);
  chmod (full, mode);
}

/* A Debian-like host that loads modules: dummy and nf_tables loaded, signatures not enforced, no lockdown, sctp,
   algif_hash and n_hdlc on disk with their aliases. */
static void
base (void)
{
  fx_rm ("");
  mkdir (root, 0755);
  fx ("proc/sys/kernel/osrelease", REL "\n");
  fx ("proc/modules", "dummy 16384 0 - Live 0xffffffffc0a00000\nnf_tables 307200 0 - Live 0xffffffffc0b00000\n");
  fx ("sys/module/dummy/initstate", "live\n");
  fx ("sys/module/dummy/taint", "\n");
  fx ("sys/module/nf_tables/initstate", "live\n");
  fx ("sys/module/nf_tables/taint", "\n");
  fx ("sys/module/printk/parameters/time", "Y\n"); /* a builtin: no initstate */
  fx ("sys/module/module/parameters/sig_enforce", "N\n");
  fx ("sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
  fx ("sys/kernel/security/lsm", "lockdown,capability,landlock,yama,apparmor,bpf\n");
  fx ("sys/kernel/btf/vmlinux", "btf");
  fx ("proc/kallsyms", "ffffffff81000000 T _stext\nffffffffc0a00010 t dummy_setup\t[dummy]\n"
                       "ffffffffc0b00010 t nft_init\t[nf_tables]\nffffffffc0c00000 t bpf_prog_x\t[bpf]\n");
  fx ("proc/sys/kernel/tainted", "0\n");
  fx ("proc/sys/kernel/modules_disabled", "0\n");
  fx ("proc/sys/kernel/kexec_load_disabled", "0\n");
  fx ("proc/sys/kernel/unprivileged_bpf_disabled", "2\n");
  fx ("proc/sys/kernel/kptr_restrict", "1\n");
  fx ("proc/sys/dev/tty/ldisc_autoload", "1\n");
  fx ("proc/sys/user/max_user_namespaces", "1000\n");
  fx ("proc/sys/kernel/modprobe", "/sbin/modprobe\n");
  fx ("proc/cmdline", "root=/dev/vda quiet\n");
  fx ("proc/keys", "1 I------ 1 perm 1f0b0000 0 0 keyring   .builtin_trusted_keys: 1\n"
                   "2 I------ 1 perm 1f0b0000 0 0 keyring   .machine: empty\n");
  fx ("sbin/modprobe", "#!/bin/sh\n");
  fx_chmod ("sbin/modprobe", 0755);
  fx ("lib/modules/" REL "/modules.dep", "kernel/drivers/net/dummy.ko:\nkernel/net/sctp/sctp.ko.xz: "
                                        "kernel/lib/libcrc32c.ko\nkernel/crypto/algif_hash.ko.zst: kernel/crypto/af_alg.ko\n"
                                        "kernel/crypto/af_alg.ko:\nkernel/drivers/tty/n_hdlc.ko:\n"
                                        "kernel/net/netfilter/nf_tables.ko:\n");
  fx ("lib/modules/" REL "/modules.alias", "alias net-pf-132 sctp\nalias net-pf-10-proto-132 sctp\n"
                                          "alias algif-hash algif_hash\nalias net-pf-38 af_alg\n"
                                          "alias tty-ldisc-13 n_hdlc\nalias nfnetlink-subsys-10 nf_tables\n");
}

static struct host_report rep;
static sbx_err err;

static int
audit (const char *cfgjson)
{
  struct sbx_config cfg = { 0 };
  struct host_opts o = { .root = root, .cfg = &cfg, .probe_bpf = false };
  int ret;

  host_report_free (&rep);
  memset (&err, 0, sizeof err);
  if (cfgjson && json_parse (cfgjson, strlen (cfgjson), "cfg", &cfg.root, &err) < 0)
    return -1;
  ret = host_audit (&o, &rep, &err);
  sbx_config_free (&cfg);
  return ret;
}

/* The severity of finding ID, or -1 when there is none. */
static int
sev (const char *id)
{
  const struct host_finding *f = host_find (&rep, id);
  return f ? (int) f->sev : -1;
}

static const char *
evidence (const char *id)
{
  const struct host_finding *f = host_find (&rep, id);
  return f ? f->evidence : "";
}

/* Any finding whose id starts with PREFIX. */
static bool
any (const char *prefix)
{
  for (size_t i = 0; i < rep.n; i++)
    if (strncmp (rep.v[i].id, prefix, strlen (prefix)) == 0)
      return true;
  return false;
}

static void
dump (void)
{
  for (size_t i = 0; i < rep.n; i++)
    tap_diag ("%-8s %s: %s", host_sev_name (rep.v[i].sev), rep.v[i].id, rep.v[i].evidence);
}

#define is_sev(id, want, ...)                                                                                  \
  do                                                                                                         \
    {                                                                                                        \
      int _s = sev (id);                                                                                     \
      tap_ok (_s == (int) (want), __VA_ARGS__);                                                              \
      if (_s != (int) (want))                                                                                \
        {                                                                                                    \
          tap_diag ("%s: got %s, want %s", id, _s < 0 ? "(none)" : host_sev_name (_s), (int) (want) < 0 ? "(none)" \
                    : host_sev_name (want));                                                                   \
          dump ();                                                                                           \
        }                                                                                                    \
    }                                                                                                        \
  while (0)

static void
test_no_modules (void)
{
  base ();
  fx_rm ("proc/modules");
  fx_rm ("sys/module/module");
  fx ("boot/config-" REL, "CONFIG_FOO=y\n# CONFIG_MODULES is not set\n");
  tap_ok (audit (NULL) == 0, "no-modules host: audit runs");
  is_sev ("modules.support", HOST_OK, "CONFIG_MODULES off is reported as the strongest posture");
  tap_ok (!any ("module.") && !any ("autoload.") && !any ("hidden") && !any ("modules.sig") && !any ("sysctl.mod"),
          "no module check is flagged where none can apply");
  is_sev ("sysctl.ldisc_autoload", HOST_OK, "ldisc autoload on is no finding without module loading");
}

static void
test_signatures_lockdown (void)
{
  base ();
  audit (NULL);
  is_sev ("modules.sig_enforce", HOST_MEDIUM, "sig_enforce=N, no lockdown: unsigned modules would load");
  is_sev ("lockdown", HOST_MEDIUM, "lockdown none on a module-loading host");
  is_sev ("sysctl.modules_disabled", HOST_LOW, "modules_disabled=0 suggested");
  is_sev ("sysctl.kexec_load_disabled", HOST_MEDIUM, "kexec open without signature enforcement");
  fx ("sys/module/module/parameters/sig_enforce", "Y\n");
  audit (NULL);
  is_sev ("modules.sig_enforce", HOST_OK, "sig_enforce=Y");
  is_sev ("sysctl.kexec_load_disabled", HOST_LOW, "kexec weighs less once signatures are enforced");
  fx ("sys/module/module/parameters/sig_enforce", "N\n");
  fx ("sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  audit (NULL);
  is_sev ("lockdown", HOST_OK, "lockdown integrity");
  is_sev ("modules.sig_enforce", HOST_OK, "lockdown integrity enforces signatures too");
  fx_rm ("sys/kernel/security");
  fx_rm ("sys/module/module");
  fx ("boot/config-" REL, "CONFIG_MODULES=y\n# CONFIG_MODULE_SIG is not set\n");
  audit (NULL);
  tap_ok (sev ("modules.sig_enforce") == HOST_MEDIUM && strstr (evidence ("modules.sig_enforce"), "MODULE_SIG"),
          "a kernel without CONFIG_MODULE_SIG is named as such: %s", evidence ("modules.sig_enforce"));
  is_sev ("lockdown", HOST_INFO, "no securityfs and no forced mode: lockdown unknown, said so");
  fx ("boot/config-" REL, "CONFIG_MODULES=y\nCONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y\n");
  audit (NULL);
  is_sev ("lockdown", HOST_OK, "lockdown forced by the kernel config, read without securityfs");
}

static void
test_secure_boot_keys (void)
{
  base ();
  audit (NULL);
  tap_ok (sev ("secureboot") == HOST_INFO && strstr (host_find (&rep, "secureboot")->title, "not EFI"),
          "no /sys/firmware/efi: \"not EFI\"");
  tap_ok (strstr (evidence ("keys"), ".builtin_trusted_keys 1") && strstr (evidence ("keys"), ".machine empty")
          && strstr (evidence ("keys"), ".platform not visible"), "keyrings read, and the invisible ones said: %s",
          evidence ("keys"));
  fx ("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", "%c%c%c%c%c", 6, 0, 0, 0, 1);
  audit (NULL);
  is_sev ("secureboot", HOST_OK, "SecureBoot=1");
  fx ("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", "%c%c%c%c%c", 6, 0, 0, 0, 0);
  audit (NULL);
  is_sev ("secureboot", HOST_LOW, "SecureBoot=0");
  fx ("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", "%c", 6);
  audit (NULL);
  is_sev ("secureboot", HOST_INFO, "a truncated SecureBoot variable is unreadable, not off");
  fx_rm ("proc/keys");
  audit (NULL);
  is_sev ("keys", HOST_INFO, "no /proc/keys: said, not failed");
}

static void
test_taint (void)
{
  base ();
  fx ("proc/sys/kernel/tainted", "%llu\n", (1ull << 13) | (1ull << 12) | (1ull << 0) | (1ull << 15) | (1ull << 40));
  audit (NULL);
  is_sev ("taint.E", HOST_HIGH, "taint bit 13: unsigned module (E)");
  is_sev ("taint.O", HOST_MEDIUM, "taint bit 12: out-of-tree module (O)");
  is_sev ("taint.P", HOST_MEDIUM, "taint bit 0: proprietary module (P)");
  is_sev ("taint.K", HOST_INFO, "taint bit 15: live patch (K)");
  is_sev ("taint.bit40", HOST_LOW, "an unknown taint bit is reported by number");
  tap_ok (!any ("taint.F") && !any ("taint.W") && sev ("taint") < 0, "bits not set are not reported");
  fx ("proc/sys/kernel/tainted", "%d\n", 1 << 1);
  audit (NULL);
  is_sev ("taint.F", HOST_HIGH, "taint bit 1: forced load (F)");
  fx ("proc/sys/kernel/tainted", "12abc\n");
  audit (NULL);
  is_sev ("taint", HOST_MEDIUM, "a garbage taint value is a finding, not a decoded zero");
  fx ("proc/sys/kernel/tainted", "-1\n");
  audit (NULL);
  is_sev ("taint", HOST_MEDIUM, "a negative taint value is garbage");
  fx_rm ("proc/sys/kernel/tainted");
  audit (NULL);
  is_sev ("taint", HOST_INFO, "missing taint file: unreadable, said so");
}

static void
test_module_taint (void)
{
  base ();
  fx ("sys/module/dummy/taint", "OE\n");
  audit (NULL);
  is_sev ("module.dummy.unsigned", HOST_HIGH, "a loaded unsigned module (taint E) is named");
  is_sev ("module.dummy.out_of_tree", HOST_MEDIUM, "a loaded out-of-tree module (taint O) is named");
  tap_ok (sev ("module.nf_tables.unsigned") < 0 && sev ("modules.taint") < 0, "the clean module is not flagged");
  base ();
  fx_rm ("sys/module/dummy/taint");
  fx ("proc/modules", "dummy 16384 0 - Live 0xffffffffc0a00000 (PE)\nnf_tables 307200 0 - Live 0xffffffffc0b00000\n");
  audit (NULL);
  tap_ok (sev ("module.dummy.unsigned") == HOST_HIGH && sev ("module.dummy.proprietary") == HOST_MEDIUM,
          "without /sys/module/X/taint, the flags /proc/modules prints are used");
  base ();
  audit (NULL);
  is_sev ("modules.taint", HOST_OK, "no tainted module: one ok finding");
}

static void
test_hidden (void)
{
  base ();
  audit (NULL);
  is_sev ("hidden", HOST_OK, "every view agrees: no hidden module; builtins (no initstate) are not modules");
  fx ("sys/module/rootkit/initstate", "live\n");
  fx ("sys/module/rootkit/refcnt", "0\n");
  audit (NULL);
  is_sev ("hidden.procfs.rootkit", HOST_HIGH, "in /sys/module, missing from /proc/modules: hidden");
  is_sev ("allowlist", -1, "(no allowlist configured: no allowlist finding)");
  base ();
  fx ("proc/modules", "dummy 16384 0 - Live 0x0\nnf_tables 307200 0 - Live 0x0\nghost 4096 0 - Live 0x0\n");
  fx ("proc/kallsyms", "0 t a\t[dummy]\n0 t b\t[nf_tables]\n0 t c\t[ghost]\n");
  audit (NULL);
  is_sev ("hidden.sysfs.ghost", HOST_HIGH, "in /proc/modules, missing from /sys/module: hidden");
  base ();
  fx ("proc/kallsyms", "ffffffffc0a00010 t dummy_setup\t[dummy]\nffffffffc0b00010 t nft_init\t[nf_tables]\n"
                       "ffffffffc0d00010 t hide_me\t[diamorphine]\n");
  audit (NULL);
  is_sev ("hidden.kallsyms_only.diamorphine", HOST_HIGH, "symbols of a module /proc/modules does not list: hidden");
  base ();
  fx ("proc/kallsyms", "ffffffffc0a00010 t dummy_setup\t[dummy]\n");
  audit (NULL);
  is_sev ("hidden.no_kallsyms.nf_tables", HOST_LOW, "a module without symbols in kallsyms weighs low");
  base ();
  fx ("proc/modules", "dummy 16384 0 - Live 0x0\nnf_tables 307200 0 - Live 0x0\nnew 4096 0 - Loading 0x0\n");
  fx ("proc/kallsyms", "0 t a\t[dummy]\n0 t b\t[nf_tables]\n0 t c\t[new]\n");
  audit (NULL);
  is_sev ("hidden.sysfs.new", HOST_LOW, "a module still loading is one view ahead: low, not hidden");
  tap_ok (strstr (evidence ("hidden.kallsyms"), "kptr_restrict") != NULL,
          "zeroed kallsyms addresses are said: %s", evidence ("hidden.kallsyms"));
  base ();
  fx_rm ("proc/kallsyms");
  audit (NULL);
  tap_ok (sev ("hidden") == HOST_OK && strstr (evidence ("hidden.kallsyms"), "unreadable"),
          "no kallsyms: the view is said to be missing, the others still compared");
}

static void
test_garbage (void)
{
  char big[8192];
  FILE *f;
  char full[PATH_MAX + 32];

  base ();
  fx ("proc/modules", "dummy 16384 0 - Live 0x0\nnf_tables 307200 0 - Live 0x0\n../../etc 1 0 - Live 0x0\n"
                      "\x01\x02\xff garbage\n");
  audit (NULL);
  is_sev ("hidden.garbage", HOST_MEDIUM, "lines that are no module name are reported, not trusted");
  tap_ok (!any ("hidden.sysfs.") && !any ("module.."), "and never become module names");
  /* /proc/modules past its 8 MiB bound, and a 1 MiB line with no newline in kallsyms. */
  memset (big, 'x', sizeof big);
  snprintf (full, sizeof full, "%s/proc/modules", root);
  f = fopen (full, "a");
  for (int i = 0; f && i < 9 * 128; i++)
    fwrite (big, 1, sizeof big, f);
  if (f)
    fclose (f);
  snprintf (full, sizeof full, "%s/proc/kallsyms", root);
  f = fopen (full, "a");
  for (int i = 0; f && i < 128; i++)
    fwrite (big, 1, sizeof big, f);
  if (f)
    fclose (f);
  tap_ok (audit (NULL) == 0 && strstr (evidence ("hidden.garbage"), "over 8 MiB"),
          "a huge /proc/modules is read up to its bound: %s", evidence ("hidden.garbage"));
  /* A FIFO where a file should be must not hang the audit (O_NONBLOCK, regular files only). */
  base ();
  snprintf (full, sizeof full, "%s/proc/sys/kernel/tainted", root);
  unlink (full);
  mkfifo (full, 0644);
  fx_rm ("proc/sys/kernel/modprobe");
  snprintf (full, sizeof full, "%s/proc/sys/kernel/modprobe", root);
  mkdir (full, 0755);
  alarm (20);
  tap_ok (audit (NULL) == 0 && sev ("taint") == HOST_INFO && sev ("autoload.helper") == HOST_INFO,
          "a FIFO and a directory in place of files: unreadable, said so, no hang");
  alarm (0);
  /* An empty root: everything missing. */
  fx_rm ("");
  mkdir (root, 0755);
  tap_ok (audit (NULL) == 0 && rep.n > 0, "an empty root: the audit runs and says what it could not read");
  struct host_opts o = { .root = "/nonexistent/sbx-root" };
  host_report_free (&rep);
  tap_ok (host_audit (&o, &rep, &err) < 0 && strstr (err.msg, "--root"), "a missing --root is an error: %s",
          err.msg);
}

static void
test_autoload (void)
{
  base ();
  audit (NULL);
  is_sev ("autoload.sctp", HOST_MEDIUM, "sctp on disk, not loaded, aliased: would autoload");
  is_sev ("autoload.algif_hash", HOST_MEDIUM, "algif_hash would autoload");
  is_sev ("autoload.n_hdlc", HOST_MEDIUM, "n_hdlc with ldisc_autoload=1 would autoload");
  is_sev ("autoload.nf_tables", HOST_LOW, "a loaded risky module is named as loaded");
  tap_ok (sev ("autoload.tipc") < 0, "a risky module not on disk is not reported");
  is_sev ("autoload.helper", HOST_OK, "a root-owned modprobe helper");

  fx ("etc/modprobe.d/local.conf", "# comment\nblacklist sctp\ninstall algif-hash /bin/false\n");
  fx ("proc/sys/dev/tty/ldisc_autoload", "0\n");
  audit (NULL);
  is_sev ("autoload.sctp", HOST_INFO, "blacklist stops alias autoload only: info, and says modprobe still loads it");
  tap_ok (sev ("autoload.algif_hash") < 0 && strstr (evidence ("autoload.surface"), "algif_hash (install false)"),
          "install NAME /bin/false stops it (and '-' reads as '_'): %s", evidence ("autoload.surface"));
  tap_ok (sev ("autoload.n_hdlc") < 0, "dev.tty.ldisc_autoload=0 stops n_hdlc");

  base ();
  fx ("lib/modprobe.d/sctp.conf", "install sctp /bin/true\n");
  fx ("etc/modprobe.d/sctp.conf", "# the operator's copy hides /lib's\n");
  fx ("run/modprobe.d/x.conf", "install \\\n  af_alg /usr/bin/false\n");
  fx ("etc/modprobe.d/notconf.txt", "install algif_hash /bin/false\n");
  fx ("proc/cmdline", "quiet modprobe.blacklist=foo,algif_hash\n");
  audit (NULL);
  is_sev ("autoload.sctp", HOST_MEDIUM, "a file in /etc/modprobe.d hides the same name in /lib/modprobe.d");
  tap_ok (sev ("autoload.af_alg") < 0, "a continuation line is joined");
  is_sev ("autoload.algif_hash", HOST_INFO, "only *.conf is read; modprobe.blacklist= on the command line counts");

  base ();
  fx ("etc/modprobe.d/off.conf", "alias net-pf-132 off\nalias net-pf-10-proto-132 off\n");
  fx ("etc/modprobe.d/custom.conf", "install algif_hash /usr/local/bin/log-and-load\n");
  audit (NULL);
  tap_ok (sev ("autoload.sctp") < 0, "every alias set to off stops autoload");
  tap_ok (sev ("autoload.algif_hash") == HOST_MEDIUM && strstr (evidence ("autoload.algif_hash"), "custom install"),
          "a custom install command is shown, not trusted");

  base ();
  fx ("proc/sys/kernel/modprobe", "\n");
  audit (NULL);
  tap_ok (sev ("autoload.helper") == HOST_OK && sev ("autoload.sctp") < 0, "kernel.modprobe empty: autoload off");
  fx ("proc/sys/kernel/modprobe", "/tmp/x\n");
  fx ("tmp/x", "#!/bin/sh\n");
  fx_chmod ("tmp/x", 0755);
  audit (NULL);
  is_sev ("autoload.helper", HOST_HIGH, "a helper that is not modprobe is a rootkit's mark");
  fx_chmod ("tmp/x", 0777);
  audit (NULL);
  is_sev ("autoload.helper", HOST_CRITICAL, "a world-writable helper runs anyone's code as root");
  fx ("bin/busybox", "\177ELF");
  fx_chmod ("bin/busybox", 0755);
  fx_rm ("sbin/modprobe");
  {
    char l[PATH_MAX + 32];
    snprintf (l, sizeof l, "%s/sbin/modprobe", root);
    tap_ok (symlink ("/bin/busybox", l) == 0, "(fixture: /sbin/modprobe -> /bin/busybox, absolute, inside the root)");
  }
  fx ("proc/sys/kernel/modprobe", "/sbin/modprobe\n");
  audit (NULL);
  is_sev ("autoload.helper", HOST_OK, "busybox's modprobe link is modprobe (resolved inside the root)");
  fx ("proc/sys/kernel/modprobe", "/bin/busybox\n");
  audit (NULL);
  is_sev ("autoload.helper", HOST_HIGH, "busybox itself, not named modprobe, is not modprobe");
  fx ("proc/sys/kernel/modprobe", "/nonexistent\n");
  audit (NULL);
  tap_ok (sev ("autoload.helper") == HOST_OK && sev ("autoload.sctp") < 0, "a missing helper: autoload cannot run");
  base ();
  fx_rm ("lib/modules");
  audit (NULL);
  tap_ok (sev ("autoload.surface") == HOST_INFO && sev ("autoload.sctp") < 0, "no module tree: nothing to autoload");
}

static void
test_modules_disabled (void)
{
  base ();
  fx_rm ("proc/sys/kernel/modules_disabled");
  audit (NULL);
  tap_ok (sev ("sysctl.modules_disabled") == HOST_LOW && strstr (evidence ("modules.support"), "unreadable"),
          "modules_disabled missing: said unreadable (found by fuzz_doctor_host: it printed stack garbage)");
  fx ("proc/sys/kernel/modules_disabled", "1\n");
  audit (NULL);
  is_sev ("modules.disabled", HOST_OK, "modules_disabled=1 is seen");
  tap_ok (sev ("sysctl.modules_disabled") < 0 && sev ("autoload.sctp") < 0 && sev ("modules.sig_enforce") == HOST_INFO,
          "and nothing that needs a new load is flagged");
  is_sev ("hidden", HOST_OK, "the loaded modules are still cross-checked");
}

static void
test_allowlist (void)
{
  base ();
  tap_ok (audit ("{\"host\":{\"module_allowlist\":[\"dummy\"]}}") == 0, "allowlist read");
  is_sev ("allowlist.nf_tables", HOST_MEDIUM, "a loaded module outside the allowlist");
  tap_ok (sev ("allowlist.dummy") < 0, "an allowlisted module is not flagged");
  audit ("{\"host\":{\"module_allowlist\":[\"dummy\",\"nf-tables\"]}}");
  is_sev ("allowlist", HOST_OK, "every loaded module allowlisted ('-' reads as '_')");
  fx ("sys/module/rootkit/initstate", "live\n");
  audit ("{\"host\":{\"module_allowlist\":[\"dummy\",\"nf_tables\"]}}");
  is_sev ("allowlist.rootkit", HOST_MEDIUM, "a module only sysfs shows counts as loaded for the allowlist");
  tap_ok (audit ("{\"host\":{\"module_allowlist\":\"dummy\"}}") < 0 && strstr (err.msg, "module_allowlist"),
          "a mistyped allowlist is an error: %s", err.msg);
  tap_ok (audit ("{\"host\":{\"module_allowlist\":[\"a/b\"]}}") < 0, "a bad module name is an error: %s", err.msg);
  tap_ok (audit ("{\"host\":{\"modules_allowlist\":[]}}") < 0 && strstr (err.msg, "unknown"),
          "an unknown host.* key is an error: %s", err.msg);
}

/* Run `sbx doctor --host ARGS...` in a child, its stdout into OUT (a file under the root's parent). */
static int
run_main (const char *out, ...)
{
  char *argv[16] = { "--host", "--root", root };
  int argc = 3, status;
  va_list ap;
  pid_t pid;

  va_start (ap, out);
  while (argc < 15 && (argv[argc] = va_arg (ap, char *)) != NULL)
    argc++;
  va_end (ap);
  argv[argc] = NULL;
  fflush (stdout);
  pid = fork ();
  if (pid == 0)
    {
      int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2 (fd, 1);
      int rc = host_doctor_main (argc, argv);
      fflush (stdout);
      _exit (rc);
    }
  waitpid (pid, &status, 0);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static bool
file_has (const char *path, const char *needle)
{
  cleanup_free char *s = NULL;
  size_t len;
  sbx_err e;
  return sbx_read_file (path, 1 << 24, &s, &len, &e) == 0 && strstr (s, needle) != NULL;
}

static void
test_command (const char *tmp)
{
  char a[PATH_MAX], b[PATH_MAX], cmd[PATH_MAX * 3];

  snprintf (a, sizeof a, "%s/a.json", tmp);
  snprintf (b, sizeof b, "%s/b.out", tmp);
  base ();
  fx ("sys/module/module/parameters/sig_enforce", "Y\n");
  tap_ok (run_main (a, "--json", NULL) == 0, "default threshold (high): exit 0 with medium findings");
  snprintf (cmd, sizeof cmd, "jq -e '.findings | map(select(.id==\"autoload.sctp\" and .severity==\"medium\" and "
                             "(.evidence|length)>0 and (.fix|length)>0)) | length == 1' %s >/dev/null", a);
  tap_ok (system (cmd) == 0, "--json: one object, findings with id, severity, title, evidence, fix");
  tap_ok (run_main (b, "--fail-on=medium", NULL) == 1, "--fail-on=medium: exit 1");
  tap_ok (run_main (b, "--fail-on", "critical", NULL) == 0, "--fail-on critical: exit 0");
  tap_ok (run_main (b, "--fail-on=bogus", NULL) == 2, "--fail-on with an unknown severity: usage error");
  tap_ok (run_main (b, "--baseline", a, "--fail-on=medium", NULL) == 0 && !file_has (b, "autoload.sctp"),
          "--baseline of itself: nothing changed, nothing fails");
  fx ("sys/module/dummy/taint", "E\n");
  fx ("etc/modprobe.d/x.conf", "install sctp /bin/false\n");
  tap_ok (run_main (b, "--baseline", a, "--json", NULL) == 1, "--baseline: a new high finding fails");
  snprintf (cmd, sizeof cmd, "jq -e '(.findings|map(.id)) == [\"module.dummy.unsigned\"] and "
                             "(.resolved|map(.id)|sort) == [\"autoload.sctp\", \"modules.taint\"]' %s >/dev/null", b);
  tap_ok (system (cmd) == 0, "--baseline reports only the new finding, and the one resolved");
  fx ("proc/sys/kernel/modules_disabled", "1\n");
  run_main (b, "--baseline", a, "--json", NULL);
  snprintf (cmd, sizeof cmd, "jq -e '.findings|map(select(.id==\"lockdown\"))|.[0].severity==\"low\"' "
                             "%s >/dev/null", b);
  tap_ok (system (cmd) == 0, "--baseline: a finding whose severity changed is reported");
  fx ("../bad.json", "{\"findings\": [{\"id\": 1}]}");
  snprintf (cmd, sizeof cmd, "%s/../bad.json", root);
  tap_ok (run_main (b, "--baseline", cmd, NULL) == 2, "a malformed baseline is an error, not an empty one");
}

/* The BPF view on the running kernel: iter/ksym loads (kernel 6.0+, root) and, on a kernel without loadable
   modules, names no module but the kernel's own pseudo-modules (bpf, __builtin__*). */
static void
test_bpf_iter (void)
{
  cleanup_free char *txt = NULL;
  size_t len, real = 0;
  sbx_err e = { 0 };

  if (sbx_bpf_ksym_modules (1u << 26, &txt, &len, &e) < 0)
    {
      tap_skip ("iter/ksym on this kernel", "cannot load here: %s", e.msg);
      return;
    }
  for (char *p = txt, *nl; p && *p; p = nl ? nl + 1 : NULL)
    {
      nl = strchr (p, '\n');
      if (nl)
        *nl = '\0';
      if (strcmp (p, "bpf") != 0 && strncmp (p, "__builtin__", 11) != 0)
        real++;
    }
  if (access ("/proc/modules", F_OK) == 0)
    tap_ok (len > 0, "iter/ksym loads and lists module symbols (%zu bytes)", len);
  else
    tap_ok (real == 0, "iter/ksym loads; without CONFIG_MODULES it names no module (%zu bytes)", len);
}

int
main (void)
{
  char tmp[] = "/tmp/sbx-doctor-host.XXXXXX";
  const char *keep = getenv ("SBX_TEST_KEEP");

  if (mkdtemp (tmp) == NULL)
    return tap_bail ("mkdtemp: %s", strerror (errno)), 1;
  snprintf (root, sizeof root, "%s/root", tmp);
  setenv ("SBX_CONFIG", "/nonexistent/sbx.json", 1);
  test_no_modules ();
  test_signatures_lockdown ();
  test_secure_boot_keys ();
  test_taint ();
  test_module_taint ();
  test_hidden ();
  test_garbage ();
  test_autoload ();
  test_modules_disabled ();
  test_allowlist ();
  test_command (tmp);
  test_bpf_iter ();
  host_report_free (&rep);
  {
    char cmd[PATH_MAX + 16];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (keep == NULL && system (cmd) != 0)
      tap_diag ("could not remove %s", tmp);
  }
  return tap_done ();
}
