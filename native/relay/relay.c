// The relay thread: TLS 1.3 records from the network are opened into rsync's socket, rsync's bytes
// are sealed into records for the network. One thread, non-blocking sockets and poll(), so the
// thread alone owns both directions' state (keys, sequence numbers, the alerts it sends) and no
// lock is needed.
//
// Why the shapes below: the cost of a relay is per system call and per copy, not per byte of AES
// (AES-GCM with AES-NI is well under a cycle a byte). So records are opened in place in one large
// read buffer and their plaintexts written with one sendmsg (an iovec per record), and rsync's
// bytes are read with one readv straight into up to 16 record slots, sealed in place and sent with
// one sendmsg. Backpressure is plain: a direction reads nothing while what it produced is unsent.
//
// What the peer must never get past us (RFC 8446): a record that does not authenticate (tampered,
// replayed, reordered: the sequence number is in the nonce) ends the relay; so does a stream that
// ends without close_notify (truncation), any record type but application_data after the
// handshake, a handshake message other than NewSessionTicket (ignored) or KeyUpdate (honoured,
// answered when asked), and anything over the size limits.
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define SLOTS 16
#define SLOT_LEN (TLS_HEADER_LEN + TLS_MAX_PLAINTEXT + 1 + TLS_TAG_LEN)
/* One read from the network takes up to this much (plus room for one whole record). */
#define IN_BATCH (SLOTS * TLS_MAX_PLAINTEXT)
/* Plaintext pieces per sendmsg to rsync (one per record). */
#define MAX_PLAIN_IOV 64
/* The largest post-handshake message we reassemble (session tickets are a few hundred bytes). */
#define HS_MAX 65536

enum { ALERT_CLOSE_NOTIFY = 0, ALERT_UNEXPECTED_MESSAGE = 10, ALERT_BAD_RECORD_MAC = 20, ALERT_RECORD_OVERFLOW = 22,
       ALERT_ILLEGAL_PARAMETER = 47, ALERT_DECODE_ERROR = 50, ALERT_INTERNAL_ERROR = 80, ALERT_USER_CANCELED = 90 };
enum { HS_NEW_SESSION_TICKET = 4, HS_KEY_UPDATE = 24 };

struct relay {
  int net, plain, wake;
  tls_keys rx, tx;
  uint64_t key_update_after;
  void (*done)(void *, relay_result *);
  void *context;
  relay_result result;

  /* network -> rsync: [in_off, in_len) of `in` is not opened yet. */
  uint8_t *in;
  size_t in_cap, in_len, in_off;
  struct iovec plain_out[MAX_PLAIN_IOV];
  int plain_n, plain_i;
  uint8_t *to_plain; /* node:tls's leftover plaintext, the first thing rsync gets */
  uint8_t hs[HS_MAX];
  size_t hs_len;
  int net_eof, rx_closed, plain_shut;

  /* rsync -> network */
  uint8_t *slots;
  struct iovec net_out[SLOTS];
  int net_n, net_i;
  uint8_t control[TLS_HEADER_LEN + 8 + TLS_TAG_LEN]; /* a KeyUpdate or an alert */
  uint8_t *to_net;
  size_t to_net_len, to_net_off;
  int plain_eof, close_notify_queued, net_shut, key_update_requested;
};

static int fail(relay *r, const char *code, int alert, const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Ends the relay with an error; tells the peer why with a fatal alert when it can (best effort: never
 * in the middle of a partly sent record, never blocking). Returns 0 for `return fail(...)`. */
static int fail(relay *r, const char *code, int alert, const char *format, ...) {
  if (r->result.code != NULL) return 0;
  r->result.code = code;
  va_list args;
  va_start(args, format);
  vsnprintf(r->result.message, sizeof(r->result.message), format, args);
  va_end(args);
  if (alert >= 0 && r->net_i == r->net_n && !r->close_notify_queued && !r->net_shut) {
    r->control[TLS_HEADER_LEN] = 2; /* fatal */
    r->control[TLS_HEADER_LEN + 1] = (uint8_t)alert;
    r->control[TLS_HEADER_LEN + 2] = TLS_ALERT;
    size_t n = tls_seal(&r->tx, r->control, 3);
    if (n > 0) (void)send(r->net, r->control, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  return 0;
}

static int fail_errno(relay *r, const char *code, const char *what) {
  int error = errno;
  return fail(r, code, -1, "%s: %s", what, strerror(error));
}

/* Sends what is pending in iov[*at, n). 1: all sent, 0: the socket is full, -1: error (errno). */
static int flush(int fd, struct iovec *iov, int *at, int n) {
  while (*at < n) {
    struct msghdr message = {.msg_iov = iov + *at, .msg_iovlen = (size_t)(n - *at)};
    ssize_t sent = sendmsg(fd, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    while (sent > 0) {
      size_t take = (size_t)sent < iov[*at].iov_len ? (size_t)sent : iov[*at].iov_len;
      iov[*at].iov_base = (uint8_t *)iov[*at].iov_base + take;
      iov[*at].iov_len -= take;
      sent -= (ssize_t)take;
      if (iov[*at].iov_len == 0) (*at)++;
    }
  }
  return 1;
}

/* Post-handshake messages (§4.6): reassembled across records; a KeyUpdate must end its record. */
static int handshake_bytes(relay *r, const uint8_t *bytes, size_t n) {
  if (n == 0) return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent an empty handshake record");
  if (r->hs_len + n > HS_MAX) return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent a post-handshake message over %d bytes", HS_MAX);
  memcpy(r->hs + r->hs_len, bytes, n);
  r->hs_len += n;
  int update = 0;
  while (r->hs_len >= 4) {
    size_t length = ((size_t)r->hs[1] << 16) | ((size_t)r->hs[2] << 8) | r->hs[3];
    if (4 + length > HS_MAX) return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer announced a post-handshake message of %zu bytes", length);
    if (r->hs_len < 4 + length) break;
    if (r->hs[0] == HS_KEY_UPDATE) {
      if (length != 1) return fail(r, "ERR_RELAY_DECODE_ERROR", ALERT_DECODE_ERROR, "the peer sent a KeyUpdate of %zu bytes", length);
      if (r->hs[4] > 1) return fail(r, "ERR_RELAY_DECODE_ERROR", ALERT_ILLEGAL_PARAMETER, "the peer sent a KeyUpdate with request_update %d", r->hs[4]);
      /* The next record uses the new key, so nothing may follow a KeyUpdate in its record. */
      if (r->hs_len != 5) return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent more after a KeyUpdate in the same record");
      if (r->hs[4] == 1) r->key_update_requested = 1;
      update = 1;
    } else if (r->hs[0] != HS_NEW_SESSION_TICKET) {
      /* Post-handshake client authentication was not offered, and nothing else may come now. */
      return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent handshake message %d after the handshake", r->hs[0]);
    }
    memmove(r->hs, r->hs + 4 + length, r->hs_len - 4 - length);
    r->hs_len -= 4 + length;
  }
  if (update) {
    if (!tls_keys_update(&r->rx)) return fail(r, "ERR_RELAY_INTERNAL", ALERT_INTERNAL_ERROR, "cannot derive the peer's next traffic key");
    r->result.key_updates_in++;
  }
  return 1;
}

/* Opens the whole records in the read buffer (up to MAX_PLAIN_IOV application data records), in
 * place; their plaintexts become the pending writes to rsync. 0 when the relay must end. */
static int open_records(relay *r) {
  while (r->plain_n < MAX_PLAIN_IOV && !r->rx_closed) {
    size_t available = r->in_len - r->in_off;
    if (available < TLS_HEADER_LEN) break;
    uint8_t *record = r->in + r->in_off;
    size_t length = ((size_t)record[3] << 8) | record[4];
    if (record[0] != TLS_APPLICATION_DATA)
      return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent an unprotected record of type %d after the handshake", record[0]);
    if (length > TLS_MAX_CIPHERTEXT)
      return fail(r, "ERR_RELAY_RECORD_OVERFLOW", ALERT_RECORD_OVERFLOW, "the peer sent a record of %zu bytes (at most %d)", length, TLS_MAX_CIPHERTEXT);
    if (available < TLS_HEADER_LEN + length) break;
    r->in_off += TLS_HEADER_LEN + length;
    uint8_t type = 0;
    size_t content_len = 0;
    uint64_t seq = r->rx.seq;
    int opened = tls_open(&r->rx, record, length, &type, &content_len);
    if (opened == 0)
      return fail(r, "ERR_RELAY_BAD_RECORD_MAC", ALERT_BAD_RECORD_MAC, "record %llu from the peer does not authenticate (tampered, replayed, reordered or cut)", (unsigned long long)seq);
    if (opened < 0) return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent a record without a content type");
    if (content_len > TLS_MAX_PLAINTEXT)
      return fail(r, "ERR_RELAY_RECORD_OVERFLOW", ALERT_RECORD_OVERFLOW, "the peer sent %zu bytes of plaintext in one record", content_len);
    r->result.records_in++;
    uint8_t *content = record + TLS_HEADER_LEN;
    if (r->hs_len > 0 && type != TLS_HANDSHAKE)
      return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer interleaved a record of type %d with a handshake message", type);
    switch (type) {
      case TLS_APPLICATION_DATA:
        if (content_len > 0) {
          r->plain_out[r->plain_n++] = (struct iovec){content, content_len};
          r->result.bytes_to_plain += content_len;
        }
        break;
      case TLS_ALERT:
        if (content_len != 2) return fail(r, "ERR_RELAY_DECODE_ERROR", ALERT_DECODE_ERROR, "the peer sent an alert of %zu bytes", content_len);
        if (content[1] == ALERT_CLOSE_NOTIFY) {
          /* Whatever follows a close_notify is ignored (§6.1). */
          r->rx_closed = 1;
          r->result.close_notify_received = 1;
        } else if (content[1] != ALERT_USER_CANCELED) {
          r->result.alert = content[1];
          return fail(r, "ERR_RELAY_PEER_ALERT", -1, "the peer sent alert %d", content[1]);
        }
        break;
      case TLS_HANDSHAKE:
        if (!handshake_bytes(r, content, content_len)) return 0;
        break;
      default:
        return fail(r, "ERR_RELAY_UNEXPECTED_MESSAGE", ALERT_UNEXPECTED_MESSAGE, "the peer sent a protected record of type %d", type);
    }
  }
  return 1;
}

/* Seals `n` bytes that sit in the slots' payload areas (16 KiB each, in order) into records. */
static int seal_slots(relay *r, size_t n) {
  r->net_n = r->net_i = 0;
  for (size_t off = 0; off < n; off += TLS_MAX_PLAINTEXT) {
    size_t length = n - off < TLS_MAX_PLAINTEXT ? n - off : TLS_MAX_PLAINTEXT;
    uint8_t *record = r->slots + (size_t)r->net_n * SLOT_LEN;
    record[TLS_HEADER_LEN + length] = TLS_APPLICATION_DATA;
    size_t sealed = tls_seal(&r->tx, record, length + 1);
    if (sealed == 0) return fail(r, "ERR_RELAY_INTERNAL", -1, "cannot protect a record");
    r->net_out[r->net_n++] = (struct iovec){record, sealed};
  }
  r->result.records_out += (uint64_t)r->net_n;
  r->result.bytes_from_plain += n;
  return 1;
}

/* A one-record control message (KeyUpdate or alert) as the only pending network output. */
static int queue_control(relay *r, uint8_t type, const uint8_t *content, size_t n) {
  memcpy(r->control + TLS_HEADER_LEN, content, n);
  r->control[TLS_HEADER_LEN + n] = type;
  size_t sealed = tls_seal(&r->tx, r->control, n + 1);
  if (sealed == 0) return fail(r, "ERR_RELAY_INTERNAL", -1, "cannot protect a record");
  r->net_out[0] = (struct iovec){r->control, sealed};
  r->net_n = 1;
  r->net_i = 0;
  r->result.records_out++;
  return 1;
}

/* One step of rsync -> network when nothing is pending. 1: did something, 0: nothing to do now,
 * -1: the relay must end. */
static int produce_for_net(relay *r) {
  if (!r->close_notify_queued && (r->key_update_requested || r->tx.seq >= r->key_update_after)) {
    /* Our KeyUpdate goes out under the old key; every record after it under the new one. */
    const uint8_t key_update[] = {HS_KEY_UPDATE, 0, 0, 1, 0 /* update_not_requested */};
    if (!queue_control(r, TLS_HANDSHAKE, key_update, sizeof(key_update))) return -1;
    if (!tls_keys_update(&r->tx)) {
      fail(r, "ERR_RELAY_INTERNAL", -1, "cannot derive our next traffic key");
      return -1;
    }
    r->key_update_requested = 0;
    r->result.key_updates_out++;
    return 1;
  }
  if (r->to_net_off < r->to_net_len) {
    size_t n = r->to_net_len - r->to_net_off;
    if (n > IN_BATCH) n = IN_BATCH;
    for (size_t off = 0; off < n; off += TLS_MAX_PLAINTEXT) {
      size_t length = n - off < TLS_MAX_PLAINTEXT ? n - off : TLS_MAX_PLAINTEXT;
      memcpy(r->slots + (off / TLS_MAX_PLAINTEXT) * SLOT_LEN + TLS_HEADER_LEN, r->to_net + r->to_net_off + off, length);
    }
    r->to_net_off += n;
    return seal_slots(r, n) ? 1 : -1;
  }
  if (!r->plain_eof) {
    struct iovec iov[SLOTS];
    for (int i = 0; i < SLOTS; i++) iov[i] = (struct iovec){r->slots + (size_t)i * SLOT_LEN + TLS_HEADER_LEN, TLS_MAX_PLAINTEXT};
    ssize_t n = readv(r->plain, iov, SLOTS);
    if (n > 0) return seal_slots(r, (size_t)n) ? 1 : -1;
    if (n == 0) {
      r->plain_eof = 1;
      return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    fail_errno(r, "ERR_RELAY_PLAIN_IO", "reading from the local socket");
    return -1;
  }
  if (!r->close_notify_queued) {
    const uint8_t close_notify[] = {1 /* warning */, ALERT_CLOSE_NOTIFY};
    if (!queue_control(r, TLS_ALERT, close_notify, sizeof(close_notify))) return -1;
    r->close_notify_queued = 1;
    return 1;
  }
  if (!r->net_shut) {
    /* rsync has said all it will: the peer reads close_notify, then our FIN (the other direction
     * stays open, as rsync's own shutdown needs). */
    shutdown(r->net, SHUT_WR);
    r->net_shut = 1;
    return 1;
  }
  return 0;
}

/* One step of network -> rsync when nothing is pending. 1, 0 or -1 as above. */
static int produce_for_plain(relay *r) {
  if (r->rx_closed) {
    if (!r->plain_shut) {
      shutdown(r->plain, SHUT_WR);
      r->plain_shut = 1;
      return 1;
    }
    return 0;
  }
  if (!open_records(r)) return -1;
  if (r->plain_n > 0 || r->rx_closed) return 1;
  if (r->net_eof) {
    fail(r, "ERR_RELAY_TRUNCATED", -1, "%s", r->in_len > r->in_off
      ? "the network stream ended inside a record, without close_notify (cut)"
      : "the network stream ended without close_notify (cut)");
    return -1;
  }
  if (r->in_off > 0) {
    memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
    r->in_len -= r->in_off;
    r->in_off = 0;
  }
  ssize_t n = read(r->net, r->in + r->in_len, r->in_cap - r->in_len);
  if (n > 0) {
    r->in_len += (size_t)n;
    return 1;
  }
  if (n == 0) {
    r->net_eof = 1;
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  fail_errno(r, "ERR_RELAY_NET_IO", "reading from the network");
  return -1;
}

static void run(relay *r) {
  for (;;) {
    int progress;
    do {
      progress = 0;
      if (r->plain_i < r->plain_n) {
        int sent = flush(r->plain, r->plain_out, &r->plain_i, r->plain_n);
        if (sent < 0) {
          fail_errno(r, "ERR_RELAY_PLAIN_IO", "writing to the local socket");
          return;
        }
        if (sent > 0) {
          r->plain_n = r->plain_i = 0;
          progress = 1;
        }
      }
      if (r->plain_n == 0) {
        int step = produce_for_plain(r);
        if (step < 0) return;
        progress |= step;
      }
      if (r->net_i < r->net_n) {
        int sent = flush(r->net, r->net_out, &r->net_i, r->net_n);
        if (sent < 0) {
          fail_errno(r, "ERR_RELAY_NET_IO", "writing to the network");
          return;
        }
        if (sent > 0) {
          r->net_n = r->net_i = 0;
          progress = 1;
        }
      }
      if (r->net_n == 0) {
        int step = produce_for_net(r);
        if (step < 0) return;
        progress |= step;
      }
    } while (progress);
    if (r->plain_shut && r->net_shut) return; /* close_notify both ways, all delivered */

    struct pollfd fds[3] = {
      {r->net, 0, 0},
      {r->plain, 0, 0},
      {r->wake, POLLIN, 0},
    };
    if (r->net_i < r->net_n) fds[0].events |= POLLOUT;
    if (r->plain_n == 0 && !r->rx_closed && !r->net_eof) fds[0].events |= POLLIN;
    if (r->plain_i < r->plain_n) fds[1].events |= POLLOUT;
    if (r->net_n == 0 && !r->plain_eof) fds[1].events |= POLLIN;
    /* poll() reports a hang-up even when not asked; a socket we wait on nothing from stays out, or
     * a hung-up one would wake us for ever while the other direction is held up. */
    if (fds[0].events == 0) fds[0].fd = -1;
    if (fds[1].events == 0) fds[1].fd = -1;
    if (poll(fds, 3, -1) < 0 && errno != EINTR) {
      fail_errno(r, "ERR_RELAY_INTERNAL", "poll");
      return;
    }
    if (fds[2].revents != 0) {
      fail(r, "ERR_RELAY_ABORTED", -1, "the relay was stopped");
      return;
    }
  }
}

static void *thread_main(void *arg) {
  relay *r = arg;
  pthread_setname_np(pthread_self(), "dvm-relay");
  run(r);
  if (r->result.code != NULL) {
    /* rsync must see a failure, never an end that could pass for a complete stream: its TCP socket
     * (the client's loopback entry) is reset by close() with a zero linger, no FIN before it; a
     * Unix socket (the server's) has no reset, and rsync's protocol sees the cut as an early EOF.
     * The network side gets our alert (if one went out), then FIN: a reset could drop the alert. */
    struct linger reset = {1, 0};
    setsockopt(r->plain, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    shutdown(r->net, SHUT_RDWR);
  }
  close(r->net);
  close(r->plain);
  tls_keys_free(&r->rx);
  tls_keys_free(&r->tx);
  /* Plaintext of the transfer lived in these buffers. */
  OPENSSL_cleanse(r->in, r->in_cap);
  OPENSSL_cleanse(r->slots, (size_t)SLOTS * SLOT_LEN);
  OPENSSL_cleanse(r->hs, sizeof(r->hs));
  free(r->in);
  free(r->slots);
  free(r->to_plain);
  free(r->to_net);
  r->in = r->slots = r->to_plain = r->to_net = NULL;
  r->result.plain_ended = r->plain_eof;
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) == 0) {
    r->result.cpu_user_ms = (double)usage.ru_utime.tv_sec * 1e3 + (double)usage.ru_utime.tv_usec / 1e3;
    r->result.cpu_system_ms = (double)usage.ru_stime.tv_sec * 1e3 + (double)usage.ru_stime.tv_usec / 1e3;
  }
  r->done(r->context, &r->result); /* the last thing: r may be freed from here on */
  return NULL;
}

static void config_free(relay_config *config) {
  OPENSSL_cleanse(config->read_secret, sizeof(config->read_secret));
  OPENSSL_cleanse(config->write_secret, sizeof(config->write_secret));
  free(config->net_pending);
  free(config->to_plain);
  free(config->to_net);
  config->net_pending = config->to_plain = config->to_net = NULL;
}

static int own_fd(int fd) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return -1;
  int flags = fcntl(copy, F_GETFL);
  if (flags < 0 || fcntl(copy, F_SETFL, flags | O_NONBLOCK) < 0) {
    close(copy);
    return -1;
  }
  return copy;
}

relay *relay_start(relay_config *config, void (*done)(void *, relay_result *), void *context, relay_result *failure) {
  memset(failure, 0, sizeof(*failure));
  failure->alert = -1;
  const char *problem = NULL;
  int error = 0;
  relay *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    config_free(config);
    failure->code = "ERR_RELAY_START";
    snprintf(failure->message, sizeof(failure->message), "out of memory");
    return NULL;
  }
  r->net = r->plain = r->wake = -1;
  r->result.alert = -1;
  r->done = done;
  r->context = context;
  r->key_update_after = config->key_update_after;
  r->in_cap = (config->net_pending_len > IN_BATCH ? config->net_pending_len : IN_BATCH) + TLS_HEADER_LEN + TLS_MAX_CIPHERTEXT;
  r->in = malloc(r->in_cap);
  r->slots = malloc((size_t)SLOTS * SLOT_LEN);
  if (r->in == NULL || r->slots == NULL) problem = "out of memory";
  else if (!tls_keys_init(&r->rx, &config->suite, config->read_secret, 0, config->read_seq)) problem = "cannot set up the read key";
  else if (!tls_keys_init(&r->tx, &config->suite, config->write_secret, 1, config->write_seq)) problem = "cannot set up the write key";
  else if ((r->net = own_fd(config->net_fd)) < 0) problem = "cannot take the network socket", error = errno;
  else if ((r->plain = own_fd(config->plain_fd)) < 0) problem = "cannot take the local socket", error = errno;
  else if ((r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) problem = "cannot make an eventfd", error = errno;
  if (problem == NULL) {
    memcpy(r->in, config->net_pending, config->net_pending_len);
    r->in_len = config->net_pending_len;
    if (config->to_plain_len > 0) {
      r->to_plain = config->to_plain;
      config->to_plain = NULL;
      r->plain_out[0] = (struct iovec){r->to_plain, config->to_plain_len};
      r->plain_n = 1;
      r->result.bytes_to_plain = config->to_plain_len;
    }
    r->to_net = config->to_net;
    r->to_net_len = config->to_net_len;
    config->to_net = NULL;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    error = pthread_create(&thread, &attributes, thread_main, r);
    if (error != 0) problem = "cannot start the relay thread";
    pthread_attr_destroy(&attributes);
  }
  config_free(config);
  if (problem == NULL) return r;
  failure->code = "ERR_RELAY_START";
  snprintf(failure->message, sizeof(failure->message), "%s%s%s", problem, error != 0 ? ": " : "", error != 0 ? strerror(error) : "");
  tls_keys_free(&r->rx); /* both are safe on zeroed keys */
  tls_keys_free(&r->tx);
  if (r->net >= 0) close(r->net);
  if (r->plain >= 0) close(r->plain);
  if (r->wake >= 0) close(r->wake);
  free(r->in);
  free(r->slots);
  free(r->to_plain);
  free(r->to_net);
  free(r);
  return NULL;
}

void relay_abort(relay *r) {
  uint64_t one = 1;
  (void)!write(r->wake, &one, sizeof(one));
}

void relay_free(relay *r) {
  close(r->wake);
  OPENSSL_cleanse(r, sizeof(*r));
  free(r);
}
