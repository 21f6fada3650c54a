/* notify.c - notify stage: module syscalls answered by the watcher (SCMP_ACT_NOTIFY), or a plain EPERM that says
   why; plus the small unix-socket client sbx-runtime needs to reach the watcher. */
#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "../profiles/seccomp_oci.h"

int (*sbx_notify_ensure_watcher) (const struct sbx_config *, const char *, sbx_err *)
    = sbx_notify_ensure_watcher_default;

const char *
sbx_watcher_socket (const struct sbx_config *cfg, char *buf, size_t size)
{
  const char *s = sbx_config_str (cfg, "watcher.socket", NULL);

  if (s && *s)
    snprintf (buf, size, "%s", s);
  else
    snprintf (buf, size, "%s/watcher.sock", sbx_state_dir (cfg));
  return buf;
}

const char *
sbx_watcher_dir (const struct sbx_config *cfg, char *buf, size_t size)
{
  snprintf (buf, size, "%s/watcher", sbx_state_dir (cfg));
  return buf;
}

bool
sbx_container_id_ok (const char *id)
{
  if (id == NULL || *id == '\0' || strcmp (id, ".") == 0 || strcmp (id, "..") == 0 || strlen (id) > 1024)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr ("_+.-", *p)))
      return false;
  return true;
}

int
sbx_watcher_record_path (const struct sbx_config *cfg, const char *id, char *buf, size_t size, sbx_err *err)
{
  char dir[PATH_MAX];

  if (!sbx_container_id_ok (id))
    return sbx_fail (err, EINVAL, "container id '%s' is not a plain name", id ? id : "");
  if (snprintf (buf, size, "%s/containers/%s.json", sbx_watcher_dir (cfg, dir, sizeof dir), id) >= (int) size)
    return sbx_fail (err, ENAMETOOLONG, "record of container %s", id);
  return 0;
}

long long
sbx_watcher_read_count (const struct sbx_config *cfg, const char *id)
{
  char path[PATH_MAX], buf[64];
  ssize_t n;
  int fd;
  sbx_err err;

  if (sbx_watcher_record_path (cfg, id, path, sizeof path, &err) < 0 || strlen (path) < 5)
    return -1;
  strcpy (path + strlen (path) - 5, ".count");
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return strtoll (buf, NULL, 10);
}

char *
sbx_text_add_annotation (const char *out, const char *key, const char *num)
{
  const char *p = strstr (out, "\"annotations\""), *brace, *next;
  char *res = NULL;
  size_t ws;

  if (p == NULL)
    return NULL;
  brace = p + strlen ("\"annotations\"");
  brace += strspn (brace, " \t\r\n");
  if (*brace != ':')
    return NULL;
  brace += 1 + strspn (brace + 1, " \t\r\n");
  if (*brace != '{')
    return NULL;
  ws = strspn (brace + 1, " \t\r\n");
  next = brace + 1 + ws;
  if (*next == '}')
    {
      if (asprintf (&res, "%.*s\"%s\": \"%s\"%s", (int) (brace + 1 - out), out, key, num, next) < 0)
        return NULL;
    }
  else if (asprintf (&res, "%.*s%.*s\"%s\": \"%s\",%s", (int) (brace + 1 - out), out, (int) ws, brace + 1,
                     key, num, brace + 1) < 0)
    return NULL;
  return res;
}

int
sbx_watcher_connect (const char *path)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (path) >= sizeof sun.sun_path)
    return errno = ENAMETOOLONG, -1;
  strcpy (sun.sun_path, path);
  /* A unix-socket connect either succeeds at once or fails (ECONNREFUSED, ENOENT); nothing to wait for. */
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &sun, sizeof sun) < 0)
    {
      int saved = errno;
      close (fd);
      return errno = saved, -1;
    }
  return fd;
}

static long long
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int
sbx_watcher_call (const char *path, const char *request, int timeout_ms, char **reply, sbx_err *err)
{
  cleanup_close int fd = sbx_watcher_connect (path);
  cleanup_free char *buf = NULL;
  size_t len = 0, cap = 0;
  long long deadline = now_ms () + timeout_ms;

  if (fd < 0)
    return sbx_fail (err, errno, "connect to the watcher at %s", path);
  if (sbx_write_all (fd, request, strlen (request)) < 0 || sbx_write_all (fd, "\n", 1) < 0)
    return sbx_fail (err, errno, "send '%s' to the watcher at %s", request, path);
  shutdown (fd, SHUT_WR);
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      long long left = deadline - now_ms ();
      ssize_t r;

      if (left <= 0)
        return sbx_fail (err, ETIMEDOUT, "watcher at %s: no answer to '%s'", path, request);
      if (poll (&p, 1, (int) left) < 0 && errno != EINTR)
        return sbx_fail (err, errno, "wait for the watcher at %s", path);
      if (len + 4096 > cap)
        {
          char *nb;
          if (cap >= (1 << 20))
            return sbx_fail (err, EFBIG, "watcher at %s: answer too long", path);
          cap = cap ? cap * 2 : 8192;
          nb = realloc (buf, cap + 1);
          if (nb == NULL)
            return sbx_fail (err, ENOMEM, "watcher answer");
          buf = nb;
        }
      r = read (fd, buf + len, cap - len);
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r < 0)
        return sbx_fail (err, errno, "read from the watcher at %s", path);
      if (r == 0)
        break;
      len += r;
    }
  buf[len] = '\0';
  *reply = steal_pointer (&buf);
  return 0;
}

/* The sbx binary that runs the watcher: "watcher.binary", else the `sbx` next to this executable. */
static int
watcher_binary (const struct sbx_config *cfg, char *buf, size_t size, sbx_err *err)
{
  const char *b = sbx_config_str (cfg, "watcher.binary", NULL);
  char self[PATH_MAX];
  ssize_t n;
  char *slash;

  if (b && *b)
    return snprintf (buf, size, "%s", b) < (int) size ? 0 : sbx_fail (err, ENAMETOOLONG, "watcher.binary");
  n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n < 0)
    return sbx_fail (err, errno, "readlink /proc/self/exe");
  self[n] = '\0';
  slash = strrchr (self, '/');
  if (slash)
    *slash = '\0';
  if (snprintf (buf, size, "%s/sbx", self) >= (int) size)
    return sbx_fail (err, ENAMETOOLONG, "path of sbx");
  if (access (buf, X_OK) < 0)
    return sbx_fail (err, errno, "cannot start the watcher: %s", buf);
  return 0;
}

int
sbx_watcher_spawn (const struct sbx_config *cfg, const char *sock, sbx_err *err)
{
  char bin[PATH_MAX], idle[32];
  long long deadline;
  pid_t pid;
  int status;

  if (watcher_binary (cfg, bin, sizeof bin, err) < 0)
    return -1;
  snprintf (idle, sizeof idle, "%lld", sbx_config_int (cfg, "watcher.idle_exit_s", 600));
  pid = fork ();
  if (pid < 0)
    return sbx_fail (err, errno, "fork to start the watcher");
  if (pid == 0)
    {
      /* First child: new session, then the daemon is its child, so it is re-parented away from the engine and
         holds none of the engine's pipes (an engine waiting for EOF on our stdout must not wait for it). */
      int devnull = open ("/dev/null", O_RDWR);
      if (devnull < 0 || setsid () < 0)
        _exit (127);
      dup2 (devnull, 0), dup2 (devnull, 1), dup2 (devnull, 2);
      closefrom (3);
      if (fork () != 0)
        _exit (0);
      signal (SIGPIPE, SIG_DFL);
      execl (bin, "sbx", "watch", "--daemon", "--idle-exit", idle, (char *) NULL);
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      break;
  deadline = now_ms () + sbx_config_int (cfg, "watcher.start_timeout_ms", 2000);
  for (;;)
    {
      int fd = sbx_watcher_connect (sock);
      if (fd >= 0)
        {
          close (fd);
          return 0;
        }
      if (now_ms () >= deadline)
        return sbx_fail (err, errno, "started %s watch --daemon, but %s did not accept in time", bin, sock);
      usleep (20 * 1000);
    }
}

/* A watcher holds an exclusive flock on <watcher dir>/watcher.lock for its whole life, and binds its socket before
   it serves anyone.  Finding the lock held and the socket in place tells a create that one is there without waking
   it: a connect costs the watcher an accept, a read and a reply at every container start, about 0.5 ms of a crun
   start on a two-vCPU host (BENCHMARKS.md).  Touching the lock file is the activity that keeps an on-demand
   watcher from leaving before the delegate connects, as the connect's accept did.  Anything else (no lock file,
   lock free, no socket) takes the long way below. */
static bool
watcher_running (const struct sbx_config *cfg, const char *sock)
{
  char dir[PATH_MAX], path[PATH_MAX + 16];
  cleanup_close int fd = -1;
  struct stat st;

  snprintf (path, sizeof path, "%s/" SBX_WATCHER_LOCK, sbx_watcher_dir (cfg, dir, sizeof dir));
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  /* A free lock is taken shared for an instant (closing FD drops it); a watcher starting then waits it out. */
  if (fd < 0 || flock (fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
    return false;
  if (stat (sock, &st) < 0 || !S_ISSOCK (st.st_mode))
    return false;
  futimens (fd, NULL);
  return true;
}

int
sbx_notify_ensure_watcher_default (const struct sbx_config *cfg, const char *sock, sbx_err *err)
{
  int fd;
  char dir[PATH_MAX], marker[PATH_MAX + 16], bin[PATH_MAX];
  struct stat st;

  if (watcher_running (cfg, sock))
    return 0;
  fd = sbx_watcher_connect (sock);
  if (fd >= 0)
    {
      close (fd);
      return 0;
    }
  if (!sbx_config_bool (cfg, "watcher.on_demand", true))
    return sbx_fail (err, errno, "no watcher at %s (watcher.on_demand is false)", sock);
  /* A start that failed a moment ago would fail again: do not make every create wait for it. */
  snprintf (marker, sizeof marker, "%s/spawn-failed", sbx_watcher_dir (cfg, dir, sizeof dir));
  if (stat (marker, &st) == 0 && time (NULL) - st.st_mtime < 30)
    return sbx_fail (err, 0, "no watcher at %s, and starting one failed less than 30 s ago (see %s)", sock, marker);
  /* No sbx binary to run is a fast failure (and what a library user such as a unit test meets): nothing to
     remember.  Only a start that was waited for is. */
  if (watcher_binary (cfg, bin, sizeof bin, err) < 0)
    return -1;
  if (sbx_watcher_spawn (cfg, sock, err) == 0)
    return 0;
  mkdir (dir, 0700);
  fd = open (marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0)
    {
      ssize_t ignored = write (fd, err->msg, strlen (err->msg));
      (void) ignored;
      close (fd);
    }
  return -1;
}

/* containerd 1.6's runc shim passes neither GRPC_ADDRESS nor NAMESPACE to the runtime, only TTRPC_ADDRESS: read
   its -address and -namespace from the shim's own command line (the shim is our parent). */
static bool
containerd_of_parent (char *addr, size_t asize, char *ns, size_t nsize)
{
  char path[64], buf[8192];
  const char *base;
  ssize_t n;
  int fd;

  if (getenv ("TTRPC_ADDRESS") == NULL)
    return false;
  snprintf (path, sizeof path, "/proc/%d/cmdline", (int) getppid ());
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  base = strrchr (buf, '/') ? strrchr (buf, '/') + 1 : buf;
  if (strncmp (base, "containerd-shim", 15) != 0)
    return false;
  addr[0] = ns[0] = '\0';
  for (char *a = buf + strlen (buf) + 1; a < buf + n; a += strlen (a) + 1)
    {
      char *v = a + strlen (a) + 1;
      if (v >= buf + n)
        break;
      if (strcmp (a, "-address") == 0 || strcmp (a, "--address") == 0)
        snprintf (addr, asize, "%s", v);
      else if (strcmp (a, "-namespace") == 0 || strcmp (a, "--namespace") == 0)
        snprintf (ns, nsize, "%s", v);
    }
  return addr[0] && ns[0];
}

/* Which engine drives this container, from what it leaves in the environment and annotations. */
static const char *
guess_engine (const json_t *spec, const struct sbx_policy_ctx *ctx)
{
  const char *ns = ctx->containerd_namespace;

  if (ctx->containerd_address && ns)
    {
      if (strcmp (ns, "moby") == 0)
        return "docker";
      if (strcmp (ns, "k8s.io") == 0)
        return "cri-containerd";
      return "containerd";
    }
  if (json_annotation (spec, "io.container.manager") || json_annotation (spec, "io.podman.annotations.autoremove"))
    return "podman";
  if (json_annotation (spec, "io.kubernetes.cri-o.ContainerType"))
    return "cri-o";
  return "oci-cli";
}

/* The rule the seccomp stage adds: exactly the module syscalls, SCMP_ACT_ERRNO, errnoRet EPERM. */
static bool
is_block_rule (const json_t *rule)
{
  const json_t *names = json_find (rule, "names"), *ret = json_find (rule, "errnoRet");
  const char *action = json_str (json_find (rule, "action"));
  long long n;

  if (action == NULL || strcmp (action, "SCMP_ACT_ERRNO") != 0 || json_find (rule, "args") != NULL
      || json_arr_len (names) != 3)
    return false;
  if (ret && !(json_num_int (ret, &n) && n == EPERM))
    return false;
  for (size_t i = 0; i < 3; i++)
    {
      const char *s = json_str (json_arr_at (names, i));
      bool found = false;
      for (size_t j = 0; s && j < 3; j++)
        found |= strcmp (s, sbx_module_syscalls[j]) == 0;
      if (!found)
        return false;
    }
  return true;
}

static json_t *
notify_rule (void)
{
  json_t *rule = json_new_obj (), *names = json_new_arr ();
  sbx_err err;

  for (size_t i = 0; names && i < 3; i++)
    if (json_arr_push (names, json_new_str (sbx_module_syscalls[i]), &err) < 0)
      break;
  if (rule == NULL || json_set (rule, "names", names, &err) < 0)
    {
      json_free (rule);
      return NULL;
    }
  return rule;
}

static int
set_ann (json_t *ann, const char *key, const char *val, sbx_err *err)
{
  if (val == NULL || *val == '\0')
    {
      json_del (ann, key);
      return 0;
    }
  return json_set (ann, key, json_new_str (val), err);
}

/* Record what the watcher needs to report a violation later, where the OCI state will carry it. */
static int
record_reporting (json_t *spec, struct sbx_policy_ctx *ctx, const char *monitor, sbx_err *err)
{
  json_t *ann;
  char abs[PATH_MAX + 1];
  static char cd_addr[PATH_MAX], cd_ns[256];
  const char *log = ctx->runtime_log;

  if (json_obj_ensure (spec, "annotations", &ann, err) < 0)
    return -1;
  if (ctx->containerd_address == NULL && containerd_of_parent (cd_addr, sizeof cd_addr, cd_ns, sizeof cd_ns))
    {
      ctx->containerd_address = cd_addr;
      ctx->containerd_namespace = cd_ns;
    }
  /* The watcher runs elsewhere: a log path relative to the runtime's cwd must be made absolute now. */
  if (log && *log && *log != '/' && getcwd (abs, sizeof abs - strlen (log) - 2))
    {
      size_t n = strlen (abs);
      snprintf (abs + n, sizeof abs - n, "/%s", log);
      log = abs;
    }
  if (set_ann (ann, SBX_ANN_RUNTIME_LOG, log, err) < 0
      || set_ann (ann, SBX_ANN_RUNTIME_LOG_FORMAT, log ? ctx->runtime_log_format : NULL, err) < 0
      || set_ann (ann, SBX_ANN_CONTAINERD_ADDRESS, ctx->containerd_namespace ? ctx->containerd_address : NULL, err) < 0
      || set_ann (ann, SBX_ANN_CONTAINERD_NAMESPACE, ctx->containerd_address ? ctx->containerd_namespace : NULL, err)
             < 0
      || set_ann (ann, SBX_ANN_ENGINE, guess_engine (spec, ctx), err) < 0
      || set_ann (ann, SBX_ANN_MONITOR, monitor, err) < 0)
    return -1;
  return 0;
}

/* Whether the engine's filter notifies anywhere: its default action or any rule's. */
static bool
has_notify_rule (const json_t *seccomp)
{
  const json_t *syscalls = json_find (seccomp, "syscalls");
  const char *def = json_str (json_find (seccomp, "defaultAction"));

  if (def && strcmp (def, "SCMP_ACT_NOTIFY") == 0)
    return true;
  for (size_t i = 0; i < json_arr_len (syscalls); i++)
    {
      const char *act = json_str (json_find (json_arr_at (syscalls, i), "action"));
      if (act && strcmp (act, "SCMP_ACT_NOTIFY") == 0)
        return true;
    }
  return false;
}

int
sbx_notify_plan (const json_t *spec, const json_t *engine_seccomp, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  static char sock[PATH_MAX];
  const char *id = ctx->container_id ? ctx->container_id : "?";
  const char *ov = json_annotation (spec, SBX_ANN_ON_VIOLATION);
  json_t *engine_listener;
  sbx_err werr = { 0 };

  ctx->notify_sock = NULL;
  if (ov && strcmp (ov, "log") != 0 && strcmp (ov, "freeze") != 0 && strcmp (ov, "kill") != 0)
    return sbx_fail (err, EINVAL, "annotation %s=\"%s\": expected log, freeze or kill", SBX_ANN_ON_VIOLATION, ov);
  if (json_get_typed (engine_seccomp, "listenerPath", JSON_STRING, &engine_listener, err) < 0)
    return sbx_wrap (err, "linux.seccomp");
  ctx->watcher_sock = sbx_watcher_socket (ctx->cfg, sock, sizeof sock);
  /* A spec hardened before (a bundle run twice) carries sbx's own listener: not the engine's to keep. */
  if (engine_listener && *json_str (engine_listener)
      && !(strcmp (json_str (engine_listener), sock) == 0
           && strcmp (json_str (json_find (engine_seccomp, "listenerMetadata")) ?: "", SBX_LISTENER_METADATA) == 0))
    {
      ctx->note (SBX_WARN,
                 "container %s: module-load monitoring off: the engine set its own seccomp listener (%s); module "
                 "syscalls keep a plain EPERM rule",
                 id, json_str (engine_listener));
      return 0;
    }
  /* Rules that notify with nowhere to notify: runc and crun refuse such a filter.  sbx's listener would make it
     valid and hand the engine's syscalls to a watcher that does not own them; leave it for the delegate to refuse. */
  if ((engine_listener == NULL || !*json_str (engine_listener)) && has_notify_rule (engine_seccomp))
    {
      ctx->note (SBX_WARN,
                 "container %s: module-load monitoring off: linux.seccomp has SCMP_ACT_NOTIFY rules but no "
                 "listenerPath (the delegate refuses that); module syscalls keep a plain EPERM rule",
                 id);
      return 0;
    }
  /* No configuration means no runtime around this policy (unit tests, profile tools): no watcher to consult. */
  if (ctx->cfg == NULL || !sbx_config_bool (ctx->cfg, "watcher.enabled", true))
    return 0;
  if (sbx_notify_ensure_watcher (ctx->cfg, sock, &werr) < 0)
    {
      if (sbx_config_bool (ctx->cfg, "watcher.fail_closed", false))
        return sbx_fail (err, werr.code, "container %s: module-load watcher unavailable and watcher.fail_closed is "
                         "set: %s", id, werr.msg);
      ctx->note (SBX_WARN, "container %s: module-load monitoring unavailable (%s); module syscalls keep a plain "
                 "EPERM rule", id, werr.msg);
      return 0;
    }
  ctx->notify_sock = sock;
  return 0;
}

int
sbx_notify_apply (json_t *seccomp, const struct sbx_policy_ctx *ctx, const char **monitor, char *warn,
                  size_t warn_size, sbx_err *err)
{
  json_t *syscalls, *rule = NULL, *listener, *def;
  long long n;

  *monitor = "eperm";
  warn[0] = '\0';
  if (json_get_typed (seccomp, "listenerPath", JSON_STRING, &listener, err) < 0
      || json_get_typed (seccomp, "syscalls", JSON_ARRAY, &syscalls, err) < 0
      || json_get_typed (seccomp, "defaultAction", JSON_STRING, &def, err) < 0)
    return sbx_wrap (err, "linux.seccomp");
  if (listener && ctx->watcher_sock && strcmp (json_str (listener), ctx->watcher_sock) == 0
      && strcmp (json_str (json_find (seccomp, "listenerMetadata")) ?: "", SBX_LISTENER_METADATA) == 0)
    {
      json_del (seccomp, "listenerPath");
      json_del (seccomp, "listenerMetadata");
    }
  for (size_t i = 0; i < json_arr_len (syscalls); i++)
    if (is_block_rule (json_arr_at (syscalls, i)))
      {
        rule = json_arr_at (syscalls, i);
        break;
      }
  if (rule == NULL)
    {
      const json_t *dret = json_find (seccomp, "defaultErrnoRet");
      /* The seccomp stage adds no rule when the default already refuses with EPERM; anything else means the
         module block is not where this stage expects it, and the safe answer is to leave the filter alone. */
      if (!(def && strcmp (json_str (def), "SCMP_ACT_ERRNO") == 0 && (dret == NULL || (json_num_int (dret, &n) && n == EPERM))))
        {
          snprintf (warn, warn_size, "module-load monitoring off: no module block rule found in linux.seccomp");
          return 0;
        }
    }
  if (ctx->notify_sock == NULL)
    return 0;
  if (rule == NULL)
    {
      rule = notify_rule ();
      if (rule == NULL || json_arr_push (syscalls, rule, err) < 0)
        return sbx_fail (err, ENOMEM, "linux.seccomp.syscalls");
    }
  /* runc refuses errnoRet on any action but ERRNO and TRACE. */
  json_del (rule, "errnoRet");
  if (json_set (rule, "action", json_new_str ("SCMP_ACT_NOTIFY"), err) < 0
      || json_set (seccomp, "listenerPath", json_new_str (ctx->notify_sock), err) < 0
      || json_set (seccomp, "listenerMetadata", json_new_str (SBX_LISTENER_METADATA), err) < 0)
    return -1;
  *monitor = "notify";
  return 0;
}

int
sbx_stage_notify (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  return record_reporting (spec, ctx, ctx->monitor ? ctx->monitor : "eperm", err);
}
