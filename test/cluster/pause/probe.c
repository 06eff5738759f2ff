// A tiny static test tool for pods of the dvm test cluster (image localhost/dvm-probe:1), for tests
// that need a pod to do something without an image that has a shell. Commands, chained with "--":
//   echo WORDS...         print the words as one line on stdout
//   sleep SECONDS         sleep (fractions allowed)
//   resolve NAME          resolve an IPv4 address through /etc/resolv.conf (search list, ndots),
//                         print "NAME FQDN ADDRESS" per address; exit 2 when nothing resolves
//   connect HOST PORT [WAIT]  TCP connect (HOST an IPv4 address or a name resolved as above), print
//                         what the server sends until it closes or WAIT seconds (default 2) pass
//                         without data; exit 3 on failure
//   serve PORT TEXT       listen on 0.0.0.0:PORT, send TEXT and a newline to each client, close
//   http PORT TEXT        listen on 0.0.0.0:PORT as an HTTP server: a websocket upgrade request gets
//                         101 and one text message TEXT, then a close frame; any other request gets
//                         200 with TEXT as the body
//   write FILE TEXT       write TEXT and a newline to FILE (created 0644, truncated)
//   cat FILE              print FILE
//   ls DIR                print the entries of DIR, one per line, with mode, uid and gid
//   id                    print uid, gid and supplementary groups
//   exit CODE             exit with CODE
// Example: ["/probe", "write", "/data/a", "hi", "--", "cat", "/data/a", "--", "sleep", "3600"]
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRS 16

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

// ---- a minimal DNS A-record resolver -------------------------------------------------------------

struct resolv {
  char nameserver[64];
  char search[8][256];
  int nsearch;
  int ndots;
};

static void read_resolv(struct resolv *r) {
  memset(r, 0, sizeof *r);
  strcpy(r->nameserver, "127.0.0.1");
  r->ndots = 1;
  FILE *f = fopen("/etc/resolv.conf", "r");
  if (!f) return;
  char line[1024];
  int have_ns = 0;
  while (fgets(line, sizeof line, f)) {
    char *save = NULL;
    char *key = strtok_r(line, " \t\r\n", &save);
    if (!key) continue;
    if (strcmp(key, "nameserver") == 0 && !have_ns) {
      char *v = strtok_r(NULL, " \t\r\n", &save);
      if (v && strlen(v) < sizeof r->nameserver) { strcpy(r->nameserver, v); have_ns = 1; }
    } else if (strcmp(key, "search") == 0 || strcmp(key, "domain") == 0) {
      r->nsearch = 0;
      char *v;
      while ((v = strtok_r(NULL, " \t\r\n", &save)) && r->nsearch < 8) {
        if (strlen(v) < 256) strcpy(r->search[r->nsearch++], v);
      }
    } else if (strcmp(key, "options") == 0) {
      char *v;
      while ((v = strtok_r(NULL, " \t\r\n", &save))) {
        if (strncmp(v, "ndots:", 6) == 0) r->ndots = atoi(v + 6);
      }
    }
  }
  fclose(f);
}

static int encode_name(const char *name, unsigned char *out, int room) {
  int n = 0;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    int len = dot ? (int)(dot - p) : (int)strlen(p);
    if (len == 0 || len > 63 || n + len + 2 > room) return -1;
    out[n++] = (unsigned char)len;
    memcpy(out + n, p, len);
    n += len;
    p += len;
    if (*p == '.') p++;
  }
  out[n++] = 0;
  return n;
}

static int skip_name(const unsigned char *msg, int len, int off) {
  while (off < len) {
    unsigned char c = msg[off];
    if (c == 0) return off + 1;
    if ((c & 0xc0) == 0xc0) return off + 2;
    off += c + 1;
  }
  return -1;
}

// Returns the number of addresses (>0), 0 for no answer, -1 for NXDOMAIN/error.
static int query_a(const char *server, const char *fqdn, struct in_addr *addrs) {
  unsigned char q[512];
  memset(q, 0, 12);
  unsigned short id = (unsigned short)(getpid() ^ time(NULL));
  q[0] = id >> 8; q[1] = id & 0xff;
  q[2] = 0x01;  // recursion desired
  q[5] = 1;     // one question
  int n = encode_name(fqdn, q + 12, sizeof q - 16);
  if (n < 0) return -1;
  n += 12;
  q[n++] = 0; q[n++] = 1;  // type A
  q[n++] = 0; q[n++] = 1;  // class IN
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  if (inet_pton(AF_INET, server, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
  int result = -1;
  for (int attempt = 0; attempt < 3; attempt++) {
    if (send(fd, q, n, 0) < 0) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 1500) <= 0) continue;
    unsigned char r[1500];
    int len = (int)recv(fd, r, sizeof r, 0);
    if (len < 12 || r[0] != q[0] || r[1] != q[1]) continue;
    int rcode = r[3] & 0x0f;
    if (rcode != 0) { result = -1; break; }
    int qd = (r[4] << 8) | r[5], an = (r[6] << 8) | r[7];
    int off = 12;
    for (int i = 0; i < qd && off > 0; i++) { off = skip_name(r, len, off); if (off > 0) off += 4; }
    int count = 0;
    for (int i = 0; i < an && off > 0 && off < len; i++) {
      off = skip_name(r, len, off);
      if (off < 0 || off + 10 > len) break;
      int type = (r[off] << 8) | r[off + 1];
      int rdlen = (r[off + 8] << 8) | r[off + 9];
      off += 10;
      if (off + rdlen > len) break;
      if (type == 1 && rdlen == 4 && count < MAX_ADDRS) memcpy(&addrs[count++], r + off, 4);
      off += rdlen;
    }
    result = count;
    break;
  }
  close(fd);
  return result;
}

// Resolves like a stub resolver: absolute names as they are, else the search list (first or last
// depending on ndots). Writes the name that answered into fqdn.
static int resolve(const char *name, struct in_addr *addrs, char *fqdn, size_t room) {
  if (inet_pton(AF_INET, name, &addrs[0]) == 1) { snprintf(fqdn, room, "%s", name); return 1; }
  struct resolv r;
  read_resolv(&r);
  size_t len = strlen(name);
  if (len && name[len - 1] == '.') {
    snprintf(fqdn, room, "%.*s", (int)(len - 1), name);
    return query_a(r.nameserver, fqdn, addrs);
  }
  int dots = 0;
  for (const char *p = name; *p; p++) dots += *p == '.';
  int n;
  if (dots >= r.ndots) {
    snprintf(fqdn, room, "%s", name);
    if ((n = query_a(r.nameserver, fqdn, addrs)) > 0) return n;
  }
  for (int i = 0; i < r.nsearch; i++) {
    snprintf(fqdn, room, "%s.%s", name, r.search[i]);
    if ((n = query_a(r.nameserver, fqdn, addrs)) > 0) return n;
  }
  if (dots < r.ndots) {
    snprintf(fqdn, room, "%s", name);
    if ((n = query_a(r.nameserver, fqdn, addrs)) > 0) return n;
  }
  return 0;
}

// ---- commands ------------------------------------------------------------------------------------

static int need(int argc, int n, const char *usage) {
  if (argc < n) { fprintf(stderr, "probe: usage: %s\n", usage); return 0; }
  return 1;
}

static int cmd_resolve(int argc, char **argv) {
  if (!need(argc, 2, "resolve NAME")) return 64;
  struct in_addr addrs[MAX_ADDRS];
  char fqdn[512];
  int n = resolve(argv[1], addrs, fqdn, sizeof fqdn);
  if (n <= 0) { fprintf(stderr, "probe: %s: not resolved\n", argv[1]); return 2; }
  for (int i = 0; i < n; i++) printf("%s %s %s\n", argv[1], fqdn, inet_ntoa(addrs[i]));
  fflush(stdout);
  return 0;
}

static int cmd_connect(int argc, char **argv) {
  if (!need(argc, 3, "connect HOST PORT [WAIT]")) return 64;
  int wait_ms = argc > 3 ? (int)(atof(argv[3]) * 1000) : 2000;
  struct in_addr addrs[MAX_ADDRS];
  char fqdn[512];
  if (resolve(argv[1], addrs, fqdn, sizeof fqdn) <= 0) { fprintf(stderr, "probe: %s: not resolved\n", argv[1]); return 2; }
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[2]));
  sa.sin_addr = addrs[0];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 3;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    fprintf(stderr, "probe: connect %s:%s: %s\n", inet_ntoa(addrs[0]), argv[2], strerror(errno));
    return 3;
  }
  struct pollfd pfd = {fd, POLLOUT, 0};
  int err = 0;
  socklen_t elen = sizeof err;
  if (poll(&pfd, 1, 5000) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
    fprintf(stderr, "probe: connect %s:%s: %s\n", inet_ntoa(addrs[0]), argv[2], err ? strerror(err) : "timed out");
    return 3;
  }
  printf("connected %s:%s\n", inet_ntoa(addrs[0]), argv[2]);
  fflush(stdout);
  for (;;) {
    struct pollfd rfd = {fd, POLLIN, 0};
    if (wait_ms <= 0 || poll(&rfd, 1, wait_ms) <= 0) break;
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) break;
    fwrite(buf, 1, (size_t)got, stdout);
  }
  fflush(stdout);
  close(fd);
  return 0;
}

static int cmd_serve(int argc, char **argv) {
  if (!need(argc, 3, "serve PORT TEXT")) return 64;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
    fprintf(stderr, "probe: listen :%s: %s\n", argv[1], strerror(errno));
    return 3;
  }
  printf("serving :%s\n", argv[1]);
  fflush(stdout);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    dprintf(c, "%s\n", argv[2]);
    shutdown(c, SHUT_WR);
    // Drain what the client sent (e.g. a TLS ClientHello) briefly so the close is clean.
    struct pollfd pfd = {c, POLLIN, 0};
    char buf[4096];
    while (poll(&pfd, 1, 200) > 0 && read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  }
}

// ---- http / websocket ----------------------------------------------------------------------------

static void sha1(const unsigned char *data, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  unsigned char *msg = calloc(total, 1);
  memcpy(msg, data, len);
  msg[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) msg[total - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)msg[off + 4 * i] << 24 | (uint32_t)msg[off + 4 * i + 1] << 16 | (uint32_t)msg[off + 4 * i + 2] << 8 | msg[off + 4 * i + 3];
    for (int i = 16; i < 80; i++) { uint32_t x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]; w[i] = x << 1 | x >> 31; }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6; }
      uint32_t t = (a << 5 | a >> 27) + f + e + k + w[i];
      e = d; d = c; c = b << 30 | b >> 2; b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  free(msg);
  for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t len, char *out) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    out[o++] = table[v >> 18 & 63];
    out[o++] = table[v >> 12 & 63];
    out[o++] = i + 1 < len ? table[v >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? table[v & 63] : '=';
  }
  out[o] = 0;
}

// The value of header NAME (case-insensitive) in the request head, copied into out.
static int header(const char *head, const char *name, char *out, size_t room) {
  size_t n = strlen(name);
  for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
    const char *p = line + 2;
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      p += n + 1;
      while (*p == ' ' || *p == '\t') p++;
      const char *end = strstr(p, "\r\n");
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len >= room) len = room - 1;
      memcpy(out, p, len);
      out[len] = 0;
      return 1;
    }
  }
  return 0;
}

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

static void serve_http(int c, const char *text) {
  char head[8192];
  size_t got = 0;
  while (got < sizeof head - 1) {
    struct pollfd pfd = {c, POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0) return;
    ssize_t n = read(c, head + got, sizeof head - 1 - got);
    if (n <= 0) return;
    got += (size_t)n;
    head[got] = 0;
    if (strstr(head, "\r\n\r\n")) break;
  }
  char upgrade[64] = "", key[128] = "";
  if (header(head, "Upgrade", upgrade, sizeof upgrade) && strcasecmp(upgrade, "websocket") == 0 &&
      header(head, "Sec-WebSocket-Key", key, sizeof key)) {
    char joined[256], accept[64];
    unsigned char digest[20];
    snprintf(joined, sizeof joined, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1((const unsigned char *)joined, strlen(joined), digest);
    base64(digest, 20, accept);
    dprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    size_t len = strlen(text);
    unsigned char frame[10];
    size_t flen = 0;
    frame[flen++] = 0x81;  // FIN, text
    if (len < 126) frame[flen++] = (unsigned char)len;
    else { frame[flen++] = 126; frame[flen++] = (unsigned char)(len >> 8); frame[flen++] = (unsigned char)len; }
    write_all(c, frame, flen);
    write_all(c, text, len);
    const unsigned char close_frame[] = {0x88, 0x02, 0x03, 0xe8};  // close, 1000
    write_all(c, close_frame, sizeof close_frame);
    struct pollfd pfd = {c, POLLIN, 0};
    char buf[1024];
    while (poll(&pfd, 1, 1000) > 0 && read(c, buf, sizeof buf) > 0) {
    }
  } else {
    dprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(text), text);
  }
}

static int cmd_http(int argc, char **argv) {
  if (!need(argc, 3, "http PORT TEXT")) return 64;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[1]));
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
    fprintf(stderr, "probe: listen :%s: %s\n", argv[1], strerror(errno));
    return 3;
  }
  printf("http :%s\n", argv[1]);
  fflush(stdout);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    serve_http(c, argv[2]);
    close(c);
  }
}

static int cmd_write(int argc, char **argv) {
  if (!need(argc, 3, "write FILE TEXT")) return 64;
  FILE *f = fopen(argv[1], "w");
  if (!f) { fprintf(stderr, "probe: %s: %s\n", argv[1], strerror(errno)); return 1; }
  fprintf(f, "%s\n", argv[2]);
  return fclose(f) == 0 ? 0 : 1;
}

static int cmd_cat(int argc, char **argv) {
  if (!need(argc, 2, "cat FILE")) return 64;
  FILE *f = fopen(argv[1], "r");
  if (!f) { fprintf(stderr, "probe: %s: %s\n", argv[1], strerror(errno)); return 1; }
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
  fclose(f);
  fflush(stdout);
  return 0;
}

static int cmd_ls(int argc, char **argv) {
  if (!need(argc, 2, "ls DIR")) return 64;
  DIR *d = opendir(argv[1]);
  if (!d) { fprintf(stderr, "probe: %s: %s\n", argv[1], strerror(errno)); return 1; }
  struct dirent *e;
  while ((e = readdir(d))) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
    if (lstat(path, &st) == 0) printf("%s %o %u %u\n", e->d_name, st.st_mode & 07777, st.st_uid, st.st_gid);
  }
  closedir(d);
  fflush(stdout);
  return 0;
}

static int cmd_id(void) {
  gid_t groups[64];
  int n = getgroups(64, groups);
  printf("uid=%u gid=%u groups=", getuid(), getgid());
  for (int i = 0; i < n; i++) printf("%s%u", i ? "," : "", groups[i]);
  printf("\n");
  fflush(stdout);
  return 0;
}

static int run(int argc, char **argv) {
  const char *c = argv[0];
  if (strcmp(c, "echo") == 0) {
    for (int i = 1; i < argc; i++) printf("%s%s", i > 1 ? " " : "", argv[i]);
    printf("\n");
    fflush(stdout);
    return 0;
  }
  if (strcmp(c, "sleep") == 0) {
    if (!need(argc, 2, "sleep SECONDS")) return 64;
    double s = atof(argv[1]);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
  }
  if (strcmp(c, "resolve") == 0) return cmd_resolve(argc, argv);
  if (strcmp(c, "connect") == 0) return cmd_connect(argc, argv);
  if (strcmp(c, "serve") == 0) return cmd_serve(argc, argv);
  if (strcmp(c, "http") == 0) return cmd_http(argc, argv);
  if (strcmp(c, "write") == 0) return cmd_write(argc, argv);
  if (strcmp(c, "cat") == 0) return cmd_cat(argc, argv);
  if (strcmp(c, "ls") == 0) return cmd_ls(argc, argv);
  if (strcmp(c, "id") == 0) return cmd_id();
  if (strcmp(c, "exit") == 0) return argc > 1 ? atoi(argv[1]) : 0;
  fprintf(stderr, "probe: unknown command %s\n", c);
  return 64;
}

int main(int argc, char **argv) {
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  if (argc < 2) {
    fprintf(stderr, "probe: usage: probe COMMAND ARGS... [-- COMMAND ARGS...]...\n");
    return 64;
  }
  int start = 1;
  while (start < argc) {
    int end = start;
    while (end < argc && strcmp(argv[end], "--") != 0) end++;
    if (end > start) {
      char *saved = argv[end < argc ? end : argc];
      argv[end < argc ? end : argc] = NULL;
      int rc = run(end - start, argv + start);
      if (end < argc) argv[end] = saved;
      if (rc != 0) return rc;
    }
    start = end + 1;
  }
  return 0;
}
