/* options.c - the command line of `sbx run`: every option checked here, so a mistake costs exit 125 and a
   message naming the option, never a half-built sandbox. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "sandbox.h"

enum
{
  OPT_PROFILE = 256,
  OPT_NET,
  OPT_RO_BIND,
  OPT_BIND,
  OPT_BIND_CWD,
  OPT_TMPFS,
  OPT_HOSTNAME,
  OPT_MEMORY,
  OPT_PIDS,
  OPT_CPUS,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_USERNS,
  OPT_ON_VIOLATION,
  OPT_JSON,
  OPT_ROOTFS,
  OPT_IMAGE,
  OPT_DEBUG,
  OPT_ENTRYPOINT,
};

static const struct option long_opts[] = {
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "net", required_argument, NULL, OPT_NET },
  { "ro-bind", required_argument, NULL, OPT_RO_BIND },
  { "bind", required_argument, NULL, OPT_BIND },
  { "bind-cwd", no_argument, NULL, OPT_BIND_CWD },
  { "tmpfs", required_argument, NULL, OPT_TMPFS },
  { "env", required_argument, NULL, 'e' },
  { "user", required_argument, NULL, 'u' },
  { "hostname", required_argument, NULL, OPT_HOSTNAME },
  { "cwd", required_argument, NULL, 'w' },
  { "memory", required_argument, NULL, 'm' },
  { "pids", required_argument, NULL, OPT_PIDS },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "cap-add", required_argument, NULL, OPT_CAP_ADD },
  { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
  { "userns", no_argument, NULL, OPT_USERNS },
  { "on-violation", required_argument, NULL, OPT_ON_VIOLATION },
  { "json", no_argument, NULL, OPT_JSON },
  { "rootfs", required_argument, NULL, OPT_ROOTFS },
  { "image", required_argument, NULL, OPT_IMAGE },
  { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
  { "debug", no_argument, NULL, OPT_DEBUG },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

void
sbx_run_usage (FILE *out)
{
  fputs ("usage: sbx run [OPTIONS] [--] CMD [ARG...]\n"
         "\n"
         "Run CMD in a sandbox hardened with sbx's policy, without an engine.  By default its root is the host's\n"
         "/ read-only, with fresh /proc, a minimal /dev, private /tmp and /run, no network but loopback.\n"
         "\n"
         "  --rootfs DIR            use DIR (read-only) as the root\n"
         "  --image FILE            an OCI image layout (dir or tar) or a rootfs tarball, unpacked once; a\n"
         "                          layout's Entrypoint, Cmd, Env, User and WorkingDir apply (CMD replaces Cmd)\n"
         "  --entrypoint CMD        replaces the image's Entrypoint (and its Cmd); \"\" clears it\n"
         "  --profile NAME|PATH     seccomp profile\n"
         "  --net none|host         network (default none: loopback only)\n"
         "  --ro-bind SRC DST       bind host SRC read-only at DST\n"
         "  --bind SRC DST          bind host SRC writable at DST\n"
         "  --bind-cwd              bind the current directory writable at the same path and start there\n"
         "  --tmpfs DST[:OPTS]      a tmpfs at DST (OPTS e.g. size=64m,mode=1777)\n"
         "  -e, --env K=V           set an environment variable (K alone: copy the host's)\n"
         "  -u, --user UID[:GID]    run as UID (and GID)\n"
         "  --hostname NAME         the sandbox's hostname (default sbx)\n"
         "  -w, --cwd DIR           working directory (default /)\n"
         "  -m, --memory SIZE       memory limit (e.g. 256m)\n"
         "  --pids N                process limit (default 1024; max = none)\n"
         "  --cpus N                CPU limit (e.g. 0.5)\n"
         "  --cap-add CAP           add a capability (ALL for all)\n"
         "  --cap-drop CAP          drop a capability (ALL for all)\n"
         "  --userns                map the sandbox's root to an unprivileged host id range\n"
         "  --on-violation ACTION   log, freeze or kill on a policy violation\n"
         "  --json                  print a JSON summary (exit status, violations, peak memory) at the end\n"
         "\n"
         "Exit status: the command's (128+N when killed by signal N); 125 when sbx fails, 126 when CMD cannot be\n"
         "run, 127 when it is not found.\n",
         out);
}

static int
push_str (const char ***arr, size_t *n, const char *s)
{
  const char **na = realloc (*arr, (*n + 2) * sizeof *na);

  if (na == NULL)
    return -1;
  na[(*n)++] = s;
  na[*n] = NULL;
  *arr = na;
  return 0;
}

int
sbx_parse_size (const char *s, long long *out)
{
  char *end;
  double v;
  double mult = 1;

  if (s == NULL || !isdigit ((unsigned char) *s))
    return -1;
  errno = 0;
  v = strtod (s, &end);
  if (errno || end == s)
    return -1;
  switch (tolower ((unsigned char) *end))
    {
    case '\0':
      break;
    case 'b':
      end++;
      break;
    case 'k':
      mult = 1024.0, end++;
      break;
    case 'm':
      mult = 1024.0 * 1024, end++;
      break;
    case 'g':
      mult = 1024.0 * 1024 * 1024, end++;
      break;
    case 't':
      mult = 1024.0 * 1024 * 1024 * 1024, end++;
      break;
    default:
      return -1;
    }
  if (mult > 1 && tolower ((unsigned char) *end) == 'b')
    end++;
  if (*end != '\0')
    return -1;
  v *= mult;
  if (!(v >= 0) || v > (double) LLONG_MAX / 2)
    return -1;
  *out = (long long) v;
  return 0;
}

int
sbx_parse_cpus (const char *s, long long *quota)
{
  char *end;
  double v;

  if (s == NULL || *s == '\0')
    return -1;
  errno = 0;
  v = strtod (s, &end);
  if (errno || *end != '\0' || !(v > 0) || v > 4096)
    return -1;
  /* The kernel refuses a quota under 1 ms per period. */
  *quota = (long long) (v * 100000.0 + 0.5);
  return *quota >= 1000 ? 0 : -1;
}

int
sbx_cap_canonical (const char *name, char *out, size_t size, sbx_err *err)
{
  char buf[64];
  cap_value_t v;
  char *text;
  size_t i;

  if (*name == '\0' || strlen (name) + 5 > sizeof buf || isdigit ((unsigned char) *name))
    return sbx_fail (err, EINVAL, "capability \"%s\": not a capability name", name);
  if (strncasecmp (name, "cap_", 4) == 0)
    name += 4;
  snprintf (buf, sizeof buf, "cap_%s", name);
  for (i = 0; buf[i]; i++)
    buf[i] = tolower ((unsigned char) buf[i]);
  if (cap_from_name (buf, &v) < 0)
    return sbx_fail (err, EINVAL, "capability \"%s\": unknown to libcap (e.g. NET_ADMIN, SYS_PTRACE)", name);
  text = cap_to_name (v);
  if (text == NULL)
    return sbx_fail (err, ENOMEM, "capability \"%s\"", name);
  /* Kernels newer than libcap have capabilities libcap prints as numbers: no name for the spec. */
  if (isdigit ((unsigned char) text[0]))
    {
      cap_free (text);
      return sbx_fail (err, EINVAL, "capability \"%s\": libcap knows no name for it", name);
    }
  snprintf (out, size, "%s", text);
  for (i = 0; out[i]; i++)
    out[i] = toupper ((unsigned char) out[i]);
  cap_free (text);
  return 0;
}

static int
parse_id (const char *s, size_t len, unsigned *out)
{
  char buf[16];
  char *end;
  unsigned long v;

  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy (buf, s, len);
  buf[len] = '\0';
  if (!isdigit ((unsigned char) buf[0]))
    return -1;
  errno = 0;
  v = strtoul (buf, &end, 10);
  if (errno || *end || v >= 0xffffffffUL)
    return -1;
  *out = v;
  return 0;
}

static bool
hostname_ok (const char *s)
{
  size_t n = strlen (s);

  if (n == 0 || n > 63 || *s == '-' || *s == '.')
    return false;
  for (; *s; s++)
    if (!isalnum ((unsigned char) *s) && *s != '-' && *s != '.')
      return false;
  return true;
}

char *
sbx_run_keep (struct sbx_run_opts *o, char *s)
{
  char **na;

  if (s == NULL || (na = realloc (o->owned, (o->nowned + 1) * sizeof *na)) == NULL)
    {
      free (s);
      return NULL;
    }
  na[o->nowned++] = s;
  o->owned = na;
  return s;
}

static int
add_mount (struct sbx_run_opts *o, struct sbx_mount_opt *m, sbx_err *err)
{
  struct sbx_mount_opt *nm = realloc (o->mounts, (o->nmounts + 1) * sizeof *nm);

  if (nm == NULL)
    {
      sbx_mount_opt_free (m);
      return sbx_fail (err, ENOMEM, "mount options");
    }
  nm[o->nmounts++] = *m;
  o->mounts = nm;
  return 0;
}

static int
bad (sbx_err *err, const char *opt, const char *val, const char *why)
{
  return sbx_fail (err, EINVAL, "%s %s: %s", opt, val ? val : "", why);
}

static int parse_args (int argc, char **argv, struct sbx_run_opts *o, sbx_err *err);

int
sbx_run_parse (int argc, char **argv, struct sbx_run_opts *o, sbx_err *err)
{
  int rc = parse_args (argc, argv, o, err);

  if (rc < 0)
    sbx_run_opts_free (o);
  return rc;
}

static int
parse_args (int argc, char **argv, struct sbx_run_opts *o, sbx_err *err)
{
  int c;

  memset (o, 0, sizeof *o);
  o->net = "none";
  optind = 1;
  opterr = 0;
  /* "+": the first word that is not an option is the command; its own options are its business. */
  while ((c = getopt_long (argc, argv, "+:e:u:w:m:h", long_opts, NULL)) != -1)
    {
      const char *a = optarg;
      struct sbx_mount_opt m;
      char capname[64];

      switch (c)
        {
        case OPT_PROFILE:
          if (*a == '\0')
            return bad (err, "--profile", a, "empty profile name");
          o->profile = a;
          break;
        case OPT_NET:
          if (strcmp (a, "none") != 0 && strcmp (a, "host") != 0)
            return bad (err, "--net", a, "expected none or host");
          o->net = a;
          break;
        case OPT_RO_BIND:
        case OPT_BIND:
          {
            const char *opt = c == OPT_BIND ? "--bind" : "--ro-bind";
            if (optind >= argc)
              return bad (err, opt, a, "expected two arguments: SRC DST");
            if (sbx_mount_bind (c == OPT_BIND ? SBX_MNT_BIND : SBX_MNT_RO_BIND, a, argv[optind], &m, err) < 0)
              {
                sbx_mount_opt_free (&m);
                return sbx_wrap (err, "%s %s %s", opt, a, argv[optind]);
              }
            optind++;
            if (add_mount (o, &m, err) < 0)
              return -1;
          }
          break;
        case OPT_BIND_CWD:
          o->bind_cwd = true;
          break;
        case OPT_TMPFS:
          if (sbx_mount_tmpfs (a, &m, err) < 0)
            {
              sbx_mount_opt_free (&m);
              return sbx_wrap (err, "--tmpfs %s", a);
            }
          if (add_mount (o, &m, err) < 0)
            return -1;
          break;
        case 'e':
          if (*a == '=' || *a == '\0')
            return bad (err, "--env", a, "expected K=V");
          if (strchr (a, '=') == NULL)
            {
              /* docker's -e K: the host's value, if it has one. */
              const char *v = getenv (a);
              char *kv;
              if (v == NULL)
                return bad (err, "--env", a, "not set on the host (use K=V)");
              if (asprintf (&kv, "%s=%s", a, v) < 0 || sbx_run_keep (o, kv) == NULL)
                return sbx_fail (err, ENOMEM, "--env");
              a = kv;
            }
          if (push_str (&o->env, &o->nenv, a) < 0)
            return sbx_fail (err, ENOMEM, "--env");
          break;
        case 'u':
          {
            const char *colon = strchr (a, ':');
            unsigned uid, gid;
            if (parse_id (a, colon ? (size_t) (colon - a) : strlen (a), &uid) < 0
                || (colon && parse_id (colon + 1, strlen (colon + 1), &gid) < 0))
              return bad (err, "--user", a, "expected numeric UID[:GID]");
            o->has_user = true;
            o->uid = uid;
            o->gid = colon ? gid : uid;
          }
          break;
        case OPT_HOSTNAME:
          if (!hostname_ok (a))
            return bad (err, "--hostname", a, "expected 1-63 letters, digits, '-' or '.'");
          o->hostname = a;
          break;
        case 'w':
          if (*a != '/')
            return bad (err, "--cwd", a, "expected an absolute path");
          o->cwd = a;
          break;
        case 'm':
          if (sbx_parse_size (a, &o->memory) < 0)
            return bad (err, "--memory", a, "not a size (e.g. 512m, 1g)");
          if (o->memory < 6 * 1024 * 1024)
            return bad (err, "--memory", a, "below the minimum of 6m");
          break;
        case OPT_PIDS:
          {
            char *end;
            if (strcmp (a, "max") == 0 || strcmp (a, "-1") == 0)
              {
                o->pids = -1;
                break;
              }
            errno = 0;
            o->pids = strtoll (a, &end, 10);
            if (errno || *end || end == a || o->pids < 1)
              return bad (err, "--pids", a, "expected a positive number or max");
          }
          break;
        case OPT_CPUS:
          if (sbx_parse_cpus (a, &o->cpu_quota) < 0)
            return bad (err, "--cpus", a, "expected a number of CPUs of at least 0.01");
          if (o->cpu_quota > 100000LL * sysconf (_SC_NPROCESSORS_ONLN))
            return bad (err, "--cpus", a, "more than the host's CPUs");
          break;
        case OPT_CAP_ADD:
        case OPT_CAP_DROP:
          {
            const char ***arr = c == OPT_CAP_ADD ? &o->cap_add : &o->cap_drop;
            size_t *n = c == OPT_CAP_ADD ? &o->ncap_add : &o->ncap_drop;
            const char *name = "ALL";
            if (strcasecmp (a, "all") != 0)
              {
                if (sbx_cap_canonical (a, capname, sizeof capname, err) < 0)
                  return sbx_wrap (err, "%s", c == OPT_CAP_ADD ? "--cap-add" : "--cap-drop");
                name = sbx_run_keep (o, strdup (capname));
              }
            if (name == NULL || push_str (arr, n, name) < 0)
              return sbx_fail (err, ENOMEM, "capabilities");
          }
          break;
        case OPT_USERNS:
          o->userns = true;
          break;
        case OPT_ON_VIOLATION:
          if (strcmp (a, "log") != 0 && strcmp (a, "freeze") != 0 && strcmp (a, "kill") != 0)
            return bad (err, "--on-violation", a, "expected log, freeze or kill");
          o->on_violation = a;
          break;
        case OPT_JSON:
          o->json = true;
          break;
        case OPT_ROOTFS:
          {
            struct stat st;
            if (stat (a, &st) < 0)
              return sbx_fail (err, errno, "--rootfs %s", a);
            if (!S_ISDIR (st.st_mode))
              return bad (err, "--rootfs", a, "not a directory");
            o->rootfs = a;
          }
          break;
        case OPT_IMAGE:
          if (access (a, R_OK) < 0)
            return sbx_fail (err, errno, "--image %s", a);
          o->image = a;
          break;
        case OPT_ENTRYPOINT:
          o->entrypoint = a;
          o->has_entrypoint = true;
          break;
        case OPT_DEBUG:
          o->debug = true;
          break;
        case 'h':
          return 1;
        case ':':
          return sbx_fail (err, EINVAL, "option %s needs a value", argv[optind - 1]);
        default:
          if (optopt && optopt < 256)
            return sbx_fail (err, EINVAL, "unknown option '-%c' (see sbx run --help)", optopt);
          return sbx_fail (err, EINVAL, "unknown option '%s' (see sbx run --help)", argv[optind - 1]);
        }
    }
  if (o->rootfs && o->image)
    return sbx_fail (err, EINVAL, "--rootfs and --image: give one root only");
  if (o->userns && o->has_user && o->uid >= SBX_RUN_USERNS_SIZE)
    return sbx_fail (err, EINVAL, "--user %u with --userns: only ids below %u are mapped", o->uid,
                     SBX_RUN_USERNS_SIZE);
  /* An image's config or --entrypoint may give the command (sbx_run_apply_image). */
  if (optind >= argc && !o->image && !(o->has_entrypoint && o->entrypoint[0]))
    return sbx_fail (err, EINVAL, "no command given (usage: sbx run [OPTIONS] [--] CMD [ARG...])");
  if (optind < argc && argv[optind][0] == '\0')
    return sbx_fail (err, EINVAL, "empty command");
  o->cmd = argv + optind;
  if (o->bind_cwd)
    {
      cleanup_free char *cwd = getcwd (NULL, 0);
      struct sbx_mount_opt m;

      if (cwd == NULL)
        return sbx_fail (err, errno, "--bind-cwd: current directory");
      if (sbx_mount_bind (SBX_MNT_BIND, cwd, cwd, &m, err) < 0)
        {
          sbx_mount_opt_free (&m);
          return sbx_wrap (err, "--bind-cwd");
        }
      if (o->cwd == NULL && (o->cwd = sbx_run_keep (o, strdup (m.dst))) == NULL)
        {
          sbx_mount_opt_free (&m);
          return sbx_fail (err, ENOMEM, "--bind-cwd");
        }
      if (add_mount (o, &m, err) < 0)
        return -1;
    }
  return 0;
}

void
sbx_run_opts_free (struct sbx_run_opts *o)
{
  for (size_t i = 0; i < o->nmounts; i++)
    sbx_mount_opt_free (&o->mounts[i]);
  free (o->mounts);
  free (o->env);
  free (o->cap_add);
  free (o->cap_drop);
  for (size_t i = 0; i < o->nowned; i++)
    free (o->owned[i]);
  free (o->owned);
  memset (o, 0, sizeof *o);
}
