/* The source walk for progress totals (agent/progress/source-size.ts): the bytes of regular files
 * (a hard-linked file counted once) and the number of entries, the root included. No N-API here:
 * walk-addon.c runs it on a thread of its own. */
#ifndef DVM_WALK_H
#define DVM_WALK_H

#include <stdint.h>

typedef struct {
  uint64_t bytes;
  uint64_t entries;
  /* 0, or the errno of the first failure that stopped the walk. */
  int error;
  /* With error: the call that failed ("opendir", "readdir", "lstat") and its path (malloc'd). */
  const char *syscall;
  char *path;
} walk_result;

/* Walks `root` (a directory), never following a symbolic link. An entry that disappears while we
 * look (ENOENT, or a directory swapped for something else) is skipped: the source may be live. */
void walk_tree(const char *root, walk_result *out);

void walk_result_free(walk_result *result);

#endif
