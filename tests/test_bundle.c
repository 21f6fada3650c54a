/* test_bundle.c - oci/bundle: a document is written back by replacing the file, never by rewriting it in place. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "../oci/bundle.h"
#include "tap.h"

static char dir[] = "/tmp/sbx-test-bundle.XXXXXX";

static char *
path_of (const char *name)
{
  static char p[2][256];
  static int k;

  k ^= 1;
  snprintf (p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

static char *
slurp (const char *path, size_t *len)
{
  char *buf = NULL;
  sbx_err err;

  if (sbx_read_file (path, 8u << 20, &buf, len, &err) < 0)
    return NULL;
  return buf;
}

/* A document of about SIZE bytes whose "gen" says which save wrote it. */
static int
save_generation (int gen, size_t size, sbx_err *err)
{
  struct sbx_doc doc;
  char *pad = malloc (size + 1);
  int rc;

  if (pad == NULL)
    return -1;
  memset (pad, 'a' + gen % 26, size);
  pad[size] = '\0';
  if (sbx_doc_open (dir, "config.json", &doc, err) < 0)
    {
      free (pad);
      return -1;
    }
  rc = json_set (doc.root, "pad", json_new_str (pad), err);
  if (rc == 0)
    rc = json_set (doc.root, "gen", json_new_int (gen), err);
  if (rc == 0)
    rc = sbx_doc_save (&doc, err);
  sbx_doc_close (&doc);
  free (pad);
  return rc;
}

/* The reader: reads config.json over and over until told to stop; every read must be a whole JSON object of
   the expected shape.  Exits with the number of torn reads seen (capped), 100 if it never read at all. */
static int
reader (int stop_fd)
{
  int torn = 0, reads = 0;

  for (;;)
    {
      char c, *buf;
      size_t len;
      json_t *v = NULL;
      sbx_err err;

      if (read (stop_fd, &c, 1) == 0)
        break;
      buf = slurp (path_of ("config.json"), &len);
      if (buf == NULL)
        torn++;
      else if (json_parse (buf, len, "config.json", &v, &err) < 0 || json_find (v, "gen") == NULL
               || json_find (v, "end") == NULL)
        torn++;
      json_free (v);
      free (buf);
      reads++;
    }
  return reads == 0 ? 100 : torn > 99 ? 99 : torn;
}

int
main (void)
{
  const char orig[] = "{\"ociVersion\":\"1.0.2\",\"gen\":0,\"end\":true}";
  struct stat before, after, linked;
  sbx_err err;
  char *buf;
  size_t len;
  int fd, pipefd[2], status, failed = 0;
  pid_t child;

  if (mkdtemp (dir) == NULL)
    return perror ("mkdtemp"), 1;
  fd = open (path_of ("config.json"), O_WRONLY | O_CREAT | O_EXCL, 0640);
  if (fd < 0 || write (fd, orig, strlen (orig)) != (ssize_t) strlen (orig) || close (fd) < 0)
    return perror ("config.json"), 1;

  /* Replaced, not rewritten: a new inode, and a hard link to the old file still reads the old document (what
     a reader holding the file open, or the delegate racing the rewrite, would see). */
  if (link (path_of ("config.json"), path_of ("old.json")) < 0 || stat (path_of ("config.json"), &before) < 0)
    return perror ("link"), 1;
  if (save_generation (1, 100, &err) < 0)
    return printf ("Bail out! write-back: %s\n", err.msg), 1;
  if (stat (path_of ("config.json"), &after) < 0)
    return perror ("stat"), 1;
  tap_ok (after.st_ino != before.st_ino,
          "config.json is a new file after the write-back (inode %lu, was %lu)", (unsigned long) after.st_ino,
          (unsigned long) before.st_ino);
  buf = slurp (path_of ("old.json"), &len);
  tap_ok (buf && len == strlen (orig) && memcmp (buf, orig, len) == 0,
          "a hard link to the old file keeps the old document, byte for byte");
  free (buf);
  tap_ok (stat (path_of ("old.json"), &linked) == 0 && linked.st_nlink == 1,
          "the old file is no longer linked as config.json");
  tap_ok ((after.st_mode & 07777) == 0640, "the new file keeps the old one's mode (%o)", after.st_mode & 07777);

  /* A reader looping while the document is saved again and again, alternating a large and a small size (a
     rewrite in place would show it an empty, short or mixed file): it only ever sees a whole document. */
  if (pipe (pipefd) < 0)
    return perror ("pipe"), 1;
  child = fork ();
  if (child == 0)
    {
      close (pipefd[1]);
      fcntl (pipefd[0], F_SETFL, O_NONBLOCK);
      _exit (reader (pipefd[0]));
    }
  close (pipefd[0]);
  for (int gen = 2; gen < 300 && !failed; gen++)
    failed = save_generation (gen, gen % 2 ? 300000 : 10, &err) < 0;
  close (pipefd[1]);
  waitpid (child, &status, 0);
  tap_ok (!failed, "300 saves while a reader loops%s%s", failed ? ": " : "", failed ? err.msg : "");
  tap_ok (WIFEXITED (status) && WEXITSTATUS (status) == 0,
          "the reader only ever saw a whole document (torn reads: %d%s)", WEXITSTATUS (status),
          WEXITSTATUS (status) == 100 ? ", or it never read" : "");
  {
    char *left = NULL;
    if (asprintf (&left, "ls -A '%s' | grep -v -x -e config.json -e old.json", dir) > 0)
      tap_ok (system (left) != 0, "no temporary file is left beside config.json");
    free (left);
  }
  unlink (path_of ("config.json"));
  unlink (path_of ("old.json"));
  rmdir (dir);
  return tap_done ();
}
