/*
 * /disk-init of the kvm-balancer lab test guest with a disk check (a static binary in
 * initramfs-disk.cpio, booted with rdinit=/disk-init).
 *
 * It loads the virtio block driver (the modules of the guest's own kernel, packed beside
 * it), waits for /dev/vda, forks a child that keeps the disk checked, and execs /init (the
 * usual guest: dirty memory, print the counter), which stays PID 1.
 *
 * The disk is 4 KiB blocks. Block i holds a header (magic, i, generation) and a body
 * computed from (i, generation). At boot the child reads every block: if all hold the
 * pattern it adopts their generations ("kbl-disk boot ok blocks=N": the disk kept its
 * contents, e.g. across an offline move), else it writes generation 1 everywhere
 * ("kbl-disk new blocks=N"). Then, for ever: every tick it rewrites the next block with
 * the next generation (so writes happen during a live storage migration), and every
 * `disk_check_ticks` ticks it reads the whole disk back, bypassing the guest's cache
 * (O_DIRECT), and compares each block with what it last wrote there:
 *
 *   kbl-disk pass=12 ok blocks=1024 writes=345
 *   kbl-disk pass=13 bad block=17 want=3 got=2
 *
 * Writes are O_DIRECT|O_DSYNC: on the host they reach the image (cache='none').
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#define BLOCK 4096
#define MAGIC 0x4b424c4449534b31ULL /* "KBLDISK1" */

static const char *MODULES[] = {
    "virtio_ring.ko", "virtio.ko", "virtio_pci_legacy_dev.ko", "virtio_pci_modern_dev.ko",
    "virtio_pci.ko", "virtio_blk.ko", NULL,
};

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

static void load_modules(void)
{
    char path[256];
    for (int i = 0; MODULES[i]; i++) {
        snprintf(path, sizeof(path), "/lib/modules/%s", MODULES[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* built into the kernel, or not needed */
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            printf("kbl-disk error module %s: %s\n", MODULES[i], strerror(errno));
        close(fd);
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void fill(uint64_t *buf, uint64_t index, uint64_t gen)
{
    buf[0] = MAGIC;
    buf[1] = index;
    buf[2] = gen;
    uint64_t s = mix(index * 0x9e3779b97f4a7c15ULL + gen);
    for (size_t w = 3; w < BLOCK / 8; w++) {
        s = mix(s + w);
        buf[w] = s;
    }
}

/* The generation a block holds, 0 if it does not hold the pattern of block `index`. */
static uint64_t generation_of(const uint64_t *buf, uint64_t index, uint64_t *scratch)
{
    if (buf[0] != MAGIC || buf[1] != index || buf[2] == 0)
        return 0;
    fill(scratch, index, buf[2]);
    return memcmp(buf, scratch, BLOCK) == 0 ? buf[2] : 0;
}

static int write_block(int fd, uint64_t *buf, uint64_t index, uint64_t gen)
{
    fill(buf, index, gen);
    return pwrite(fd, buf, BLOCK, (off_t)(index * BLOCK)) == BLOCK ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void disk_loop(long tick_ms, long check_ticks)
{
    int fd = -1;
    for (int i = 0; i < 400 && fd < 0; i++) { /* the device shows up after the probe */
        fd = open("/dev/vda", O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
        if (fd < 0)
            sleep_ms(50);
    }
    if (fd < 0) {
        printf("kbl-disk error open /dev/vda: %s\n", strerror(errno));
        return;
    }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0 || size < BLOCK) {
        printf("kbl-disk error size: %s\n", strerror(errno));
        return;
    }
    uint64_t blocks = size / BLOCK;
    uint64_t *gens = calloc(blocks, sizeof(uint64_t));
    uint64_t *buf = NULL, *scratch = NULL;
    if (!gens || posix_memalign((void **)&buf, BLOCK, BLOCK) ||
        posix_memalign((void **)&scratch, BLOCK, BLOCK)) {
        printf("kbl-disk error memory\n");
        return;
    }
    uint64_t found = 0;
    for (uint64_t i = 0; i < blocks; i++) {
        if (pread(fd, buf, BLOCK, (off_t)(i * BLOCK)) == BLOCK)
            gens[i] = generation_of(buf, i, scratch);
        found += gens[i] != 0;
    }
    if (found == blocks) {
        printf("kbl-disk boot ok blocks=%llu\n", (unsigned long long)blocks);
    } else {
        for (uint64_t i = 0; i < blocks; i++) {
            gens[i] = 1;
            if (write_block(fd, buf, i, 1) != 0) {
                printf("kbl-disk error write block=%llu: %s\n", (unsigned long long)i,
                       strerror(errno));
                return;
            }
        }
        printf("kbl-disk new blocks=%llu found=%llu\n", (unsigned long long)blocks,
               (unsigned long long)found);
    }
    uint64_t next = 0, writes = 0, pass = 0;
    for (long tick = 1;; tick++) {
        sleep_ms(tick_ms);
        gens[next]++;
        if (write_block(fd, buf, next, gens[next]) != 0)
            printf("kbl-disk error write block=%llu: %s\n", (unsigned long long)next,
                   strerror(errno));
        writes++;
        next = (next + 1) % blocks;
        if (tick % check_ticks)
            continue;
        pass++;
        uint64_t bad = blocks, got = 0;
        for (uint64_t i = 0; i < blocks && bad == blocks; i++) {
            if (pread(fd, buf, BLOCK, (off_t)(i * BLOCK)) != BLOCK) {
                bad = i;
                break;
            }
            got = generation_of(buf, i, scratch);
            if (got != gens[i])
                bad = i;
        }
        if (bad == blocks)
            printf("kbl-disk pass=%llu ok blocks=%llu writes=%llu\n", (unsigned long long)pass,
                   (unsigned long long)blocks, (unsigned long long)writes);
        else
            printf("kbl-disk pass=%llu bad block=%llu want=%llu got=%llu\n",
                   (unsigned long long)pass, (unsigned long long)bad,
                   (unsigned long long)gens[bad], (unsigned long long)got);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    char cmdline[4096] = "";
    mount("proc", "/proc", "proc", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int fd = open("/proc/cmdline", O_RDONLY);
    if (fd >= 0) {
        ssize_t got = read(fd, cmdline, sizeof(cmdline) - 1);
        cmdline[got > 0 ? got : 0] = '\0';
        close(fd);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    long tick_ms = param(cmdline, "tick_ms", 250);
    long check_ticks = param(cmdline, "disk_check_ticks", 4);
    if (tick_ms < 10)
        tick_ms = 10;
    if (check_ticks < 1)
        check_ticks = 1;
    load_modules();
    if (fork() == 0) {
        disk_loop(tick_ms, check_ticks);
        for (;;)
            pause();
    }
    argv[0] = "/init";
    execv("/init", argv);
    printf("kbl-disk error exec /init: %s\n", strerror(errno));
    for (;;)
        pause();
}
