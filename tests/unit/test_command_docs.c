/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for command_docs.c against the command table: every command
 * and subcommand has a documentation row and every row a command; the
 * rows are sorted (command_doc_find searches them) and well formed; and
 * each row's key specs give the command's first/last/step and movablekeys
 * flag the way Redis 7.0 derives them, so a row and its documentation
 * cannot drift apart even where no reference server can tell.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "command_docs.h"
#include "commands.h"
#include "tap.h"

/* Argument types COMMAND DOCS knows. */
static const char *const arg_types[] = {
	"string", "integer", "double", "key", "pattern", "unix-time",
	"pure-token", "oneof", "block", NULL,
};

/* Number of key specs in a row. */
static int
spec_count(const struct command_doc *d)
{
	int n = 0;

	while (d->key_specs != NULL && d->key_specs[n].begin != 0)
		n++;
	return n;
}

/* Whether an argument list is well formed (recursively): a name, a known
 * type, members exactly for "oneof" and "block", key spec indexes in
 * range, known flags. Reports the first fault with diag(). */
static int
args_ok(const char *cmd, const struct doc_arg *args, int nspecs)
{
	const struct doc_arg *a;
	int i, known, container;

	for (a = args; a->name != NULL; a++) {
		for (known = 0, i = 0; arg_types[i] != NULL; i++)
			known |= a->type != NULL &&
			    strcmp(a->type, arg_types[i]) == 0;
		if (!known) {
			diag("%s %s: type %s", cmd, a->name,
			    a->type != NULL ? a->type : "(null)");
			return 0;
		}
		container = strcmp(a->type, "oneof") == 0 ||
		    strcmp(a->type, "block") == 0;
		if (container != (a->sub != NULL) ||
		    (a->sub != NULL && a->sub[0].name == NULL)) {
			diag("%s %s: members and type disagree", cmd, a->name);
			return 0;
		}
		if (a->key_spec < 0 || a->key_spec > nspecs ||
		    (strcmp(a->type, "key") == 0 && a->key_spec == 0)) {
			diag("%s %s: key spec %d of %d", cmd, a->name,
			    a->key_spec - DOC_KEY_SPEC(0), nspecs);
			return 0;
		}
		if (a->flags & ~(DOC_ARG_OPTIONAL | DOC_ARG_MULTIPLE |
		    DOC_ARG_MULTIPLE_TOKEN)) {
			diag("%s %s: flags %#x", cmd, a->name, a->flags);
			return 0;
		}
		if (a->sub != NULL && !args_ok(cmd, a->sub, nspecs))
			return 0;
	}
	return 1;
}

/* Whether a row's key specs are well formed: known kinds, flags, a
 * keyword where the search needs one. */
static int
specs_ok(const struct command_doc *d)
{
	const struct doc_key_spec *ks;

	for (ks = d->key_specs; ks != NULL && ks->begin != 0; ks++) {
		if (ks->begin > DOC_BEGIN_UNKNOWN ||
		    ks->find < DOC_FIND_RANGE || ks->find > DOC_FIND_UNKNOWN ||
		    ks->flags == 0 ||
		    ks->flags >= DOC_KEY_VARIABLE_FLAGS << 1 ||
		    (ks->begin == DOC_BEGIN_KEYWORD && ks->keyword == NULL)) {
			diag("%s: key spec %d", d->name,
			    (int)(ks - d->key_specs));
			return 0;
		}
	}
	return 1;
}

/*
 * The legacy key range (COMMAND INFO's first key, last key, step) and
 * movablekeys flag that Redis 7.0 derives from key specs
 * (populateCommandLegacyRangeSpec): the one index+range spec as it is,
 * or the union of consecutive step-1 index+range specs; any other spec,
 * or an incomplete one used, makes the keys movable.
 */
static void
legacy_range(const struct command_doc *d, int *first, int *last, int *step,
    int *movable)
{
	const struct doc_key_spec *ks = d != NULL ? d->key_specs : NULL;
	int lo = INT_MAX, prev = 0, abs_last;
	unsigned hi = 0;

	*first = *last = *step = *movable = 0;
	if (ks == NULL || ks->begin == 0)
		return;
	if (ks[1].begin == 0 && ks->begin == DOC_BEGIN_INDEX &&
	    ks->find == DOC_FIND_RANGE) {
		*first = ks->index;
		*last = ks->lastkey < 0 ? ks->lastkey : ks->index + ks->lastkey;
		*step = ks->keystep;
		*movable = (ks->flags & DOC_KEY_INCOMPLETE) != 0;
		return;
	}
	for (; ks->begin != 0; ks++) {
		if (ks->begin != DOC_BEGIN_INDEX ||
		    ks->find != DOC_FIND_RANGE || ks->keystep != 1 ||
		    (prev != 0 && prev != ks->index - 1)) {
			*movable = 1;
			continue;
		}
		if (ks->flags & DOC_KEY_INCOMPLETE)
			*movable = 1;
		if (ks->index < lo)
			lo = ks->index;
		abs_last = ks->lastkey >= 0 ? ks->lastkey + ks->index :
		    ks->lastkey;
		/* Unsigned, as Redis compares: a negative last key wins. */
		if ((unsigned)abs_last > hi)
			hi = (unsigned)abs_last;
		prev = (int)hi;
	}
	if (lo == INT_MAX) {
		*movable = 1;
		return;
	}
	*first = lo;
	*last = (int)hi;
	*step = 1;
}

/* Check one command or subcommand against its documentation row. */
static void
check_command(const struct command *cmd, void *arg)
{
	const struct command_doc *d;
	int first, last, step, movable;
	char full[64];

	(void)arg;
	command_fullname(cmd, full);
	d = command_doc_find(full);
	if (!ok(d != NULL, "%s has a documentation row", full))
		return;
	ok(d->summary != NULL && d->since != NULL && d->group != NULL,
	    "%s: summary, since, group", full);
	ok(args_ok(full, d->args != NULL ? d->args :
	    &(const struct doc_arg){ .name = NULL }, spec_count(d)),
	    "%s: arguments well formed", full);
	ok(specs_ok(d), "%s: key specs well formed", full);
	legacy_range(d, &first, &last, &step, &movable);
	ok(cmd->first_key == first && cmd->last_key == last &&
	    cmd->key_step == step, "%s: keys %d %d %d as its key specs say",
	    full, cmd->first_key, cmd->last_key, cmd->key_step);
	if (first != cmd->first_key || last != cmd->last_key ||
	    step != cmd->key_step)
		diag("  key specs give %d %d %d", first, last, step);
	ok(((cmd->flags & CMD_MOVABLEKEYS) != 0) == movable,
	    "%s: movablekeys %s, as its key specs say", full,
	    movable ? "set" : "clear");
}

int
main(void)
{
	size_t i;

	commands_init();
	ok(command_docs_count > 0, "%zu documentation rows",
	    command_docs_count);
	for (i = 1; i < command_docs_count; i++)
		if (!ok(strcmp(command_docs[i - 1].name,
		    command_docs[i].name) < 0, "rows sorted: %s < %s",
		    command_docs[i - 1].name, command_docs[i].name))
			break;
	for (i = 0; i < command_docs_count; i++) {
		const char *name = command_docs[i].name;

		ok(command_lookup_full(name, strlen(name)) != NULL,
		    "row %s names a command", name);
		ok(command_doc_find(name) == &command_docs[i],
		    "command_doc_find(%s)", name);
	}
	ok(command_doc_find("nosuch") == NULL, "no row for nosuch");
	ok(command_doc_find("config|nosuch") == NULL,
	    "no row for config|nosuch");
	commands_foreach(check_command, NULL);
	return done_testing();
}
