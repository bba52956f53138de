/* SPDX-License-Identifier: MIT */
/*
 * The tiny_mp_cache._native module: its init (types, exceptions,
 * constants), settings(), and the at-fork hook that marks the parent's
 * Connections in a child process.
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>

#include "native.h"
#include "server.h"
#include "settings.h"

PyMODINIT_FUNC PyInit__native(void);

/* The exception types of the module (see __init__.py for the public
 * names): set up once in PyInit__native. */
PyObject *native_protocol_error;

/* The internal exceptions of Connection (set up in PyInit__native). */
PyObject *native_stale_error;           /* nothing sent: (re)connect */
PyObject *native_forked_error;          /* made before a fork() */
PyObject *native_closed_error;          /* EOF: a ConnectionError */

/* fork()s this process descends through: bumped in each child by
 * native_after_fork (registered with os.register_at_fork). The GIL
 * guards it. */
unsigned long native_forks;

/* In a child process after fork() (os.register_at_fork): every
 * Connection made before now belongs to a parent. */
static PyObject *
native_after_fork(PyObject *module, PyObject *unused)
{
	native_forks++;
	Py_RETURN_NONE;
}

static PyMethodDef native_after_fork_def = {
	"after_fork_in_child", native_after_fork, METH_NOARGS,
	"Mark the Connections of the parent process (os.register_at_fork)."
};

/* Have native_after_fork run in each child of os.fork(). 0, or -1 with
 * an error. Without os.register_at_fork (not POSIX) there is no fork. */
static int
native_register_at_fork(void)
{
	static int done;
	PyObject *os, *reg, *func = NULL, *args = NULL, *kw = NULL, *r = NULL;
	int rc = -1;

	if (done)
		return 0;
	if ((os = PyImport_ImportModule("os")) == NULL)
		return -1;
	if ((reg = PyObject_GetAttrString(os, "register_at_fork")) == NULL) {
		Py_DECREF(os);
		if (!PyErr_ExceptionMatches(PyExc_AttributeError))
			return -1;
		PyErr_Clear();
		return 0;
	}
	if ((func = PyCFunction_New(&native_after_fork_def, NULL)) != NULL &&
	    (args = PyTuple_New(0)) != NULL &&
	    (kw = Py_BuildValue("{s:O}", "after_in_child", func)) != NULL &&
	    (r = PyObject_Call(reg, args, kw)) != NULL) {
		done = 1;
		rc = 0;
	}
	Py_XDECREF(r);
	Py_XDECREF(kw);
	Py_XDECREF(args);
	Py_XDECREF(func);
	Py_DECREF(reg);
	Py_DECREF(os);
	return rc;
}

PyDoc_STRVAR(native_settings_doc,
"settings() -> tuple[tuple[str, str, str, bool, str], ...]\n"
"--\n\n"
"The server settings Server() takes as keyword arguments: for each, its\n"
"keyword (the server's option with '_' for '-'), its kind ('bool',\n"
"'int', 'octal', 'memory', 'enum', 'str' or 'buffer-limit'), its\n"
"default as the server shows it, whether CONFIG SET may change it while\n"
"the server runs, and one line of help.");

static PyObject *
native_settings(PyObject *module, PyObject *unused)
{
	static const char *const kinds[] = {
		[SETTING_BOOL] = "bool", [SETTING_INT] = "int",
		[SETTING_OCTAL] = "octal", [SETTING_MEMORY] = "memory",
		[SETTING_ENUM] = "enum", [SETTING_STRING] = "str",
		[SETTING_OBUF] = "buffer-limit", [SETTING_FIXED] = "str",
	};
	struct server_config cfg;
	const struct setting *s;
	char kw[64], value[SETTING_VALUE_MAX];
	PyObject *list, *row, *out;
	size_t i;

	(void)module;
	(void)unused;
	if ((list = PyList_New(0)) == NULL)
		return NULL;
	server_config_init(&cfg);
	for (s = settings_table; s->name != NULL; s++) {
		/* The rows Server() takes: options with help, but the
		 * address, which are port= and host=. */
		if (s->help == NULL || s->id == S_PORT || s->id == S_BIND)
			continue;
		for (i = 0; s->name[i] != '\0' && i < sizeof(kw) - 1; i++)
			kw[i] = s->name[i] == '-' ? '_' : s->name[i];
		kw[i] = '\0';
		/* dir has no default: the working directory, whatever it
		 * is when the server starts. */
		row = Py_BuildValue("(sssOs)", kw, kinds[s->type],
		    s->id == S_DIR ? "" :
		    settings_format(&cfg, s, value, sizeof(value)),
		    (s->flags & (SETTING_IMMUTABLE | SETTING_PROTECTED)) ?
		    Py_False : Py_True,
		    s->help);
		if (row == NULL || PyList_Append(list, row) == -1) {
			Py_XDECREF(row);
			Py_DECREF(list);
			server_config_free(&cfg);
			return NULL;
		}
		Py_DECREF(row);
	}
	server_config_free(&cfg);
	out = PyList_AsTuple(list);
	Py_DECREF(list);
	return out;
}

static PyMethodDef native_methods[] = {
	{ "pack_command", (PyCFunction)(void (*)(void))native_pack_command,
	    METH_FASTCALL, native_pack_command_doc },
	{ "settings", native_settings, METH_NOARGS, native_settings_doc },
	{ "parse_command_line", native_parse_command_line, METH_VARARGS,
	    native_parse_command_line_doc },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef native_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "tiny_mp_cache._native",
	.m_doc = "The embedded tiny-mp-cache server and the client's RESP "
	    "codec and connection (internal: use the tiny_mp_cache package).",
	.m_size = -1,
	.m_methods = native_methods,
};

/* Make *exc (once) and add it to m as name. 0, or -1 with an error. */
static int
native_add_exception(PyObject *m, PyObject **exc, const char *name,
    const char *doc, PyObject *base)
{
	char full[128];

	if (*exc == NULL) {
		snprintf(full, sizeof full, "tiny_mp_cache._native.%s", name);
		*exc = PyErr_NewExceptionWithDoc(full, doc, base, NULL);
		if (*exc == NULL)
			return -1;
	}
	Py_INCREF(*exc);
	if (PyModule_AddObject(m, name, *exc) < 0) {
		Py_DECREF(*exc);
		return -1;
	}
	return 0;
}

/* Add type to m under its short name. 0, or -1 with an error. */
static int
native_add_type(PyObject *m, const char *name, PyTypeObject *type)
{
	Py_INCREF(type);
	if (PyModule_AddObject(m, name, (PyObject *)type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	return 0;
}

/* Make the module: its types, exceptions and constants. */
PyMODINIT_FUNC
PyInit__native(void)
{
	PyObject *m, *idle;

	if (PyType_Ready(&native_server_type) < 0 ||
	    PyType_Ready(&native_reader_type) < 0 ||
	    PyType_Ready(&native_lock_type) < 0 ||
	    PyType_Ready(&native_conn_type) < 0)
		return NULL;
	if (native_register_at_fork() < 0)
		return NULL;
	if (native_str_ok == NULL &&
	    (native_str_ok = PyUnicode_InternFromString("OK")) == NULL)
		return NULL;
	if ((m = PyModule_Create(&native_module)) == NULL)
		return NULL;
	if (native_add_exception(m, &native_protocol_error, "ProtocolError",
	    "The server's reply is not valid RESP2.", NULL) < 0 ||
	    native_add_exception(m, &native_stale_error, "ConnectionStale",
	    "Internal: the command was not sent; (re)connect and send it.",
	    NULL) < 0 ||
	    native_add_exception(m, &native_forked_error, "ConnectionForked",
	    "Internal: the Connection was inherited through fork(); nothing "
	    "was sent.", NULL) < 0 ||
	    native_add_exception(m, &native_closed_error, "ConnectionClosed",
	    "The server closed the connection before the reply was complete.",
	    PyExc_ConnectionError) < 0)
		goto fail;
	if (native_add_type(m, "Server", &native_server_type) < 0 ||
	    native_add_type(m, "ReplyReader", &native_reader_type) < 0 ||
	    native_add_type(m, "Lock", &native_lock_type) < 0 ||
	    native_add_type(m, "Connection", &native_conn_type) < 0)
		goto fail;
	if (PyModule_AddStringConstant(m, "SERVER_VERSION",
	    server_version()) < 0 ||
	    PyModule_AddIntConstant(m, "DEFAULT_PORT",
	    SERVER_PORT_DEFAULT) < 0 ||
	    PyModule_AddIntConstant(m, "CMD_DECODE", NATIVE_CMD_DECODE) < 0 ||
	    PyModule_AddIntConstant(m, "CMD_IDLE_CHECK",
	    NATIVE_CMD_IDLE_CHECK) < 0 ||
	    PyModule_AddIntConstant(m, "CMD_MANY", NATIVE_CMD_MANY) < 0 ||
	    PyModule_AddIntConstant(m, "CMD_LOCKED", NATIVE_CMD_LOCKED) < 0)
		goto fail;
	if ((idle = PyFloat_FromDouble((double)NATIVE_IDLE_NS / 1e9)) == NULL)
		goto fail;
	if (PyModule_AddObject(m, "IDLE_CHECK_SECONDS", idle) < 0) {
		Py_DECREF(idle);
		goto fail;
	}
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
