/* broker/tests/test_shard_cpus.c — where the shard threads and their disk
 * helpers run (shard_lanes.h): shard k on the k-th CPU the process may use,
 * the helpers ("sl-ioN", "sl-commitN") on every other allowed CPU, all of
 * them together on the one CPU when only one is allowed. Checked first on
 * the placement chosen at shard creation under different allowed sets, then
 * on a real 2-shard runtime: the kernel's affinity of each running thread
 * and the names /proc shows. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker_int.h"
#include "server.h"
#include "shard_lanes.h"

static cpu_set_t allowed; /* the test process's CPUs at start */

/* The k-th CPU of set (modulo its size). */
static int nth_cpu(const cpu_set_t *set, int k)
{
        k %= CPU_COUNT(set);
        for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, set) && k-- == 0)
                        return c;
        return -1;
}

static void check_placement(const cpu_set_t *set, uint32_t nshards)
{
        memset(&g_sl, 0, sizeof(g_sl));
        sl_config_defaults(&g_sl.cfg);
        g_sl.nshards = nshards;
        assert_int_equal(sched_setaffinity(0, sizeof(*set), set), 0);
        for (uint32_t id = 0; id < nshards; id++) {
                sl_shard *s = NULL;
                assert_int_equal(sl_shard_create(id, &s), 0);
                int cpu = sl_shard_cpu(s);
                assert_int_equal(cpu, nth_cpu(set, (int)id));
                cpu_set_t h;
                assert_int_equal(sl_shard_helper_cpus(s, &h), 0);
                if (CPU_COUNT(set) == 1) {
                        /* One CPU: the helpers share it, as before. */
                        assert_int_equal(CPU_COUNT(&h), 1);
                        assert_true(CPU_ISSET(cpu, &h));
                } else {
                        cpu_set_t want = *set;
                        CPU_CLR(cpu, &want);
                        assert_false(CPU_ISSET(cpu, &h));
                        assert_true(CPU_EQUAL(&h, &want));
                }
                sl_shard_destroy(s);
        }
        assert_int_equal(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
        memset(&g_sl, 0, sizeof(g_sl));
}

static void test_placement_from_allowed_set(void **state)
{
        (void)state;
        /* Everything allowed: shard k on the k-th CPU, helpers elsewhere. */
        check_placement(&allowed, 3);
        /* Only the last allowed CPU (what `taskset -c N` gives). */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(nth_cpu(&allowed, CPU_COUNT(&allowed) - 1), &one);
        check_placement(&one, 2);
        if (CPU_COUNT(&allowed) >= 2) {
                /* The last two allowed CPUs: a shard never lands outside them,
                 * even when they are not CPUs 0 and 1. */
                cpu_set_t two;
                CPU_ZERO(&two);
                CPU_SET(nth_cpu(&allowed, CPU_COUNT(&allowed) - 1), &two);
                CPU_SET(nth_cpu(&allowed, CPU_COUNT(&allowed) - 2), &two);
                check_placement(&two, 2);
        }
}

/* The kernel's view of a thread's CPUs. */
static void thread_cpus(pthread_t t, cpu_set_t *out)
{
        assert_int_equal(pthread_getaffinity_np(t, sizeof(*out), out), 0);
}

/* True if some thread of this process is named `name`. */
static bool thread_named(const char *name)
{
        DIR *d = opendir("/proc/self/task");
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                char path[300], comm[64] = "";
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                if (fgets(comm, sizeof(comm), f)) {
                        comm[strcspn(comm, "\n")] = 0;
                        found = strcmp(comm, name) == 0;
                }
                fclose(f);
        }
        closedir(d);
        return found;
}

static void test_running_threads(void **state)
{
        (void)state;
        char dir[64];
        snprintf(dir, sizeof(dir), "/tmp/sl_test_cpus_XXXXXX");
        assert_non_null(mkdtemp(dir));
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.cores = 2;
        cfg.log_level = SL_LOG_WARN;
        snprintf(cfg.listen, sizeof(cfg.listen), "127.0.0.1:0");
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
        assert_int_equal(sl_server_start(&cfg), 0);
        for (uint32_t i = 0; i < g_sl.nshards; i++) {
                sl_shard *s = g_sl.shards[i];
                int cpu = sl_shard_cpu(s);
                assert_int_equal(cpu, nth_cpu(&allowed, (int)i));
                cpu_set_t got;
                thread_cpus(s->thread, &got);
                assert_int_equal(CPU_COUNT(&got), 1);
                assert_true(CPU_ISSET(cpu, &got));
                for (int lane = 0; lane < SL_SHARD_LANES; lane++) {
                        assert_int_equal(sl_shard_lane_affinity(s, lane, &got), 0);
                        if (CPU_COUNT(&allowed) > 1) {
                                cpu_set_t want = allowed;
                                CPU_CLR(cpu, &want);
                                assert_false(CPU_ISSET(cpu, &got));
                                assert_true(CPU_EQUAL(&got, &want));
                        } else {
                                assert_true(CPU_ISSET(cpu, &got));
                        }
                }
                char name[16];
                snprintf(name, sizeof(name), "sl-shard%u", i);
                assert_true(thread_named(name));
                snprintf(name, sizeof(name), "sl-io%u", i);
                assert_true(thread_named(name));
                snprintf(name, sizeof(name), "sl-commit%u", i);
                assert_true(thread_named(name));
        }
        sl_server_stop(5000);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
                return 1;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_placement_from_allowed_set),
            cmocka_unit_test(test_running_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
