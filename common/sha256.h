/* sha256.h - SHA-256 (FIPS 180-4): content addresses of images and blobs, and the keys of the hardening memo. */
#ifndef SBX_SHA256_H
#define SBX_SHA256_H

#include <stddef.h>

#include "error.h"

void sbx_sha256 (const void *data, size_t len, unsigned char out[32]);
struct sbx_sha256_ctx
{
  unsigned int h[8];
  unsigned long long len;
  unsigned char buf[64];
  size_t n;
};
void sbx_sha256_init (struct sbx_sha256_ctx *c);
void sbx_sha256_update (struct sbx_sha256_ctx *c, const void *data, size_t len);
void sbx_sha256_final (struct sbx_sha256_ctx *c, unsigned char out[32]);
int sbx_sha256_file (const char *path, char hex[65], sbx_err *err);

#endif
