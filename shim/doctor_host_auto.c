/* doctor_host_auto.c - `sbx doctor --host`: the autoload surface: the modprobe helper the kernel calls, risky
   modules present under /lib/modules that a user's socket() or ioctl can load, and whether modprobe.d stops them
   (`blacklist` stops alias autoload only; `install NAME /bin/false` stops every load). */
#define _GNU_SOURCE
#include "doctor_host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

#define MODPROBE_FILES_MAX 256

/* Modules with a history of bugs reachable by unprivileged users through autoload, and the trigger. */
static const struct
{
  const char *name, *why;
} risky[] = {
  { "af_alg", "AF_ALG sockets" }, { "algif_hash", "AF_ALG hash" }, { "algif_skcipher", "AF_ALG skcipher" },
  { "algif_aead", "AF_ALG aead" }, { "algif_rng", "AF_ALG rng" }, { "rxrpc", "AF_RXRPC sockets" },
  { "dccp", "DCCP sockets" }, { "dccp_ipv4", "DCCP sockets" }, { "dccp_ipv6", "DCCP sockets" },
  { "sctp", "SCTP sockets" }, { "tipc", "AF_TIPC sockets" }, { "vsock", "AF_VSOCK sockets" },
  { "vmw_vsock_vmci_transport", "AF_VSOCK (VMCI)" }, { "vmw_vsock_virtio_transport", "AF_VSOCK (virtio)" },
  { "vsock_loopback", "AF_VSOCK loopback" }, { "hv_sock", "AF_VSOCK (Hyper-V)" },
  { "nf_tables", "nftables netlink (CAP_NET_ADMIN in a user namespace)" }, { "n_hdlc", "TIOCSETD line discipline" },
  { "can", "AF_CAN sockets" }, { "can_raw", "AF_CAN raw" }, { "can_bcm", "AF_CAN bcm" }, { "can_gw", "AF_CAN gw" },
  { "can_isotp", "AF_CAN isotp" }, { "can_j1939", "AF_CAN j1939" }, { "ax25", "AF_AX25 sockets" },
  { "netrom", "AF_NETROM sockets" }, { "rose", "AF_ROSE sockets" }, { "x25", "AF_X25 sockets" },
  { "appletalk", "AF_APPLETALK sockets" }, { "ipx", "AF_IPX sockets" }, { "llc2", "AF_LLC sockets" },
  { "rds", "AF_RDS sockets" }, { "rds_tcp", "AF_RDS over TCP" }, { "phonet", "AF_PHONET sockets" },
  { "ieee802154_socket", "AF_IEEE802154 sockets" }, { "atm", "AF_ATMPVC/SVC sockets" },
  { "kcm", "AF_KCM sockets" }, { "af_key", "AF_KEY sockets" }, { "l2tp_ppp", "PPPoL2TP sockets" },
  { "caif_socket", "AF_CAIF sockets" }, { "qrtr", "AF_QIPCRTR sockets" }, { "smc", "AF_SMC sockets" },
  { "nfc", "AF_NFC sockets" }, { "cls_route", "tc route classifier" }, { "sch_qfq", "tc qfq scheduler" },
};

/* What modprobe.d and the command line say about a module (names with '-' read as '_'). */
struct mconf
{
  char **black, **inst, **off; /* blacklisted; install NAME /bin/false|true; alias X off */
  char **cust;                 /* install NAME with another command (not judged) */
  size_t nb, ni, no, nc;
  size_t files;
};

static void
push (char ***v, size_t *n, const char *s, size_t len)
{
  char name[64], **nv;

  if (*n >= 4096 || !host_modname (s, len, name, sizeof name) || (nv = realloc (*v, (*n + 1) * sizeof *nv)) == NULL)
    return;
  *v = nv;
  if ((nv[*n] = strdup (name)) != NULL)
    (*n)++;
}

static bool
has (char **v, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (v[i], name) == 0)
      return true;
  return false;
}

static void
mconf_free (struct mconf *m)
{
  char **all[] = { m->black, m->inst, m->off, m->cust };
  size_t ns[] = { m->nb, m->ni, m->no, m->nc };

  for (size_t k = 0; k < 4; k++)
    {
      for (size_t i = 0; i < ns[k]; i++)
        free (all[k][i]);
      free (all[k]);
    }
}

/* One logical line of a modprobe.d file (continuations already joined). */
static void
mconf_line (struct mconf *m, char *line)
{
  char *w[4] = { 0 }, *save = NULL, *tok;
  int n = 0;

  for (tok = strtok_r (line, " \t", &save); tok && n < 4; tok = strtok_r (NULL, " \t", &save))
    w[n++] = tok;
  if (n < 2 || w[0][0] == '#')
    return;
  if (strcmp (w[0], "blacklist") == 0)
    push (&m->black, &m->nb, w[1], strlen (w[1]));
  else if (strcmp (w[0], "install") == 0 && n >= 3)
    {
      const char *b = strrchr (w[2], '/') ? strrchr (w[2], '/') + 1 : w[2];
      if (strcmp (b, "false") == 0 || strcmp (b, "true") == 0)
        push (&m->inst, &m->ni, w[1], strlen (w[1]));
      else
        push (&m->cust, &m->nc, w[1], strlen (w[1]));
    }
  else if (strcmp (w[0], "alias") == 0 && n >= 3 && (strcmp (w[2], "off") == 0 || strcmp (w[2], "/dev/null") == 0))
    {
      char **nv = realloc (m->off, (m->no + 1) * sizeof *nv);
      if (m->no < 4096 && nv && (m->off = nv, nv[m->no] = strdup (w[1])) != NULL)
        m->no++;
      else if (nv)
        m->off = nv;
    }
}

static void
mconf_file (struct host_ctx *c, struct mconf *m, const char *path)
{
  cleanup_free char *s = NULL;
  size_t len;
  char *p, *e;

  if (host_read (c, path, 1 << 20, &s, &len) < 0)
    return;
  m->files++;
  /* Join "\<newline>" continuations in place, then take lines. */
  for (p = e = s; *p; p++)
    if (p[0] == '\\' && p[1] == '\n')
      p++, *e++ = ' ';
    else
      *e++ = *p;
  *e = '\0';
  for (p = s; p && *p;)
    {
      char *nl = strchr (p, '\n');
      if (nl)
        *nl = '\0';
      mconf_line (m, p);
      p = nl ? nl + 1 : NULL;
    }
}

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* modprobe's order: a file name seen in an earlier directory hides the same name in a later one. */
static void
mconf_load (struct host_ctx *c, struct mconf *m)
{
  static const char *const dirs[] = { "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                                      "/lib/modprobe.d", "/usr/lib/modprobe.d" };
  char *seen[MODPROBE_FILES_MAX];
  size_t nseen = 0;
  char cmd[4096], *p;

  for (size_t i = 0; i < SBX_ARRAY_SIZE (dirs); i++)
    {
      int fd = host_open (c, dirs[i], O_RDONLY | O_DIRECTORY);
      char *files[MODPROBE_FILES_MAX];
      size_t nf = 0;
      struct dirent *e;
      DIR *d = fd >= 0 ? fdopendir (fd) : NULL;

      if (d == NULL)
        {
          if (fd >= 0)
            close (fd);
          continue;
        }
      while ((e = readdir (d)) != NULL && nf < MODPROBE_FILES_MAX)
        {
          size_t l = strlen (e->d_name);
          if (l > 5 && strcmp (e->d_name + l - 5, ".conf") == 0 && e->d_name[0] != '.')
            files[nf++] = strdup (e->d_name);
        }
      closedir (d);
      for (size_t k = 0; k < nf; k++)
        if (files[k] == NULL)
          files[k--] = files[--nf];
      qsort (files, nf, sizeof *files, str_cmp);
      for (size_t k = 0; k < nf; k++)
        {
          char path[PATH_MAX];
          bool dup = false;
          for (size_t s = 0; s < nseen && !dup; s++)
            dup = strcmp (seen[s], files[k]) == 0;
          if (dup || nseen == MODPROBE_FILES_MAX)
            {
              free (files[k]);
              continue;
            }
          snprintf (path, sizeof path, "%s/%s", dirs[i], files[k]);
          mconf_file (c, m, path);
          seen[nseen++] = files[k];
        }
    }
  for (size_t s = 0; s < nseen; s++)
    free (seen[s]);
  /* modprobe.blacklist=a,b on the kernel command line. */
  if (host_read_line (c, "/proc/cmdline", cmd, sizeof cmd))
    for (p = cmd; (p = strstr (p, "modprobe.blacklist=")) != NULL;)
      {
        p += strlen ("modprobe.blacklist=");
        for (size_t n; *p && *p != ' '; p += n + (p[n] == ','))
          {
            n = strcspn (p, ", ");
            push (&m->black, &m->nb, p, n);
          }
      }
}

/* kernel.modprobe: the program the kernel runs as root for every autoload.  Anything but modprobe there, or a
   file others can write, hands root to whoever controls it. */
static bool
check_helper (struct host_ctx *c)
{
  char path[PATH_MAX], real[PATH_MAX], link[64];
  cleanup_close int fd = -1;
  struct stat st;
  const char *base;
  ssize_t n;

  if (!host_read_line (c, "/proc/sys/kernel/modprobe", path, sizeof path))
    {
      host_add (c, HOST_INFO, "autoload.helper", "the modprobe helper path is unreadable", NULL,
                "/proc/sys/kernel/modprobe: %s", strerror (errno));
      return true;
    }
  if (path[0] == '\0')
    {
      host_add (c, HOST_OK, "autoload.helper", "autoload is off: kernel.modprobe is empty", NULL,
                "kernel.modprobe: \"\"");
      return false;
    }
  fd = path[0] == '/' ? host_open (c, path, O_PATH) : -1;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      host_add (c, HOST_OK, "autoload.helper", "autoload cannot run: the modprobe helper does not exist", NULL,
                "kernel.modprobe: %s: %s", path, path[0] == '/' ? strerror (errno) : "not an absolute path");
      return false;
    }
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, real, sizeof real - 1);
  real[n > 0 ? n : 0] = '\0';
  base = strrchr (real, '/') ? strrchr (real, '/') + 1 : real;
  if (!S_ISREG (st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
    host_add (c, HOST_CRITICAL, "autoload.helper", "the modprobe helper is not a root-owned file only root can "
              "write: whoever writes it runs code as root at the next autoload", "chown root:root and chmod 755 "
              "it, or sysctl -w kernel.modprobe=/sbin/modprobe", "kernel.modprobe: %s -> %s (uid %u, mode %04o)",
              path, real, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
  else if (strcmp (base, "false") == 0 || strcmp (base, "true") == 0)
    {
      host_add (c, HOST_OK, "autoload.helper", "autoload is off: the modprobe helper is a no-op", NULL,
                "kernel.modprobe: %s -> %s", path, real);
      return false;
    }
  /* kmod's modprobe is a link to kmod; busybox systems link it to busybox. */
  else if (strcmp (base, "modprobe") != 0 && strcmp (base, "kmod") != 0
           && !(strcmp (base, "busybox") == 0 && strcmp (strrchr (path, '/') + 1, "modprobe") == 0))
    host_add (c, HOST_HIGH, "autoload.helper", "the modprobe helper is not modprobe (rootkits persist this way)",
              "sysctl -w kernel.modprobe=/sbin/modprobe and find out who changed it", "kernel.modprobe: %s -> %s",
              path, real);
  else
    host_add (c, HOST_OK, "autoload.helper", "the modprobe helper is modprobe, owned and writable by root only", NULL,
              "kernel.modprobe: %s -> %s", path, real);
  return true;
}

/* From modules.dep: is NAME a module file of this kernel?  "kernel/net/sctp/sctp.ko.xz: deps..." */
static bool
dep_has (const char *dep, const char *name)
{
  size_t nl = strlen (name);

  for (const char *p = dep; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    {
      size_t l = strcspn (p, ":\n");
      const char *b = p, *ko;
      char mod[64];
      for (const char *q = p; q < p + l; q++)
        if (*q == '/')
          b = q + 1;
      ko = memmem (b, (size_t) (p + l - b), ".ko", 3);
      if (ko && (size_t) (ko - b) == nl && host_modname (b, nl, mod, sizeof mod) && strcmp (mod, name) == 0)
        return true;
    }
  return false;
}

/* The aliases modules.alias gives NAME, ";"-joined into BUF; how many. */
static size_t
aliases_of (const char *alias, const char *name, char *buf, size_t size, const struct mconf *m, size_t *off)
{
  size_t n = 0, o = 0;

  buf[0] = '\0';
  *off = 0;
  for (const char *p = alias; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    {
      size_t l = strcspn (p, "\n");
      const char *sp = l > 6 && strncmp (p, "alias ", 6) == 0 ? memchr (p + 6, ' ', l - 6) : NULL;
      char mod[64], al[128];
      if (sp == NULL || !host_modname (sp + 1, (size_t) (p + l - sp - 1), mod, sizeof mod) || strcmp (mod, name))
        continue;
      /* modules.alias is only a file: its bytes reach a terminal and a JSON document, so printable only. */
      snprintf (al, sizeof al, "%.*s", (int) (sp - p - 6), p + 6);
      host_clean (al, al, sizeof al);
      n++;
      for (size_t i = 0; i < m->no; i++)
        if (strcmp (m->off[i], al) == 0)
          (*off)++;
      if (o < size)
        o += (size_t) snprintf (buf + o, size - o, "%s%s", o ? " " : "", al);
    }
  return n;
}

/* What host_check_autoload has read, for judging one module after another. */
struct surface
{
  struct mconf m;
  const char *alias, *mods;
  char ldisc[8];
  bool helper;
  char blocked[1024]; /* the modules something stops, and what */
  size_t bo;
};

/* One risky module on disk: loaded, stopped, only blacklisted, or open to autoload (returns true). */
static bool
judge (struct host_ctx *c, struct surface *s, size_t i)
{
  const char *name = risky[i].name, *stop = NULL;
  char al[512] = "", id[96], pat[72], fix[192];
  size_t off = 0, nal;
  bool loaded;

  snprintf (pat, sizeof pat, "\n%s ", name);
  loaded = s->mods && ((strncmp (s->mods, pat + 1, strlen (pat + 1)) == 0) || strstr (s->mods, pat));
  nal = s->alias ? aliases_of (s->alias, name, al, sizeof al, &s->m, &off) : 0;
  snprintf (id, sizeof id, "autoload.%s", name);
  snprintf (fix, sizeof fix, "echo 'install %s /bin/false' > /etc/modprobe.d/sbx-%s.conf", name, name);
  if (loaded)
    {
      host_add (c, HOST_LOW, id, "risky module loaded", "if nothing uses it: rmmod it, then the same install line",
                "%s (%s) in /proc/modules; to keep it out: %s", name, risky[i].why, fix);
      return false;
    }
  if (has (s->m.inst, s->m.ni, name))
    stop = "install false";
  else if (nal == 0)
    stop = "no alias";
  else if (!s->helper)
    stop = "no helper";
  else if (off == nal)
    stop = "alias off";
  else if (strcmp (name, "n_hdlc") == 0 && strcmp (s->ldisc, "0") == 0)
    stop = "ldisc_autoload=0";
  if (stop)
    {
      if (s->bo < sizeof s->blocked)
        s->bo += (size_t) snprintf (s->blocked + s->bo, sizeof s->blocked - s->bo, "%s%s (%s)", s->bo ? ", " : "",
                                    name, stop);
      return false;
    }
  if (has (s->m.black, s->m.nb, name))
    {
      host_add (c, HOST_INFO, id, "risky module blacklisted: autoload stops, an explicit modprobe still loads it",
                fix, "%s (%s): blacklist in modprobe.d; aliases: %s", name, risky[i].why, al);
      return false;
    }
  host_add (c, HOST_MEDIUM, id, "risky module would autoload when a user asks for it", fix,
            "%s (%s) under /lib/modules/%s, not loaded; aliases: %s%s%s", name, risky[i].why, c->r->release, al,
            has (s->m.cust, s->m.nc, name) ? "; custom install command in modprobe.d (not judged)" : "",
            strcmp (name, "n_hdlc") == 0 ? "; dev.tty.ldisc_autoload on" : "");
  return true;
}

void
host_check_autoload (struct host_ctx *c)
{
  struct surface s = { .helper = check_helper (c) };
  cleanup_free char *dep = NULL, *alias = NULL, *mods = NULL;
  char path[PATH_MAX];
  size_t len, open_ = 0;

  if (c->r->modules != HOST_MODULES_LOADABLE)
    return;
  snprintf (path, sizeof path, "/lib/modules/%s/modules.dep", c->r->release);
  if (c->r->release[0] == '\0' || strchr (c->r->release, '/') || host_read (c, path, 16u << 20, &dep, &len) < 0)
    {
      host_add (c, HOST_INFO, "autoload.surface", "no module tree for this kernel: nothing can autoload from disk",
                NULL, "%s: %s", path, strerror (errno));
      return;
    }
  snprintf (path, sizeof path, "/lib/modules/%s/modules.alias", c->r->release);
  if (host_read (c, path, 32u << 20, &alias, &len) < 0)
    alias = NULL;
  if (host_read (c, "/proc/modules", 8u << 20, &mods, &len) < 0)
    mods = NULL;
  s.alias = alias, s.mods = mods;
  host_read_line (c, "/proc/sys/dev/tty/ldisc_autoload", s.ldisc, sizeof s.ldisc);
  mconf_load (c, &s.m);
  for (size_t i = 0; i < SBX_ARRAY_SIZE (risky); i++)
    if (dep_has (dep, risky[i].name) && judge (c, &s, i))
      open_++;
  host_add (c, open_ ? HOST_INFO : HOST_OK, "autoload.surface", open_ ? "risky modules that would autoload: see "
            "the autoload.* findings" : "no risky module would autoload", NULL,
            "%zu modprobe.d file(s) read; stopped: %s", s.m.files, s.bo ? s.blocked : "none present or none stopped");
  mconf_free (&s.m);
}
