/* log.c - runc-compatible log lines, so containerd and Podman surface sbx's messages like runc's own. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static struct
{
  const char *path;
  bool json, debug;
} logcfg;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void
sbx_log_setup (const char *path, bool json, bool debug)
{
  logcfg.path = path;
  logcfg.json = json;
  logcfg.debug = debug;
}

/* Escape S as a JSON (and logrus-quoted) string body. */
static size_t
escape (char *out, size_t size, const char *s)
{
  size_t n = 0;

  for (; *s && n + 7 < size; s++)
    {
      unsigned char c = *s;
      if (c == '"' || c == '\\')
        out[n++] = '\\', out[n++] = c;
      else if (c == '\n')
        out[n++] = '\\', out[n++] = 'n';
      else if (c == '\t')
        out[n++] = '\\', out[n++] = 't';
      else if (c < 0x20)
        n += snprintf (out + n, size - n, "\\u%04x", c);
      else
        out[n++] = c;
    }
  out[n] = '\0';
  return n;
}

void
sbx_log_format (char *buf, size_t size, enum sbx_level level, const char *msg, bool json)
{
  char ts[64], esc[4096];
  struct timespec now;
  struct tm tm;

  clock_gettime (CLOCK_REALTIME, &now);
  gmtime_r (&now.tv_sec, &tm);
  strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  escape (esc, sizeof esc, msg);
  if (json)
    snprintf (buf, size, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}", level_names[level], esc, ts);
  else
    snprintf (buf, size, "time=\"%s\" level=%s msg=\"%s\"", ts, level_names[level], esc);
}

int
sbx_log_append (const char *path, bool json, enum sbx_level level, const char *msg)
{
  char line[8192];
  cleanup_close int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  size_t n;

  if (fd < 0)
    return -1;
  sbx_log_format (line, sizeof line - 1, level, msg, json);
  n = strlen (line);
  line[n++] = '\n';
  /* One write(2) of the whole line, so concurrent writers under O_APPEND do not interleave. */
  return write (fd, line, n) == (ssize_t) n ? 0 : -1;
}

void
sbx_log (enum sbx_level level, const char *fmt, ...)
{
  char msg[4096];
  va_list ap;
  int saved = errno;

  if (level == SBX_DEBUG && !logcfg.debug)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (logcfg.path)
    {
      sbx_log_append (logcfg.path, logcfg.json, level, msg);
      /* runc prints a fatal error on stderr as well as in its log: engines show either. */
      if (level == SBX_ERROR)
        fprintf (stderr, "%s\n", msg);
    }
  else if (logcfg.json)
    {
      char line[8192];
      sbx_log_format (line, sizeof line, level, msg, true);
      fprintf (stderr, "%s\n", line);
    }
  else
    fprintf (stderr, "sbx: %s: %s\n", level_names[level], msg);
  errno = saved;
}
