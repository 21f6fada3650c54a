/* test_install.c - TAP tests of `sbx install|uninstall` on config files in a temporary root: merges keep the
   user's settings, uninstall gives the original bytes back, foreign entries are refused. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shim/cmd_install.h"
#include "tap.h"

static char root[] = "/tmp/sbx-test-install.XXXXXX";

static char *
path (const char *rel)
{
  static char buf[8][512];
  static int i;

  i = (i + 1) % 8;
  snprintf (buf[i], sizeof buf[i], "%s%s", root, rel);
  return buf[i];
}

static void
put (const char *rel, const char *text)
{
  FILE *f = fopen (path (rel), "w");

  if (f == NULL)
    {
      perror (path (rel));
      exit (1);
    }
  fputs (text, f);
  fclose (f);
}

/* The file's content, or NULL when it does not exist. */
static char *
get (const char *rel)
{
  FILE *f = fopen (path (rel), "r");
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL)
    return NULL;
  n = getdelim (&buf, &cap, '\0', f);
  fclose (f);
  if (n < 0)
    return strdup ("");
  return buf;
}

/* Run sbx install/uninstall with its messages kept out of the TAP stream. */
static int
sbx (const char *cmd, const char *engine, const char *extra)
{
  char rootopt[600];
  char *argv[8];
  int argc = 0, saved, devnull, ret;

  snprintf (rootopt, sizeof rootopt, "--root=%s", root);
  argv[argc++] = (char *) cmd;
  argv[argc++] = rootopt;
  argv[argc++] = (char *) "--runtime-path=/opt/sbx/bin/sbx-runtime";
  if (extra)
    argv[argc++] = (char *) extra;
  argv[argc++] = (char *) engine;
  argv[argc] = NULL;
  fflush (stdout);
  fflush (stderr);
  saved = dup (1);
  devnull = open ("/dev/null", O_WRONLY);
  dup2 (devnull, 1);
  dup2 (devnull, 2);
  ret = strcmp (cmd, "install") == 0 ? sbx_cmd_install (argc, argv) : sbx_cmd_uninstall (argc, argv);
  fflush (stdout);
  fflush (stderr);
  dup2 (saved, 1);
  close (saved);
  close (devnull);
  return ret;
}

static int
same (const char *a, const char *b)
{
  return a != NULL && b != NULL && strcmp (a, b) == 0;
}

int
main (void)
{
  static const char daemon[] = "{\n    \"debug\": true,\n    \"runtimes\": {\"other\": {\"path\": \"/x\"}},\n"
                               "    \"max-concurrent-downloads\": 3.50\n}\n";
  static const char toml[] = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"p:1\"";
  char *s;

  tap_plan (12);
  if (mkdtemp (root) == NULL)
    return 1;
  mkdir (path ("/etc"), 0755);
  mkdir (path ("/etc/docker"), 0755);
  mkdir (path ("/etc/containerd"), 0755);
  mkdir (path ("/etc/containers"), 0755);

  put ("/etc/docker/daemon.json", daemon);
  tap_ok (sbx ("install", "docker", NULL) == 0, "docker install succeeds");
  s = get ("/etc/docker/daemon.json");
  tap_ok (s && strstr (s, "\"sbx\": {\n      \"path\": \"/opt/sbx/bin/sbx-runtime\"\n    }") && strstr (s, "\"other\"")
              && strstr (s, "3.50") && strstr (s, "\"debug\": true"),
          "daemon.json has runtimes.sbx and keeps the other runtime, the number as written and debug");
  free (s);
  tap_ok (same (s = get ("/etc/docker/daemon.json.sbx-backup"), daemon), "the backup holds the original bytes");
  free (s);
  tap_ok (sbx ("install", "docker", "--name=other") == 1, "a runtime name the user has is refused");
  tap_ok (sbx ("uninstall", "docker", NULL) == 0 && same (s = get ("/etc/docker/daemon.json"), daemon)
              && access (path ("/etc/docker/daemon.json.sbx-backup"), F_OK) != 0,
          "docker uninstall restores the original bytes and removes the backup");
  free (s);

  put ("/etc/containerd/config.toml", toml);
  tap_ok (sbx ("install", "containerd", "--dry-run") == 0 && same (s = get ("/etc/containerd/config.toml"), toml),
          "containerd --dry-run writes nothing");
  free (s);
  tap_ok (sbx ("install", "containerd", NULL) == 0 && (s = get ("/etc/containerd/config.toml")) != NULL
              && strncmp (s, toml, strlen (toml)) == 0
              && strstr (s, "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.sbx]\n"),
          "containerd install appends the runtime table after the user's file");
  free (s);
  tap_ok (sbx ("uninstall", "containerd", NULL) == 0 && same (s = get ("/etc/containerd/config.toml"), toml),
          "containerd uninstall gives back the file without its final newline, as it was");
  free (s);

  put ("/etc/containers/containers.conf", "[engine]\nruntime_supports_json = [\"youki\"]\n");
  tap_ok (sbx ("install", "podman", NULL) == 0 && (s = get ("/etc/containers/containers.conf.d/50-sbx.conf")) != NULL
              && strstr (s, "\"youki\", \"sbx\"]") && strstr (s, "sbx = [\"/opt/sbx/bin/sbx-runtime\"]"),
          "podman drop-in registers sbx and keeps the user's JSON-capable runtimes");
  free (s);
  tap_ok (sbx ("uninstall", "podman", NULL) == 0 && access (path ("/etc/containers/containers.conf.d"), F_OK) != 0,
          "podman uninstall removes the drop-in and the directory it created");

  tap_ok (sbx ("install", "nerdctl", NULL) == 2, "an unknown engine is a usage error");
  tap_ok (sbx ("uninstall", "crio", NULL) == 0, "uninstalling what is not installed is not an error");

  if (tap_failed == 0)
    {
      char cmd[600];
      snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
      if (system (cmd) != 0)
        return 1;
    }
  return tap_done ();
}
