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
 * Commands, one a line, on the second serial port (ttyS1, when the guest has one: a
 * pty the host writes to, balancer/lab/guest_load.py):
 *   cpu N           burn N % of the vCPU (0..100): busy for N ms of every 100 ms
 *
 * Console lines (ttyS0):
 *   kbl-ready dirty_mib_s=16 wss_mib=112
 *   kbl-tick 42 pages=123456
 *   kbl-commands ttyS1   the command port is open
 *   kbl-cpu 50      a command was obeyed
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
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

/* The command port (ttyS1), raw and non-blocking; -1 when the guest has none. */
static int open_commands(void)
{
    mknod("/dev/ttyS1", S_IFCHR | 0600, makedev(4, 65));
    int fd = open("/dev/ttyS1", O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        close(fd); /* no UART behind the node */
        return -1;
    }
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
    return fd;
}

/* Read what has arrived on the command port; obey each complete line. */
static void read_commands(int fd, char *line, size_t *len, long *cpu_pct)
{
    char buf[64];
    ssize_t got;
    while ((got = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c != '\n' && c != '\r') {
                if (*len < 63)
                    line[(*len)++] = c;
                continue;
            }
            line[*len] = '\0';
            if (strncmp(line, "cpu ", 4) == 0) {
                long pct = strtol(line + 4, NULL, 10);
                *cpu_pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
                printf("kbl-cpu %ld\n", *cpu_pct);
            }
            *len = 0;
        }
    }
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
    /* Short naps keep the dirty rate steady; a guest that only prints wakes less. */
    struct timespec nap = {0, (rate > 0 ? 5 : 25) * 1000 * 1000};
    int commands = open_commands();
    if (commands >= 0)
        printf("kbl-commands ttyS1\n");
    char line[64];
    size_t line_len = 0;
    long cpu_pct = 0;
    double period_end = start, busy_until = start;

    for (;;) {
        double t = now_s();
        if (commands >= 0)
            read_commands(commands, line, &line_len, &cpu_pct);
        if (t >= period_end) { /* a new 100 ms period: busy for cpu_pct ms of it */
            period_end = t + 0.1;
            busy_until = t + (double)cpu_pct / 1000.0;
        }
        while (now_s() < busy_until && now_s() < t + 0.01)
            ; /* burn, in slices of 10 ms so the ticks and writes keep their pace */
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
        if (now_s() >= busy_until)
            nanosleep(&nap, NULL);
    }
}
