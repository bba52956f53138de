/* SPDX-License-Identifier: MIT */
/*
 * CONFIG GET, SET, RESETSTAT and HELP over the settings table
 * (settings.h), with Redis 7.0's replies and error texts.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "commands.h"
#include "glob.h"
#include "mem.h"
#include "resp.h"
#include "settings.h"
#include "state.h"

/* CONFIG's subcommands: rows as in the family tables (commands.c), with
 * Redis 7.0's arities. */
struct command command_config_sub[] = {
	{ "get", -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_get, 0, 0, 0, "@admin @slow @dangerous", NULL, "config",
	  0 },
	{ "set", -4, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_set, 0, 0, 0, "@admin @slow @dangerous", NULL, "config",
	  0 },
	{ "resetstat", 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_resetstat, 0, 0, 0, "@admin @slow @dangerous", NULL,
	  "config", 0 },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_config_help, 0, 0, 0,
	  "@slow", NULL, "config", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* CONFIG's row (see commands.c for the fields). */
struct command config_commands[] = {
	{ "config", -2, 0, NULL, 0, 0, 0, "@slow", command_config_sub, NULL,
	  0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* Whether the argument holds one of the glob characters Redis looks for
 * (up to a NUL byte, as strpbrk would). */
static int
config_is_pattern(const struct resp_arg *a)
{
	size_t i, n = (size_t)arg_cstrlen(a);

	for (i = 0; i < n; i++)
		if (a->ptr[i] == '*' || a->ptr[i] == '?' || a->ptr[i] == '[')
			return 1;
	return 0;
}

/* Every name CONFIG GET knows: each setting's name, then its alias. */
struct config_name {
	const struct setting *s;
	const char *name;
};

/* Fill names (room for twice the settings); returns how many. */
static size_t
config_names(struct config_name *names)
{
	const struct setting *s;
	size_t n = 0;

	for (s = settings_table; s->name != NULL; s++) {
		names[n].s = s;
		names[n++].name = s->name;
		if (s->alias != NULL) {
			names[n].s = s;
			names[n++].name = s->alias;
		}
	}
	return n;
}

/*
 * CONFIG GET pattern [pattern ...]: name/value pairs, each name once (an
 * alias is a name of its own, as in Redis). A name without glob
 * characters is looked up directly and answered under the spelling
 * given, a pattern matches (ignoring case) and answers with the
 * canonical names, as Redis 7.0 does. Redis's pairs come in hash order;
 * ours in the order of the patterns and the table.
 */
void
cmd_config_get(struct client *c)
{
	size_t max = settings_count() * 2, count, n = 0, i, j;
	struct config_name *names = mem_alloc(max * sizeof(*names));
	const struct resp_arg **shown;
	size_t *order = mem_alloc(max * sizeof(*order));
	char value[SETTING_VALUE_MAX];
	int k;

	count = config_names(names);
	shown = mem_calloc(count, sizeof(*shown));
	for (k = 2; k < c->argc && n < count; k++) {
		const struct resp_arg *a = &c->argv[k];
		int pattern = config_is_pattern(a);

		for (i = 0; i < count; i++) {
			const char *nm = names[i].name;

			if (pattern ? !glob_match(a->ptr, a->len, nm,
			    strlen(nm), 1) : strlen(nm) != a->len ||
			    strncasecmp(nm, a->ptr, a->len) != 0)
				continue;
			for (j = 0; j < n && order[j] != i; j++)
				;
			if (j == n) {
				order[n++] = i;
				if (!pattern)
					shown[i] = a;
			}
		}
	}
	resp_add_array_len(&c->reply, (long long)n * 2);
	for (j = 0; j < n; j++) {
		i = order[j];
		if (shown[i] != NULL)
			resp_add_bulk(&c->reply, shown[i]->ptr, shown[i]->len);
		else
			resp_add_bulk_str(&c->reply, names[i].name);
		resp_add_bulk_str(&c->reply, settings_format(&c->srv->cfg,
		    names[i].s, value, sizeof(value)));
	}
	mem_free(names);
	mem_free(shown);
	mem_free(order);
}

/* Reply Redis's CONFIG SET failure for setting name. */
static void
config_set_failed(struct client *c, const char *name, int nlen,
    const char *why)
{
	resp_add_errorf(&c->reply, "CONFIG SET failed (possibly related to "
	    "argument '%.*s') - %s", nlen, name, why);
}

/*
 * CONFIG SET name value [name value ...]: all or nothing. Names are
 * checked first (unknown, immutable, given twice), then every value,
 * then all are stored and applied; if one cannot take effect the old
 * settings come back. The first problem is reported with Redis 7.0's
 * text.
 */
void
cmd_config_set(struct client *c)
{
	const struct setting **params = NULL;
	struct setting_value *values = NULL;
	struct server_config backup;
	char why[SETTING_ERR_LEN], again[SETTING_ERR_LEN];
	int npairs, i, j;

	if ((c->argc - 2) % 2 != 0) {
		reply_syntax_error(c);
		return;
	}
	npairs = (c->argc - 2) / 2;
	params = mem_alloc((size_t)npairs * sizeof(*params));
	values = mem_alloc((size_t)npairs * sizeof(*values));
	for (i = 0; i < npairs; i++) {
		const struct resp_arg *name = &c->argv[2 + i * 2];
		const char *reason = NULL;

		params[i] = settings_find(name->ptr, name->len);
		if (params[i] == NULL) {
			resp_add_errorf(&c->reply, "Unknown option or number "
			    "of arguments for CONFIG SET - '%.*s'",
			    arg_cstrlen(name), name->ptr);
			goto done;
		}
		if (params[i]->flags & SETTING_IMMUTABLE)
			reason = "can't set immutable config";
		else if (params[i]->flags & SETTING_PROTECTED)
			reason = "can't set protected config";
		for (j = 0; j < i && reason == NULL; j++)
			if (params[j] == params[i])
				reason = "duplicate parameter";
		if (reason != NULL) {
			config_set_failed(c, name->ptr, arg_cstrlen(name),
			    reason);
			goto done;
		}
	}
	for (i = 0; i < npairs; i++) {
		const struct resp_arg *v = &c->argv[3 + i * 2];

		if (settings_parse(params[i], v->ptr, v->len, 1, &values[i],
		    why) == -1) {
			config_set_failed(c, params[i]->name,
			    (int)strlen(params[i]->name), why);
			goto done;
		}
	}
	server_config_copy(&backup, &c->srv->cfg);
	for (i = 0; i < npairs; i++)
		settings_store(&c->srv->cfg, params[i], &values[i]);
	for (i = 0; i < npairs; i++) {
		if (server_apply_setting(c->srv, params[i]->id, why) == 0)
			continue;
		/* Put everything back as it was: the settings applied
		 * before this one are applied again with their old values;
		 * this one did not take effect. */
		server_config_free(&c->srv->cfg);
		c->srv->cfg = backup;
		for (j = 0; j < i; j++)
			server_apply_setting(c->srv, params[j]->id, again);
		config_set_failed(c, params[i]->name,
		    (int)strlen(params[i]->name), why);
		goto done;
	}
	server_config_free(&backup);
	resp_add_ok(&c->reply);
done:
	mem_free(params);
	mem_free(values);
}

/* CONFIG RESETSTAT: zero the counters INFO reports, as Redis does. */
void
cmd_config_resetstat(struct client *c)
{
	server_reset_stats(c->srv);
	resp_add_ok(&c->reply);
}

/* CONFIG HELP: Redis's text for the subcommands we have. */
void
cmd_config_help(struct client *c)
{
	static const char *const lines[] = {
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and "
		"their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		NULL,
	};

	reply_help(c, "CONFIG", lines);
}
