/* broker/tests/test_conn.c — connection behaviour through a socketpair:
 * responses leave in request order whatever order handlers complete in,
 * acks=0-style requests get no response, a handler can close the connection
 * after earlier responses, file-range segments are spliced in order, frame
 * size limits and bad headers close, the unanswered-bytes cap and the shard's
 * request budget pause reading (the budget on every connection),
 * a frame larger than the receive buffer is read straight into its request
 * (followed by small frames in the same bytes, or cut by a close mid-frame),
 * and a connection that only ever sent whole frames holds no receive buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "harness.h"

/* Requests captured by the test handler, completed by the test. */
static sl_request *captured[64];
static int ncaptured;

static void capture(sl_request *req)
{
        captured[ncaptured++] = req;
}

static void respond_text(sl_request *req, const char *text)
{
        kp_wr *w = sl_request_body(req, strlen(text));
        assert_non_null(w);
        kp_wr_raw(w, text, strlen(text));
        sl_request_respond(req);
}

static size_t metadata_v1_all(uint8_t *out, int32_t corr)
{
        const uint8_t body[] = {0xff, 0xff, 0xff, 0xff}; /* null topics = all */
        return th_request(out, 3, 1, corr, false, body, sizeof(body));
}

static void expect_frame(th *t, int32_t corr, const char *body)
{
        uint8_t buf[256];
        int32_t n = th_recv_frame(t, buf, sizeof(buf));
        assert_int_equal(n, 4 + (int32_t)strlen(body));
        assert_int_equal(th_be32(buf), corr);
        assert_memory_equal(buf + 4, body, strlen(body));
}

static void setup_capture(th *t, const sl_config *cfg)
{
        ncaptured = 0;
        th_start(t, cfg, NULL);
        sl_dispatch_set_override(3, capture);
}

static void teardown_capture(th *t)
{
        sl_dispatch_set_override(3, NULL);
        th_stop(t);
}

static void test_order_kept(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        uint8_t buf[512];
        size_t n = 0;
        for (int32_t c = 1; c <= 3; c++)
                n += metadata_v1_all(buf + n, c);
        n += th_request(buf + n, 18, 0, 4, false, NULL, 0); /* answered at once */
        th_send(&t, buf, n);
        for (int i = 0; i < 50 && ncaptured < 3; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 3);
        respond_text(captured[2], "CCC");
        respond_text(captured[0], "A");
        expect_frame(&t, 1, "A");
        /* 3 and the ApiVersions answer wait for 2. */
        struct pollfd pf = {.fd = t.client, .events = POLLIN};
        th_turn(&t);
        assert_int_equal(poll(&pf, 1, 50), 0);
        respond_text(captured[1], "BB");
        expect_frame(&t, 2, "BB");
        expect_frame(&t, 3, "CCC");
        uint8_t resp[512];
        int32_t rl = th_recv_frame(&t, resp, sizeof(resp));
        assert_true(rl > 6);
        assert_int_equal(th_be32(resp), 4);
        assert_int_equal(resp[4] << 8 | resp[5], 0); /* ApiVersions error_code */
        /* Whole frames only: the shard's buffer went back, nothing is held. */
        assert_null(t.conn->rx);
        assert_false(t.conn->rx_lent);
        teardown_capture(&t);
}

static void test_no_response_and_close(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        uint8_t buf[512];
        size_t n = 0;
        for (int32_t c = 1; c <= 4; c++)
                n += metadata_v1_all(buf + n, c);
        th_send(&t, buf, n);
        for (int i = 0; i < 50 && ncaptured < 4; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 4);
        sl_request_respond_none(captured[0]);
        respond_text(captured[1], "two");
        sl_request_close(captured[2], "test asked");
        respond_text(captured[3], "never");
        expect_frame(&t, 2, "two");
        assert_true(th_eof(&t));
        teardown_capture(&t);
}

static void test_file_segments(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        char path[] = "/tmp/sl_test_conn_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, "0123456789", 10), 10);
        uint8_t buf[128];
        size_t n = metadata_v1_all(buf, 7);
        th_send(&t, buf, n);
        for (int i = 0; i < 50 && ncaptured < 1; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 1);
        sl_request *r = captured[0];
        kp_wr *w = sl_request_body(r, 2);
        kp_wr_raw(w, "<<", 2);
        sl_request_file(r, fd, 3, 4);
        w = sl_request_body(r, 1);
        kp_wr_raw(w, "|", 1);
        sl_request_file(r, fd, 0, 2);
        w = sl_request_body(r, 2);
        kp_wr_raw(w, ">>", 2);
        sl_request_respond(r);
        expect_frame(&t, 7, "<<3456|01>>");
        close(fd);
        teardown_capture(&t);
}

static void test_encoder_short_write_closes(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        uint8_t buf[128];
        th_send(&t, buf, metadata_v1_all(buf, 1));
        for (int i = 0; i < 50 && ncaptured < 1; i++)
                th_turn(&t);
        kp_wr *w = sl_request_body(captured[0], 8);
        kp_wr_raw(w, "abc", 3); /* 5 bytes never written */
        sl_request_respond(captured[0]);
        assert_true(th_eof(&t));
        teardown_capture(&t);
}

static void expect_closed_after(const void *bytes, size_t n)
{
        th t;
        th_start(&t, NULL, NULL);
        th_send(&t, bytes, n);
        assert_true(th_eof(&t));
        th_stop(&t);
}

static void test_bad_frames_close(void **state)
{
        (void)state;
        const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 1};
        expect_closed_after(huge, sizeof(huge));
        const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe, 0, 3, 0, 1};
        expect_closed_after(negative, sizeof(negative));
        const uint8_t tiny[] = {0, 0, 0, 3, 0, 3, 0};
        expect_closed_after(tiny, sizeof(tiny));
        uint8_t buf[128];
        /* unknown api key */
        expect_closed_after(buf, th_request(buf, 1000, 0, 1, false, NULL, 0));
        /* Metadata v13 is not served */
        const uint8_t body[] = {0};
        expect_closed_after(buf, th_request(buf, 3, 13, 1, true, body, 1));
        /* client id longer than the frame */
        const uint8_t badhdr[] = {0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0x10, 0};
        expect_closed_after(badhdr, sizeof(badhdr));
        /* undecodable Metadata body (array count beyond the frame) */
        const uint8_t junk[] = {0x00, 0x00, 0x10, 0x00};
        expect_closed_after(buf, th_request(buf, 3, 1, 1, false, junk, sizeof(junk)));
}

static void test_unanswered_cap_pauses_reading(void **state)
{
        (void)state;
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.connection_max_unanswered_bytes = 60; /* each request frame is 22 bytes */
        th t;
        setup_capture(&t, &cfg);
        uint8_t buf[512];
        size_t n = 0;
        for (int32_t c = 1; c <= 6; c++)
                n += metadata_v1_all(buf + n, c);
        th_send(&t, buf, n);
        for (int i = 0; i < 30; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 3); /* 66 bytes > 60 after the third */
        respond_text(captured[0], "a");
        respond_text(captured[1], "b");
        respond_text(captured[2], "c");
        expect_frame(&t, 1, "a");
        expect_frame(&t, 2, "b");
        expect_frame(&t, 3, "c");
        for (int i = 0; i < 30 && ncaptured < 6; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 6);
        for (int i = 3; i < 6; i++)
                respond_text(captured[i], "z");
        for (int32_t c = 4; c <= 6; c++)
                expect_frame(&t, c, "z");
        teardown_capture(&t);
}

static void test_shard_budget_pauses_every_connection(void **state)
{
        (void)state;
        size_t saved = sl_conn_shard_budget_bytes;
        sl_conn_shard_budget_bytes = 50; /* each request frame is 22 bytes */
        th t;
        setup_capture(&t, NULL);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        atomic_fetch_add(&g_sl.nconns, 1);
        assert_non_null(sl_conn_adopt(t.s, sv[0], "test:2"));
        uint8_t buf[256];
        size_t n = 0;
        for (int32_t c = 1; c <= 3; c++)
                n += metadata_v1_all(buf + n, c);
        th_send(&t, buf, n);
        for (int i = 0; i < 30; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 3); /* 66 > 50 after the third */
        /* A second connection under its own cap is held back by the shard's. */
        n = metadata_v1_all(buf, 100);
        assert_int_equal(write(sv[1], buf, n), (ssize_t)n);
        for (int i = 0; i < 30; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 3);
        for (int i = 0; i < 3; i++)
                respond_text(captured[i], "x");
        for (int32_t c = 1; c <= 3; c++)
                expect_frame(&t, c, "x");
        for (int i = 0; i < 30 && ncaptured < 4; i++)
                th_turn(&t);
        assert_int_equal(ncaptured, 4);
        assert_int_equal(captured[3]->correlation_id, 100);
        respond_text(captured[3], "y");
        for (int i = 0; i < 10; i++)
                th_turn(&t);
        close(sv[1]);
        sl_conn_shard_budget_bytes = saved;
        teardown_capture(&t);
}

static void test_large_frame_grows_buffer(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        size_t body_len = 300000;
        uint8_t *body = calloc(1, body_len);
        uint8_t *buf = malloc(body_len + 64);
        body[0] = body[1] = body[2] = body[3] = 0xff; /* null topic array, then slack */
        size_t n = th_request(buf, 3, 1, 9, false, body, body_len);
        /* The socket buffer is smaller than the frame: write while turning. */
        size_t off = 0;
        for (int i = 0; i < 2000 && ncaptured < 1; i++) {
                if (off < n) {
                        ssize_t w = send(t.client, buf + off, n - off, MSG_DONTWAIT);
                        if (w > 0)
                                off += (size_t)w;
                }
                th_turn(&t);
        }
        assert_int_equal(ncaptured, 1);
        assert_int_equal(captured[0]->frame_len, n - 4);
        assert_int_equal(captured[0]->correlation_id, 9);
        assert_int_equal(captured[0]->frame[captured[0]->frame_len - 1], 0);
        /* Read straight into the request: no receive buffer of its own. */
        assert_false(t.conn->rx_lent);
        assert_null(t.conn->rx);
        assert_null(t.conn->rx_req);
        respond_text(captured[0], "ok");
        expect_frame(&t, 9, "ok");
        free(body);
        free(buf);
        teardown_capture(&t);
}

/* A big frame, then two small ones in the same bytes; the big frame's buffer
 * is pooled and reused by the next big frame with intact contents. */
static void test_big_frame_then_small(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        size_t body_len = 200000, cap = 2 * (body_len + 64) + 512;
        uint8_t *body = malloc(body_len);
        uint8_t *buf = malloc(cap);
        for (int round = 0; round < 2; round++) {
                ncaptured = 0;
                for (size_t i = 0; i < body_len; i++)
                        body[i] = (uint8_t)(i * 7 + (size_t)round);
                body[0] = body[1] = body[2] = body[3] = 0xff;
                size_t n = th_request(buf, 3, 1, 20, false, body, body_len);
                n += metadata_v1_all(buf + n, 21);
                n += metadata_v1_all(buf + n, 22);
                size_t off = 0;
                for (int i = 0; i < 4000 && ncaptured < 3; i++) {
                        if (off < n) {
                                ssize_t w = send(t.client, buf + off, n - off, MSG_DONTWAIT);
                                if (w > 0)
                                        off += (size_t)w;
                        }
                        th_turn(&t);
                }
                assert_int_equal(ncaptured, 3);
                assert_int_equal(captured[0]->correlation_id, 20);
                assert_int_equal(captured[1]->correlation_id, 21);
                assert_int_equal(captured[2]->correlation_id, 22);
                /* The body ends the frame: its last bytes arrived intact. */
                const uint8_t *f = captured[0]->frame + captured[0]->frame_len - body_len;
                assert_memory_equal(f + 4, body + 4, body_len - 4);
                respond_text(captured[0], "big");
                respond_text(captured[1], "s1");
                respond_text(captured[2], "s2");
                expect_frame(&t, 20, "big");
                expect_frame(&t, 21, "s1");
                expect_frame(&t, 22, "s2");
        }
        free(body);
        free(buf);
        teardown_capture(&t);
}

/* The peer goes away in the middle of a big frame: the partly read request
 * goes back to the pool (ASan would report a leak otherwise). */
static void test_close_mid_big_frame(void **state)
{
        (void)state;
        th t;
        setup_capture(&t, NULL);
        size_t body_len = 100000;
        uint8_t *body = calloc(1, body_len);
        uint8_t *buf = malloc(body_len + 64);
        body[0] = body[1] = body[2] = body[3] = 0xff;
        size_t n = th_request(buf, 3, 1, 5, false, body, body_len);
        size_t off = 0;
        for (int i = 0; i < 200 && off < n / 2; i++) {
                ssize_t w = send(t.client, buf + off, n / 2 - off, MSG_DONTWAIT);
                if (w > 0)
                        off += (size_t)w;
                th_turn(&t);
        }
        for (int i = 0; i < 20; i++)
                th_turn(&t);
        assert_non_null(t.conn->rx_req);
        shutdown(t.client, SHUT_WR);
        assert_true(th_eof(&t));
        assert_int_equal(ncaptured, 0);
        free(body);
        free(buf);
        teardown_capture(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_order_kept),
            cmocka_unit_test(test_big_frame_then_small),
            cmocka_unit_test(test_close_mid_big_frame),
            cmocka_unit_test(test_no_response_and_close),
            cmocka_unit_test(test_file_segments),
            cmocka_unit_test(test_encoder_short_write_closes),
            cmocka_unit_test(test_bad_frames_close),
            cmocka_unit_test(test_unanswered_cap_pauses_reading),
            cmocka_unit_test(test_shard_budget_pauses_every_connection),
            cmocka_unit_test(test_large_frame_grows_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
