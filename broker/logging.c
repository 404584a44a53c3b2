/* broker/logging.c — structured one-line logs to stderr for the broker:
 * UTC timestamp, level, shard, message. Filtered by log.level. One write(2)
 * per line so lines from different shard threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_int.h"

static const char *level_name(int level)
{
        switch (level) {
        case SL_LOG_ERROR:
                return "ERROR";
        case SL_LOG_WARN:
                return "WARN";
        case SL_LOG_INFO:
                return "INFO";
        case SL_LOG_DEBUG:
                return "DEBUG";
        default:
                return "TRACE";
        }
}

void sl_logf(int level, const char *fmt, ...)
{
        if (level > sl_shard_config()->log_level)
                return;
        char line[1024];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        sl_shard *s = sl_shard_self();
        int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, ts.tv_nsec / 1000000, level_name(level));
        if (s)
                n += snprintf(line + n, sizeof(line) - (size_t)n, "shard=%u ", sl_shard_index(s));
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof(line) - 2)
                len = sizeof(line) - 2;
        line[len++] = '\n';
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
}
