/* watch_target.h - test_watch's checks of what the watcher's budgets and actions aim at: per-container journal
   budgets, and a recorded init whose pid died and was reused by an unrelated process. */
#ifndef SBX_TEST_WATCH_TARGET_H
#define SBX_TEST_WATCH_TARGET_H

#include <seccomp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

static struct sbx_wcontainer *
mk_container (struct sbx_watcher *w, const char *id)
{
  struct sbx_wcontainer *c = calloc (1, sizeof *c);

  if (c == NULL)
    exit (2);
  snprintf (c->id, sizeof c->id, "%s", id);
  snprintf (c->on_violation, sizeof c->on_violation, "log");
  c->pidfd = c->cg_fd = c->frz_fd = c->count_fd = -1;
  c->next = w->containers;
  w->containers = c;
  return c;
}

static void
free_containers (struct sbx_watcher *w)
{
  while (w->containers)
    {
      struct sbx_wcontainer *c = w->containers;
      w->containers = c->next;
      sbx_w_unbind (c);
      if (c->count_fd >= 0)
        close (c->count_fd);
      free (c);
    }
}

static void
violation (struct sbx_watcher *w, struct sbx_wcontainer *c, const char *module, size_t file_len)
{
  struct sbx_wevent ev = { .type = "violation", .hook = "seccomp-notify", .syscall = "finit_module", .pid = 9,
                           .action = "log", .outcome = "refused EPERM" };

  clock_gettime (CLOCK_REALTIME, &ev.time);
  snprintf (ev.module, sizeof ev.module, "%s", module);
  memset (ev.file, 'f', file_len < sizeof ev.file ? file_len : sizeof ev.file - 1);
  sbx_w_report (w, c, &ev);
}

struct tally
{
  int a, b_first, b_second, dropped_records;
  long long dropped_a;
};

static int
tally_line (void *ctx, const char *line, size_t len)
{
  struct tally *t = ctx;
  json_t *o = NULL;
  char *text = NULL;
  sbx_err err;
  const char *type, *who;

  if (sbx_journal_decode (line, len, &o, &text, &err) < 0)
    return -1;
  type = json_str (json_find (o, "type")), who = json_str (json_find (o, "container"));
  if (type && who && strcmp (type, "violation") == 0 && strcmp (who, "a") == 0)
    t->a++;
  if (type && strcmp (type, "violation") == 0 && strcmp (json_str (json_find (o, "module")) ?: "", "b1") == 0)
    t->b_first++;
  if (type && strcmp (type, "violation") == 0 && strcmp (json_str (json_find (o, "module")) ?: "", "b2") == 0)
    t->b_second++;
  if (type && who && strcmp (type, "dropped") == 0 && strcmp (who, "a") == 0
      && strncmp (json_str (json_find (o, "outcome")) ?: "", "dropped ", 8) == 0)
    t->dropped_records++, json_num_int (json_find (o, "dropped"), &t->dropped_a);
  json_free (o);
  free (text);
  return 0;
}

static void
test_budget (void)
{
  char dir[] = "/tmp/sbx-test-budget.XXXXXX", sub[128], cmd[160];
  struct sbx_watcher w = { .cfg = &cfg, .journal_max = 8000, .journal_keep = 1, .rate_per_s = 1000, .burst = 1000,
                           .bytes_per_s = 1e9, .burst_bytes = 1e9, .share_pct = 25, .epfd = -1 };
  struct sbx_wcontainer *a, *b;
  struct tally t = { 0 };
  sbx_err err = { 0 };

  if (mkdtemp (dir) == NULL)
    exit (2);
  snprintf (w.dir, sizeof w.dir, "%s", dir);
  snprintf (sub, sizeof sub, "%s/containers", dir);
  mkdir (sub, 0700);
  snprintf (w.journal, sizeof w.journal, "%s/events.jsonl", dir);
  a = mk_container (&w, "a"), b = mk_container (&w, "b");
  /* b's history, then a flood of ~1.3 KB events from a: 25% of 2 x 8000 bytes is 4000 bytes for a. */
  violation (&w, b, "b1", 10);
  for (int i = 0; i < 200; i++)
    violation (&w, a, "flood", 1000);
  violation (&w, b, "b2", 10);
  sbx_journal_read (w.journal, w.journal_keep, tally_line, &t, &err);
  tap_ok (t.a >= 1 && t.a <= 3 && a->count == 200, "share: the flooder wrote %d events of 200 (all counted: %llu)",
          t.a, (unsigned long long) a->count);
  tap_ok (t.b_first == 1, "share: the other container's history is still in the journal");
  tap_ok (t.b_second == 1, "share: the other container's new event lands");
  tap_ok (a->dropped == (uint64_t) (200 - t.a) && w.dropped_share == a->dropped,
          "share: drops counted per container and per budget (%llu)", (unsigned long long) a->dropped);
  a->last_drop = 0;
  sbx_w_flush_drops (&w);
  memset (&t, 0, sizeof t);
  sbx_journal_read (w.journal, w.journal_keep, tally_line, &t, &err);
  tap_ok (t.dropped_records == 1 && t.dropped_a == (long long) a->dropped,
          "a 'dropped N events from container a' record in the journal (%lld)", t.dropped_a);
  {
    cleanup_free char *m = NULL;
    size_t ml;
    tap_ok (sbx_w_metrics (&w, &m, &ml) == 0 && strstr (m, "sbx_events_dropped_total{budget=\"share\"}")
                && strstr (m, "sbx_container_events_dropped_total{container=\"a\"}"),
            "metrics: drops by budget and by container");
  }
  /* Bytes: a bucket of 3000 bytes refilled at 1 byte/s lets two ~1.3 KB events through, not a third. */
  w.share_pct = 0, w.bytes_per_s = 1, w.burst_bytes = 3000;
  b = mk_container (&w, "c");
  for (int i = 0; i < 5; i++)
    violation (&w, b, "bytes", 1000);
  tap_ok (b->dropped == 3 && w.dropped_bytes == 3, "bytes: beyond journal.burst_bytes the reports are dropped");
  free_containers (&w);
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  if (system (cmd) != 0)
    printf ("# could not remove %s\n", dir);
}

/* A child that waits for its pipe to close (or for the test to die), with a seccomp filter when FILTER. */
static pid_t
waiting_child (bool filter, int *release)
{
  int p[2];
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0 || (pid = fork ()) < 0)
    exit (2);
  if (pid == 0)
    {
      char ch;
      close (p[1]);
      if (filter)
        {
          scmp_filter_ctx f = seccomp_init (SCMP_ACT_ALLOW);
          if (f == NULL || seccomp_load (f) < 0)
            _exit (3);
        }
      while (read (p[0], &ch, 1) < 0 && errno == EINTR)
        ;
      _exit (0);
    }
  close (p[0]);
  *release = p[1];
  return pid;
}

static bool
cg_write (const char *dir, const char *file, const char *val)
{
  char path[PATH_MAX];
  int fd;
  bool ok;

  snprintf (path, sizeof path, "%s/%s", dir, file);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  ok = fd >= 0 && write (fd, val, strlen (val)) == (ssize_t) strlen (val);
  if (fd >= 0)
    close (fd);
  return ok;
}

static void
cg_read (const char *dir, const char *file, char *out, size_t size)
{
  char path[PATH_MAX];
  FILE *f;

  out[0] = '\0';
  snprintf (path, sizeof path, "%s/%s", dir, file);
  if ((f = fopen (path, "re")) && fgets (out, (int) size, f))
    out[strcspn (out, "\n")] = '\0';
  if (f)
    fclose (f);
}

/* Cgroups of the test: v2 (unified on hybrid hosts) and the v1 freezer where the host has one. */
struct tcg
{
  char v2[PATH_MAX], frz[PATH_MAX];
};

static bool
tcg_make (struct tcg *g, const char *name)
{
  const char *v2 = access ("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";

  snprintf (g->v2, sizeof g->v2, "%s/%s-%d", v2, name, (int) getpid ());
  snprintf (g->frz, sizeof g->frz, "/sys/fs/cgroup/freezer/%s-%d", name, (int) getpid ());
  if (mkdir (g->v2, 0755) < 0)
    return false;
  if (access ("/sys/fs/cgroup/freezer/cgroup.procs", F_OK) != 0 || mkdir (g->frz, 0755) < 0)
    g->frz[0] = '\0';
  return true;
}

static bool
tcg_put (const struct tcg *g, pid_t pid)
{
  char s[32];
  snprintf (s, sizeof s, "%d", (int) pid);
  return cg_write (g->v2, "cgroup.procs", s) && (g->frz[0] == '\0' || cg_write (g->frz, "cgroup.procs", s));
}

/* Whether anything froze G (either hierarchy). */
static bool
tcg_frozen (const struct tcg *g)
{
  char v[64] = "", f[64] = "";
  cg_read (g->v2, "cgroup.freeze", v, sizeof v);
  if (g->frz[0])
    cg_read (g->frz, "freezer.state", f, sizeof f);
  return strcmp (v, "1") == 0 || (f[0] && strcmp (f, "THAWED") != 0);
}

static void
tcg_thaw (const struct tcg *g)
{
  cg_write (g->v2, "cgroup.freeze", "0");
  if (g->frz[0])
    cg_write (g->frz, "freezer.state", "THAWED");
}

static void
tcg_remove (const struct tcg *g)
{
  tcg_thaw (g);
  rmdir (g->v2);
  if (g->frz[0])
    rmdir (g->frz);
}

static void
end_child (pid_t pid, int release)
{
  close (release);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
}

static void
test_target (void)
{
  struct sbx_watcher w = { .cfg = &cfg, .epfd = -1 };
  struct sbx_wcontainer *c;
  struct tcg ga, gb;
  char why[PATH_MAX + 128];
  int ra, rb;
  pid_t a, b;

  if (geteuid () != 0 || !tcg_make (&ga, "sbx-test-init"))
    {
      for (int i = 0; i < 10; i++)
        tap_skip ("pid reuse", "needs root and a writable cgroup hierarchy");
      return;
    }
  if (!tcg_make (&gb, "sbx-test-bystander"))
    exit (2);
  c = mk_container (&w, "reuse");
  /* The container's init: a process under seccomp in a cgroup of its own. */
  a = waiting_child (true, &ra);
  tap_ok (tcg_put (&ga, a), "init moved into its cgroup");
  tap_ok (sbx_w_bind_init (c, a, true, why, sizeof why) < 0 && strstr (why, "not the init (pid 1)"),
          "bind: a process that is not pid 1 of a pid namespace is no container init (%s)", why);
  tap_ok (sbx_w_bind_init (c, a, false, why, sizeof why) == 0 && c->pidfd >= 0 && (c->cg_fd >= 0 || c->frz_fd >= 0),
          "bind: pidfd and cgroup opened (%s)", why);
  c->pid = a;
  snprintf (c->on_violation, sizeof c->on_violation, "freeze");
  {
    struct sbx_wevent ev = { .type = "violation" };
    tap_ok (sbx_w_action (&w, c, &ev) == 0 && tcg_frozen (&ga), "freeze: the live init's cgroup is frozen");
  }
  tcg_thaw (&ga);
  /* The init dies and is reaped; an unrelated process (in a cgroup of its own) now holds its pid number, as a
     reused pid would: the record names it, and even its start time matches. */
  end_child (a, ra);
  b = waiting_child (false, &rb);
  tap_ok (tcg_put (&gb, b), "bystander moved into its cgroup");
  c->pid = b;
  c->starttime = sbx_w_starttime (b);
  {
    struct sbx_wevent ev = { .type = "violation" };
    int rc = sbx_w_action (&w, c, &ev);
    tap_ok (rc < 0 && !tcg_frozen (&gb), "freeze after the init died: refused, the bystander's cgroup is not frozen");
  }
  snprintf (c->on_violation, sizeof c->on_violation, "kill");
  {
    struct sbx_wevent ev = { .type = "violation" };
    int rc = sbx_w_action (&w, c, &ev), status;
    tap_ok (rc < 0 && waitpid (b, &status, WNOHANG) == 0 && kill (b, 0) == 0,
            "kill after the init died: refused, the bystander lives");
  }
  /* A pid from the runtime's state is taken only if it proves to be a container's init. */
  {
    static const char fmt[] = "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,\"metadata\":\"\","
                              "\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"reg\",\"status\":\"creating\",\"pid\":%d,"
                              "\"bundle\":\"/nonexistent\",\"annotations\":{\"run.sbx.on-violation\":\"kill\"}}}";
    char state[512], dir[] = "/tmp/sbx-test-reg.XXXXXX", sub[128], cmd[160];
    struct sbx_wcontainer *r;
    sbx_err err = { 0 };
    int efd = eventfd (0, EFD_CLOEXEC);

    if (mkdtemp (dir) == NULL)
      exit (2);
    snprintf (w.dir, sizeof w.dir, "%s", dir);
    snprintf (sub, sizeof sub, "%s/containers", dir);
    mkdir (sub, 0700);
    w.epfd = epoll_create1 (EPOLL_CLOEXEC);
    snprintf (state, sizeof state, fmt, (int) b, (int) b);
    tap_ok (sbx_w_register (&w, state, strlen (state), efd, &err) == 0 && (r = sbx_w_find (&w, "reg")) != NULL
                && r->pidfd < 0,
            "register: the state's pid of an unrelated process is recorded, not bound");
    {
      struct sbx_wevent ev = { .type = "violation" };
      r = sbx_w_find (&w, "reg");
      tap_ok (r && sbx_w_action (&w, r, &ev) < 0 && kill (b, 0) == 0 && waitpid (b, NULL, WNOHANG) == 0,
              "register: kill does not reach the process the state named");
    }
    sbx_w_unregister (&w, "reg", &err);
    close (w.epfd);
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd) != 0)
      printf ("# could not remove %s\n", dir);
  }
  /* Thawed first: a frozen process would not die of SIGKILL, and the wait would hang. */
  tcg_thaw (&gb);
  end_child (b, rb);
  free_containers (&w);
  tcg_remove (&ga);
  tcg_remove (&gb);
}

#endif
