/* image.c - --image FILE: an OCI image layout or a rootfs tarball, unpacked once into a content-addressed cache. */
#define _GNU_SOURCE
#include <errno.h>

#include "sandbox.h"

int
sbx_image_rootfs (const struct sbx_config *cfg, const char *image, char **rootfs, sbx_err *err)
{
  (void) cfg;
  (void) rootfs;
  return sbx_fail (err, ENOSYS, "%s: images are not supported yet", image);
}
