/* glibc 2.33 made stat64/fstat64/lstat64 real symbols; 2.28 has only __xstat64 and friends, which newer glibc keeps as compat symbols. */
#define _GNU_SOURCE
#include <sys/stat.h>

extern int __xstat64(int, const char *, struct stat64 *);
extern int __fxstat64(int, int, struct stat64 *);
extern int __lxstat64(int, const char *, struct stat64 *);
__asm__(".symver __xstat64,__xstat64@GLIBC_2.2.5");
__asm__(".symver __fxstat64,__fxstat64@GLIBC_2.2.5");
__asm__(".symver __lxstat64,__lxstat64@GLIBC_2.2.5");

/* _STAT_VER_LINUX on x86_64: the struct layout the kernel and every glibc agree on. */
#define STAT_VER 1

/* Hidden: the binding's own calls bind here, and nothing else in the process sees these. */
__attribute__((visibility("hidden"))) int stat64(const char *path, struct stat64 *buf) { return __xstat64(STAT_VER, path, buf); }
__attribute__((visibility("hidden"))) int fstat64(int fd, struct stat64 *buf) { return __fxstat64(STAT_VER, fd, buf); }
__attribute__((visibility("hidden"))) int lstat64(const char *path, struct stat64 *buf) { return __lxstat64(STAT_VER, path, buf); }
