/*
 * /init of the kvm-balancer lab test guest (a static binary in a disk-less initramfs).
 *
 * It dirties guest memory at a steady rate and prints a counter on the console, so a
 * test can measure the dirty rate from the host and prove the guest kept running
 * through a migration. Settings come from the kernel command line:
 *
 *   dirty_mib_s=N   MiB of distinct pages written per second (0: only print)
 *   wss_mib=N       working set: the writes cycle through this many MiB
 *   tick_ms=N       interval between counter lines (default 250)
 *
 * Console lines:
 *   kbl-ready dirty_mib_s=16 wss_mib=112
 *   kbl-tick 42 pages=123456
 *
 * Each write stores a new 64-bit sequence number in a page, so a page-sampling dirty-rate
 * calculation (which hashes pages) sees it change. After a pause (a suspended migration,
 * post-copy) the writer does not catch up in a burst: it resumes at the set rate.
 * init must never exit (the kernel would panic), so errors end in an endless sleep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static long param(const char *cmdline, const char *key, long fallback)
{
    size_t n = strlen(key);
    const char *p = cmdline;
    while ((p = strstr(p, key)) != NULL) {
        if ((p == cmdline || p[-1] == ' ') && p[n] == '=')
            return strtol(p + n + 1, NULL, 10);
        p += n;
    }
    return fallback;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_forever(const char *why)
{
    printf("kbl-error %s: %s\n", why, strerror(errno));
    fflush(stdout);
    for (;;)
        pause();
}

int main(void)
{
    char cmdline[4096] = "";
    mount("proc", "/proc", "proc", 0, NULL);
    int fd = open("/proc/cmdline", O_RDONLY);
    if (fd >= 0) {
        ssize_t got = read(fd, cmdline, sizeof(cmdline) - 1);
        cmdline[got > 0 ? got : 0] = '\0';
        close(fd);
    }
    long rate = param(cmdline, "dirty_mib_s", 0);
    long wss = param(cmdline, "wss_mib", 16);
    long tick_ms = param(cmdline, "tick_ms", 250);
    if (wss < 1)
        wss = 1;
    if (tick_ms < 10)
        tick_ms = 10;
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t npages = (size_t)wss * (1024 * 1024 / PAGE);
    unsigned char *mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        sleep_forever("mmap");
    for (size_t i = 0; i < npages; i++)
        mem[i * PAGE] = 1;
    printf("kbl-ready dirty_mib_s=%ld wss_mib=%ld\n", rate, wss);

    double pages_per_s = (double)rate * (1024 * 1024 / PAGE);
    double start = now_s(), next_tick = start;
    double credit_start = start; /* pages owed are counted from here */
    uint64_t owed_base = 0, written = 0, seq = 0, counter = 0;
    size_t idx = 0;
    struct timespec nap = {0, 5 * 1000 * 1000};

    for (;;) {
        double t = now_s();
        uint64_t owed = owed_base + (uint64_t)((t - credit_start) * pages_per_s);
        if (owed > written + (uint64_t)pages_per_s + 1) {
            /* We were paused: resume at the set rate instead of catching up. */
            owed_base = written;
            credit_start = t;
            owed = written;
        }
        while (written < owed) {
            *(volatile uint64_t *)(mem + idx * PAGE) = ++seq;
            idx = (idx + 1) % npages;
            written++;
        }
        if (t >= next_tick) {
            printf("kbl-tick %llu pages=%llu\n", (unsigned long long)++counter,
                   (unsigned long long)written);
            next_tick += (double)tick_ms / 1000.0;
            if (next_tick < t)
                next_tick = t + (double)tick_ms / 1000.0;
        }
        nanosleep(&nap, NULL);
    }
}
