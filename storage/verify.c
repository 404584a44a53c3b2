/* storage/verify.c — full integrity check of a partition directory (the core
 * of `serpentlog verify`, see verify.h).
 *
 * Every single-bit flip is located at its batch: bytes [21, end) by the CRC,
 * baseOffset by continuity, batchLength by framing/CRC, magic by value, and
 * partitionLeaderEpoch by the leader-epoch checkpoint. The chain catches what
 * no per-batch check can: reordered, dropped, duplicated or rewritten batches
 * and missing or swapped segments; a chain break is located between the last
 * index entry whose chain matched and the entry (or seal) that did not. */
#include "fileops_int.h"
#include "log_int.h"
#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct vctx {
        sl_verify_report *rep;
        sl_epoch_entry *epochs; /* from the checkpoint, NULL if absent */
        int nepochs;
        sl_oidx_entry *oe; /* this segment's index entries (valid prefix) */
        uint32_t on, k;    /* count, next entry to check */
        int64_t base;      /* segment base offset */
        int64_t good_pos;  /* last position where the chain was confirmed */
        int64_t good_off;
        bool chain_break;  /* an index entry's chain did not match */
        int64_t break_pos; /* position of that entry */
        char why[200];
} vctx;

static void report(sl_verify_report *rep, int code, const char *file, int64_t offset, int64_t pos,
                   const char *fmt, ...)
{
        if (!rep->ok)
                return; /* the first damage only */
        rep->ok = false;
        rep->code = code;
        rep->offset = offset;
        rep->position = pos;
        snprintf(rep->file, sizeof(rep->file), "%s", file);
        char what[380];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(rep->message, sizeof(rep->message),
                 "%s: %s (offset %" PRId64 ", position %" PRId64 ")", file, what, offset, pos);
}

static const char *hook(void *arg, const sl_batch_hdr *h, int64_t pos, const sl_chain *before)
{
        vctx *v = arg;
        if (v->nepochs > 0) {
                int32_t want = sl_epoch_for_offset(v->epochs, v->nepochs, h->base_offset);
                if (want >= 0 && h->epoch != want) {
                        snprintf(v->why, sizeof(v->why),
                                 "partitionLeaderEpoch %" PRId32
                                 " differs from the leader-epoch checkpoint (%" PRId32 ")",
                                 h->epoch, want);
                        return v->why;
                }
        }
        /* Entries we walked past without meeting their batch are stale index
         * data (counted, not log damage: the index is rebuilt at open). */
        while (v->k < v->on && v->oe[v->k].pos < pos) {
                v->rep->index_problems++;
                v->k++;
        }
        if (v->k < v->on && v->oe[v->k].pos == pos) {
                const sl_oidx_entry *e = &v->oe[v->k++];
                if (v->base + e->rel_offset != h->base_offset) {
                        v->rep->index_problems++;
                } else if (!sl_chain_eq(&e->chain, before)) {
                        v->chain_break = true;
                        v->break_pos = pos;
                        return "chain value differs from the index entry";
                } else {
                        v->good_pos = pos;
                        v->good_off = h->base_offset;
                }
        }
        v->rep->batches++;
        return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* A committed but unfinished compaction swap (`<base>.log.swap`, see
 * cleaner_swap.c) is what the next open makes of the directory: verify that,
 * the swap file in place of the segments whose base it covers. Returns the
 * number of swaps (their bases listed in swaps[], at most cap), or <0. */
static int overlay_swaps(const char *dir, int64_t **basesp, int *n, int64_t *swaps, int cap)
{
        int64_t *bases = realloc(*basesp, (size_t)(*n + cap) * sizeof(*bases));
        if (!bases)
                return -ENOMEM;
        *basesp = bases;
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *e;
        int ns = 0, rc = 0;
        char path[4096];
        while ((e = readdir(d)) && rc == 0) {
                int64_t b, end;
                if (!sl_seg_name_parse(e->d_name, "log.swap", &b) || ns == cap)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                rc = sl_clean_swap_end(path, b, &end);
                if (rc < 0)
                        break;
                int k = 0;
                for (int i = 0; i < *n; i++)
                        if (bases[i] < b || bases[i] >= end)
                                bases[k++] = bases[i];
                bases[k++] = b;
                *n = k;
                swaps[ns++] = b;
        }
        closedir(d);
        if (rc < 0)
                return rc;
        qsort(bases, (size_t)*n, sizeof(*bases), cmp_i64);
        return ns;
}

static int list_segments(const char *dir, int64_t **bases, int *n)
{
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        int cap = 16;
        *n = 0;
        *bases = malloc((size_t)cap * sizeof(**bases));
        struct dirent *e;
        while (*bases && (e = readdir(d))) {
                int64_t base;
                if (!sl_seg_name_parse(e->d_name, "log", &base))
                        continue;
                if (*n == cap) {
                        cap *= 2;
                        int64_t *nb = realloc(*bases, (size_t)cap * sizeof(**bases));
                        if (!nb) {
                                free(*bases);
                                *bases = NULL;
                                break;
                        }
                        *bases = nb;
                }
                (*bases)[(*n)++] = base;
        }
        closedir(d);
        if (!*bases)
                return -ENOMEM;
        qsort(*bases, (size_t)*n, sizeof(**bases), cmp_i64);
        return 0;
}

/* Valid prefix of an index file, read-only. */
static void load_oidx(const char *path, vctx *v)
{
        v->on = v->k = 0;
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd < 0)
                return;
        int64_t size;
        if (sl_fileops_current->fsize(fd, &size) == 0 && size >= SL_OIDX_BYTES) {
                uint32_t n = (uint32_t)(size / SL_OIDX_BYTES);
                uint8_t *buf = malloc((size_t)n * SL_OIDX_BYTES);
                sl_oidx_entry *oe = realloc(v->oe, (size_t)n * sizeof(*oe));
                if (oe)
                        v->oe = oe;
                if (buf && oe &&
                    sl_pread_full(fd, buf, (size_t)n * SL_OIDX_BYTES, 0) ==
                        (ssize_t)n * SL_OIDX_BYTES) {
                        for (uint32_t i = 0; i < n; i++) {
                                if (!sl_oidx_decode(buf + (size_t)i * SL_OIDX_BYTES, &v->oe[v->on]))
                                        break;
                                if (v->on > 0 && v->oe[v->on].pos <= v->oe[v->on - 1].pos)
                                        break;
                                v->on++;
                        }
                        if (v->on < n)
                                v->rep->index_problems++;
                }
                free(buf);
        }
        sl_fileops_current->close(fd);
}

/* Does the first index entry name this header's chain (written only after a
 * completed sync covered the segment)? */
static bool index_vouches(const char *dir, int64_t base, bool swap, int fd)
{
        char name[64], path[4096];
        uint8_t hb[SL_SEG_HDR_BYTES], ib[SL_OIDX_BYTES];
        sl_seg_hdr h;
        sl_oidx_entry e;
        if (sl_pread_full(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) ||
            sl_seg_hdr_decode(hb, &h) != NULL)
                return false;
        sl_seg_name(name, sizeof(name), base, swap ? "index.swap" : "index");
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int ifd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (ifd < 0)
                return false;
        ssize_t r = sl_pread_full(ifd, ib, sizeof(ib), 0);
        sl_fileops_current->close(ifd);
        return r == (ssize_t)sizeof(ib) && sl_oidx_decode(ib, &e) && e.rel_offset == 0 &&
               e.pos == SL_SEG_HDR_BYTES && sl_chain_eq(&e.chain, &h.prev_chain);
}

/* Marks which segments end in a valid seal (sealed[i] for bases[i]), and
 * which carry proof of a completed sync (proof[i]: sealed or indexed). */
static int find_seals(const char *dir, const int64_t *bases, int n, const int64_t *swaps,
                      int nswaps, bool **sealed, bool **proof)
{
        *sealed = calloc((size_t)n + 1, sizeof(**sealed));
        *proof = calloc((size_t)n + 1, sizeof(**proof));
        if (!*sealed || !*proof)
                return -ENOMEM;
        char name[64], path[4096];
        for (int i = 0; i < n; i++) {
                bool swap = false;
                for (int k = 0; k < nswaps; k++)
                        swap |= swaps[k] == bases[i];
                sl_seg_name(name, sizeof(name), bases[i], swap ? "log.swap" : "log");
                snprintf(path, sizeof(path), "%s/%s", dir, name);
                int fd = sl_fileops_current->open(path, O_RDONLY, 0);
                if (fd < 0)
                        continue; /* reported when the segment is read */
                int64_t size = 0;
                uint8_t sb[SL_SEAL_BYTES];
                sl_seal seal;
                (*sealed)[i] = sl_fileops_current->fsize(fd, &size) == 0 &&
                               size >= SL_SEG_HDR_BYTES + SL_SEAL_BYTES &&
                               sl_pread_full(fd, sb, sizeof(sb), size - SL_SEAL_BYTES) ==
                                   (ssize_t)sizeof(sb) &&
                               sl_seal_decode(sb, &seal) && seal.last_offset >= bases[i] - 1;
                (*proof)[i] = (*sealed)[i] || index_vouches(dir, bases[i], swap, fd);
                sl_fileops_current->close(fd);
        }
        return 0;
}

/* Open's torn-tail rule (FORMAT.md, "Recovery"): from segment i on, may the
 * log end here? Only if no segment from i on is sealed or indexed: both are
 * written after a completed sync, which covered every older byte too. */
static bool may_end_at(const bool *proof, int from, int n)
{
        for (int j = from; j < n; j++)
                if (proof[j])
                        return false;
        return true;
}

int sl_verify_dir(const char *dir, sl_verify_report *rep)
{
        memset(rep, 0, sizeof(*rep));
        rep->ok = true;
        rep->first_offset = -1;
        int64_t *bases = NULL;
        int n = 0;
        int rc = list_segments(dir, &bases, &n);
        if (rc < 0) {
                report(rep, rc, dir, -1, -1, "cannot list directory: %s", strerror(-rc));
                return rc;
        }
        /* (At most 64 swaps are overlaid; a cleaning writes far fewer.) */
        int64_t swaps[64];
        int nswaps = overlay_swaps(dir, &bases, &n, swaps, 64);
        if (nswaps < 0) {
                report(rep, SL_ECORRUPT, dir, -1, -1, "a compaction swap file is damaged: %s",
                       sl_log_strerror(nswaps));
                free(bases);
                return SL_ECORRUPT;
        }
        bool *sealed = NULL, *proof = NULL;
        rc = find_seals(dir, bases, n, swaps, nswaps, &sealed, &proof);
        if (rc < 0) {
                report(rep, rc, dir, -1, -1, "out of memory");
                free(sealed);
                free(proof);
                free(bases);
                return rc;
        }
        bool prev_open = false; /* the previous segment is unsealed */
        bool pend = false;      /* it ended in bad bytes: torn, or damage? */
        char pend_file[64], pend_why[200];
        int64_t pend_off = 0, pend_pos = 0;
        vctx v = {.rep = rep};
        char path[4096];
        snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", dir);
        sl_epoch_parse_file(path, &v.epochs, &v.nepochs);
        bool have_prev = false;
        int64_t prev_next = 0;
        sl_chain prev_chain = {{0}};
        bool prev_cleaned = false;
        sl_chain prev_link_out = {{0}};
        char name[64];

        for (int i = 0; i < n && rep->ok; i++) {
                bool last = i == n - 1;
                bool swap = false;
                for (int k = 0; k < nswaps; k++)
                        swap |= swaps[k] == bases[i];
                sl_seg_name(name, sizeof(name), bases[i], swap ? "log.swap" : "log");
                snprintf(path, sizeof(path), "%s/%s", dir, name);
                int fd = sl_fileops_current->open(path, O_RDONLY, 0);
                if (fd < 0) {
                        report(rep, fd, name, bases[i], -1, "cannot open: %s", strerror(-fd));
                        break;
                }
                int64_t size = 0;
                uint8_t hb[SL_SEG_HDR_BYTES];
                sl_seg_hdr h;
                const char *why = NULL;
                if (sl_fileops_current->fsize(fd, &size) < 0 || size < SL_SEG_HDR_BYTES ||
                    sl_pread_full(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb))
                        why = "segment shorter than its header";
                else if ((why = sl_seg_hdr_decode(hb, &h)) == NULL && h.base_offset != bases[i])
                        why = "header base offset differs from the file name";
                if (why) {
                        /* Never synced (open drops it and what follows),
                         * unless a seal here or later proves it was. */
                        if (may_end_at(proof, i, n))
                                rep->torn_tail = true;
                        else
                                report(rep, SL_ECORRUPT, name, bases[i], 0,
                                       "%s (this or a later segment is sealed, so it was durable)",
                                       why);
                        sl_fileops_current->close(fd);
                        break;
                }
                rep->segments++;
                rep->bytes += size;
                if (rep->first_offset < 0)
                        rep->first_offset = h.base_offset;
                /* The link: this header names the previous seal's end and chain. */
                /* (A cleaned segment's successor may name its link-out value
                 * instead: the chain value of the segments it replaced.) */
                bool chain_links = sl_chain_eq(&h.prev_chain, &prev_chain) ||
                                   (prev_cleaned && sl_chain_eq(&h.prev_chain, &prev_link_out));
                /* After an unsealed segment, or offsets missing after a
                 * sealed one (a lost directory entry): a torn tail here. */
                bool gap = h.base_offset > prev_next;
                if (have_prev && (h.base_offset != prev_next || !chain_links) &&
                    ((prev_open && may_end_at(sealed, i, n)) || (gap && may_end_at(proof, i, n)))) {
                        rep->torn_tail = true;
                        sl_fileops_current->close(fd);
                        break;
                }
                if (have_prev && (h.base_offset != prev_next || !chain_links) && pend) {
                        report(rep, SL_ECORRUPT, pend_file, pend_off, pend_pos,
                               "%s (a later segment is sealed, so it was durable)", pend_why);
                        sl_fileops_current->close(fd);
                        break;
                }
                pend = false;
                if (have_prev && (h.base_offset != prev_next || !chain_links)) {
                        report(rep, SL_ECORRUPT, name, h.base_offset, 0,
                               h.base_offset > prev_next ? "offsets %" PRId64 "..%" PRId64
                                                           " are missing: a segment was "
                                                           "deleted or lost"
                               : h.base_offset < prev_next
                                   ? "segment overlaps the previous one (expected offset %" PRId64
                                     ", found %" PRId64 "): segments are swapped or duplicated"
                                   : "previous-chain value differs from the previous segment's "
                                     "seal (%" PRId64 "/%" PRId64 "): a segment was replaced",
                               prev_next, h.base_offset - (h.base_offset > prev_next));
                        sl_fileops_current->close(fd);
                        break;
                }
                sl_seg_name(name, sizeof(name), bases[i], swap ? "index.swap" : "index");
                snprintf(path, sizeof(path), "%s/%s", dir, name);
                v.base = h.base_offset;
                v.good_pos = SL_SEG_HDR_BYTES;
                v.good_off = h.base_offset;
                v.chain_break = false;
                load_oidx(path, &v);
                sl_seg_name(name, sizeof(name), bases[i], swap ? "log.swap" : "log");
                sl_scan s = {.fd = fd,
                             .pos = SL_SEG_HDR_BYTES,
                             .file_size = size,
                             .next_offset = h.base_offset,
                             .chain = h.prev_chain,
                             .allow_seal = true,
                             .max_ts = -1,
                             .max_ts_offset = -1,
                             .allow_gaps = (h.flags & SL_SEG_FLAG_CLEANED) != 0,
                             .on_batch = hook,
                             .arg = &v};
                rc = sl_scan_run(&s);
                sl_fileops_current->close(fd);
                if (rc < 0) {
                        report(rep, rc, name, s.next_offset, s.pos, "read failed: %s",
                               strerror(-rc));
                        break;
                }
                rep->next_offset = s.next_offset;
                if (v.chain_break) {
                        report(rep, SL_ECORRUPT, name, v.good_off, v.good_pos,
                               "chain break: the index entry at position %" PRId64
                               " does not match; the damage lies in the batches from position "
                               "%" PRId64 " up to it",
                               v.break_pos, v.good_pos);
                } else if (s.why) {
                        /* An unsealed segment's unsynced end may hold any
                         * bytes after a power cut (open truncates there),
                         * unless an index entry, written only for synced
                         * bytes, or a later seal vouches for what follows. */
                        bool vouched = false;
                        for (uint32_t k = v.k; k < v.on; k++)
                                vouched |= v.oe[k].pos >= s.bad_pos;
                        if (!sealed[i] && !vouched) {
                                /* The last segment ends torn; an earlier
                                 * one continues if the next links to where
                                 * it tore (only its seal was lost), else the
                                 * next segment's link check decides between
                                 * a torn tail and this damage. */
                                rep->torn_tail |= last;
                                pend = !last;
                                /* Except a full seal slot that is not a
                                 * valid seal: written, then changed (a
                                 * flipped bit) or torn mid-slot by a power
                                 * cut; verify cannot tell and reports it
                                 * (open rescans the segment and reseals). */
                                if (!last && size - s.bad_pos == SL_SEAL_BYTES) {
                                        report(rep, SL_ECORRUPT, name, s.bad_offset, s.bad_pos,
                                               "%s (the seal slot holds an invalid seal)", s.why);
                                        pend = false;
                                }
                                snprintf(pend_file, sizeof(pend_file), "%s", name);
                                snprintf(pend_why, sizeof(pend_why), "%s", s.why);
                                pend_off = s.bad_offset;
                                pend_pos = s.bad_pos;
                                v.k = v.on; /* entries past a torn end are stale */
                        } else if (s.allow_gaps && strstr(s.why, "does not follow"))
                                /* Offsets may skip in a cleaned segment, so a
                                 * flipped baseOffset shows only where order
                                 * breaks: the damage is at or before it. */
                                report(rep, SL_ECORRUPT, name, v.good_off, v.good_pos,
                                       "%s at position %" PRId64
                                       "; the damage lies in the batches from position %" PRId64
                                       " up to it",
                                       s.why, s.bad_pos, v.good_pos);
                        else
                                report(rep, SL_ECORRUPT, name, s.bad_offset, s.bad_pos, "%s",
                                       s.why);
                } else if (s.sealed) {
                        bool end_ok = s.allow_gaps ? s.next_offset <= s.seal.last_offset + 1
                                                   : s.next_offset == s.seal.last_offset + 1;
                        if (!sl_chain_eq(&s.chain, &s.seal.chain) || !end_ok)
                                report(rep, SL_ECORRUPT, name, v.good_off, v.good_pos,
                                       "chain does not match the seal at position %" PRId64
                                       "; the damage lies between position %" PRId64
                                       " and the seal",
                                       s.pos, v.good_pos);
                }
                /* A rolled segment without its seal yet (written after its
                 * data is synced) is fine if the next segment links to it:
                 * the link check at the next header decides. */
                /* Index entries past the data are stale (a lost tail). */
                if (v.k < v.on)
                        rep->index_problems += v.on - v.k;
                have_prev = true;
                prev_next = s.sealed ? s.seal.last_offset + 1 : s.next_offset;
                prev_chain = s.chain;
                prev_cleaned = s.allow_gaps;
                prev_link_out = h.link_out;
                prev_open = !sealed[i];
        }
        free(sealed);
        free(proof);
        free(v.oe);
        free(v.epochs);
        free(bases);
        return rep->ok ? 0 : (rep->code ? rep->code : SL_ECORRUPT);
}
