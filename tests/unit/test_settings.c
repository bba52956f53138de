/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for settings.c: the table is sound (sorted, every default
 * parses and shows as it was given), each type parses as Redis 7.0's
 * CONFIG SET does (memtoull for memory values, the reasons' words),
 * client-output-buffer-limit keeps the classes not named, and configs
 * copy and free without leaks.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "settings.h"
#include "tap.h"

/* Parse v for the setting called name at run time; returns 0 or -1, the
 * reason in err. */
static int
parse(const char *name, const char *v, struct setting_value *out,
    char *err)
{
	const struct setting *s = settings_find(name, strlen(name));

	if (s == NULL) {
		snprintf(err, SETTING_ERR_LEN, "no such setting");
		return -1;
	}
	return settings_parse(s, v, strlen(v), 1, out, err);
}

/* 1 if v is refused for name with exactly the reason want. */
static int
refused(const char *name, const char *v, const char *want)
{
	struct setting_value out;
	char err[SETTING_ERR_LEN];

	if (parse(name, v, &out, err) == 0)
		return 0;
	if (strcmp(err, want) != 0) {
		diag("  %s '%s': got '%s'", name, v, err);
		return 0;
	}
	return 1;
}

/* The number v parses to for name (LLONG_MIN if refused). */
static long long
number(const char *name, const char *v)
{
	struct setting_value out;
	char err[SETTING_ERR_LEN];

	return parse(name, v, &out, err) == 0 ? out.num : LLONG_MIN;
}

static void
test_table(void)
{
	const struct setting *s, *prev = NULL;
	struct server_config cfg;
	char buf[SETTING_VALUE_MAX];
	int sorted = 1, shown = 1;

	server_config_init(&cfg);
	for (s = settings_table; s->name != NULL; prev = s, s++) {
		if (prev != NULL && strcmp(prev->name, s->name) >= 0)
			sorted = 0;
		if (s->type == SETTING_FIXED || s->id == S_EVENT_BACKEND ||
		    s->def == NULL)
			continue;
		settings_format(&cfg, s, buf, sizeof(buf));
		/* Memory defaults are given with units; the rest as shown. */
		if (s->type != SETTING_MEMORY && s->type != SETTING_OBUF &&
		    strcmp(buf, s->def) != 0) {
			diag("  %s: default '%s' shows as '%s'", s->name, s->def,
			    buf);
			shown = 0;
		}
	}
	ok(sorted, "the table is sorted by name (CONFIG GET * order)");
	ok(shown, "every default shows as it is written");
	is_int(cfg.port, 5002, "port 5002");
	is_int(cfg.proto_max_bulk_len, 512LL * 1024 * 1024, "512mb");
	is_int(cfg.obuf[OBUF_NORMAL].hard, 1024LL * 1024 * 1024,
	    "normal clients: 1gb hard limit");
	is_int(cfg.obuf[OBUF_REPLICA].soft_seconds, 60, "slave: Redis's 60 s");
	ok(cfg.bind != NULL && strcmp(cfg.bind, "127.0.0.1") == 0,
	    "bind 127.0.0.1");
	ok(cfg.requirepass == NULL && cfg.unixsocket == NULL,
	    "empty strings are unset");
	is_int(cfg.maxmemory_policy, MM_NOEVICTION, "noeviction");
	ok(settings_find("MAXMEMORY-policy", 16) != NULL,
	    "names in any case");
	ok(settings_find("maxmemory_policy", 16) == NULL,
	    "CONFIG names use '-' only");
	server_config_free(&cfg);
}

static void
test_numbers(void)
{
	is_int(number("hz", "100"), 100, "hz 100");
	ok(refused("hz", "abc", "argument couldn't be parsed into an integer"),
	    "hz abc");
	ok(refused("hz", "-1", "argument must be between 0 and 2147483647 "
	    "inclusive"), "hz -1");
	ok(refused("hz", "+5", "argument couldn't be parsed into an integer"),
	    "a '+' sign is not an integer (string2ll)");
	ok(refused("hz", "05", "argument couldn't be parsed into an integer"),
	    "nor a leading zero");
	ok(refused("active-expire-effort", "11", "argument must be between 1 "
	    "and 10 inclusive"), "effort 11");
	ok(refused("maxclients", "0", "argument must be between 1 and "
	    "4294967295 inclusive"), "maxclients 0");
	ok(refused("port", "-1", "argument must be between 0 and 65535 "
	    "inclusive"), "CONFIG SET port -1 (Redis's range)");
	{
		const struct setting *s = settings_find("port", 4);
		struct setting_value v;
		char err[SETTING_ERR_LEN];

		ok(settings_parse(s, "-1", 2, 0, &v, err) == 0 && v.num == -1,
		    "--port -1 at startup: no TCP");
	}
	is_int(number("unixsocketperm", "770"), 0770, "octal");
	ok(refused("unixsocketperm", "1000", "argument must be between 0 and "
	    "777 inclusive"), "octal range shown in octal");
	ok(refused("unixsocketperm", "8", "argument couldn't be parsed into an "
	    "integer"), "8 is not octal");
}

static void
test_memory(void)
{
	unsigned long long u;

	is_int(number("maxmemory", "1kb"), 1024, "kb = 1024");
	is_int(number("maxmemory", "1K"), 1000, "k = 1000, any case");
	is_int(number("maxmemory", "2GB"), 2LL << 30, "GB");
	is_int(number("maxmemory", ""), 0, "empty is 0 (memtoull)");
	is_int(number("maxmemory", "kb"), 0, "a unit alone is 0");
	is_int(number("maxmemory", "00100"), 100, "leading zeros are fine");
	ok(refused("maxmemory", "-1", "argument must be a memory value"),
	    "no sign");
	ok(refused("maxmemory", "1.5mb", "argument must be a memory value"),
	    "no fraction");
	ok(refused("maxmemory", " 1", "argument must be a memory value"),
	    "no space");
	ok(refused("maxmemory", "1gbb", "argument must be a memory value"),
	    "no unknown unit");
	is_int((unsigned long long)number("maxmemory",
	    "18446744073709551615"), 18446744073709551615ULL,
	    "maxmemory takes any unsigned 64-bit value");
	is_int((unsigned long long)number("maxmemory",
	    "99999999999999999999"), 18446744073709551615ULL,
	    "too big saturates, as strtoull");
	ok(refused("proto-max-bulk-len", "9223372036854775808", "argument "
	    "must be between 1048576 and 9223372036854775807 inclusive"),
	    "a signed memory setting refuses what does not fit");
	ok(refused("proto-max-bulk-len", "1kb", "argument must be between "
	    "1048576 and 9223372036854775807 inclusive"), "1kb < 1mb");
	ok(settings_parse_memory("12mb", 4, &u) == 0 && u == 12ULL << 20,
	    "settings_parse_memory");
}

static void
test_words(void)
{
	ok(refused("protected-mode", "1", "argument must be 'yes' or 'no'"),
	    "bool");
	is_int(number("protected-mode", "No"), 0, "bool in any case");
	ok(refused("maxmemory-policy", "lru", "argument(s) must be one of the "
	    "following: volatile-lru, volatile-lfu, volatile-random, "
	    "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
	    "noeviction"), "enum: Redis's list");
	ok(refused("loglevel", "nothing", "argument(s) must be one of the "
	    "following: debug, verbose, notice, warning"),
	    "loglevel nothing only at startup (as Redis 7.0)");
	{
		const struct setting *s = settings_find("loglevel", 8);
		struct setting_value v;
		char err[SETTING_ERR_LEN];

		ok(settings_parse(s, "NOTHING", 7, 0, &v, err) == 0 &&
		    v.num == 4, "--loglevel nothing at startup, any case");
	}
	{
		const struct setting *s = settings_find("requirepass", 11);
		struct setting_value v;
		char err[SETTING_ERR_LEN];

		ok(settings_parse(s, "a\0b", 3, 1, &v, err) == -1 &&
		    strcmp(err, "argument must not contain NUL bytes") == 0,
		    "a password with a NUL byte is refused");
	}
}

static void
test_obuf(void)
{
	struct server_config cfg;
	const struct setting *s = settings_find("client-output-buffer-limit",
	    26);
	struct setting_value v;
	char err[SETTING_ERR_LEN], buf[SETTING_VALUE_MAX];
	const char *txt = "normal 1mb 512kb 30 pubsub 1 2 3";

	server_config_init(&cfg);
	ok(settings_parse(s, txt, strlen(txt), 1, &v, err) == 0,
	    "Redis's syntax parses");
	settings_store(&cfg, s, &v);
	settings_format(&cfg, s, buf, sizeof(buf));
	ok(strcmp(buf, "normal 1048576 524288 30 slave 268435456 67108864 60 "
	    "pubsub 1 2 3") == 0, "classes not named keep their limits: %s",
	    buf);
	ok(settings_parse(s, "64mb", 4, 0, &v, err) == 0, "one size: the "
	    "normal class's hard limit");
	settings_store(&cfg, s, &v);
	ok(cfg.obuf[OBUF_NORMAL].hard == 64LL << 20 &&
	    cfg.obuf[OBUF_NORMAL].soft == 0 && cfg.obuf[OBUF_PUBSUB].hard == 1,
	    "stored");
	ok(refused("client-output-buffer-limit", "normal 1 2", "Wrong number "
	    "of arguments in buffer limit configuration."), "3 words");
	ok(refused("client-output-buffer-limit", "foo 1 2 3", "Invalid client "
	    "class specified in buffer limit configuration."), "class");
	ok(refused("client-output-buffer-limit", "normal 1 2 x", "Error in "
	    "hard, soft or soft_seconds setting in buffer limit "
	    "configuration."), "seconds");
	ok(settings_parse(s, "replica 1 2 3", 13, 1, &v, err) == 0 &&
	    (v.obuf_given & (1 << OBUF_REPLICA)), "replica names the slave "
	    "class");
	server_config_free(&cfg);
}

static void
test_config_set_and_copy(void)
{
	struct server_config a, b;
	char err[SETTING_ERR_LEN];
	size_t used0 = mem_used();

	server_config_init(&a);
	ok(server_config_set(&a, "maxmemory_policy", "allkeys-lru", 11,
	    err) == 0 && a.maxmemory_policy == MM_ALLKEYS_LRU,
	    "'_' for '-' (the Python keywords)");
	ok(server_config_set(&a, "requirepass", "pw", 2, err) == 0 &&
	    strcmp(a.requirepass, "pw") == 0, "a string is copied");
	ok(server_config_set(&a, "nosuch", "1", 1, err) == -1 &&
	    strcmp(err, "unknown setting") == 0, "unknown setting");
	ok(server_config_set(&a, "hz", "x", 1, err) == -1 &&
	    strcmp(err, "argument couldn't be parsed into an integer") == 0,
	    "the reason is Redis's");
	server_config_copy(&b, &a);
	ok(b.requirepass != a.requirepass && strcmp(b.requirepass, "pw") == 0,
	    "copy is deep");
	server_config_set(&a, "requirepass", "", 0, err);
	ok(a.requirepass == NULL && strcmp(b.requirepass, "pw") == 0,
	    "emptied in one, kept in the copy");
	server_config_free(&a);
	server_config_free(&b);
	is_int(mem_used(), used0, "free releases every string");
}

int
main(void)
{
	test_table();
	test_numbers();
	test_memory();
	test_words();
	test_obuf();
	test_config_set_and_copy();
	return done_testing();
}
