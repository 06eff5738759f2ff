/* The N-API face of the source walk (agent/progress/source-size.ts is its typed wrapper):
 *   walk(root: Buffer, idle: boolean, onDone) -> undefined
 * The walk runs on a thread of its own and onDone({bytes, entries, code, syscall, path}) runs once
 * on the JS thread at the end. Why a thread of its own, not libuv's pool: with `idle` the thread
 * asks for SCHED_IDLE, so it gets only the CPU that rsync and the relay leave over (a transfer
 * pod has one CPU; the walk is for the progress total, never worth slowing the copy down), and a
 * pool thread must not keep that policy for the fs calls that run on it later. */
#define _GNU_SOURCE
#include "walk-addon.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "walk.h"

typedef struct {
  char *root;
  bool idle;
  napi_threadsafe_function tsfn;
  walk_result result;
} walk_job;

static void *walk_thread(void *arg) {
  walk_job *job = arg;
  pthread_setname_np(pthread_self(), "dvm-walk"); /* what top -H and /proc/PID/task/TID/comm show */
  if (job->idle) {
    struct sched_param param = {.sched_priority = 0};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); /* best effort */
  }
  walk_tree(job->root, &job->result);
  napi_threadsafe_function tsfn = job->tsfn;
  napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void set_value(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

static napi_value string_or_null(napi_env env, const char *text) {
  napi_value value;
  if (text == NULL) napi_get_null(env, &value);
  else napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

/* Paths go back as Buffers: a name need not be UTF-8. */
static napi_value path_or_null(napi_env env, const char *path) {
  napi_value value;
  if (path == NULL) napi_get_null(env, &value);
  else napi_create_buffer_copy(env, strlen(path), path, NULL, &value);
  return value;
}

static void deliver(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  walk_job *job = data;
  if (env != NULL) {
    walk_result *res = &job->result;
    napi_value result, value, undefined;
    napi_get_undefined(env, &undefined);
    napi_create_object(env, &result);
    napi_create_double(env, (double)res->bytes, &value);
    set_value(env, result, "bytes", value);
    napi_create_double(env, (double)res->entries, &value);
    set_value(env, result, "entries", value);
    const char *code = NULL;
    if (res->error != 0) code = strerrorname_np(res->error) ? strerrorname_np(res->error) : "EIO";
    set_value(env, result, "code", string_or_null(env, code));
    set_value(env, result, "syscall", string_or_null(env, res->error ? res->syscall : NULL));
    set_value(env, result, "path", path_or_null(env, res->path));
    napi_call_function(env, undefined, callback, 1, &result, NULL);
  }
  walk_result_free(&job->result);
  free(job->root);
  free(job);
}

static napi_value walk(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, "ERR_WALK_ARGUMENT", "walk(root, idle, onDone)");
    return NULL;
  }
  void *data;
  size_t length;
  bool idle;
  if (napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok || length == 0 || memchr(data, 0, length) != NULL ||
      napi_get_value_bool(env, argv[1], &idle) != napi_ok) {
    napi_throw_type_error(env, "ERR_WALK_ARGUMENT", "walk: root must be a non-empty Buffer without NUL, idle a boolean");
    return NULL;
  }
  walk_job *job = calloc(1, sizeof *job);
  if (job == NULL || (job->root = strndup(data, length)) == NULL) {
    free(job);
    napi_throw_error(env, "ERR_WALK_NOMEM", "walk: out of memory");
    return NULL;
  }
  job->idle = idle;
  napi_value name;
  napi_create_string_utf8(env, "dvm-source-walk", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, deliver, &job->tsfn) != napi_ok) {
    free(job->root);
    free(job);
    napi_throw_error(env, "ERR_WALK_NAPI", "walk: cannot create the completion callback");
    return NULL;
  }
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int error = pthread_create(&thread, &attr, walk_thread, job);
  pthread_attr_destroy(&attr);
  if (error != 0) {
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    free(job->root);
    free(job);
    napi_throw_error(env, "ERR_WALK_THREAD", "walk: cannot start its thread");
    return NULL;
  }
  return NULL;
}

bool walk_export(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "walk", NAPI_AUTO_LENGTH, walk, NULL, &fn) != napi_ok) return false;
  return napi_set_named_property(env, exports, "walk", fn) == napi_ok;
}
