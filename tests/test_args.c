/* test_args.c - reading runc's command line: where the bundle is, what exec will run, what is refused. */
#include <stdlib.h>
#include <string.h>

#include "../shim/args.h"
#include "tap.h"

#define ARGV(...) ((char *[]){ "sbx-runtime", __VA_ARGS__, NULL })
#define ARGC(a) ({ int _n = 0; while ((a)[_n]) _n++; _n; })

int
main (void)
{
  struct sbx_globals g;
  struct sbx_cmdline cl;
  sbx_err err;
  char **a;

  a = ARGV ("--root", "/r", "--log=/l.json", "--log-format", "json", "--debug", "--systemd-cgroup", "create", "x");
  sbx_parse_globals (ARGC (a), a, &g);
  tap_ok (g.root && strcmp (g.root, "/r") == 0 && strcmp (g.log, "/l.json") == 0 && strcmp (g.log_format, "json") == 0
              && g.debug && strcmp (a[g.cmd_index], "create") == 0,
          "global flags in both forms, subcommand found");

  a = ARGV ("-root", "/r", "--criu", "/c", "--rootless", "false", "state", "x");
  sbx_parse_globals (ARGC (a), a, &g);
  tap_ok (strcmp (a[g.cmd_index], "state") == 0 && strcmp (g.root, "/r") == 0, "single-dash and valued globals skipped");

  a = ARGV ("create", "--bundle", "/b1", "--pid-file=/p", "id1", "-b", "/b2", "--no-pivot");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_create_flags, false, &cl, &err) == 0
              && strcmp (sbx_cmd_value (&cl, "bundle"), "/b2") == 0 && strcmp (a[cl.first_positional], "id1") == 0,
          "create: the last --bundle wins, options may follow the id");

  a = ARGV ("create", "--bundle=/b", "--config", "other.json", "id");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_create_flags, false, &cl, &err) < 0 && strstr (err.msg, "--config"),
          "create: an option sbx does not know is refused (it could move the spec)");

  a = ARGV ("run", "-d", "--bundle", "/b", "--keep", "id");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_run_flags, false, &cl, &err) == 0 && sbx_cmd_has (&cl, "detach"),
          "run: detach and keep");

  a = ARGV ("exec", "--cap", "CAP_SYS_MODULE", "-t", "--process=/p.json", "id", "sh", "-c", "--cap", "x");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_exec_flags, true, &cl, &err) == 0 && cl.nopts == 3
              && strcmp (a[cl.first_positional], "id") == 0 && strcmp (sbx_cmd_value (&cl, "process"), "/p.json") == 0,
          "exec: options stop at the container id; the command's own flags are not sbx's");

  a = ARGV ("create", "--bundle");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_create_flags, false, &cl, &err) < 0 && strstr (err.msg, "needs a value"),
          "a missing option value is an error");

  a = ARGV ("create", "--", "id");
  tap_ok (sbx_parse_cmd (ARGC (a), a, 2, sbx_create_flags, false, &cl, &err) == 0
              && strcmp (a[cl.first_positional], "id") == 0,
          "-- ends the options");
  return tap_done ();
}
