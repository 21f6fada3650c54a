/* log.h - sbx's messages, written where the engine reads its runtime's: --log FILE in runc's text or JSON format. */
#ifndef SBX_LOG_H
#define SBX_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum sbx_level
{
  SBX_DEBUG,
  SBX_INFO,
  SBX_WARN,
  SBX_ERROR,
};

/* PATH NULL: stderr.  JSON: runc's --log-format json ({"level","msg","time"}), else logrus' text format.
   DEBUG: also emit debug messages. */
void sbx_log_setup (const char *path, bool json, bool debug);
void sbx_log (enum sbx_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Format one log line into BUF (no trailing newline); exposed for the watcher and tests. */
void sbx_log_format (char *buf, size_t size, enum sbx_level level, const char *msg, bool json);
/* Append one formatted line to PATH (used for an engine's log recorded at create time). */
int sbx_log_append (const char *path, bool json, enum sbx_level level, const char *msg);

#endif
