// One relay: a TCP socket carrying TLS 1.3 records (after node:tls did the handshake) and a
// plaintext socket (rsync's), relayed both ways by one thread with the record layer of record.h.
#ifndef DVM_RELAY_RELAY_H
#define DVM_RELAY_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "record.h"

typedef struct {
  int net_fd;   /* the TCP socket; the relay dup()s it, the caller may close its own */
  int plain_fd; /* rsync's socket, likewise */
  tls_suite suite;
  uint8_t read_secret[TLS_MAX_SECRET];
  uint8_t write_secret[TLS_MAX_SECRET];
  uint64_t read_seq, write_seq;
  /* Network bytes node:tls never read (records still to open), plaintext node:tls already opened
   * that rsync has not been given yet, and plaintext rsync wrote that is not protected yet. */
  uint8_t *net_pending;
  size_t net_pending_len;
  uint8_t *to_plain;
  size_t to_plain_len;
  uint8_t *to_net;
  size_t to_net_len;
  /* Send a KeyUpdate after this many records under one key (AES-GCM's limit is 2^24.5). */
  uint64_t key_update_after;
} relay_config;

typedef struct {
  const char *code; /* NULL: both sides closed cleanly (close_notify both ways) */
  char message[256];
  int alert;        /* the peer's alert description, or -1 */
  uint64_t bytes_to_plain, bytes_from_plain, records_in, records_out, key_updates_in, key_updates_out;
  int close_notify_received;
  int plain_ended; /* rsync had closed its side (read EOF) before the end */
  double cpu_user_ms, cpu_system_ms; /* the relay thread's own CPU time */
} relay_result;

typedef struct relay relay;

/* Starts the relay thread. Takes ownership of the config's buffers (they are freed, and the
 * secrets zeroed, whatever happens). `done` runs on the relay thread once, at the end. Returns NULL
 * and fills `failure` when it cannot start. */
relay *relay_start(relay_config *config, void (*done)(void *context, relay_result *result), void *context, relay_result *failure);

/* Asks the relay to stop (from any thread, at most once before `done` ran). */
void relay_abort(relay *r);

/* Frees what `done` left: call after `done` ran, from any thread. */
void relay_free(relay *r);

#endif
