// TLS 1.3 record protection with OpenSSL's EVP AEADs. The key schedule is set up once per traffic
// secret; each record only sets its nonce (the IV XOR the sequence number), so a record costs one
// EVP_CipherInit_ex without a key plus the AEAD pass itself.
#include "record.h"

#include <string.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

int tls_suite_by_name(const char *name, tls_suite *out) {
  if (strcmp(name, "TLS_AES_128_GCM_SHA256") == 0) {
    *out = (tls_suite){EVP_aes_128_gcm(), EVP_sha256(), 16, 32};
  } else if (strcmp(name, "TLS_AES_256_GCM_SHA384") == 0) {
    *out = (tls_suite){EVP_aes_256_gcm(), EVP_sha384(), 32, 48};
  } else if (strcmp(name, "TLS_CHACHA20_POLY1305_SHA256") == 0) {
    *out = (tls_suite){EVP_chacha20_poly1305(), EVP_sha256(), 32, 32};
  } else {
    return 0;
  }
  return out->cipher != NULL && out->md != NULL;
}

/* HKDF-Expand-Label(secret, label, "", length) (§7.1). Every output here is at most 48 bytes, so at
 * most two HMAC blocks. */
static int expand_label(const tls_suite *suite, const uint8_t *secret, const char *label, uint8_t *out, size_t length) {
  uint8_t info[2 + 1 + 255 + 1 + 1];
  size_t label_len = strlen(label);
  size_t n = 0;
  info[n++] = (uint8_t)(length >> 8);
  info[n++] = (uint8_t)length;
  info[n++] = (uint8_t)(6 + label_len);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = 0; /* empty context */
  uint8_t block[EVP_MAX_MD_SIZE];
  uint8_t input[EVP_MAX_MD_SIZE + sizeof(info) + 1];
  size_t done = 0, previous = 0;
  int ok = 1;
  for (uint8_t counter = 1; done < length && ok; counter++) {
    /* T(i) = HMAC(secret, T(i-1) | info | i) */
    memcpy(input, block, previous);
    memcpy(input + previous, info, n);
    input[previous + n] = counter;
    unsigned int block_len = 0;
    ok = HMAC(suite->md, secret, (int)suite->secret_len, input, previous + n + 1, block, &block_len) != NULL;
    size_t take = length - done < block_len ? length - done : block_len;
    memcpy(out + done, block, take);
    done += take;
    previous = block_len;
  }
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(input, sizeof(input));
  return ok;
}

static int install(tls_keys *keys) {
  uint8_t key[32];
  int ok = expand_label(&keys->suite, keys->secret, "key", key, keys->suite.key_len)
    && expand_label(&keys->suite, keys->secret, "iv", keys->iv, TLS_IV_LEN)
    && EVP_CipherInit_ex(keys->ctx, keys->suite.cipher, NULL, key, NULL, keys->encrypt) == 1;
  OPENSSL_cleanse(key, sizeof(key));
  return ok;
}

int tls_keys_init(tls_keys *keys, const tls_suite *suite, const uint8_t *secret, int encrypt, uint64_t seq) {
  memset(keys, 0, sizeof(*keys));
  keys->suite = *suite;
  keys->encrypt = encrypt;
  keys->seq = seq;
  memcpy(keys->secret, secret, suite->secret_len);
  keys->ctx = EVP_CIPHER_CTX_new();
  if (keys->ctx == NULL || !install(keys)) {
    tls_keys_free(keys);
    return 0;
  }
  return 1;
}

int tls_keys_update(tls_keys *keys) {
  uint8_t next[TLS_MAX_SECRET];
  if (!expand_label(&keys->suite, keys->secret, "traffic upd", next, keys->suite.secret_len)) return 0;
  memcpy(keys->secret, next, keys->suite.secret_len);
  OPENSSL_cleanse(next, sizeof(next));
  keys->seq = 0;
  return install(keys);
}

void tls_keys_free(tls_keys *keys) {
  EVP_CIPHER_CTX_free(keys->ctx); /* cleanses the key schedule */
  OPENSSL_cleanse(keys, sizeof(*keys));
}

static void nonce_for(const tls_keys *keys, uint8_t nonce[TLS_IV_LEN]) {
  memcpy(nonce, keys->iv, TLS_IV_LEN);
  for (int i = 0; i < 8; i++) nonce[TLS_IV_LEN - 1 - i] ^= (uint8_t)(keys->seq >> (8 * i));
}

size_t tls_seal(tls_keys *keys, uint8_t *record, size_t inner_len) {
  size_t length = inner_len + TLS_TAG_LEN;
  record[0] = TLS_APPLICATION_DATA;
  record[1] = 3;
  record[2] = 3;
  record[3] = (uint8_t)(length >> 8);
  record[4] = (uint8_t)length;
  uint8_t nonce[TLS_IV_LEN];
  nonce_for(keys, nonce);
  uint8_t *body = record + TLS_HEADER_LEN;
  int out = 0, last = 0;
  int ok = EVP_CipherInit_ex(keys->ctx, NULL, NULL, NULL, nonce, 1) == 1
    && EVP_CipherUpdate(keys->ctx, NULL, &out, record, TLS_HEADER_LEN) == 1 /* the header is the AAD */
    && EVP_CipherUpdate(keys->ctx, body, &out, body, (int)inner_len) == 1
    && EVP_CipherFinal_ex(keys->ctx, body + out, &last) == 1
    && EVP_CIPHER_CTX_ctrl(keys->ctx, EVP_CTRL_AEAD_GET_TAG, TLS_TAG_LEN, body + inner_len) == 1;
  if (!ok) return 0;
  keys->seq++;
  return TLS_HEADER_LEN + length;
}

int tls_open(tls_keys *keys, uint8_t *record, size_t length, uint8_t *type, size_t *content_len) {
  if (length < TLS_TAG_LEN + 1) return 0;
  size_t inner_len = length - TLS_TAG_LEN;
  uint8_t *body = record + TLS_HEADER_LEN;
  uint8_t nonce[TLS_IV_LEN];
  nonce_for(keys, nonce);
  int out = 0, last = 0;
  int ok = EVP_CipherInit_ex(keys->ctx, NULL, NULL, NULL, nonce, 0) == 1
    && EVP_CipherUpdate(keys->ctx, NULL, &out, record, TLS_HEADER_LEN) == 1
    && EVP_CipherUpdate(keys->ctx, body, &out, body, (int)inner_len) == 1
    && EVP_CIPHER_CTX_ctrl(keys->ctx, EVP_CTRL_AEAD_SET_TAG, TLS_TAG_LEN, body + inner_len) == 1
    && EVP_CipherFinal_ex(keys->ctx, body + out, &last) == 1; /* verifies the tag */
  if (!ok) return 0;
  /* Only an authentic record moves the sequence: a forged one must not shift the ones after it. */
  keys->seq++;
  size_t end = inner_len;
  while (end > 0 && body[end - 1] == 0) end--;
  if (end == 0) return -1;
  *type = body[end - 1];
  *content_len = end - 1;
  return 1;
}
