// TLS 1.3 record protection for one direction (RFC 8446 §5.2-5.3, §7.1-7.3): the traffic secret,
// the AEAD key schedule made from it, and the record sequence number.
#ifndef DVM_RELAY_RECORD_H
#define DVM_RELAY_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define TLS_HEADER_LEN 5
#define TLS_TAG_LEN 16
#define TLS_MAX_PLAINTEXT 16384
/* TLSCiphertext.length may be up to 2^14 + 256 (§5.2). */
#define TLS_MAX_CIPHERTEXT (TLS_MAX_PLAINTEXT + 256)
#define TLS_MAX_SECRET 48
#define TLS_IV_LEN 12

enum tls_content { TLS_CHANGE_CIPHER_SPEC = 20, TLS_ALERT = 21, TLS_HANDSHAKE = 22, TLS_APPLICATION_DATA = 23 };

typedef struct {
  const EVP_CIPHER *cipher;
  const EVP_MD *md;
  size_t key_len;
  size_t secret_len;
} tls_suite;

typedef struct {
  tls_suite suite;
  EVP_CIPHER_CTX *ctx;
  int encrypt;
  uint8_t secret[TLS_MAX_SECRET];
  uint8_t iv[TLS_IV_LEN];
  uint64_t seq;
} tls_keys;

/* The suite for an IANA name (TLS_AES_128_GCM_SHA256, ...); 0 when we do not support it. */
int tls_suite_by_name(const char *name, tls_suite *out);

/* Keys from a traffic secret, starting at record `seq`. 0 on failure (nothing to free then). */
int tls_keys_init(tls_keys *keys, const tls_suite *suite, const uint8_t *secret, int encrypt, uint64_t seq);

/* Moves to application_traffic_secret_N+1 (a KeyUpdate), sequence back to 0. */
int tls_keys_update(tls_keys *keys);

/* Zeroes and frees everything. */
void tls_keys_free(tls_keys *keys);

/* Protects one record in place. `record` holds room for the header, then `inner_len` bytes of
 * TLSInnerPlaintext (content, type byte, padding) at record + 5, then room for the tag. Writes the
 * header and the tag. Returns the whole record's length, or 0 on a crypto failure. */
size_t tls_seal(tls_keys *keys, uint8_t *record, size_t inner_len);

/* Opens one whole record in place (header at `record`, `length` = the header's length field).
 * Returns 1 and sets *type and *content_len (the content starts at record + 5), or 0 when the
 * record does not authenticate, -1 when its inner plaintext has no type (all padding). */
int tls_open(tls_keys *keys, uint8_t *record, size_t length, uint8_t *type, size_t *content_len);

#endif
