// The N-API face of the relay (agent/tunnel/native-relay.ts is its typed wrapper):
//   start(options, onDone) -> handle with abort()
// and the module's init, which also registers the source walk (walk-addon.c): the agent's native
// code is one addon, so it is built, shipped and loaded once.
// onDone(result) runs once on the JS thread when the relay thread has finished, whatever the reason.
// JavaScript is not called while bytes flow: only at the start and at the end.
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "relay.h"
#include "walk-addon.h"

typedef struct {
  relay *relay; /* NULL once the result was delivered (touched on the JS thread only) */
  napi_threadsafe_function tsfn;
  napi_ref self; /* the handle object, held while the relay runs */
  relay_result result;
} job;

#define CHECK(env, call) \
  do { \
    if ((call) != napi_ok) { \
      napi_throw_error((env), "ERR_RELAY_NAPI", "N-API call failed: " #call); \
      return NULL; \
    } \
  } while (0)

static napi_value argument_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_RELAY_ARGUMENT", message);
  return NULL;
}

/* Relay thread: hand the result over and let go of the thread-safe function. */
static void on_done(void *context, relay_result *result) {
  job *j = context;
  j->result = *result;
  napi_threadsafe_function tsfn = j->tsfn; /* j may be freed once the call is queued */
  napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == napi_ok) napi_set_named_property(env, object, name, v);
}

/* JS thread: the result as an object, to onDone. */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  job *j = data;
  relay_free(j->relay);
  j->relay = NULL;
  if (env == NULL) return; /* the environment is going away */
  relay_result *res = &j->result;
  napi_value result, value, undefined, self;
  napi_get_undefined(env, &undefined);
  napi_create_object(env, &result);
  if (res->code != NULL) napi_create_string_utf8(env, res->code, NAPI_AUTO_LENGTH, &value);
  else napi_get_null(env, &value);
  napi_set_named_property(env, result, "code", value);
  napi_create_string_utf8(env, res->message, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "message", value);
  if (res->alert >= 0) napi_create_int32(env, res->alert, &value);
  else napi_get_null(env, &value);
  napi_set_named_property(env, result, "alert", value);
  set_number(env, result, "bytesToPlain", (double)res->bytes_to_plain);
  set_number(env, result, "bytesFromPlain", (double)res->bytes_from_plain);
  set_number(env, result, "recordsIn", (double)res->records_in);
  set_number(env, result, "recordsOut", (double)res->records_out);
  set_number(env, result, "keyUpdatesIn", (double)res->key_updates_in);
  set_number(env, result, "keyUpdatesOut", (double)res->key_updates_out);
  napi_get_boolean(env, res->close_notify_received != 0, &value);
  napi_set_named_property(env, result, "closeNotifyReceived", value);
  set_number(env, result, "cpuUserMs", res->cpu_user_ms);
  set_number(env, result, "cpuSystemMs", res->cpu_system_ms);
  napi_get_boolean(env, res->plain_ended != 0, &value);
  napi_set_named_property(env, result, "plainEnded", value);
  napi_ref self_ref = j->self;
  j->self = NULL;
  if (napi_get_reference_value(env, self_ref, &self) != napi_ok) self = undefined;
  napi_delete_reference(env, self_ref); /* the handle may be collected now, and j with it */
  napi_call_function(env, self, callback, 1, &result, NULL);
}

static void finalize_job(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value abort_relay(napi_env env, napi_callback_info info) {
  napi_value self;
  job *j = NULL;
  CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  CHECK(env, napi_unwrap(env, self, (void **)&j));
  if (j != NULL && j->relay != NULL) relay_abort(j->relay);
  return NULL;
}

/* options[name] as an integer in [min, max]; `fallback` when absent and allowed (has_fallback). */
static int get_integer(napi_env env, napi_value options, const char *name, double min, double max, int has_fallback, double fallback, double *out) {
  napi_value v;
  napi_valuetype type;
  if (napi_get_named_property(env, options, name, &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type == napi_undefined && has_fallback) {
    *out = fallback;
    return 1;
  }
  if (type != napi_number || napi_get_value_double(env, v, out) != napi_ok) return 0;
  return *out >= min && *out <= max && *out == (double)(int64_t)*out;
}

/* options[name] as a copy of its bytes (malloc'd, NULL and 0 when absent). Fails on a non-Buffer. */
static int get_bytes(napi_env env, napi_value options, const char *name, uint8_t **out, size_t *length) {
  napi_value v;
  napi_valuetype type;
  bool is_buffer = false;
  *out = NULL;
  *length = 0;
  if (napi_get_named_property(env, options, name, &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type == napi_undefined) return 1;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return 0;
  void *data;
  if (napi_get_buffer_info(env, v, &data, length) != napi_ok) return 0;
  if (*length == 0) return 1;
  *out = malloc(*length);
  if (*out == NULL) return 0;
  memcpy(*out, data, *length);
  return 1;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type;
  if (argc < 2 || napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) return argument_error(env, "start(options, onDone): onDone must be a function");
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_object) return argument_error(env, "start(options, onDone): options must be an object");
  napi_value options = argv[0];

  relay_config config;
  memset(&config, 0, sizeof(config));
  double net_fd, plain_fd, read_seq, write_seq, key_update_after;
  if (!get_integer(env, options, "netFd", 0, 1 << 30, 0, 0, &net_fd)) return argument_error(env, "netFd must be a file descriptor");
  if (!get_integer(env, options, "plainFd", 0, 1 << 30, 0, 0, &plain_fd)) return argument_error(env, "plainFd must be a file descriptor");
  if (!get_integer(env, options, "readSeq", 0, 9007199254740991.0, 0, 0, &read_seq)) return argument_error(env, "readSeq must be a record count");
  if (!get_integer(env, options, "writeSeq", 0, 9007199254740991.0, 0, 0, &write_seq)) return argument_error(env, "writeSeq must be a record count");
  /* 2^23 records of 16 KiB (128 GiB) per key: well inside AES-GCM's 2^24.5 (RFC 8446 §5.5). */
  if (!get_integer(env, options, "keyUpdateAfter", 1, 8388608.0, 1, 8388608.0, &key_update_after)) return argument_error(env, "keyUpdateAfter must be between 1 and 2^23 records");
  config.net_fd = (int)net_fd;
  config.plain_fd = (int)plain_fd;
  config.read_seq = (uint64_t)read_seq;
  config.write_seq = (uint64_t)write_seq;
  config.key_update_after = (uint64_t)key_update_after;

  char cipher[64];
  size_t cipher_len = 0;
  napi_value v;
  if (napi_get_named_property(env, options, "cipher", &v) != napi_ok
      || napi_get_value_string_utf8(env, v, cipher, sizeof(cipher), &cipher_len) != napi_ok
      || !tls_suite_by_name(cipher, &config.suite)) {
    return argument_error(env, "cipher must be TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256");
  }

  uint8_t *secret = NULL;
  size_t secret_len = 0;
  const char *bad = NULL;
  if (!get_bytes(env, options, "readSecret", &secret, &secret_len) || secret_len != config.suite.secret_len) bad = "readSecret must be the traffic secret (a Buffer of the suite's hash length)";
  else memcpy(config.read_secret, secret, secret_len);
  if (secret != NULL) OPENSSL_cleanse(secret, secret_len);
  free(secret);
  secret = NULL;
  if (bad == NULL) {
    if (!get_bytes(env, options, "writeSecret", &secret, &secret_len) || secret_len != config.suite.secret_len) bad = "writeSecret must be the traffic secret (a Buffer of the suite's hash length)";
    else memcpy(config.write_secret, secret, secret_len);
    if (secret != NULL) OPENSSL_cleanse(secret, secret_len);
    free(secret);
  }
  if (bad == NULL && !get_bytes(env, options, "netPending", &config.net_pending, &config.net_pending_len)) bad = "netPending must be a Buffer";
  if (bad == NULL && !get_bytes(env, options, "toPlain", &config.to_plain, &config.to_plain_len)) bad = "toPlain must be a Buffer";
  if (bad == NULL && !get_bytes(env, options, "toNet", &config.to_net, &config.to_net_len)) bad = "toNet must be a Buffer";
  if (bad != NULL) {
    OPENSSL_cleanse(config.read_secret, sizeof(config.read_secret));
    OPENSSL_cleanse(config.write_secret, sizeof(config.write_secret));
    free(config.net_pending);
    free(config.to_plain);
    free(config.to_net);
    return argument_error(env, bad);
  }

  job *j = calloc(1, sizeof(*j));
  napi_value handle, abort_fn, name;
  if (j == NULL) {
    OPENSSL_cleanse(config.read_secret, sizeof(config.read_secret));
    OPENSSL_cleanse(config.write_secret, sizeof(config.write_secret));
    free(config.net_pending);
    free(config.to_plain);
    free(config.to_net);
    napi_throw_error(env, "ERR_RELAY_START", "out of memory");
    return NULL;
  }
  CHECK(env, napi_create_object(env, &handle));
  CHECK(env, napi_wrap(env, handle, j, finalize_job, NULL, NULL));
  CHECK(env, napi_create_function(env, "abort", NAPI_AUTO_LENGTH, abort_relay, NULL, &abort_fn));
  CHECK(env, napi_set_named_property(env, handle, "abort", abort_fn));
  CHECK(env, napi_create_string_utf8(env, "dvm-relay", NAPI_AUTO_LENGTH, &name));
  /* The thread-safe function keeps the event loop alive while the relay runs, like a socket. */
  CHECK(env, napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &j->tsfn));
  CHECK(env, napi_create_reference(env, handle, 1, &j->self));
  relay_result failure;
  j->relay = relay_start(&config, on_done, j, &failure); /* takes the config's buffers, zeroes its secrets */
  if (j->relay == NULL) {
    napi_release_threadsafe_function(j->tsfn, napi_tsfn_abort);
    napi_delete_reference(env, j->self);
    j->self = NULL;
    napi_throw_error(env, failure.code, failure.message);
    return NULL;
  }
  return handle;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "start", fn) != napi_ok) return NULL;
  if (!walk_export(env, exports)) return NULL;
  return exports;
}
