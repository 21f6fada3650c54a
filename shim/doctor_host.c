/* doctor_host.c - `sbx doctor --host`: reading the host (or a fixture root) and the kernel-wide checks:
   module support, signatures, lockdown, Secure Boot, trusted keys, one-way sysctls, LSM stack, taint. */
#define _GNU_SOURCE
#include "doctor_host.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "../common/util.h"
#include "../watcher/watcher.h"

#define KCONFIG_MAX (4u << 20)

static const char *const sev_names[] = { "ok", "info", "low", "medium", "high", "critical" };

const char *
host_sev_name (enum host_sev s)
{
  return (unsigned) s < SBX_ARRAY_SIZE (sev_names) ? sev_names[s] : "?";
}

int
host_sev_parse (const char *s)
{
  for (size_t i = 0; i < SBX_ARRAY_SIZE (sev_names); i++)
    if (strcmp (s, sev_names[i]) == 0)
      return (int) i;
  return -1;
}

const char *
host_clean (const char *s, char *buf, size_t size)
{
  size_t i = 0;

  for (; s && *s && i + 1 < size; s++)
    buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  buf[i] = '\0';
  return buf;
}

void
host_add (struct host_ctx *c, enum host_sev sev, const char *id, const char *title, const char *fix,
          const char *evfmt, ...)
{
  struct host_report *r = c->r;
  struct host_finding *f;
  char *ev = NULL;
  va_list ap;

  if (r->n == r->cap)
    {
      size_t cap = r->cap ? r->cap * 2 : 32;
      struct host_finding *nv = realloc (r->v, cap * sizeof *nv);
      if (nv == NULL)
        return;
      r->v = nv;
      r->cap = cap;
    }
  va_start (ap, evfmt);
  if (vasprintf (&ev, evfmt, ap) < 0)
    ev = NULL;
  va_end (ap);
  f = &r->v[r->n];
  f->id = strdup (id);
  f->title = strdup (title);
  f->fix = strdup (fix ? fix : "");
  f->evidence = ev;
  f->sev = sev;
  if (f->id == NULL || f->title == NULL || f->fix == NULL || f->evidence == NULL)
    {
      free (f->id), free (f->title), free (f->fix), free (f->evidence);
      return;
    }
  r->n++;
}

const struct host_finding *
host_find (const struct host_report *r, const char *id)
{
  for (size_t i = 0; i < r->n; i++)
    if (strcmp (r->v[i].id, id) == 0)
      return &r->v[i];
  return NULL;
}

void
host_report_free (struct host_report *r)
{
  for (size_t i = 0; i < r->n; i++)
    free (r->v[i].id), free (r->v[i].title), free (r->v[i].evidence), free (r->v[i].fix);
  free (r->v);
  free (r->config);
  memset (r, 0, sizeof *r);
}

/* Every path is resolved inside the root: a fixture's absolute symlinks stay in the fixture, and on the host
   RESOLVE_IN_ROOT with "/" changes nothing.  O_NONBLOCK: a FIFO planted in a fixture cannot hang the audit. */
int
host_open (struct host_ctx *c, const char *path, int flags)
{
  struct open_how how = { .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd;

  /* openat2 refuses O_PATH with any flag it does not combine with. */
  flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY | O_NONBLOCK);
  how.flags = (unsigned long long) flags;

  while (*path == '/')
    path++;
  fd = (int) syscall (SYS_openat2, c->rootfd, *path ? path : ".", &how, sizeof how);
  if (fd < 0 && errno == ENOSYS)
    fd = openat (c->rootfd, *path ? path : ".", flags);
  return fd;
}

int
host_read (struct host_ctx *c, const char *path, size_t max, char **out, size_t *len)
{
  cleanup_close int fd = host_open (c, path, O_RDONLY);
  struct stat st;
  sbx_err err;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0)
    return -1;
  if (!S_ISREG (st.st_mode))
    {
      errno = S_ISDIR (st.st_mode) ? EISDIR : EINVAL;
      return -1;
    }
  if (sbx_read_fd (fd, max, path, out, len, &err) < 0)
    {
      errno = err.code ? err.code : EIO;
      return -1;
    }
  return 0;
}

bool
host_read_line (struct host_ctx *c, const char *path, char *buf, size_t size)
{
  cleanup_free char *s = NULL;
  size_t len;

  /* Callers print BUF in evidence whether or not the read worked. */
  buf[0] = '\0';
  if (host_read (c, path, 64 << 10, &s, &len) < 0)
    return false;
  s[strcspn (s, "\n")] = '\0';
  host_clean (s, buf, size);
  return true;
}

bool
host_exists (struct host_ctx *c, const char *path)
{
  cleanup_close int fd = host_open (c, path, O_PATH);
  return fd >= 0;
}

/* /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-RELEASE, bounded after decompression. */
static void
load_kconfig (struct host_ctx *c)
{
  struct host_report *r = c->r;
  char boot[256];
  int fd = host_open (c, "/proc/config.gz", O_RDONLY);

  if (fd >= 0)
    {
      gzFile gz = gzdopen (fd, "rb");
      char *buf = gz ? malloc (KCONFIG_MAX + 1) : NULL;
      int n = 0, got;

      if (gz == NULL)
        close (fd);
      while (buf && n < (int) KCONFIG_MAX && (got = gzread (gz, buf + n, KCONFIG_MAX - n)) > 0)
        n += got;
      if (gz)
        gzclose (gz);
      if (buf && n > 0)
        {
          buf[n] = '\0';
          r->config = buf;
          snprintf (r->config_src, sizeof r->config_src, "/proc/config.gz");
          return;
        }
      free (buf);
    }
  snprintf (boot, sizeof boot, "/boot/config-%s", r->release);
  if (r->release[0] && strchr (r->release, '/') == NULL)
    {
      size_t len;
      if (host_read (c, boot, KCONFIG_MAX, &r->config, &len) == 0)
        snprintf (r->config_src, sizeof r->config_src, "%.63s", boot);
    }
}

const char *
host_kconfig (struct host_ctx *c, const char *name, char *buf, size_t size)
{
  const char *cfg = c->r->config, *p;
  char key[96];
  size_t kl;

  if (cfg == NULL)
    return NULL;
  kl = (size_t) snprintf (key, sizeof key, "CONFIG_%s", name);
  for (p = cfg; (p = strstr (p, key)) != NULL; p += kl)
    {
      bool bol = p == cfg || p[-1] == '\n';
      if (p[kl] == '=' && bol)
        {
          const char *v = p + kl + 1;
          size_t n = strcspn (v, "\n");
          if (n && *v == '"')
            v++, n -= (n >= 2 ? 2 : 1);
          snprintf (buf, size, "%.*s", (int) n, v);
          return host_clean (buf, buf, size);
        }
      if (p >= cfg + 2 && strncmp (p - 2, "# ", 2) == 0 && (p == cfg + 2 || p[-3] == '\n')
          && strncmp (p + kl, " is not set", 11) == 0)
        return snprintf (buf, size, "n"), buf;
    }
  return NULL;
}

static void
check_support (struct host_ctx *c)
{
  struct host_report *r = c->r;
  char v[16], md[16] = "";
  bool procmods = host_exists (c, "/proc/modules");
  const char *k = host_kconfig (c, "MODULES", v, sizeof v);

  if (!procmods && (k == NULL || strcmp (k, "n") == 0))
    {
      r->modules = HOST_MODULES_NONE;
      host_add (c, HOST_OK, "modules.support", "the kernel cannot load modules (CONFIG_MODULES off): the "
                "strongest module posture; the module checks do not apply", NULL,
                "/proc/modules absent; %s: %s", k ? r->config_src : "kernel config",
                k ? "# CONFIG_MODULES is not set" : "not readable");
      return;
    }
  if (host_read_line (c, "/proc/sys/kernel/modules_disabled", md, sizeof md) && strcmp (md, "1") == 0)
    {
      r->modules = HOST_MODULES_DISABLED;
      host_add (c, HOST_OK, "modules.disabled", "module loading is switched off until reboot "
                "(kernel.modules_disabled=1)", NULL, "/proc/sys/kernel/modules_disabled: 1");
      return;
    }
  r->modules = procmods ? HOST_MODULES_LOADABLE : HOST_MODULES_UNKNOWN;
  host_add (c, HOST_INFO, "modules.support", "the kernel loads modules", NULL, "/proc/modules %s; "
            "kernel.modules_disabled: %s", procmods ? "present" : "absent", md[0] ? md : "unreadable");
  host_add (c, HOST_LOW, "sysctl.modules_disabled", "module loading stays possible after boot",
            "once every needed module is loaded: sysctl -w kernel.modules_disabled=1 (one-way until reboot)",
            "/proc/sys/kernel/modules_disabled: %s", md[0] ? md : "unreadable");
}

static void
check_lockdown (struct host_ctx *c)
{
  struct host_report *r = c->r;
  char line[128], v[8], *a, *b;
  static const char *const forced[] = { "LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY", "LOCK_DOWN_KERNEL_FORCE_INTEGRITY" };
  bool loadable = r->modules == HOST_MODULES_LOADABLE;

  if (host_read_line (c, "/sys/kernel/security/lockdown", line, sizeof line) && (a = strchr (line, '['))
      && (b = strchr (a, ']')) && b - a - 1 < (long) sizeof r->lockdown)
    snprintf (r->lockdown, sizeof r->lockdown, "%.*s", (int) (b - a - 1), a + 1);
  else
    for (size_t i = 0; i < SBX_ARRAY_SIZE (forced); i++)
      if (host_kconfig (c, forced[i], v, sizeof v) && strcmp (v, "y") == 0)
        snprintf (r->lockdown, sizeof r->lockdown, "%s", i ? "integrity" : "confidentiality");
  if (r->lockdown[0] == '\0')
    host_add (c, HOST_INFO, "lockdown", "lockdown mode unknown", "mount securityfs (mount -t securityfs "
              "securityfs /sys/kernel/security) to let sbx read it",
              "/sys/kernel/security/lockdown: %s; no forced mode in the kernel config",
              host_exists (c, "/sys/kernel/security/lockdown") ? "unreadable" : "absent");
  else if (strcmp (r->lockdown, "none") == 0)
    host_add (c, loadable ? HOST_MEDIUM : HOST_LOW, "lockdown", "kernel lockdown is off: root can change the "
              "running kernel (unsigned modules, /dev/mem, kexec, BPF writes to kernel memory)",
              "boot with lockdown=integrity (Secure Boot turns it on in most distribution kernels)",
              "/sys/kernel/security/lockdown: %s", line);
  else
    host_add (c, HOST_OK, "lockdown", "kernel lockdown is on", NULL, "mode %s (%s)", r->lockdown,
              host_exists (c, "/sys/kernel/security/lockdown") ? "/sys/kernel/security/lockdown"
                                                                 : "forced by the kernel config");
}

static void
check_signatures (struct host_ctx *c)
{
  struct host_report *r = c->r;
  char se[16] = "", sig[8], force[8];
  bool have = host_read_line (c, "/sys/module/module/parameters/sig_enforce", se, sizeof se);
  const char *ks = host_kconfig (c, "MODULE_SIG", sig, sizeof sig), *kf = host_kconfig (c, "MODULE_SIG_FORCE",
                                                                                        force, sizeof force);
  bool lock = r->lockdown[0] && strcmp (r->lockdown, "none") != 0;
  enum host_sev sev = r->modules == HOST_MODULES_LOADABLE ? HOST_MEDIUM : HOST_INFO;

  if ((have && strcmp (se, "Y") == 0) || (kf && strcmp (kf, "y") == 0))
    r->sig_enforced = true;
  if (r->sig_enforced || lock)
    {
      r->sig_enforced = true;
      host_add (c, HOST_OK, "modules.sig_enforce", "the kernel refuses unsigned modules", NULL,
                "sig_enforce: %s; CONFIG_MODULE_SIG_FORCE: %s; lockdown: %s", have ? se : "unreadable",
                kf ? kf : "unknown", r->lockdown[0] ? r->lockdown : "unknown");
    }
  else if (!have && ks && strcmp (ks, "n") == 0)
    host_add (c, sev, "modules.sig_enforce", "the kernel cannot check module signatures (CONFIG_MODULE_SIG off)",
              "use a kernel built with CONFIG_MODULE_SIG and CONFIG_MODULE_SIG_FORCE, or set "
              "kernel.modules_disabled=1 after boot", "%s: # CONFIG_MODULE_SIG is not set", r->config_src);
  else
    host_add (c, sev, "modules.sig_enforce", "unsigned modules load (with an E taint) instead of being refused",
              "boot with module.sig_enforce=1 (or enable Secure Boot, which turns lockdown on)",
              "/sys/module/module/parameters/sig_enforce: %s; CONFIG_MODULE_SIG: %s; CONFIG_MODULE_SIG_FORCE: %s; "
              "lockdown: %s", have ? se : "unreadable", ks ? ks : "unknown", kf ? kf : "unknown",
              r->lockdown[0] ? r->lockdown : "unknown");
}

#define EFI_GLOBAL "8be4df61-93ca-11d2-aa0d-00e098032b8c"

static void
check_secure_boot (struct host_ctx *c)
{
  cleanup_free char *sb = NULL;
  size_t len;

  if (!host_exists (c, "/sys/firmware/efi"))
    {
      host_add (c, HOST_INFO, "secureboot", "not EFI (BIOS or direct kernel boot): no Secure Boot; the boot chain "
                "is as trusted as the disk or hypervisor that holds it", NULL, "/sys/firmware/efi absent");
      return;
    }
  if (host_read (c, "/sys/firmware/efi/efivars/SecureBoot-" EFI_GLOBAL, 64, &sb, &len) < 0 || len < 5)
    {
      host_add (c, HOST_INFO, "secureboot", "EFI, Secure Boot state unreadable", "mount efivarfs on "
                "/sys/firmware/efi/efivars to let sbx read it", "SecureBoot-" EFI_GLOBAL ": %s",
                sb ? "shorter than 5 bytes" : strerror (errno));
      return;
    }
  /* 4 bytes of attributes, then the value. */
  if (sb[4] == 1)
    host_add (c, HOST_OK, "secureboot", "Secure Boot is on", NULL, "SecureBoot-" EFI_GLOBAL ": 1");
  else
    host_add (c, HOST_LOW, "secureboot", "Secure Boot is off: the bootloader and kernel are not verified",
              "enable Secure Boot in the firmware (and enrol the keys that sign your kernel)",
              "SecureBoot-" EFI_GLOBAL ": %d", sb[4]);
}

/* /proc/keys lists what the caller may view: as root, the system keyrings. */
static void
check_keys (struct host_ctx *c)
{
  static const char *const rings[] = { ".builtin_trusted_keys", ".secondary_trusted_keys", ".platform", ".machine",
                                       ".blacklist" };
  cleanup_free char *keys = NULL;
  char ev[1024] = "", buf[96];
  size_t len, off = 0;

  if (c->r->modules == HOST_MODULES_NONE)
    return;
  if (host_read (c, "/proc/keys", 4 << 20, &keys, &len) < 0)
    {
      host_add (c, HOST_INFO, "keys", "the keys the kernel trusts for modules cannot be listed", "run as root",
                "/proc/keys: %s", strerror (errno));
      return;
    }
  for (size_t i = 0; i < SBX_ARRAY_SIZE (rings); i++)
    {
      char pat[64], *p;
      snprintf (pat, sizeof pat, " %s: ", rings[i]);
      p = strstr (keys, pat);
      if (p)
        {
          p += strlen (pat);
          snprintf (buf, sizeof buf, "%s %.*s", rings[i], (int) strcspn (p, "\n"), p);
        }
      else
        snprintf (buf, sizeof buf, "%s not visible", rings[i]);
      off += (size_t) snprintf (ev + off, off < sizeof ev ? sizeof ev - off : 0, "%s%s", off ? "; " : "",
                                host_clean (buf, buf, sizeof buf));
      if (off >= sizeof ev)
        break;
    }
  host_add (c, HOST_INFO, "keys", "keyrings the kernel trusts for module signatures (.builtin_trusted_keys; "
            ".secondary_trusted_keys and .machine (MOK) when the kernel links them)",
            "review enrolled MOK keys (mokutil --list-enrolled): any of them can sign a module", "/proc/keys: %s", ev);
}

/* A sysctl's value in BUF; false (errno kept) when it cannot be read. */
static bool
sysctl_read (struct host_ctx *c, const char *name, char *buf, size_t size)
{
  char path[128];

  snprintf (path, sizeof path, "/proc/sys/%s", name);
  for (char *p = path + 10; *p; p++)
    if (*p == '.')
      *p = '/';
  buf[0] = '\0';
  return host_read_line (c, path, buf, size);
}

/* One-way switches over what root can do to the running kernel. */
static void
check_sysctls (struct host_ctx *c)
{
  struct host_report *r = c->r;
  char v[64];

  if (!sysctl_read (c, "kernel.kexec_load_disabled", v, sizeof v))
    host_add (c, HOST_OK, "sysctl.kexec_load_disabled", "no kexec_load (the kernel has no CONFIG_KEXEC)", NULL,
              "/proc/sys/kernel/kexec_load_disabled: %s", strerror (errno));
  else if (strcmp (v, "1") == 0)
    host_add (c, HOST_OK, "sysctl.kexec_load_disabled", "kexec is switched off until reboot", NULL,
              "kernel.kexec_load_disabled: 1");
  else
    host_add (c, r->sig_enforced ? HOST_LOW : HOST_MEDIUM, "sysctl.kexec_load_disabled",
              "root can replace the running kernel with kexec",
              "sysctl -w kernel.kexec_load_disabled=1 once the host is up (one-way)", "kernel.kexec_load_disabled: %s"
              "; lockdown: %s", v, r->lockdown[0] ? r->lockdown : "unknown");

  if (!sysctl_read (c, "kernel.unprivileged_bpf_disabled", v, sizeof v))
    host_add (c, HOST_OK, "sysctl.unprivileged_bpf_disabled", "no bpf() system call", NULL,
              "/proc/sys/kernel/unprivileged_bpf_disabled: %s", strerror (errno));
  else if (strcmp (v, "0") == 0)
    host_add (c, HOST_MEDIUM, "sysctl.unprivileged_bpf_disabled", "unprivileged users can load BPF programs (a "
              "frequent route to kernel exploits)", "sysctl -w kernel.unprivileged_bpf_disabled=1 (one-way)",
              "kernel.unprivileged_bpf_disabled: 0");
  else
    host_add (c, HOST_OK, "sysctl.unprivileged_bpf_disabled", "unprivileged BPF is off", NULL,
              "kernel.unprivileged_bpf_disabled: %s%s", v, strcmp (v, "2") == 0 ? " (root may turn it back on; 1 "
              "is one-way)" : "");

}

/* Switches that narrow what unprivileged users reach in the kernel. */
static void
check_user_surface (struct host_ctx *c)
{
  char v[64], w[64];
  bool mods = c->r->modules == HOST_MODULES_LOADABLE;

  if (sysctl_read (c, "dev.tty.ldisc_autoload", v, sizeof v) && strcmp (v, "0") != 0 && mods)
    host_add (c, HOST_LOW, "sysctl.ldisc_autoload", "any user can autoload a tty line discipline module (n_hdlc, "
              "...) with TIOCSETD", "sysctl -w dev.tty.ldisc_autoload=0", "dev.tty.ldisc_autoload: %s", v);
  else
    host_add (c, HOST_OK, "sysctl.ldisc_autoload", "line disciplines do not autoload for users", NULL,
              "dev.tty.ldisc_autoload: %s%s", v[0] ? v : "absent", mods ? "" : " (no module loading)");

  if (!sysctl_read (c, "kernel.io_uring_disabled", v, sizeof v))
    host_add (c, HOST_INFO, "sysctl.io_uring_disabled", "no kernel.io_uring_disabled (kernel older than 6.6 or "
              "without io_uring)", NULL, "/proc/sys/kernel/io_uring_disabled: %s", strerror (errno));
  else if (strcmp (v, "0") == 0)
    host_add (c, HOST_LOW, "sysctl.io_uring_disabled", "io_uring is open to every process",
              "sysctl -w kernel.io_uring_disabled=2 (or 1 with kernel.io_uring_group) where nothing needs it",
              "kernel.io_uring_disabled: 0");
  else
    host_add (c, HOST_OK, "sysctl.io_uring_disabled", "io_uring is restricted", NULL,
              "kernel.io_uring_disabled: %s", v);

  bool clone = sysctl_read (c, "kernel.unprivileged_userns_clone", w, sizeof w);
  sysctl_read (c, "user.max_user_namespaces", v, sizeof v);
  if ((clone && strcmp (w, "0") == 0) || strcmp (v, "0") == 0)
    host_add (c, HOST_OK, "sysctl.userns", "unprivileged user namespaces are off", NULL,
              "user.max_user_namespaces: %s; kernel.unprivileged_userns_clone: %s", v[0] ? v : "absent",
              clone ? w : "absent");
  else
    host_add (c, HOST_INFO, "sysctl.userns", "unprivileged user namespaces are on: rootless containers and `sbx "
              "run` as a user need them; they also give users CAP_NET_ADMIN-reachable kernel code",
              "where no user needs them: sysctl -w user.max_user_namespaces=0",
              "user.max_user_namespaces: %s; kernel.unprivileged_userns_clone: %s", v[0] ? v : "absent",
              clone ? w : "absent");

  if (sysctl_read (c, "kernel.kptr_restrict", v, sizeof v) && strcmp (v, "0") == 0)
    host_add (c, HOST_LOW, "sysctl.kptr_restrict", "kernel addresses are shown to every user (helps exploits "
              "defeat KASLR)", "sysctl -w kernel.kptr_restrict=1", "kernel.kptr_restrict: 0");
  else
    host_add (c, HOST_OK, "sysctl.kptr_restrict", "kernel addresses are hidden from users", NULL,
              "kernel.kptr_restrict: %s", v[0] ? v : "unreadable");
}

/* The LSM stack, and whether sbx's own BPF LSM hooks could load here. */
static void
check_lsm (struct host_ctx *c)
{
  char lsm[512] = "", v[512];
  const char *k = NULL;
  bool have = host_read_line (c, "/sys/kernel/security/lsm", lsm, sizeof lsm), bpf, btf;

  if (!have)
    k = host_kconfig (c, "LSM", v, sizeof v);
  bpf = strstr (have ? lsm : k ? k : "", "bpf") != NULL;
  btf = host_exists (c, "/sys/kernel/btf/vmlinux");
  host_add (c, HOST_INFO, "lsm.stack", "the active Linux security modules", NULL, "%s: %s",
            have ? "/sys/kernel/security/lsm" : k ? "CONFIG_LSM (securityfs not mounted; lsm= on the command line "
            "may differ)" : "/sys/kernel/security/lsm", have ? lsm : k ? k : "unreadable");
  if (bpf && btf)
    host_add (c, HOST_OK, "lsm.bpf", "BPF LSM is active and the kernel has BTF: sbx's LSM hooks can attach where "
              "the kernel allows BPF trampolines", NULL, "bpf in the LSM list; /sys/kernel/btf/vmlinux present");
  else
    host_add (c, HOST_LOW, "lsm.bpf", "sbx's BPF LSM hooks cannot load: containers keep seccomp's refusal, but a "
              "privileged container without seccomp is not stopped by sbx", bpf ? "use a kernel with "
              "CONFIG_DEBUG_INFO_BTF" : "boot with lsm=...,bpf (CONFIG_BPF_LSM)", "bpf in the LSM list: %s; "
              "/sys/kernel/btf/vmlinux: %s", bpf ? "yes" : "no", btf ? "present" : "absent");
  if (c->o->probe_bpf)
    {
      cleanup_free char *rep = NULL;
      size_t len = 0;
      FILE *m = open_memstream (&rep, &len);
      bool lsm_live;

      if (m == NULL)
        return;
      sbx_bpf_doctor (m, "", true);
      fclose (m);
      lsm_live = rep && strstr (rep, "lsm/kernel_read_file: loaded") && strstr (rep, "lsm/kernel_load_data: loaded");
      for (char *p = rep; p && *p; p++)
        if (*p == '\n')
          *p = p[1] ? ';' : '\0';
      host_add (c, lsm_live ? HOST_OK : HOST_LOW, "lsm.sbx_hooks", lsm_live ? "sbx's BPF LSM hooks load on this host"
                : "sbx's BPF LSM hooks do not load on this host: containers keep seccomp's refusal, a privileged "
                "container without seccomp is not stopped by sbx", lsm_live ? NULL : "see `sbx doctor` for why "
                "each hook cannot load", "probe: %s", rep ? rep : "");
    }
}

static const struct
{
  char letter;
  enum host_sev sev;
  const char *what;
} taints[] = {
  { 'P', HOST_MEDIUM, "proprietary module loaded" }, { 'F', HOST_HIGH, "module force-loaded" },
  { 'S', HOST_INFO, "out-of-specification system" }, { 'R', HOST_MEDIUM, "module force-unloaded" },
  { 'M', HOST_LOW, "machine check exception" }, { 'B', HOST_LOW, "bad page reference" },
  { 'U', HOST_LOW, "taint requested by userspace" }, { 'D', HOST_MEDIUM, "kernel died recently (OOPS or BUG)" },
  { 'A', HOST_LOW, "ACPI table overridden by the user" }, { 'W', HOST_INFO, "kernel warning issued" },
  { 'C', HOST_LOW, "staging driver loaded" }, { 'I', HOST_INFO, "workaround for a platform firmware bug" },
  { 'O', HOST_MEDIUM, "externally-built (out-of-tree) module loaded" },
  { 'E', HOST_HIGH, "unsigned module loaded" }, { 'L', HOST_INFO, "soft lockup occurred" },
  { 'K', HOST_INFO, "kernel live-patched" }, { 'X', HOST_INFO, "auxiliary taint (distribution-defined)" },
  { 'T', HOST_INFO, "built with the struct randomization plugin" }, { 'N', HOST_LOW, "an in-kernel test ran" },
  { 'J', HOST_LOW, "fwctl used a mutating debug operation" },
};

/* Severity and description of taint LETTER; NULL for one the table does not know. */
const char *
host_taint_desc (char letter, enum host_sev *sev)
{
  for (size_t i = 0; i < SBX_ARRAY_SIZE (taints); i++)
    if (taints[i].letter == letter)
      return *sev = taints[i].sev, taints[i].what;
  return NULL;
}

/* /proc/sys/kernel/tainted, bit by bit (Documentation/admin-guide/tainted-kernels.rst). */
static void
check_taint (struct host_ctx *c)
{
  char v[64], *end;
  unsigned long long t;

  if (!host_read_line (c, "/proc/sys/kernel/tainted", v, sizeof v))
    {
      host_add (c, HOST_INFO, "taint", "kernel taint unreadable", NULL, "/proc/sys/kernel/tainted: %s",
                strerror (errno));
      return;
    }
  errno = 0;
  t = strtoull (v, &end, 10);
  if (errno || end == v || *end || v[0] == '-')
    {
      host_add (c, HOST_MEDIUM, "taint", "kernel taint is not a number", "check what serves /proc on this host",
                "/proc/sys/kernel/tainted: \"%s\"", v);
      return;
    }
  if (t == 0)
    {
      host_add (c, HOST_OK, "taint", "the kernel is not tainted", NULL, "/proc/sys/kernel/tainted: 0");
      return;
    }
  for (int bit = 0; bit < 64; bit++)
    {
      char id[32];
      if (!(t & (1ull << bit)))
        continue;
      if (bit < (int) SBX_ARRAY_SIZE (taints))
        {
          snprintf (id, sizeof id, "taint.%c", taints[bit].letter);
          host_add (c, taints[bit].sev, id, taints[bit].what, taints[bit].letter == 'E' || taints[bit].letter == 'O'
                    || taints[bit].letter == 'P' || taints[bit].letter == 'F' ? "find the module (see the module."
                    "* findings), remove it and reboot: taint stays until reboot" : "",
                    "/proc/sys/kernel/tainted: %llu, bit %d (%c)", t, bit, taints[bit].letter);
        }
      else
        {
          snprintf (id, sizeof id, "taint.bit%d", bit);
          host_add (c, HOST_LOW, id, "taint bit this sbx does not know", "see the kernel's tainted-kernels.rst",
                    "/proc/sys/kernel/tainted: %llu, bit %d", t, bit);
        }
    }
}

int
host_audit (const struct host_opts *o, struct host_report *r, sbx_err *err)
{
  struct host_ctx c = { .o = o, .r = r };
  int ret;

  memset (r, 0, sizeof *r);
  c.rootfd = open (o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (c.rootfd < 0)
    return sbx_fail (err, errno, "--root %s", o->root);
  if (!host_read_line (&c, "/proc/sys/kernel/osrelease", r->release, sizeof r->release))
    r->release[0] = '\0';
  load_kconfig (&c);
  check_support (&c);
  check_lockdown (&c);
  if (r->modules != HOST_MODULES_NONE)
    check_signatures (&c);
  check_secure_boot (&c);
  check_keys (&c);
  check_sysctls (&c);
  check_user_surface (&c);
  check_lsm (&c);
  check_taint (&c);
  if (r->modules != HOST_MODULES_NONE)
    {
      host_check_modules (&c);
      host_check_autoload (&c);
    }
  ret = host_check_allowlist (&c, err);
  for (size_t i = 0; i < c.nloaded; i++)
    free (c.loaded[i]);
  free (c.loaded);
  close (c.rootfd);
  return ret;
}
