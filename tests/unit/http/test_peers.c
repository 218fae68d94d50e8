/* Unit tests for peers.c: connections are counted per client IP (not port), the limit refuses
 * without counting, an address's entry goes when its last connection does, and 0 means no limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "profgate/peers.h"

static pg_peer_key v4(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    pg_peer_key k;
    assert_true(pg_peer_key_of(&ss, &k));
    return k;
}

static void test_counts_per_address(void **state)
{
    (void)state;
    pg_peers *p = pg_peers_new();
    pg_peer_key a1 = v4("10.0.0.1", 1000), a2 = v4("10.0.0.1", 2000), b = v4("10.0.0.2", 1000);
    assert_true(pg_peers_add(p, &a1, 2));
    assert_true(pg_peers_add(p, &a2, 2)); /* another port, the same client */
    assert_false(pg_peers_add(p, &a1, 2));
    assert_int_equal(pg_peers_count(p, &a1), 2); /* the refusal counted nothing */
    assert_true(pg_peers_add(p, &b, 2));       /* another address has its own count */
    pg_peers_remove(p, &a2);
    assert_true(pg_peers_add(p, &a1, 2));
    pg_peers_remove(p, &a1);
    pg_peers_remove(p, &a1);
    assert_int_equal(pg_peers_count(p, &a1), 0);
    for (int i = 0; i < 5000; i++) /* 0: no limit */
        assert_true(pg_peers_add(p, &b, 0));
    assert_int_equal(pg_peers_count(p, &b), 5001);
    struct sockaddr_storage un = {.ss_family = AF_UNIX};
    pg_peer_key k;
    assert_false(pg_peer_key_of(&un, &k));
    pg_peers_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_counts_per_address)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
