/* The source walk (walk.h). Directories wait on an explicit stack of paths, not in recursion, so
 * no tree is too deep for the C stack, and at most one directory is open at a time. Files are
 * looked at with fstatat() relative to their directory: no path lookup per file. */
#define _GNU_SOURCE
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the inodes of hard-linked files seen so far (open addressing, grows at half full) ---- */

typedef struct {
  uint64_t dev, ino;
  bool used;
} inode_slot;

typedef struct {
  inode_slot *slots;
  size_t capacity, count;
} inode_set;

static size_t inode_hash(uint64_t dev, uint64_t ino, size_t capacity) {
  uint64_t h = (ino * 0x9E3779B97F4A7C15ULL) ^ (dev + 0x632BE59BD9B4E019ULL);
  h ^= h >> 29;
  return (size_t)(h & (capacity - 1));
}

static bool inode_set_grow(inode_set *set) {
  size_t capacity = set->capacity ? set->capacity * 2 : 1024;
  inode_slot *slots = calloc(capacity, sizeof *slots);
  if (slots == NULL) return false;
  for (size_t i = 0; i < set->capacity; i++) {
    if (!set->slots[i].used) continue;
    size_t j = inode_hash(set->slots[i].dev, set->slots[i].ino, capacity);
    while (slots[j].used) j = (j + 1) & (capacity - 1);
    slots[j] = set->slots[i];
  }
  free(set->slots);
  set->slots = slots;
  set->capacity = capacity;
  return true;
}

/* 1 when newly added, 0 when seen before, -1 when out of memory. */
static int inode_set_add(inode_set *set, uint64_t dev, uint64_t ino) {
  if (2 * (set->count + 1) > set->capacity && !inode_set_grow(set)) return -1;
  size_t i = inode_hash(dev, ino, set->capacity);
  while (set->slots[i].used) {
    if (set->slots[i].dev == dev && set->slots[i].ino == ino) return 0;
    i = (i + 1) & (set->capacity - 1);
  }
  set->slots[i] = (inode_slot){.dev = dev, .ino = ino, .used = true};
  set->count++;
  return 1;
}

/* ---- the directories still to read ---- */

typedef struct {
  char **paths;
  size_t count, capacity;
} path_stack;

static bool path_stack_push(path_stack *stack, char *path) {
  if (stack->count == stack->capacity) {
    size_t capacity = stack->capacity ? stack->capacity * 2 : 64;
    char **paths = realloc(stack->paths, capacity * sizeof *paths);
    if (paths == NULL) return false;
    stack->paths = paths;
    stack->capacity = capacity;
  }
  stack->paths[stack->count++] = path;
  return true;
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *path = malloc(a + 1 + b + 1);
  if (path == NULL) return NULL;
  memcpy(path, dir, a);
  path[a] = '/';
  memcpy(path + a + 1, name, b + 1);
  return path;
}

static void fail(walk_result *out, int error, const char *syscall, const char *path) {
  out->error = error;
  out->syscall = syscall;
  out->path = path ? strdup(path) : NULL;
}

/* Gone while we looked, or no longer what readdir said it was: skipped, not an error. */
static bool vanished(int error) {
  return error == ENOENT || error == ENOTDIR || error == ELOOP;
}

typedef struct {
  walk_result *out;
  inode_set inodes;
  path_stack pending;
} walk;

/* One entry of `dir` (open as `fd`). false when the walk must stop (out->error says why). */
static bool visit(walk *w, int fd, const char *dir, const struct dirent *entry) {
  w->out->entries++;
  unsigned char type = entry->d_type;
  struct stat st;
  if (type == DT_REG || type == DT_UNKNOWN) {
    if (fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (vanished(errno)) return true;
      char *path = join(dir, entry->d_name);
      fail(w->out, errno, "lstat", path ? path : dir);
      free(path);
      return false;
    }
    type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_LNK;
  }
  if (type == DT_DIR) {
    char *path = join(dir, entry->d_name);
    if (path != NULL && path_stack_push(&w->pending, path)) return true;
    free(path);
    fail(w->out, ENOMEM, "malloc", dir);
    return false;
  }
  if (type != DT_REG) return true;
  if (st.st_nlink > 1) {
    int added = inode_set_add(&w->inodes, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (added < 0) {
      fail(w->out, ENOMEM, "malloc", dir);
      return false;
    }
    if (added == 0) return true;
  }
  w->out->bytes += (uint64_t)st.st_size;
  return true;
}

/* Reads one directory. The root may be reached through a symbolic link (a mount path can be one);
 * below it, a directory swapped for a link while we walk is not followed. */
static bool read_directory(walk *w, const char *dir, bool is_root) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_root ? 0 : O_NOFOLLOW);
  int fd = open(dir, flags);
  if (fd < 0) {
    if (!is_root && vanished(errno)) return true;
    fail(w->out, errno, "opendir", dir);
    return false;
  }
  DIR *handle = fdopendir(fd);
  if (handle == NULL) {
    fail(w->out, errno, "opendir", dir);
    close(fd);
    return false;
  }
  bool ok = true;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(handle);
    if (entry == NULL) {
      if (errno != 0) {
        fail(w->out, errno, "readdir", dir);
        ok = false;
      }
      break;
    }
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    if (!visit(w, fd, dir, entry)) {
      ok = false;
      break;
    }
  }
  closedir(handle);
  return ok;
}

void walk_tree(const char *root, walk_result *out) {
  *out = (walk_result){.entries = 1};
  walk w = {.out = out};
  bool ok = read_directory(&w, root, true);
  while (ok && w.pending.count > 0) {
    char *dir = w.pending.paths[--w.pending.count];
    ok = read_directory(&w, dir, false);
    free(dir);
  }
  while (w.pending.count > 0) free(w.pending.paths[--w.pending.count]);
  free(w.pending.paths);
  free(w.inodes.slots);
}

void walk_result_free(walk_result *result) {
  free(result->path);
  result->path = NULL;
}
