/* test_watch.c - TAP unit tests of the notify stage and the watcher's pure parts (encodings, journal, names). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/notify.h"
#include "../policy/policy.h"
#include "../watcher/watcher.h"
#include "tap.h"

/* ---- the notify stage on JSON alone ---- */

static int watcher_up;
static char notes[4096];

static int
fake_ensure (const struct sbx_config *cfg, const char *sock, sbx_err *err)
{
  (void) cfg;
  return watcher_up ? 0 : sbx_fail (err, ECONNREFUSED, "connect to the watcher at %s", sock);
}

static void __attribute__ ((format (printf, 2, 3)))
note (enum sbx_level level, const char *fmt, ...)
{
  va_list ap;
  size_t len = strlen (notes);
  (void) level;
  va_start (ap, fmt);
  vsnprintf (notes + len, sizeof notes - len, fmt, ap);
  va_end (ap);
}

static json_t *
parse (const char *text)
{
  json_t *j = NULL;
  sbx_err err;
  if (json_parse (text, strlen (text), "test", &j, &err) < 0)
    {
      printf ("# parse: %s\n", err.msg);
      exit (2);
    }
  return j;
}

static struct sbx_config cfg;

static void
set_config (const char *text)
{
  json_free (cfg.root);
  cfg.root = parse (text);
}

/* The stages before ours insist on pid and mount namespaces: give the fixtures what they require. */
static void
with_namespaces (json_t *spec)
{
  json_t *linux_ = json_find (spec, "linux");
  sbx_err err;

  if (json_is (linux_, JSON_OBJECT) && json_find (linux_, "namespaces") == NULL)
    json_set (linux_, "namespaces", parse ("[{\"type\":\"pid\"},{\"type\":\"mount\"}]"), &err);
}

static int
harden (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  with_namespaces (spec);
  memset (ctx, 0, sizeof *ctx);
  ctx->cfg = &cfg;
  ctx->container_id = "c1";
  ctx->note = note;
  ctx->runtime_log = "/var/log/rt.json";
  ctx->runtime_log_format = "json";
  notes[0] = '\0';
  return sbx_policy_apply_spec (spec, ctx, err);
}

/* How SPEC's filter treats delete_module: the action of the rule naming it, else the default action (the seccomp
   stage may refuse it by rule or, with an allowlist profile, by default).  *ERRNO_RET: the errno it returns
   (rule errnoRet, else defaultErrnoRet, else 1 as runc and crun read an unset one), or -1 when the rule
   carries none.  Returns the number of rules naming it. */
static size_t
module_rules (const json_t *spec, const char **action, long long *errno_ret)
{
  const json_t *sc = json_find (json_find (spec, "linux"), "seccomp"), *rules = json_find (sc, "syscalls");
  const json_t *hit = NULL;
  size_t count = 0;
  long long n = 1;

  for (size_t i = 0; i < json_arr_len (rules); i++)
    {
      const json_t *r = json_arr_at (rules, i), *names = json_find (r, "names");
      for (size_t j = 0; j < json_arr_len (names); j++)
        if (strcmp (json_str (json_arr_at (names, j)), "delete_module") == 0)
          count++, hit = r;
    }
  *action = json_str (json_find (hit ? hit : sc, hit ? "action" : "defaultAction"));
  if (hit)
    *errno_ret = json_num_int (json_find (hit, "errnoRet"), &n) ? n : -1;
  else
    *errno_ret = json_num_int (json_find (sc, "defaultErrnoRet"), &n) ? n : 1;
  return count;
}

static const char *
seccomp_str (const json_t *spec, const char *key)
{
  return json_str (json_find (json_find (json_find (spec, "linux"), "seccomp"), key));
}

static void
test_stage (void)
{
  struct sbx_policy_ctx ctx;
  sbx_err err = { 0 };
  json_t *spec;
  const char *action;
  long long eret = 0;
  char sock[256];

  sbx_notify_ensure_watcher = fake_ensure;
  set_config ("{\"watcher\": {\"socket\": \"/run/test/w.sock\"}}");
  tap_is_str (sbx_watcher_socket (&cfg, sock, sizeof sock), "/run/test/w.sock", "socket path from watcher.socket");

  watcher_up = 1;
  spec = parse ("{\"process\": {}, \"linux\": {}}");
  tap_ok (harden (spec, &ctx, &err) == 0, "harden with a watcher up");
  tap_ok (module_rules (spec, &action, &eret) == 1, "exactly one rule names the module syscalls");
  tap_is_str (action, "SCMP_ACT_NOTIFY", "watcher up: the module rule notifies");
  tap_ok (eret == -1, "no errnoRet left on the notify rule (runc refuses it)");
  tap_is_str (seccomp_str (spec, "listenerPath"), "/run/test/w.sock", "listenerPath is the watcher socket");
  tap_is_str (seccomp_str (spec, "listenerMetadata"), SBX_LISTENER_METADATA, "listenerMetadata marks sbx");
  tap_is_str (json_annotation (spec, SBX_ANN_MONITOR), "notify", "annotation run.sbx.monitor=notify");
  tap_is_str (json_annotation (spec, SBX_ANN_RUNTIME_LOG), "/var/log/rt.json", "runtime log recorded");
  tap_is_str (json_annotation (spec, SBX_ANN_RUNTIME_LOG_FORMAT), "json", "runtime log format recorded");
  tap_is_str (json_annotation (spec, SBX_ANN_ENGINE), "oci-cli", "engine: plain OCI CLI");

  /* The same bundle hardened again (runc run twice): still one rule, still sbx's listener. */
  tap_ok (harden (spec, &ctx, &err) == 0, "harden an already hardened spec");
  tap_ok (module_rules (spec, &action, &eret) == 1, "rehardened: still exactly one module rule");
  tap_is_str (action, "SCMP_ACT_NOTIFY", "rehardened: sbx's own listener is not mistaken for the engine's");
  tap_ok (strstr (notes, "own seccomp listener") == NULL, "rehardened: no engine-listener warning");
  json_free (spec);

  watcher_up = 0;
  spec = parse ("{\"process\": {}, \"linux\": {}}");
  tap_ok (harden (spec, &ctx, &err) == 0, "no watcher: the container is still created");
  tap_ok (module_rules (spec, &action, &eret) <= 1 && eret == EPERM, "no watcher: errno EPERM");
  tap_is_str (action, "SCMP_ACT_ERRNO", "no watcher: plain EPERM (rule or default)");
  tap_ok (seccomp_str (spec, "listenerPath") == NULL, "no watcher: no listenerPath");
  tap_ok (strstr (notes, "module-load monitoring unavailable") != NULL, "no watcher: the fallback is logged");
  tap_is_str (json_annotation (spec, SBX_ANN_MONITOR), "eperm", "annotation run.sbx.monitor=eperm");
  json_free (spec);

  /* A spec notify-hardened earlier, hardened again with the watcher gone: the stale listener must go too. */
  watcher_up = 1;
  spec = parse ("{\"process\": {}, \"linux\": {}}");
  harden (spec, &ctx, &err);
  watcher_up = 0;
  tap_ok (harden (spec, &ctx, &err) == 0 && seccomp_str (spec, "listenerPath") == NULL,
          "watcher gone on re-hardening: sbx's stale listenerPath removed");
  tap_ok (module_rules (spec, &action, &eret) <= 1 && eret == EPERM, "watcher gone on re-hardening: errno EPERM");
  tap_is_str (action, "SCMP_ACT_ERRNO", "watcher gone on re-hardening: plain EPERM");
  json_free (spec);

  set_config ("{\"watcher\": {\"socket\": \"/run/test/w.sock\", \"fail_closed\": true}}");
  spec = parse ("{\"process\": {}, \"linux\": {}}");
  tap_ok (harden (spec, &ctx, &err) < 0 && strstr (err.msg, "watcher.fail_closed") != NULL,
          "fail_closed: no watcher, no container (%s)", err.msg);
  json_free (spec);

  set_config ("{\"watcher\": {\"socket\": \"/run/test/w.sock\"}}");
  watcher_up = 1;
  spec = parse ("{\"process\": {}, \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": "
                "\"/run/engine.sock\", \"syscalls\": [{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}}}");
  tap_ok (harden (spec, &ctx, &err) == 0, "engine listener: hardened");
  tap_is_str (seccomp_str (spec, "listenerPath"), "/run/engine.sock", "engine listener: not taken over");
  tap_ok (module_rules (spec, &action, &eret) <= 1 && eret == EPERM, "engine listener: errno EPERM");
  tap_is_str (action, "SCMP_ACT_ERRNO", "engine listener: module syscalls keep a plain EPERM");
  tap_ok (strstr (notes, "engine set its own seccomp listener (/run/engine.sock)") != NULL, "engine listener: logged");
  json_free (spec);

  spec = parse ("{\"process\": {}, \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": "
                "[{\"names\": [\"read\", \"write\", \"delete_module\"], \"action\": \"SCMP_ACT_ALLOW\"}]}}}");
  tap_ok (harden (spec, &ctx, &err) == 0, "default EPERM profile: hardened");
  tap_ok (module_rules (spec, &action, &eret) == 1, "default EPERM: one module rule (the allow was dropped)");
  tap_is_str (action, "SCMP_ACT_NOTIFY", "default EPERM: a notify rule is added for the module syscalls");
  json_free (spec);

  spec = parse ("{\"process\": {}, \"linux\": {}, \"annotations\": {\"run.sbx.on-violation\": \"explode\"}}");
  tap_ok (harden (spec, &ctx, &err) < 0 && strstr (err.msg, "expected log, freeze or kill") != NULL,
          "unknown on-violation refused");
  json_free (spec);

  spec = parse ("{\"process\": {}, \"linux\": {}}");
  memset (&ctx, 0, sizeof ctx);
  ctx.cfg = &cfg, ctx.note = note, ctx.container_id = "c2";
  ctx.containerd_address = "/run/containerd/containerd.sock", ctx.containerd_namespace = "moby";
  with_namespaces (spec);
  tap_ok (sbx_policy_apply_spec (spec, &ctx, &err) == 0, "containerd context: hardened");
  tap_is_str (json_annotation (spec, SBX_ANN_CONTAINERD_ADDRESS), "/run/containerd/containerd.sock",
              "containerd address");
  tap_is_str (json_annotation (spec, SBX_ANN_CONTAINERD_NAMESPACE), "moby", "containerd namespace");
  tap_is_str (json_annotation (spec, SBX_ANN_ENGINE), "docker", "namespace moby: engine docker");
  tap_ok (json_annotation (spec, SBX_ANN_RUNTIME_LOG) == NULL, "no --log: no runtime-log annotation");
  json_free (spec);
}

/* ---- the watcher's pure parts ---- */

static void
test_encodings (void)
{
  unsigned char buf[256];
  size_t len = sbx_w_any_string ("hi", buf, sizeof buf);
  static const unsigned char want[] = { 0x0a, 27, 'g', 'o', 'o', 'g', 'l', 'e', '.', 'p', 'r', 'o', 't', 'o', 'b',
                                        'u',  'f', '.', 'S', 't', 'r', 'i', 'n', 'g', 'V', 'a', 'l', 'u', 'e',
                                        0x12, 4,   0x0a, 2, 'h', 'i' };
  char big[300], name[64];

  tap_ok (len == sizeof want && memcmp (buf, want, len) == 0, "Any(StringValue \"hi\") encodes as protobuf");
  memset (big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  len = sbx_w_any_string (big, buf, sizeof buf);
  tap_ok (len == 0, "Any encoding refuses a buffer too small");
  {
    unsigned char large[1024];
    len = sbx_w_any_string (big, large, sizeof large);
    /* 299 bytes: a two-byte varint (0xab 0x02); the value field is 1 + 2 + 299 = 302 (0xae 0x02). */
    tap_ok (len == 2 + 27 + 1 + 2 + 1 + 2 + 299 && large[29] == 0x12 && large[30] == 0xae && large[31] == 0x02
                && large[33] == 0xab && large[34] == 0x02,
            "Any encoding: multi-byte varints");
  }

  sbx_w_modinfo_name ("\177ELF...\0license=GPL\0name=xfs\0vermagic=6.1", 41, name, sizeof name);
  tap_is_str (name, "xfs", "module name from .modinfo");
  sbx_w_modinfo_name ("\177ELF-not-a-module", 17, name, sizeof name);
  tap_is_str (name, "", "no .modinfo: no name");
  sbx_w_modinfo_name ("xname=evil\0", 11, name, sizeof name);
  tap_is_str (name, "", "name= must start an entry");

  tap_is_str (sbx_w_syscall_name (AUDIT_ARCH_X86_64, 313), "finit_module", "x86_64 313 = finit_module");
  tap_is_str (sbx_w_syscall_name (AUDIT_ARCH_X86_64, 175 | 0x40000000), "init_module", "x32 175 = init_module");
  tap_is_str (sbx_w_syscall_name (AUDIT_ARCH_I386, 129), "delete_module", "i386 129 = delete_module");
  tap_ok (sbx_w_syscall_name (AUDIT_ARCH_X86_64, 0) == NULL, "read is not a module syscall");

  tap_ok (sbx_container_id_ok ("abc-1.2_x+y"), "plain container id accepted");
  tap_ok (!sbx_container_id_ok ("../etc") && !sbx_container_id_ok ("a/b") && !sbx_container_id_ok ("..")
              && !sbx_container_id_ok (""),
          "ids that could leave the records directory refused");
}

static int
collect (void *ctx, const char *line, size_t len)
{
  (void) len;
  char *buf = ctx;
  strcat (buf, line);
  strcat (buf, "|");
  return 0;
}

static void
test_journal (void)
{
  char dir[] = "/tmp/sbx-test-journal.XXXXXX", path[128], seen[4096] = "";
  struct sbx_wcontainer c = { .id = "c1", .engine = "podman" };
  struct sbx_wevent ev = { .type = "violation", .hook = "seccomp-notify", .syscall = "finit_module", .pid = 42,
                           .action = "log", .outcome = "refused EPERM" };
  cleanup_free char *line = NULL;
  size_t len;
  sbx_err err = { 0 };
  json_t *j;

  if (mkdtemp (dir) == NULL)
    return;
  snprintf (path, sizeof path, "%s/sub/events.jsonl", dir);
  for (int i = 0; i < 5; i++)
    {
      char l[32];
      snprintf (l, sizeof l, "{\"n\":%d}", i);
      if (sbx_journal_append (path, 20, 2, l, strlen (l), &err) < 0)
        printf ("# %s\n", err.msg);
    }
  sbx_journal_read (path, 2, collect, seen, &err);
  /* 8-byte lines, 20-byte limit: two lines per file, three files kept (current + 2), the oldest dropped. */
  tap_is_str (seen, "{\"n\":0}|{\"n\":1}|{\"n\":2}|{\"n\":3}|{\"n\":4}|", "journal: rotated files read oldest first");
  for (int i = 5; i < 8; i++)
    {
      char l[32];
      snprintf (l, sizeof l, "{\"n\":%d}", i);
      sbx_journal_append (path, 20, 2, l, strlen (l), &err);
    }
  seen[0] = '\0';
  sbx_journal_read (path, 2, collect, seen, &err);
  tap_is_str (seen, "{\"n\":2}|{\"n\":3}|{\"n\":4}|{\"n\":5}|{\"n\":6}|{\"n\":7}|", "journal: bounded to keep+1 files");

  snprintf (ev.file, sizeof ev.file, "/lib/modules/x.ko");
  snprintf (ev.module, sizeof ev.module, "x");
  ev.time.tv_sec = 0, ev.time.tv_nsec = 5;
  tap_ok (sbx_w_event_json (&c, c.id, &ev, 3, &line, &len, &err) == 0, "event to JSON");
  j = parse (line);
  tap_is_str (json_str (json_find (j, "time")), "1970-01-01T00:00:00.000000005Z",
              "event time: RFC 3339, nanoseconds, UTC");
  tap_is_str (json_str (json_find (j, "container")), "c1", "event container");
  tap_is_str (json_str (json_find (j, "engine")), "podman", "event engine");
  tap_is_str (json_str (json_find (j, "syscall")), "finit_module", "event syscall");
  tap_is_str (json_str (json_find (j, "module")), "x", "event module");
  tap_is_str (json_str (json_find (j, "file")), "/lib/modules/x.ko", "event file");
  tap_is_str (json_str (json_find (j, "outcome")), "refused EPERM", "event outcome");
  tap_is_str (json_num_raw (json_find (j, "count")), "3", "event count");
  json_free (j);
  {
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd) != 0)
      printf ("# could not remove %s\n", dir);
  }
}


#include "watch_target.h"

/* ---- container bytes: one encoder, every line readable ---- */

static bool
utf8_ok (const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *) s;

  for (size_t i = 0; i < len;)
    {
      size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
      if (n == 0 || i + n > len || (n == 2 && p[i] < 0xc2))
        return false;
      for (size_t k = 1; k < n; k++)
        if ((p[i + k] & 0xc0) != 0x80)
          return false;
      i += n;
    }
  return true;
}

static bool
no_controls (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

static void
test_clean (void)
{
  char out[128], big[65536 + 1];
  size_t n;

  sbx_w_clean ("ok_name-1", 9, out, sizeof out);
  tap_is_str (out, "ok_name-1", "clean: a plain name is kept");
  sbx_w_clean ("a\xff\xfe" "b", 4, out, sizeof out);
  tap_is_str (out, "a\\xff\\xfeb", "clean: invalid UTF-8 escaped byte by byte");
  sbx_w_clean ("\x1b[31mred\n\r\t\x7f", 12, out, sizeof out);
  tap_is_str (out, "\\x1b[31mred\\x0a\\x0d\\x09\\x7f", "clean: C0 controls and DEL escaped");
  sbx_w_clean ("a\\x41", 5, out, sizeof out);
  tap_is_str (out, "a\\\\x41", "clean: a backslash is escaped, so \\xNN is never ambiguous");
  sbx_w_clean ("caf\xc3\xa9 \xe2\x80\xae" "gpj.exe \xc2\x85", 19, out, sizeof out);
  tap_is_str (out, "caf\xc3\xa9 \\xe2\\x80\\xaegpj.exe \\xc2\\x85", "clean: é kept; RLO and C1 NEL escaped");
  sbx_w_clean ("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", 9, out, sizeof out);
  tap_is_str (out, "\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80", "clean: overlong, surrogate, past U+10FFFF escaped");
  sbx_w_clean ("a\0b", 3, out, sizeof out);
  tap_is_str (out, "a\\x00b", "clean: NUL escaped");
  for (size_t i = 0; i < sizeof big - 1; i++)
    big[i] = i % 3 == 0 ? '\xc3' : i % 3 == 1 ? '\xa9' : '\x01';
  big[sizeof big - 1] = '\0';
  n = sbx_w_clean (big, sizeof big - 1, out, sizeof out);
  tap_ok (n <= sizeof out - 1 && n == strlen (out) && utf8_ok (out, n) && no_controls (out)
              && strcmp (out + n - 3, "\xe2\x80\xa6") == 0,
          "clean: 64 KiB capped to the field, cut between characters, marked with an ellipsis (%zu bytes)", n);
}

static void
test_event_hostile (void)
{
  struct sbx_wcontainer c = { .id = "c1", .engine = "pod\xffman\x1b" };
  struct sbx_wevent ev = { .type = "violation", .hook = "seccomp-notify", .syscall = "finit_module", .pid = 7,
                           .action = "log", .outcome = "refused EPERM" };
  cleanup_free char *line = NULL;
  size_t len;
  sbx_err err = { 0 };
  json_t *j = NULL;

  memset (ev.file, 'A', sizeof ev.file - 1);
  memcpy (ev.file, "/\xff\xfe\n\x1b]0;pwned\x07", 14);
  snprintf (ev.module, sizeof ev.module, "mod\xc3");
  snprintf (ev.params, sizeof ev.params, "a=\"1\"\\\r\n{\"type\":\"fake\"}");
  snprintf (ev.comm, sizeof ev.comm, "\x1b[2J");
  tap_ok (sbx_w_event_json (&c, c.id, &ev, 1, &line, &len, &err) == 0, "hostile event encoded");
  tap_ok (line && utf8_ok (line, len) && memchr (line, '\n', len) == NULL, "hostile event: one line of valid UTF-8");
  tap_ok (line && json_parse (line, len, "event", &j, &err) == 0, "hostile event: the line parses as JSON");
  tap_ok (json_str (json_find (j, "file")) && strlen (json_str (json_find (j, "file"))) < 1024
              && strncmp (json_str (json_find (j, "file")), "/\\xff\\xfe\\x0a\\x1b]0;pwned\\x07AAA", 30) == 0,
          "hostile event: the path escaped and capped under 1 KiB");
  tap_is_str (json_str (json_find (j, "module")), "mod\\xc3", "hostile event: a cut UTF-8 module name escaped");
  tap_is_str (json_str (json_find (j, "comm")), "\\x1b[2J", "hostile event: comm escaped");
  tap_is_str (json_str (json_find (j, "engine")), "pod\\xffman\\x1b", "hostile event: engine escaped");
  tap_is_str (json_str (json_find (j, "type")), "violation", "hostile event: params cannot forge fields");
  json_free (j);
}

static void
test_decode (void)
{
  static const char raw[] = "{\"type\":\"violation\",\"container\":\"c1\",\"module\":\"x\xff\x1b\"}";
  static const char nul[] = "{\"type\":\"violation\",\"module\":\"a\0b\"}";
  json_t *o = NULL;
  char *text = NULL;
  sbx_err err = { 0 };

  tap_ok (sbx_journal_decode (raw, sizeof raw - 1, &o, &text, &err) == 0 && utf8_ok (text, strlen (text)),
          "reader: a raw line of an older watcher is read, repaired to valid UTF-8");
  tap_is_str (json_str (json_find (o, "module")), "x\xef\xbf\xbd\x1b", "reader: invalid byte as U+FFFD, ESC kept");
  tap_is_str (json_str (json_find (o, "container")), "c1", "reader: its other fields intact");
  json_free (o), free (text);
  tap_ok (sbx_journal_decode (nul, sizeof nul - 1, &o, &text, &err) == 0
              && strcmp (json_str (json_find (o, "type")), "violation") == 0,
          "reader: a line holding a NUL is read whole");
  json_free (o), free (text);
  tap_ok (sbx_journal_decode ("garbage \x01\xff", 10, &o, &text, &err) == 0
              && strcmp (json_str (json_find (o, "type")), "unreadable") == 0
              && strcmp (json_str (json_find (o, "raw")), "garbage \\x01\\xff") == 0,
          "reader: a line that is no JSON is an 'unreadable' record, never skipped");
  json_free (o), free (text);
  tap_ok (sbx_journal_decode ("[1]", 3, &o, &text, &err) == 0 && strcmp (json_str (json_find (o, "type")), "unreadable") == 0,
          "reader: JSON that is not an object is 'unreadable' too");
  json_free (o), free (text);
}

static void
test_state_text (void)
{
  char *t;

  t = sbx_text_add_annotation ("{\n  \"id\": \"x\",\n  \"annotations\": {\n    \"a\": \"b\"\n  },\n  \"owner\": \"\"\n}",
                               "run.sbx.violations", "3");
  tap_is_str (t,
              "{\n  \"id\": \"x\",\n  \"annotations\": {\n    \"run.sbx.violations\": \"3\",\n    \"a\": \"b\"\n  },\n"
              "  \"owner\": \"\"\n}",
              "state text: added in runc's layout");
  free (t);
  t = sbx_text_add_annotation ("{\"id\":\"x\",\"annotations\":{}}", "k", "1");
  tap_is_str (t, "{\"id\":\"x\",\"annotations\":{\"k\": \"1\"}}", "state text: empty annotations object");
  free (t);
  t = sbx_text_add_annotation ("{\"id\":\"x\"}", "k", "1");
  tap_ok (t == NULL, "state text: no annotations object, NULL");
  t = sbx_text_add_annotation ("{\"annotations\": \"weird\"}", "k", "1");
  tap_ok (t == NULL, "state text: annotations not an object, NULL");
}

/* ---- finding a running watcher without waking it ---- */

static int
listening_socket (const char *path)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (strlen (path) >= sizeof sun.sun_path)
    exit (2);
  memcpy (sun.sun_path, path, strlen (path) + 1);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sun, sizeof sun) < 0 || listen (fd, 8) < 0)
    {
      printf ("# listen on %s: %s\n", path, strerror (errno));
      exit (2);
    }
  return fd;
}

/* Whether a connection waits on LFD; one that does is accepted and closed. */
static bool
connected (int lfd)
{
  struct pollfd p = { .fd = lfd, .events = POLLIN };

  if (poll (&p, 1, 0) != 1)
    return false;
  close (accept (lfd, NULL, NULL));
  return true;
}

static void
test_running_watcher (void)
{
  char dir[] = "/tmp/sbx-test-watch.XXXXXX", sock[128], lock[128], conf[512];
  const char *saved = getenv ("SBX_STATE_DIR");
  struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
  struct stat st;
  sbx_err err = { 0 };
  int lfd, lockfd, rc;

  if (mkdtemp (dir) == NULL)
    exit (2);
  snprintf (sock, sizeof sock, "%s/w.sock", dir);
  snprintf (lock, sizeof lock, "%s/watcher", dir);
  mkdir (lock, 0700);
  snprintf (lock, sizeof lock, "%s/watcher/watcher.lock", dir);
  snprintf (conf, sizeof conf, "{\"watcher\": {\"socket\": \"%s\", \"on_demand\": false}}", sock);
  set_config (conf);
  setenv ("SBX_STATE_DIR", dir, 1);
  lfd = listening_socket (sock);
  /* What a running watcher holds, with an old mtime on its lock file. */
  lockfd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  flock (lockfd, LOCK_EX);
  futimens (lockfd, old);

  rc = sbx_notify_ensure_watcher_default (&cfg, sock, &err);
  tap_ok (rc == 0 && !connected (lfd), "a running watcher (lock held, socket bound) is found without a connection");
  tap_ok (stat (lock, &st) == 0 && st.st_mtime > 1000, "and the create leaves its mark on the lock file (activity)");

  flock (lockfd, LOCK_UN);
  rc = sbx_notify_ensure_watcher_default (&cfg, sock, &err);
  tap_ok (rc == 0 && connected (lfd), "a free lock: the socket is asked by connecting");
  tap_ok (flock (lockfd, LOCK_EX | LOCK_NB) == 0, "and the lock is free again for a watcher to take");

  close (lfd);
  unlink (sock);
  rc = sbx_notify_ensure_watcher_default (&cfg, sock, &err);
  tap_ok (rc < 0, "a held lock without its socket is no watcher (%s)", rc < 0 ? err.msg : "accepted");

  close (lockfd);
  unlink (lock);
  snprintf (lock, sizeof lock, "%s/watcher", dir);
  rmdir (lock);
  rmdir (dir);
  if (saved)
    setenv ("SBX_STATE_DIR", saved, 1);
  else
    unsetenv ("SBX_STATE_DIR");
}

int
main (void)
{
  test_stage ();
  test_running_watcher ();
  test_encodings ();
  test_journal ();
  test_clean ();
  test_event_hostile ();
  test_decode ();
  test_budget ();
  test_target ();
  test_state_text ();
  return tap_done ();
}
