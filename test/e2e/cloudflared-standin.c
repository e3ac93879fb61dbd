/*
 * Stand-in for the cloudflared binary in the e2e container (the real one cannot be downloaded here).
 * A static ELF like the real Go binary, so the box needs no interpreter for it.
 *
 * It answers `--version` like cloudflared, and for `tunnel --no-autoupdate --config F run --token-file T`
 * it checks what the real binary would refuse to start without: a readable config with an ingress list
 * ending in a catch-all, and a token file holding cloudflared's token format (base64 JSON with a, t, s).
 * Then it tells systemd it is ready (Type=notify) and stays up until SIGTERM.
 * Built by the e2e with `gcc -static -O2`.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define VERSION "2026.8.2"

static volatile sig_atomic_t running = 1;
static void stop(int sig) { (void)sig; running = 0; }

static void fail(const char *msg, const char *detail) {
  fprintf(stderr, "ERR %s%s\n", msg, detail ? detail : "");
  exit(1);
}

static const char *arg(int argc, char **argv, const char *name) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return NULL;
}

static int has(int argc, char **argv, const char *name) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static char *slurp(const char *path, const char *what) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "ERR cannot read %s %s\n", what, path);
    exit(1);
  }
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return strdup(buf);
}

/* cloudflared ingress/ingress.go validateIngress: rules exist and the last one is the catch-all. */
static void check_config(const char *path) {
  char *text = slurp(path, "config");
  if (strncmp(text, "ingress:", 8) != 0 && !strstr(text, "\ningress:")) fail("The config file doesn't contain any ingress rules", NULL);
  char *last = NULL;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    while (*line == ' ' || *line == '\t') line++;
    if (strncmp(line, "- ", 2) == 0) last = line;
  }
  if (!last || !strstr(last, "http_status:")) fail("The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)", NULL);
}

static int b64(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

static void check_token(const char *path) {
  char *raw = slurp(path, "token file");
  size_t len = strcspn(raw, "\r\n");
  raw[len] = 0;
  char *out = calloc(len, 1);
  size_t o = 0;
  int acc = 0, bits = 0;
  for (size_t i = 0; i < len && raw[i] != '='; i++) {
    int v = b64((unsigned char)raw[i]);
    if (v < 0) fail("Provided Tunnel token is not valid.", NULL);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[o] = 0;
  if (out[0] != '{' || !strstr(out, "\"a\"") || !strstr(out, "\"t\"") || !strstr(out, "\"s\"")) fail("Provided Tunnel token is not valid.", NULL);
}

static void notify(const char *state) {
  const char *addr = getenv("NOTIFY_SOCKET");
  if (!addr || !*addr) return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t n = strlen(addr);
  if (n >= sizeof sa.sun_path) return;
  memcpy(sa.sun_path, addr, n);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
  close(fd);
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
    printf("cloudflared version %s (built 2026-08-20-0000 UTC)\n", VERSION);
    return 0;
  }
  if (!has(argc, argv, "tunnel") || !has(argc, argv, "run")) fail("stand-in supports only --version and tunnel run", NULL);
  if (has(argc, argv, "--token")) fail("refusing --token on the command line: use --token-file", NULL);
  const char *config = arg(argc, argv, "--config"), *token = arg(argc, argv, "--token-file");
  if (!config || !token) fail("need --config and --token-file", NULL);
  check_config(config);
  check_token(token);
  signal(SIGTERM, stop);
  printf("INF Starting tunnel (stand-in %s) with config %s\n", VERSION, config);
  fflush(stdout);
  notify("READY=1");
  while (running) sleep(1);
  printf("INF Tunnel stopped\n");
  return 0;
}
