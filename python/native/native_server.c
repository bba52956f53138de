/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native.Server: the embedded C server (server.h), bound
 * when the object is made, run with the GIL released, its log lines sent
 * to Python's logging and Python's signal handlers run on its tick.
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "native.h"
#include "server.h"
#include "settings.h"

#define NATIVE_TICK_MS 100            /* how often a server run in the main
                                       * thread looks for signals (bjoern's
                                       * SIGNAL_CHECK_INTERVAL) */

/*
 * A server that is created (sockets bound) when the object is made, runs
 * in the thread that calls run(), and can be stopped from any thread.
 */
struct native_server {
	PyObject_HEAD
	struct server *srv;            /* NULL once closed */
	int running;                   /* inside run() */
	int ran;                       /* run() has returned: no second run */
	int check_signals;             /* run() is in the main thread */
	PyObject *exc_type;            /* an exception raised by a Python */
	PyObject *exc_value;           /* signal handler during run(), to */
	PyObject *exc_tb;              /* re-raise when run() returns */
	PyObject *logger;              /* logging.getLogger("tiny_mp_cache") */
};

/*
 * The embedded server's log lines go to Python's logging, logger
 * "tiny_mp_cache" (any thread: the GIL is taken for the call): debug and
 * verbose as DEBUG, notice as INFO, warning as WARNING, except the ready
 * line, which is INFO (the server logs it at warning level so that a
 * command line with --loglevel warning still shows it). While Python
 * shuts down, lines go to standard error instead. Python code runs
 * here, so a signal handler may raise in it (KeyboardInterrupt, the
 * SIGTERM handler serve() installs): that exception is kept and the
 * server stopped, as the tick does; a failing logging handler is
 * reported and the server goes on.
 */
static void
native_log_sink(void *arg, enum log_level level, const char *msg)
{
	static const char ready[] = "Ready to accept connections";
	struct native_server *self = arg;
	PyObject *type, *value, *tb, *r;
	PyGILState_STATE gil;
	int pylevel = level <= LL_VERBOSE ? 10 : level == LL_NOTICE ? 20 : 30;

	if (strncmp(msg, ready, sizeof(ready) - 1) == 0)
		pylevel = 20;
#if PY_VERSION_HEX >= 0x030D0000
	if (Py_IsFinalizing()) {
#else
	if (_Py_IsFinalizing()) {
#endif
		fprintf(stderr, "tiny_mp_cache: %s\n", msg);
		return;
	}
	gil = PyGILState_Ensure();
	PyErr_Fetch(&type, &value, &tb);
	r = PyObject_CallMethod(self->logger, "log", "is", pylevel, msg);
	if (r == NULL) {
		if (PyErr_ExceptionMatches(PyExc_Exception))
			PyErr_WriteUnraisable(self->logger);
		else if (self->exc_type == NULL) {
			PyErr_Fetch(&self->exc_type, &self->exc_value,
			    &self->exc_tb);
			if (self->srv != NULL)
				server_stop(self->srv);
		} else
			PyErr_Clear();
	}
	Py_XDECREF(r);
	PyErr_Restore(type, value, tb);
	PyGILState_Release(gil);
}

/*
 * The server's tick, on the thread inside run() about every
 * NATIVE_TICK_MS. In the main thread it takes the GIL and lets Python
 * run its signal handlers; if one raises (KeyboardInterrupt, or the
 * SIGTERM handler serve() installs), the exception is kept and the
 * server asked to stop, and run() raises it once the loop has returned.
 */
static void
native_server_tick(void *arg)
{
	struct native_server *self = arg;
	PyGILState_STATE gil;

	if (!self->check_signals)
		return;
	gil = PyGILState_Ensure();
	if (self->exc_type == NULL && PyErr_CheckSignals() < 0) {
		PyErr_Fetch(&self->exc_type, &self->exc_value, &self->exc_tb);
		if (self->srv != NULL)
			server_stop(self->srv);
	}
	PyGILState_Release(gil);
}

/* The text CONFIG SET would take for a keyword argument's value, by the
 * setting's type; a new reference (str or bytes), NULL for None (the
 * default), or NULL with TypeError. */
static PyObject *
native_setting_text(const struct setting *s, const char *kw, PyObject *v)
{
	int is_int = PyLong_Check(v) && !PyBool_Check(v);
	const char *want;

	if (v == Py_None)
		return NULL;
	switch (s->type) {
	case SETTING_BOOL:
		if (PyBool_Check(v))
			return PyUnicode_FromString(v == Py_True ? "yes" : "no");
		want = "a bool";
		break;
	case SETTING_INT:
		if (is_int)
			return PyObject_Str(v);
		want = "an int";
		break;
	case SETTING_OCTAL:
		if (is_int) {
			char buf[32];
			long long n = PyLong_AsLongLong(v);

			if (n == -1 && PyErr_Occurred())
				return NULL;
			/* Negative: "-..." is refused by the parser. */
			snprintf(buf, sizeof(buf), "%s%llo", n < 0 ? "-" : "",
			    (unsigned long long)(n < 0 ? -n : n));
			return PyUnicode_FromString(buf);
		}
		want = "an int (an octal mode such as 0o700)";
		break;
	case SETTING_MEMORY:
	case SETTING_OBUF:
		if (is_int)
			return PyObject_Str(v);
		if (PyUnicode_Check(v))
			return Py_NewRef(v);
		want = "an int (bytes) or a str such as '100mb'";
		break;
	case SETTING_STRING:
		if (s->id == S_UNIXSOCKET || s->id == S_LOGFILE ||
		    s->id == S_DIR) {
			PyObject *path = NULL;

			if (PyUnicode_FSConverter(v, &path))
				return path;
			return NULL;
		}
		if (PyUnicode_Check(v))
			return Py_NewRef(v);
		want = "a str";
		break;
	default:
		if (PyUnicode_Check(v))
			return Py_NewRef(v);
		want = "a str";
		break;
	}
	PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", kw, want,
	    Py_TYPE(v)->tp_name);
	return NULL;
}

/* Set the setting a keyword argument names in cfg; 0, or -1 with
 * TypeError (unknown keyword, wrong type) or ValueError (bad value). */
static int
native_server_setting(struct server_config *cfg, PyObject *key,
    PyObject *value)
{
	const char *kw = PyUnicode_AsUTF8(key);
	char name[64], why[SETTING_ERR_LEN];
	const struct setting *s;
	PyObject *text;
	const char *p;
	Py_ssize_t n;
	size_t i;

	if (kw == NULL)
		return -1;
	for (i = 0; kw[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = kw[i] == '_' ? '-' : kw[i];
	name[i] = '\0';
	s = kw[i] == '\0' ? settings_find(name, i) : NULL;
	if (s == NULL || strchr(kw, '-') != NULL || s->help == NULL ||
	    s->id == S_BIND || s->id == S_PORT) {
		PyErr_Format(PyExc_TypeError, "Server() got an unexpected "
		    "keyword argument '%s'", kw);
		return -1;
	}
	/* Compatibility: 0 asked for the default bulk limit. */
	if (s->id == S_PROTO_MAX_BULK_LEN && PyLong_Check(value) &&
	    PyLong_AsLongLong(value) == 0)
		return 0;
	text = native_setting_text(s, kw, value);
	if (text == NULL)
		return PyErr_Occurred() ? -1 : 0;
	if (PyBytes_Check(text)) {
		p = PyBytes_AS_STRING(text);
		n = PyBytes_GET_SIZE(text);
	} else if ((p = PyUnicode_AsUTF8AndSize(text, &n)) == NULL) {
		Py_DECREF(text);
		return -1;
	}
	if (server_config_set(cfg, name, p, (size_t)n, why) == -1) {
		PyErr_Format(PyExc_ValueError, "invalid %s=%R: %s", kw, value,
		    why);
		Py_DECREF(text);
		return -1;
	}
	Py_DECREF(text);
	return 0;
}

static void native_server_release(struct native_server *self);
static int native_server_start(struct native_server *self,
    struct server_config *cfg);

/* Server(port=5002, *, host=..., **settings): check the options and bind. */
static int
native_server_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	struct native_server *self = (struct native_server *)obj;
	struct server_config cfg;
	PyObject *port_obj = NULL, *host = NULL, *key, *value;
	char why[SETTING_ERR_LEN];
	const char *host_s;
	Py_ssize_t pos = 0;
	long port = SERVER_PORT_DEFAULT;
	int rc = -1;

	if (self->srv != NULL || self->ran) {
		PyErr_SetString(PyExc_RuntimeError,
		    "Server.__init__ called twice");
		return -1;
	}
	if (!PyArg_ParseTuple(args, "|O:Server", &port_obj))
		return -1;
	if (kwds != NULL && (value = PyDict_GetItemString(kwds,
	    "port")) != NULL) {
		if (port_obj != NULL) {
			PyErr_SetString(PyExc_TypeError, "Server() got multiple "
			    "values for argument 'port'");
			return -1;
		}
		port_obj = value;
	}
	server_config_init(&cfg);
	if (port_obj != NULL) {
		if (!PyLong_Check(port_obj) || PyBool_Check(port_obj)) {
			PyErr_Format(PyExc_TypeError, "port must be an int, not "
			    "%.100s", Py_TYPE(port_obj)->tp_name);
			goto out;
		}
		port = PyLong_AsLong(port_obj);
		if (port == -1 && PyErr_Occurred())
			goto out;
	}
	if (port < -1 || port > 65535) {
		PyErr_Format(PyExc_ValueError,
		    "port must be 0..65535 (or -1 for no TCP), not %ld", port);
		goto out;
	}
	cfg.port = port;
	while (kwds != NULL && PyDict_Next(kwds, &pos, &key, &value)) {
		if (PyUnicode_Check(key) &&
		    PyUnicode_CompareWithASCIIString(key, "host") == 0) {
			host = value;
			continue;
		}
		if (PyUnicode_Check(key) &&
		    PyUnicode_CompareWithASCIIString(key, "port") == 0)
			continue;
		if (native_server_setting(&cfg, key, value) == -1)
			goto out;
	}
	if (host != NULL) {
		if (!PyUnicode_Check(host)) {
			PyErr_Format(PyExc_TypeError, "host must be a str, not "
			    "%.100s", Py_TYPE(host)->tp_name);
			goto out;
		}
		host_s = PyUnicode_AsUTF8(host);
		if (host_s == NULL ||
		    server_config_set(&cfg, "bind", host_s, strlen(host_s),
		    why) == -1) {
			if (!PyErr_Occurred())
				PyErr_Format(PyExc_ValueError, "invalid host=%R: "
				    "%s", host, why);
			goto out;
		}
	}
	if (port == -1 && cfg.unixsocket == NULL) {
		PyErr_SetString(PyExc_ValueError,
		    "port=-1 needs a unixsocket: nothing to listen on");
		goto out;
	}
	rc = native_server_start(self, &cfg);
out:
	server_config_free(&cfg);
	return rc;
}

/*
 * Create self's server from cfg (its options set): the log lines go to
 * logging unless cfg has a logfile, the tick runs signal handlers, and
 * the sockets are bound. 0, or -1 with an exception: OSError(errno,
 * message) when a listener failed (errno is EADDRINUSE for a taken
 * port), OSError(message) for any other reason.
 */
static int
native_server_start(struct native_server *self, struct server_config *cfg)
{
	char err[SERVER_ERR_LEN];
	struct server *srv;
	int saved_errno;

	if (cfg->logfile == NULL) {
		PyObject *logging = PyImport_ImportModule("logging");

		if (logging == NULL)
			return -1;
		Py_CLEAR(self->logger);
		self->logger = PyObject_CallMethod(logging, "getLogger", "s",
		    "tiny_mp_cache");
		Py_DECREF(logging);
		if (self->logger == NULL)
			return -1;
		cfg->log_sink = native_log_sink;
		cfg->log_sink_arg = self;
	}
	cfg->tick = native_server_tick;
	cfg->tick_arg = self;
	cfg->tick_ms = NATIVE_TICK_MS;

	/* Binding may resolve a host name: let other threads run. */
	Py_BEGIN_ALLOW_THREADS
	srv = server_create(cfg, err);
	saved_errno = errno;
	Py_END_ALLOW_THREADS
	if (srv == NULL) {
		/* The message may hold a path: decoded as file names are. */
		PyObject *msg = PyUnicode_DecodeFSDefault(err), *exc_args;

		if (msg == NULL)
			return -1;
		exc_args = saved_errno != 0 ?
		    Py_BuildValue("(iN)", saved_errno, msg) : msg;
		if (exc_args != NULL) {
			PyErr_SetObject(PyExc_OSError, exc_args);
			Py_DECREF(exc_args);
		}
		return -1;
	}
	self->srv = srv;
	/* A signal handler raised while the log sink ran (during a long
	 * load, say): close and raise it here. */
	if (self->exc_type != NULL) {
		native_server_release(self);
		PyErr_Restore(self->exc_type, self->exc_value, self->exc_tb);
		self->exc_type = self->exc_value = self->exc_tb = NULL;
		return -1;
	}
	return 0;
}

static void
native_server_release(struct native_server *self)
{
	struct server *srv = self->srv;

	if (srv == NULL)
		return;
	self->srv = NULL;
	Py_BEGIN_ALLOW_THREADS
	server_free(srv);
	Py_END_ALLOW_THREADS
}

/* Free a Server: close it if still open, drop a pending exception. */
static void
native_server_dealloc(PyObject *obj)
{
	struct native_server *self = (struct native_server *)obj;

	native_server_release(self);
	Py_CLEAR(self->logger);
	Py_CLEAR(self->exc_type);
	Py_CLEAR(self->exc_value);
	Py_CLEAR(self->exc_tb);
	Py_TYPE(obj)->tp_free(obj);
}

/* Say whether the calling thread is Python's main thread. -1 on error. */
static int
native_in_main_thread(void)
{
	PyObject *threading, *main, *cur;
	int res = -1;

	if ((threading = PyImport_ImportModule("threading")) == NULL)
		return -1;
	main = PyObject_CallMethod(threading, "main_thread", NULL);
	cur = PyObject_CallMethod(threading, "current_thread", NULL);
	if (main != NULL && cur != NULL)
		res = main == cur;
	Py_XDECREF(main);
	Py_XDECREF(cur);
	Py_DECREF(threading);
	return res;
}

PyDoc_STRVAR(native_server_run_doc,
"run()\n--\n\n"
"Serve until stop() is called, a SHUTDOWN command arrives or (in the\n"
"main thread) a Python signal handler raises; then re-raise that\n"
"exception. The GIL is released while serving. A server runs once.");

/* Server.run(): serve with the GIL released until stopped. */
static PyObject *
native_server_run(PyObject *obj, PyObject *unused)
{
	struct native_server *self = (struct native_server *)obj;
	int rc, main_thread;

	if (self->srv == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "the server is closed");
		return NULL;
	}
	if (self->running || self->ran) {
		PyErr_SetString(PyExc_RuntimeError, self->running ?
		    "the server is already running" :
		    "the server has already run; make a new one");
		return NULL;
	}
	if ((main_thread = native_in_main_thread()) < 0)
		return NULL;
	/* A signal that arrived before run() is handled before serving. */
	if (main_thread && PyErr_CheckSignals() < 0)
		return NULL;
	self->check_signals = main_thread;
	self->running = 1;
	Py_INCREF(obj);                /* close() cannot free it meanwhile */
	Py_BEGIN_ALLOW_THREADS
	rc = server_run(self->srv);
	Py_END_ALLOW_THREADS
	self->running = 0;
	self->ran = 1;
	self->check_signals = 0;
	if (self->exc_type != NULL) {
		PyErr_Restore(self->exc_type, self->exc_value, self->exc_tb);
		self->exc_type = self->exc_value = self->exc_tb = NULL;
		Py_DECREF(obj);
		return NULL;
	}
	Py_DECREF(obj);
	if (rc != 0) {
		PyErr_SetString(PyExc_OSError,
		    "the server's event loop failed (see its log)");
		return NULL;
	}
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_server_stop_doc,
"stop()\n--\n\n"
"Ask the server to stop; run() returns soon after. Safe from any thread\n"
"and from a signal handler; does nothing once the server is closed.");

/* Server.stop(): ask the loop to return (any thread). */
static PyObject *
native_server_stop(PyObject *obj, PyObject *unused)
{
	struct native_server *self = (struct native_server *)obj;

	if (self->srv != NULL)
		server_stop(self->srv);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_server_close_doc,
"close()\n--\n\n"
"Close every connection and listening socket and remove the Unix\n"
"socket file. Not while run() is serving: stop() it first.");

/* Server.close(): free the server unless it is running. */
static PyObject *
native_server_close(PyObject *obj, PyObject *unused)
{
	struct native_server *self = (struct native_server *)obj;

	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError,
		    "the server is running: stop() it and let run() return");
		return NULL;
	}
	native_server_release(self);
	Py_RETURN_NONE;
}

/* Server.__enter__: the server itself. */
static PyObject *
native_server_enter(PyObject *obj, PyObject *unused)
{
	Py_INCREF(obj);
	return obj;
}

/* Server.__exit__: stop a running server, else close it. */
static PyObject *
native_server_exit(PyObject *obj, PyObject *args)
{
	struct native_server *self = (struct native_server *)obj;

	if (self->running)
		server_stop(self->srv);
	else
		native_server_release(self);
	Py_RETURN_NONE;
}

/* Raise unless the server is open; 0 if it is. */
static int
native_server_check_open(struct native_server *self)
{
	if (self->srv != NULL)
		return 0;
	PyErr_SetString(PyExc_RuntimeError, "the server is closed");
	return -1;
}

/* Server.port: the bound TCP port, None without TCP. */
static PyObject *
native_server_get_port(PyObject *obj, void *closure)
{
	struct native_server *self = (struct native_server *)obj;
	int port;

	if (native_server_check_open(self) < 0)
		return NULL;
	if ((port = server_port(self->srv)) < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(port);
}

/* Server.backend: the event backend's name. */
static PyObject *
native_server_get_backend(PyObject *obj, void *closure)
{
	struct native_server *self = (struct native_server *)obj;

	if (native_server_check_open(self) < 0)
		return NULL;
	return PyUnicode_FromString(server_backend(self->srv));
}

/* Server.running: inside run(). */
static PyObject *
native_server_get_running(PyObject *obj, void *closure)
{
	return PyBool_FromLong(((struct native_server *)obj)->running);
}

/* Server.closed: close() has run. */
static PyObject *
native_server_get_closed(PyObject *obj, void *closure)
{
	return PyBool_FromLong(((struct native_server *)obj)->srv == NULL);
}


/* ---- The server program's command line (cli.h) ---- */

/*
 * Read args (a sequence of str or bytes, the program name not included)
 * into cfg as the program prog reads its own (cli_parse); *text gets
 * what it printed (a new str). Returns the cli_status, or -1 with an
 * exception (*text NULL).
 */
static int
native_cli_parse(struct server_config *cfg, const char *prog,
    PyObject *args, PyObject **text)
{
	PyObject *seq, **bytes = NULL;
	char **argv = NULL, *buf = NULL;
	Py_ssize_t i, n = 0;
	size_t len = 0;
	int st = -1;
	FILE *f;

	*text = NULL;
	if ((seq = PySequence_Fast(args, "args must be a sequence")) == NULL)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	if (n >= INT_MAX) {
		PyErr_SetString(PyExc_ValueError, "too many arguments");
		goto out;
	}
	bytes = PyMem_Calloc((size_t)n + 1, sizeof(*bytes));
	argv = PyMem_Calloc((size_t)n + 1, sizeof(*argv));
	if (bytes == NULL || argv == NULL) {
		PyErr_NoMemory();
		goto out;
	}
	/* As the program gets them: the file system's encoding (str from
	 * sys.argv decodes back to its bytes), no NUL inside. */
	for (i = 0; i < n; i++) {
		if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i),
		    &bytes[i]))
			goto out;
		argv[i] = PyBytes_AS_STRING(bytes[i]);
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		PyErr_SetFromErrno(PyExc_OSError);
		goto out;
	}
	st = (int)cli_parse(cfg, prog, (int)n, argv, f, f);
	if (fclose(f) != 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		st = -1;
		goto out;
	}
	*text = PyUnicode_DecodeFSDefaultAndSize(buf, (Py_ssize_t)len);
	if (*text == NULL)
		st = -1;
out:
	free(buf);
	for (i = 0; bytes != NULL && i < n; i++)
		Py_XDECREF(bytes[i]);
	PyMem_Free(bytes);
	PyMem_Free(argv);
	Py_DECREF(seq);
	return st;
}

const char native_parse_command_line_doc[] = PyDoc_STR(
"parse_command_line(prog, args) -> tuple[int, str]\n"
"--\n\n"
"Check the server program's options args (without the program's name)\n"
"exactly as tiny-mp-cache-server does, its messages naming prog:\n"
"(-1, '') when they start a server (Server.from_command_line(args)\n"
"makes it), (0, text) after --help or --version (text for standard\n"
"output; exit 0), (2, text) for a bad option (text for standard error;\n"
"exit 2).");

PyObject *
native_parse_command_line(PyObject *module, PyObject *args)
{
	struct server_config cfg;
	PyObject *argv, *text, *out;
	const char *prog;
	int st;

	(void)module;
	if (!PyArg_ParseTuple(args, "sO:parse_command_line", &prog, &argv))
		return NULL;
	server_config_init(&cfg);
	st = native_cli_parse(&cfg, prog, argv, &text);
	server_config_free(&cfg);
	if (st == -1)
		return NULL;
	out = Py_BuildValue("(iN)", st == CLI_RUN ? -1 : st == CLI_EXIT ? 0 :
	    CLI_EXIT_USAGE, text);
	return out;
}

PyDoc_STRVAR(native_server_from_command_line_doc,
"from_command_line(args) -> Server\n"
"--\n\n"
"The server tiny-mp-cache-server args would run (args without the\n"
"program's name; check them with parse_command_line() first: here a\n"
"bad option raises ValueError with the program's message). Its log\n"
"lines go to logging unless --logfile is given. OSError as Server().");

static PyObject *
native_server_from_command_line(PyObject *cls, PyObject *args)
{
	PyTypeObject *type = (PyTypeObject *)cls;
	struct server_config cfg;
	PyObject *argv, *text, *obj;
	int st;

	if (!PyArg_ParseTuple(args, "O:from_command_line", &argv))
		return NULL;
	server_config_init(&cfg);
	st = native_cli_parse(&cfg, "tiny-mp-cache-server", argv, &text);
	obj = NULL;
	if (st == CLI_RUN) {
		/* Not through __init__, which would take a port. */
		obj = type->tp_alloc(type, 0);
		if (obj != NULL && native_server_start(
		    (struct native_server *)obj, &cfg) == -1)
			Py_CLEAR(obj);
	} else if (st != -1)
		PyErr_SetObject(PyExc_ValueError, text);
	Py_XDECREF(text);
	server_config_free(&cfg);
	return obj;
}

static PyMethodDef native_server_methods[] = {
	{ "run", native_server_run, METH_NOARGS, native_server_run_doc },
	{ "stop", native_server_stop, METH_NOARGS, native_server_stop_doc },
	{ "close", native_server_close, METH_NOARGS,
	    native_server_close_doc },
	{ "__enter__", native_server_enter, METH_NOARGS, NULL },
	{ "__exit__", native_server_exit, METH_VARARGS, NULL },
	{ "from_command_line", native_server_from_command_line,
	    METH_VARARGS | METH_CLASS, native_server_from_command_line_doc },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef native_server_getset[] = {
	{ "port", native_server_get_port, NULL,
	    "The TCP port actually bound (useful with port 0), or None.",
	    NULL },
	{ "backend", native_server_get_backend, NULL,
	    "The event backend in use: 'epoll' or 'select'.", NULL },
	{ "running", native_server_get_running, NULL,
	    "True while run() is serving.", NULL },
	{ "closed", native_server_get_closed, NULL,
	    "True once close() has run.", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyDoc_STRVAR(native_server_doc,
"Server(port=5002, *, host='127.0.0.1', **settings)\n"
"--\n\n"
"The embedded tiny-mp-cache server. Making one binds its sockets (a\n"
"taken port raises OSError at once); run() serves, stop() stops it from\n"
"any thread, close() frees it. port=0 picks a free port (see .port);\n"
"port=-1 listens on the Unix socket only (give unixsocket=).\n\n"
"Every other keyword is a server setting, named as the server's\n"
"--option with '_' for '-' (maxmemory_policy='allkeys-lru', hz=20,\n"
"requirepass='...'); None keeps the default. Ints go to numeric\n"
"settings, bools to yes/no ones, str to the rest; memory sizes take an\n"
"int or a str such as '100mb'. A wrong type raises TypeError, a bad\n"
"value ValueError with the reason CONFIG SET would give.");

PyTypeObject native_server_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.Server",
	.tp_basicsize = sizeof(struct native_server),
	.tp_dealloc = native_server_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_server_doc,
	.tp_methods = native_server_methods,
	.tp_getset = native_server_getset,
	.tp_init = native_server_init,
	.tp_new = PyType_GenericNew,
};
