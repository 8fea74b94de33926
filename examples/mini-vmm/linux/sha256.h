// SHA-256 (FIPS 180-4, section 6.2), for the L2 /init's disk checks (nvme.c): streaming, no
// allocation, no library. Not responsible for: other hash sizes, HMAC, constant-time anything.
#ifndef L2_SHA256_H
#define L2_SHA256_H
#include <stddef.h>
#include <stdint.h>

/** Bytes of a digest, and of its lowercase hex form without the NUL. */
#define SHA256_BYTES 32
#define SHA256_HEX 64

struct sha256 {
  uint32_t h[8];       /* the intermediate hash value H(i) */
  uint64_t bytes;      /* message length so far, in bytes */
  uint8_t block[64];   /* the message block being filled */
  size_t fill;         /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/** Pads, processes the last block(s) and writes the digest as lowercase hex (65 bytes with the NUL). */
void sha256_final_hex(struct sha256 *s, char hex[SHA256_HEX + 1]);

#endif
