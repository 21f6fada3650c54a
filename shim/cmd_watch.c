/* cmd_watch.c - `sbx watch`: the module-load watcher daemon (watcher/). */
#include "../watcher/watcher.h"
#include "commands.h"

int
sbx_cmd_watch (int argc, char **argv)
{
  return sbx_watch_main (argc, argv);
}
