/* test_imagecfg.c - an image's run config as hostile input (types, bounds, unknown keys, Go's case-insensitive
   keys), its User resolved inside the image's tree only, and docker run's rules for applying it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../sandbox/imagecfg.h"
#include "../sandbox/sandbox.h"
#include "tap.h"

#define IGNORE(x) ((void) !(x))

static char top[] = "/tmp/sbx-test-imagecfg.XXXXXX";

static int
parse (const char *json, struct sbx_image_config *c, sbx_err *err)
{
  memset (err, 0, sizeof *err);
  return sbx_image_config_parse (json, strlen (json), "cfg", c, err);
}

static void
refused (const char *json, const char *needle)
{
  struct sbx_image_config c;
  sbx_err err;
  int rc = parse (json, &c, &err);

  tap_ok (rc < 0 && strstr (err.msg, needle) != NULL, "refused %.60s: %s", json, err.msg);
  tap_ok (c.entrypoint == NULL && c.cmd == NULL && c.env == NULL && c.user == NULL && c.workdir == NULL,
          "  and nothing half-parsed is left");
}

static void
test_parse (void)
{
  struct sbx_image_config c;
  sbx_err err;
  char *big;
  size_t n;

  /* Go's decoder matches keys case-insensitively and ignores unknown ones: so does sbx. */
  tap_ok (parse ("{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\"},\"CONFIG\":{\"entrypoint\":[\"/e\","
                 "\"x\"],\"CMD\":\"c\",\"env\":[\"A=1\",\"B=\"],\"user\":\"app:staff\",\"workingdir\":\"/w\","
                 "\"Healthcheck\":{\"Test\":[1,2]},\"ExposedPorts\":{\"80/tcp\":{}},\"Unknown\":[null]}}",
                 &c, &err)
              == 0,
          "a config with mixed-case and unknown keys parses (%s)", err.msg);
  tap_ok (c.entrypoint && !strcmp (c.entrypoint[0], "/e") && !strcmp (c.entrypoint[1], "x") && !c.entrypoint[2],
          "Entrypoint read");
  tap_ok (c.cmd && !strcmp (c.cmd[0], "c") && !c.cmd[1], "a string Cmd is one word (docker's strslice)");
  tap_ok (c.env && !strcmp (c.env[0], "A=1") && !strcmp (c.env[1], "B=") && !c.env[2], "Env read");
  tap_is_str (c.user, "app:staff", "User read");
  tap_is_str (c.workdir, "/w", "WorkingDir read");
  sbx_image_config_free (&c);

  tap_ok (parse ("{\"config\":{\"Entrypoint\":null,\"Cmd\":null,\"Env\":null,\"User\":\"\",\"WorkingDir\":\"\"}}",
                 &c, &err)
              == 0
              && !c.entrypoint && !c.cmd && !c.env && !c.user && !c.workdir,
          "null and empty values are unset");
  sbx_image_config_free (&c);
  tap_ok (parse ("{\"os\":\"linux\"}", &c, &err) == 0 && !c.cmd, "no config object: nothing set");
  sbx_image_config_free (&c);

  refused ("[1]", "not a JSON object");
  refused ("{\"config\":\"x\"}", "\"config\" is not an object");
  refused ("{\"config\":{\"Cmd\":5}}", "Cmd: expected a list of strings");
  refused ("{\"config\":{\"Cmd\":[\"a\",5]}}", "Cmd: expected a string");
  refused ("{\"config\":{\"Entrypoint\":{}}}", "Entrypoint: expected a list of strings");
  refused ("{\"config\":{\"Env\":\"A=1\"}}", "Env: expected a list of strings");
  refused ("{\"config\":{\"Env\":[\"NOEQ\"]}}", "Env entry 0: expected KEY=VALUE");
  refused ("{\"config\":{\"Env\":[\"A=1\",\"=x\"]}}", "Env entry 1: expected KEY=VALUE");
  refused ("{\"config\":{\"User\":0}}", "User: expected a string");
  refused ("{\"config\":{\"WorkingDir\":\"rel\"}}", "WorkingDir: not an absolute path");
  refused ("{\"config\":{\"Cmd\":[\"a\"],\"cmd\":[\"b\"]}}", "");

  /* Bounds: entries and bytes. */
  big = malloc (16 * 5000 + 64);
  n = (size_t) sprintf (big, "{\"config\":{\"Cmd\":[");
  for (int i = 0; i <= SBX_IMGCFG_LIST_MAX; i++)
    n += sprintf (big + n, "%s\"a\"", i ? "," : "");
  strcpy (big + n, "]}}");
  refused (big, "Cmd: more than 4096 entries");
  free (big);
  big = malloc (SBX_IMGCFG_STR_MAX + 64);
  n = (size_t) sprintf (big, "{\"config\":{\"Env\":[\"A=");
  memset (big + n, 'x', SBX_IMGCFG_STR_MAX);
  strcpy (big + n + SBX_IMGCFG_STR_MAX, "\"]}}");
  refused (big, "longer than 65536 bytes");
  free (big);
}

static void
put (const char *path, const char *content)
{
  char p[512];
  int fd;

  snprintf (p, sizeof p, "%s/%s", top, path);
  fd = open (p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  IGNORE (write (fd, content, strlen (content)));
  close (fd);
}

/* A tree TOP/NAME with etc/, its fd. */
static int
tree (const char *name)
{
  char p[512];

  snprintf (p, sizeof p, "%s/%s", top, name);
  mkdir (p, 0755);
  snprintf (p, sizeof p, "%s/%s/etc", top, name);
  mkdir (p, 0755);
  snprintf (p, sizeof p, "%s/%s", top, name);
  return open (p, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static char last_groups[256];

static void
resolves (int rootfd, const char *user, int want_rc, unsigned wuid, unsigned wgid, const char *whome)
{
  uid_t uid = 99999;
  gid_t gid = 99999, *sgids = NULL;
  size_t nsgids = 0, n = 0;
  char *home = NULL;
  sbx_err err = { 0 };
  int rc = sbx_image_user_resolve (rootfd, user, &uid, &gid, &home, &sgids, &nsgids, &err);

  last_groups[0] = '\0';
  for (size_t i = 0; i < nsgids; i++)
    n += snprintf (last_groups + n, sizeof last_groups - n, "%s%u", i ? " " : "", (unsigned) sgids[i]);
  free (sgids);

  if (want_rc < 0)
    tap_ok (rc < 0, "User %s refused: %s", user, err.msg);
  else
    tap_ok (rc == 0 && uid == wuid && gid == wgid && (whome ? home && !strcmp (home, whome) : home == NULL),
            "User %s -> %u:%u home %s (got rc %d %u:%u %s; %s)", user, wuid, wgid, whome ? whome : "-", rc,
            (unsigned) uid, (unsigned) gid, home ? home : "-", err.msg);
  free (home);
}

static void
test_user (void)
{
  char host[512], link[512];
  int root = tree ("img"), bare = tree ("bare"), esc = tree ("esc");
  sbx_err err = { 0 };
  uid_t uid;
  gid_t gid;
  char *home = NULL;
  gid_t *sgids = NULL;
  size_t nsgids = 0;

  put ("img/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\napp:x:1234:2345:App:/home/app:/bin/sh\n");
  put ("img/etc/group", "root:x:0:\nstaff:x:777:app\nwheel:x:10:root,app,x\nother:x:11:apple,ap\nstaff2:x:777:app\n");
  resolves (root, "app", 0, 1234, 2345, "/home/app");
  tap_is_str (last_groups, "777 10", "  with the groups that list it, each once");
  resolves (root, "app:staff", 0, 1234, 777, "/home/app");
  tap_is_str (last_groups, "", "  an explicit group: no supplementary groups (docker's rule)");
  resolves (root, "4321", 0, 4321, 0, NULL);
  tap_is_str (last_groups, "", "  no passwd entry: no supplementary groups");
  resolves (root, "1234", 0, 1234, 2345, "/home/app");
  resolves (root, "app:staff", 0, 1234, 777, "/home/app");
  resolves (root, "app:0", 0, 1234, 0, "/home/app");
  resolves (root, "4321", 0, 4321, 0, NULL);
  resolves (root, "4321:88", 0, 4321, 88, NULL);
  resolves (root, "nobody", -1, 0, 0, NULL);
  resolves (root, "app:nogroup", -1, 0, 0, NULL);
  resolves (root, "app:", -1, 0, 0, NULL);
  resolves (root, ":1", -1, 0, 0, NULL);
  /* No /etc/passwd at all: numbers only. */
  resolves (bare, "5:6", 0, 5, 6, NULL);
  resolves (bare, "app", -1, 0, 0, NULL);

  /* The image's /etc/passwd and /etc/group are symlinks to host files naming "evil" as root: absolute, and
     climbing with "..".  Resolved inside the tree, neither reaches the host. */
  snprintf (host, sizeof host, "%s/host-passwd", top);
  put ("host-passwd", "evil:x:0:0::/:/bin/sh\n");
  put ("host-group", "evilgroup:x:0:\n");
  snprintf (link, sizeof link, "%s/esc/etc/passwd", top);
  IGNORE (symlink (host, link));
  snprintf (host, sizeof host, "../../../../../../../../../..%s/host-group", top);
  snprintf (link, sizeof link, "%s/esc/etc/group", top);
  IGNORE (symlink (host, link));
  resolves (esc, "evil", -1, 0, 0, NULL);
  resolves (esc, "1:evilgroup", -1, 0, 0, NULL);
  /* A symlink that stays in the tree is followed there, as in the sandbox. */
  snprintf (link, sizeof link, "%s/img/etc/passwd", top);
  unlink (link);
  put ("img/etc/real", "app:x:42:43::/h:/bin/sh\n");
  IGNORE (symlink ("/etc/real", link));
  resolves (root, "app", 0, 42, 43, "/h");
  /* A FIFO for /etc/passwd neither hangs nor is read. */
  snprintf (link, sizeof link, "%s/bare/etc/passwd", top);
  mkfifo (link, 0644);
  tap_ok (sbx_image_user_resolve (bare, "app", &uid, &gid, &home, &sgids, &nsgids, &err) < 0 && strstr (err.msg, "not a regular file"),
          "a FIFO /etc/passwd is refused: %s", err.msg);
  close (root);
  close (bare);
  close (esc);
}

/* Parse "run WORDS..." into O. */
static int
opts (struct sbx_run_opts *o, ...)
{
  static char *argv[32];
  int argc = 0;
  va_list ap;
  char *a;
  sbx_err err = { 0 };

  argv[argc++] = "run";
  va_start (ap, o);
  while ((a = va_arg (ap, char *)) != NULL && argc < 31)
    argv[argc++] = a;
  va_end (ap);
  argv[argc] = NULL;
  return sbx_run_parse (argc, argv, o, &err);
}

static char *
joined (char **v)
{
  static char buf[1024];
  size_t n = 0;

  buf[0] = '\0';
  for (; v && *v && n < sizeof buf - 1; v++)
    n += snprintf (buf + n, sizeof buf - n, "%s%s", n ? " " : "", *v);
  return buf;
}

static char *
joined_env (const struct sbx_run_opts *o)
{
  return joined ((char **) o->env);
}

static void
test_apply (void)
{
  char *ep[] = { "/bin/ep", "-x", NULL }, *cmd[] = { "c1", "c2", NULL }, *env[] = { "A=img", "B=img", NULL };
  struct sbx_image_config c = { .entrypoint = ep, .cmd = cmd, .env = env, .user = "app", .workdir = "/w" };
  char root[512];
  struct sbx_run_opts o;
  sbx_err err = { 0 };

  snprintf (root, sizeof root, "%s/img", top);
  tap_ok (opts (&o, "--image", "/", NULL) == 0, "--image without a command parses");
  tap_ok (sbx_run_apply_image (&o, &c, root, &err) == 0, "applied (%s)", err.msg);
  tap_is_str (joined (o.cmd), "/bin/ep -x c1 c2", "Entrypoint + Cmd");
  tap_is_str (joined_env (&o), "A=img B=img HOME=/h", "Env, and HOME from the image's passwd");
  tap_ok (o.has_user && o.uid == 42 && o.gid == 43, "User resolved in the image");
  tap_ok (o.ngroups == 2 && o.groups[0] == 777 && o.groups[1] == 10, "and its supplementary groups");
  tap_is_str (o.cwd, "/w", "WorkingDir is the cwd");
  sbx_run_opts_free (&o);

  tap_ok (opts (&o, "--image", "/", "-e", "B=cli", "-e", "HOME=/mine", "--user", "7:8", "--cwd", "/", "--", "x",
                "y", NULL)
              == 0
              && sbx_run_apply_image (&o, &c, root, &err) == 0,
          "with command-line options (%s)", err.msg);
  tap_is_str (joined (o.cmd), "/bin/ep -x x y", "the command line replaces Cmd, not Entrypoint");
  tap_is_str (joined_env (&o), "A=img B=cli HOME=/mine", "--env overrides the image's Env by key");
  tap_ok (o.uid == 7 && o.gid == 8, "--user wins over User");
  tap_is_str (o.cwd, "/", "--cwd wins over WorkingDir");
  sbx_run_opts_free (&o);

  tap_ok (opts (&o, "--image", "/", "--entrypoint", "/bin/sh", NULL) == 0 && sbx_run_apply_image (&o, &c, root, &err) == 0,
          "--entrypoint alone");
  tap_is_str (joined (o.cmd), "/bin/sh", "--entrypoint replaces Entrypoint and drops Cmd");
  sbx_run_opts_free (&o);
  tap_ok (opts (&o, "--image", "/", "--entrypoint", "", "--", "ls", NULL) == 0
              && sbx_run_apply_image (&o, &c, root, &err) == 0,
          "--entrypoint \"\"");
  tap_is_str (joined (o.cmd), "ls", "--entrypoint \"\" clears Entrypoint");
  sbx_run_opts_free (&o);

  /* Nothing to run; a user --userns cannot map. */
  {
    struct sbx_image_config none = { 0 }, big = { .cmd = cmd, .user = "4000000" };
    tap_ok (opts (&o, "--image", "/", NULL) == 0 && sbx_run_apply_image (&o, &none, root, &err) < 0
                && strstr (err.msg, "no Entrypoint or Cmd"),
            "no command anywhere: %s", err.msg);
    sbx_run_opts_free (&o);
    tap_ok (opts (&o, "--image", "/", "--userns", NULL) == 0 && sbx_run_apply_image (&o, &big, root, &err) < 0
                && strstr (err.msg, "--userns"),
            "an image User outside --userns's range: %s", err.msg);
    sbx_run_opts_free (&o);
  }
  tap_ok (opts (&o, NULL) < 0, "without --image a command is still required");
}

int
main (void)
{
  char cmd[600];

  if (mkdtemp (top) == NULL)
    return 1;
  test_parse ();
  test_user ();
  test_apply ();
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", top);
  IGNORE (system (cmd));
  return tap_done ();
}
