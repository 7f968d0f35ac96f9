/* gossip_metrics.h: a message counts under its type and direction, one that
 * did not decode under "other" (peer input adds no label value), a ban
 * counts, and an inv out followed by a getdata in is one relay-latency
 * observation, a getdata without an inv before it none. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_metrics.h"
#include "proto.h"

static char *render(void)
{
    char *text;
    size_t len;
    err_t e;
    cr_assert_eq(gmetrics_render(NULL, &text, &len, &e), 0);
    return text;
}

Test(gossip_metrics, messages_by_type_and_direction)
{
    peer_t p;
    memset(&p, 0, sizeof p);
    gmetrics_received(&p, PROTO_MSG_PING, 10, 1000);
    gmetrics_received(&p, GMETRICS_OTHER, 7, 1000);
    gmetrics_received(&p, 1000, 5, 1000); /* out of the enum: other too */
    gmetrics_sent(&p, PROTO_MSG_PONG, 11, 1000);
    gmetrics_ban();
    char *t = render();
    cr_assert_not_null(strstr(t, "gossip_messages_total{type=\"ping\",direction=\"in\"} 1\n"));
    cr_assert_not_null(strstr(t, "gossip_messages_total{type=\"other\",direction=\"in\"} 2\n"));
    cr_assert_not_null(strstr(t, "gossip_message_bytes_total{type=\"other\",direction=\"in\"} 12\n"));
    cr_assert_not_null(strstr(t, "gossip_messages_total{type=\"pong\",direction=\"out\"} 1\n"));
    cr_assert_not_null(strstr(t, "gossip_bans_total 1\n"));
    free(t);
}

Test(gossip_metrics, inv_to_getdata_is_one_relay_observation)
{
    peer_t p;
    memset(&p, 0, sizeof p);
    gmetrics_received(&p, PROTO_MSG_GETDATA, 40, 500); /* no inv before: not timed */
    gmetrics_sent(&p, PROTO_MSG_INV, 40, 1000);
    gmetrics_sent(&p, PROTO_MSG_INV, 40, 1002); /* the clock keeps the first */
    gmetrics_received(&p, PROTO_MSG_GETDATA, 40, 1003);
    char *t = render();
    cr_assert_not_null(strstr(t, "gossip_relay_latency_seconds_bucket{le=\"0.001\"} 0\n"));
    cr_assert_not_null(strstr(t, "gossip_relay_latency_seconds_bucket{le=\"0.005\"} 1\n"));
    cr_assert_not_null(strstr(t, "gossip_relay_latency_seconds_count 1\n"));
    cr_assert_eq(p.inv_sent_ms, 0);
    free(t);
}
