/* broker/handle_api_versions.c — ApiVersions (key 18), versions 0-4.
 *
 * Every client's first request. The advertised list is built from the
 * dispatch table (dispatch.c), so only APIs with a handler appear, with
 * Produce's minimum lowered to 0 where the table says so (ENCODING §5.3).
 * KIP-511 (§2.6): a version newer than ours is not an error that closes the
 * connection — answer in v0 form with UNSUPPORTED_VERSION and our own range so
 * the client retries; v3+ client software name/version must match
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? or get INVALID_REQUEST (the
 * client then retries with v0). No features are advertised or finalized. */
#include "conn.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

#include <stdbool.h>

static bool alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* KIP-511's pattern for ClientSoftwareName and ClientSoftwareVersion. */
static bool software_field_valid(kp_str s)
{
        if (s.len <= 0 || !alnum(s.p[0]) || !alnum(s.p[s.len - 1]))
                return false;
        for (int32_t i = 1; i < s.len - 1; i++)
                if (!alnum(s.p[i]) && s.p[i] != '-' && s.p[i] != '.')
                        return false;
        return true;
}

static void respond_at(sl_request *req, int16_t version, const kp_api_versions_response *resp)
{
        kp_wr *w = sl_request_body(req, kp_api_versions_response_size(resp, version));
        if (w)
                kp_api_versions_response_encode(w, version, resp);
        sl_request_respond(req);
}

void sl_handle_api_versions(sl_request *req)
{
        const sl_api *self = sl_dispatch_find(KP_API_VERSIONS_REQUEST_API_KEY);
        kp_api_versions_response resp;
        kp_api_versions_response_init(&resp);

        if (req->api_version > self->max_version) {
                /* Body ignored: its layout is unknown to us. */
                kp_api_versions_response_api_version *k =
                    kp_arena_alloc(&req->arena, 1, sizeof(*k));
                if (!k) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                k->api_key = KP_API_VERSIONS_REQUEST_API_KEY;
                k->min_version = self->min_version;
                k->max_version = self->max_version;
                resp.error_code = KP_ERR_UNSUPPORTED_VERSION;
                resp.api_keys = k;
                resp.api_keys_count = 1;
                respond_at(req, 0, &resp);
                return;
        }

        kp_api_versions_request m;
        if (kp_api_versions_request_decode(&req->body, req->api_version, &m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad ApiVersions body");
                return;
        }
        if (req->api_version >= 3) {
                if (!software_field_valid(m.client_software_name) ||
                    !software_field_valid(m.client_software_version)) {
                        resp.error_code = KP_ERR_INVALID_REQUEST;
                        resp.api_keys_count = 0;
                        respond_at(req, req->api_version, &resp);
                        return;
                }
                sl_conn_set_client_software(req->conn, m.client_software_name,
                                            m.client_software_version);
        }

        int32_t n = 0;
        for (int16_t key = 0; key < SL_API_KEY_LIMIT; key++)
                if (sl_dispatch_find(key))
                        n++;
        kp_api_versions_response_api_version *keys =
            kp_arena_alloc(&req->arena, (size_t)n, sizeof(*keys));
        if (!keys) {
                sl_request_close(req, "out of memory");
                return;
        }
        int32_t i = 0;
        for (int16_t key = 0; key < SL_API_KEY_LIMIT; key++) {
                const sl_api *a = sl_dispatch_find(key);
                if (!a)
                        continue;
                keys[i].api_key = key;
                keys[i].min_version = a->advertise_min_0 ? 0 : a->min_version;
                keys[i].max_version = a->max_version;
                i++;
        }
        resp.api_keys = keys;
        resp.api_keys_count = n;
        resp.throttle_time_ms = 0;
        resp.supported_features_count = 0;
        resp.finalized_features_count = 0;
        resp.finalized_features_epoch = -1;
        respond_at(req, req->api_version, &resp);
}
