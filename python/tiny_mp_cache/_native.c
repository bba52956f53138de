/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native: the CPython side of the package. Server runs the
 * embedded C server (server.h) with the GIL released; pack_command and
 * ReplyReader are the client's RESP codec, over the same resp.c, and
 * Connection does the client's round trips.
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "resp.h"
#include "server.h"
#include "settings.h"

PyMODINIT_FUNC PyInit__native(void);

#define NATIVE_TICK_MS 100            /* how often a server run in the main
                                       * thread looks for signals (bjoern's
                                       * SIGNAL_CHECK_INTERVAL) */
#define NATIVE_PACK_STACK_ARGS 8      /* commands this short need no heap
                                       * for their argument arrays */
#define NATIVE_PACK_KEEP (64 * 1024)  /* pack buffer kept between calls;
                                       * a bigger one is freed after use */
#define NATIVE_READER_KEEP (1024 * 1024) /* reader buffer kept when empty */

/* ---- Server ---- */

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

static PyTypeObject native_server_type;

/* The exception types of the module (see __init__.py for the public
 * names): set up once in PyInit__native. */
static PyObject *native_protocol_error;

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

/* Server(port=5002, *, host=..., **settings): check the options and bind. */
static int
native_server_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	struct native_server *self = (struct native_server *)obj;
	struct server_config cfg;
	PyObject *port_obj = NULL, *host = NULL, *key, *value;
	char err[SERVER_ERR_LEN], why[SETTING_ERR_LEN];
	const char *host_s;
	struct server *srv;
	Py_ssize_t pos = 0;
	long port = SERVER_PORT_DEFAULT;
	int rc = -1, saved_errno;

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
	if (cfg.logfile == NULL) {
		PyObject *logging = PyImport_ImportModule("logging");

		if (logging == NULL)
			goto out;
		Py_CLEAR(self->logger);
		self->logger = PyObject_CallMethod(logging, "getLogger", "s",
		    "tiny_mp_cache");
		Py_DECREF(logging);
		if (self->logger == NULL)
			goto out;
		cfg.log_sink = native_log_sink;
		cfg.log_sink_arg = self;
	}
	cfg.tick = native_server_tick;
	cfg.tick_arg = self;
	cfg.tick_ms = NATIVE_TICK_MS;

	/* Binding may resolve a host name: let other threads run. */
	Py_BEGIN_ALLOW_THREADS
	srv = server_create(&cfg, err);
	saved_errno = errno;
	Py_END_ALLOW_THREADS
	if (srv == NULL) {
		/* OSError(errno, message) when a listener failed: e.errno
		 * is EADDRINUSE for a taken port. */
		PyObject *exc_args = saved_errno != 0 ?
		    Py_BuildValue("(is)", saved_errno, err) : NULL;

		if (exc_args != NULL) {
			PyErr_SetObject(PyExc_OSError, exc_args);
			Py_DECREF(exc_args);
		} else if (!PyErr_Occurred())
			PyErr_SetString(PyExc_OSError, err);
		goto out;
	}
	self->srv = srv;
	/* A signal handler raised while the log sink ran (during a long
	 * load, say): close and raise it here. */
	if (self->exc_type != NULL) {
		native_server_release(self);
		PyErr_Restore(self->exc_type, self->exc_value, self->exc_tb);
		self->exc_type = self->exc_value = self->exc_tb = NULL;
		goto out;
	}
	rc = 0;
out:
	server_config_free(&cfg);
	return rc;
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

static PyMethodDef native_server_methods[] = {
	{ "run", native_server_run, METH_NOARGS, native_server_run_doc },
	{ "stop", native_server_stop, METH_NOARGS, native_server_stop_doc },
	{ "close", native_server_close, METH_NOARGS,
	    native_server_close_doc },
	{ "__enter__", native_server_enter, METH_NOARGS, NULL },
	{ "__exit__", native_server_exit, METH_VARARGS, NULL },
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

static PyTypeObject native_server_type = {
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

/* ---- Encoding commands ---- */

/* The pack buffer, reused between calls; the GIL guards it (nothing in
 * pack_command releases it). */
static struct resp_buf native_pack_buf;

/*
 * Point *p and *len at the bytes of one command argument: bytes as they are,
 * str as UTF-8 (lone surrogates from surrogateescape are turned back into
 * the bytes they stand for), int in decimal, anything else with the
 * buffer protocol. *keep gets a new reference or view the caller must
 * release (view->obj != NULL). Returns 0, or -1 with TypeError (or the
 * ValueError or OverflowError of a str or int that cannot be encoded).
 */
static int
native_arg_bytes(PyObject *arg, const char **p, size_t *len,
    PyObject **keep, Py_buffer *view, char *num)
{
	Py_ssize_t n;

	*keep = NULL;
	view->obj = NULL;
	if (PyBytes_CheckExact(arg)) {
		*p = PyBytes_AS_STRING(arg);
		*len = (size_t)PyBytes_GET_SIZE(arg);
		return 0;
	}
	if (PyUnicode_Check(arg)) {
		if ((*p = PyUnicode_AsUTF8AndSize(arg, &n)) == NULL) {
			if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
				return -1;
			PyErr_Clear();
			*keep = PyUnicode_AsEncodedString(arg, "utf-8",
			    "surrogateescape");
			if (*keep == NULL)
				return -1;
			*p = PyBytes_AS_STRING(*keep);
			n = PyBytes_GET_SIZE(*keep);
		}
		*len = (size_t)n;
		return 0;
	}
	if (PyLong_Check(arg) && !PyBool_Check(arg)) {
		long long v = PyLong_AsLongLong(arg);

		if (v == -1 && PyErr_Occurred())
			return -1;
		*len = resp_ll_to_str(num, v);
		*p = num;
		return 0;
	}
	if (PyObject_CheckBuffer(arg)) {
		if (PyObject_GetBuffer(arg, view, PyBUF_SIMPLE) < 0)
			return -1;
		*p = view->buf;
		*len = (size_t)view->len;
		return 0;
	}
	PyErr_Format(PyExc_TypeError, "a command argument must be bytes, "
	    "str, int or a bytes-like object, not %.100s",
	    Py_TYPE(arg)->tp_name);
	return -1;
}

/* Release what native_arg_bytes kept for one argument. */
static void
native_arg_release(PyObject *keep, Py_buffer *view)
{
	Py_XDECREF(keep);
	if (view->obj != NULL)
		PyBuffer_Release(view);
}

/*
 * Append the command args[0..nargs) to b as a RESP multibulk request.
 * Returns 0, or -1 with an exception (a bad argument; b is unchanged).
 */
static int
native_pack_into(struct resp_buf *b, PyObject *const *args, Py_ssize_t nargs)
{
	const char *ptr_stack[NATIVE_PACK_STACK_ARGS];
	size_t len_stack[NATIVE_PACK_STACK_ARGS];
	PyObject *keep_stack[NATIVE_PACK_STACK_ARGS];
	Py_buffer view_stack[NATIVE_PACK_STACK_ARGS];
	char num_stack[NATIVE_PACK_STACK_ARGS][24];
	const char **ptrs = ptr_stack;
	size_t *lens = len_stack;
	PyObject **keep = keep_stack;
	Py_buffer *views = view_stack;
	char (*nums)[24] = num_stack;
	Py_ssize_t i, done = 0;
	int rc = -1;

	if (nargs < 1) {
		PyErr_SetString(PyExc_TypeError,
		    "a command needs at least its name");
		return -1;
	}
	if (nargs > INT_MAX) {
		PyErr_SetString(PyExc_OverflowError, "too many arguments");
		return -1;
	}
	if (nargs > NATIVE_PACK_STACK_ARGS) {
		ptrs = PyMem_Malloc(nargs * sizeof *ptrs);
		lens = PyMem_Malloc(nargs * sizeof *lens);
		keep = PyMem_Malloc(nargs * sizeof *keep);
		views = PyMem_Malloc(nargs * sizeof *views);
		nums = PyMem_Malloc(nargs * sizeof *nums);
		if (ptrs == NULL || lens == NULL || keep == NULL ||
		    views == NULL || nums == NULL) {
			PyErr_NoMemory();
			goto out;
		}
	}
	for (i = 0; i < nargs; i++) {
		if (native_arg_bytes(args[i], &ptrs[i], &lens[i], &keep[i],
		    &views[i], nums[i]) < 0)
			goto out;
		done = i + 1;
	}
	resp_add_command(b, (int)nargs, ptrs, lens);
	rc = 0;
out:
	for (i = 0; i < done; i++)
		native_arg_release(keep[i], &views[i]);
	if (ptrs != ptr_stack) {
		PyMem_Free(ptrs);
		PyMem_Free(lens);
		PyMem_Free(keep);
		PyMem_Free(views);
		PyMem_Free(nums);
	}
	return rc;
}

/*
 * Append one two-argument command "name key" to b for each key of the
 * list or tuple keys (pipelined, as pop_many sends GETDEL). *count gets
 * the number of commands. Returns 0, or -1 with an exception.
 */
static int
native_pack_many(struct resp_buf *b, PyObject *name, PyObject *keys,
    size_t *count)
{
	const char *ptrs[2];
	size_t lens[2];
	PyObject *keep[2], *seq, *key;
	Py_buffer views[2];
	char nums[2][24];
	Py_ssize_t i;
	int rc = -1, err;

	if (!PyList_Check(keys) && !PyTuple_Check(keys)) {
		PyErr_Format(PyExc_TypeError, "the keys must be a list or a "
		    "tuple, not %.100s", Py_TYPE(keys)->tp_name);
		return -1;
	}
	if (native_arg_bytes(name, &ptrs[0], &lens[0], &keep[0], &views[0],
	    nums[0]) < 0)
		return -1;
	seq = keys;
	Py_INCREF(seq);
	/* Getting a buffer may run code that changes the list: the size is
	 * read each time and each key held while it is encoded. */
	for (i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
		key = PySequence_Fast_GET_ITEM(seq, i);
		Py_INCREF(key);
		err = native_arg_bytes(key, &ptrs[1], &lens[1], &keep[1],
		    &views[1], nums[1]);
		if (err == 0) {
			resp_add_command(b, 2, ptrs, lens);
			native_arg_release(keep[1], &views[1]);
		}
		Py_DECREF(key);
		if (err < 0)
			goto out;
	}
	*count = (size_t)i;
	rc = 0;
out:
	Py_DECREF(seq);
	native_arg_release(keep[0], &views[0]);
	return rc;
}

PyDoc_STRVAR(native_pack_command_doc,
"pack_command(*args) -> bytes\n--\n\n"
"Encode one command as a RESP multibulk request. Each argument is\n"
"bytes, a bytes-like object, str (sent as UTF-8) or int (in decimal).");

/* pack_command(*args): one command as RESP bytes; new reference. */
static PyObject *
native_pack_command(PyObject *module, PyObject *const *args,
    Py_ssize_t nargs)
{
	PyObject *res = NULL;

	if (nargs == 0) {
		PyErr_SetString(PyExc_TypeError,
		    "pack_command() needs at least a command name");
		return NULL;
	}
	native_pack_buf.len = 0;
	if (native_pack_into(&native_pack_buf, args, nargs) == 0)
		res = PyBytes_FromStringAndSize(native_pack_buf.data,
		    (Py_ssize_t)native_pack_buf.len);
	if (native_pack_buf.cap > NATIVE_PACK_KEEP)
		resp_buf_free(&native_pack_buf);
	return res;
}

/* ---- Reading replies ---- */

/*
 * Received bytes and the progress of the reply scan over them, as
 * ReplyReader and Connection both keep them. Bytes are scanned once
 * (resp_scan_reply resumes) and objects built once a whole reply is in.
 */
struct native_rbuf {
	char *buf;                     /* received bytes */
	size_t pos;                    /* start of the next reply */
	size_t len;                    /* bytes held */
	size_t cap;                    /* bytes allocated */
	struct resp_scan scan;         /* progress on the reply being read */
	size_t need;                   /* bytes the reply surely still needs */
};

/* Forget every byte held (the buffer is kept). */
static void
native_rbuf_reset(struct native_rbuf *rb)
{
	rb->pos = rb->len = 0;
	rb->need = 0;
	resp_scan_init(&rb->scan);
}

/* Free the buffer. */
static void
native_rbuf_free(struct native_rbuf *rb)
{
	mem_free(rb->buf);
	rb->buf = NULL;
	rb->cap = 0;
	native_rbuf_reset(rb);
}

/* Make room for n more bytes after the held ones, moving the unread
 * bytes to the front first. A scan counts from its reply's start, so
 * moving the reply does not disturb it. Needs no GIL. */
static void
native_rbuf_reserve(struct native_rbuf *rb, size_t n)
{
	size_t held = rb->len - rb->pos;
	size_t cap;

	if (rb->pos > 0 && (held == 0 || rb->cap - rb->len < n)) {
		memmove(rb->buf, rb->buf + rb->pos, held);
		rb->pos = 0;
		rb->len = held;
	}
	if (rb->cap - rb->len >= n)
		return;
	cap = rb->cap != 0 ? rb->cap : 16 * 1024;
	while (cap - rb->len < n)
		cap *= 2;
	/* A reply announced long enough is allocated for in one go. */
	if (rb->need > n && rb->len + rb->need > cap)
		cap = rb->len + rb->need;
	rb->buf = mem_realloc(rb->buf, cap);
	rb->cap = cap;
}

/* Mark the n bytes at pos as read (one whole reply) and start the scan
 * of the next one; an emptied buffer starts over at its front, and a
 * big one is freed. */
static void
native_rbuf_consume(struct native_rbuf *rb, size_t n)
{
	rb->pos += n;
	rb->need = 0;
	resp_scan_init(&rb->scan);
	if (rb->pos == rb->len) {
		rb->pos = rb->len = 0;
		if (rb->cap > NATIVE_READER_KEEP) {
			mem_free(rb->buf);
			rb->buf = NULL;
			rb->cap = 0;
		}
	}
}

/* The "OK" of +OK replies, made once: SET answers it every time. */
static PyObject *native_str_ok;

/* What the builders need while one reply is being built. */
struct native_build {
	PyObject *error_class;         /* called with an error reply's text */
	int decode;                    /* bulk strings as str, not bytes */
};

/* Build a bulk (bytes, or str when decoding), status (str) or error
 * (an error_class instance) reply. New reference, NULL on error. */
static void *
native_build_str(void *ctx, char type, const char *p, size_t len)
{
	struct native_build *b = ctx;

	switch (type) {
	case '$':
		if (b->decode)
			return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len,
			    "surrogateescape");
		return PyBytes_FromStringAndSize(p, (Py_ssize_t)len);
	case '+':
		if (len == 2 && p[0] == 'O' && p[1] == 'K') {
			Py_INCREF(native_str_ok);
			return native_str_ok;
		}
		return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len,
		    "surrogateescape");
	default: {                     /* '-': an error object, not raised */
		PyObject *msg, *err;

		msg = PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "replace");
		if (msg == NULL)
			return NULL;
		err = PyObject_CallFunctionObjArgs(b->error_class, msg, NULL);
		Py_DECREF(msg);
		return err;
	}
	}
}

/* Build an integer reply. */
static void *
native_build_integer(void *ctx, long long v)
{
	return PyLong_FromLongLong(v);
}

/* Build a nil bulk or array reply: None. */
static void *
native_build_nil(void *ctx, char type)
{
	Py_INCREF(Py_None);
	return Py_None;
}

/* Build an array of n elements, filled by native_build_array_set. */
static void *
native_build_array(void *ctx, size_t n)
{
	if (n > PY_SSIZE_T_MAX) {
		PyErr_NoMemory();
		return NULL;
	}
	return PyList_New((Py_ssize_t)n);
}

/* Put elem (a stolen reference) at index i of array. */
static int
native_build_array_set(void *ctx, void *array, size_t i, void *elem)
{
	PyList_SET_ITEM((PyObject *)array, (Py_ssize_t)i, (PyObject *)elem);
	return 0;
}

/* Drop a reference the reader no longer needs. */
static void
native_build_release(void *ctx, void *obj)
{
	Py_DECREF((PyObject *)obj);
}

static const struct resp_builder native_builder = {
	.str = native_build_str,
	.integer = native_build_integer,
	.nil = native_build_nil,
	.array = native_build_array,
	.array_set = native_build_array_set,
	.release = native_build_release,
};

/*
 * Build the complete reply of n bytes at rb->pos and consume it. New
 * reference; NULL with an exception if building failed (the bytes are
 * consumed either way).
 */
static PyObject *
native_rbuf_build(struct native_rbuf *rb, size_t n, PyObject *error_class,
    int decode)
{
	struct native_build ctx;
	PyObject *reply;

	ctx.error_class = error_class;
	ctx.decode = decode;
	reply = resp_read_reply(&native_builder, &ctx, rb->buf + rb->pos, n);
	native_rbuf_consume(rb, n);
	if (reply == NULL && !PyErr_Occurred())
		PyErr_SetString(native_protocol_error,
		    "could not build the reply");
	return reply;
}

/*
 * Incremental reply reader: feed() appends received bytes, gets() returns
 * the next complete reply or False.
 */
struct native_reader {
	PyObject_HEAD
	struct native_rbuf rb;         /* bytes and scan */
	int broken;                    /* invalid input seen: sticky */
	PyObject *error_class;         /* called with an error reply's text */
};

static PyTypeObject native_reader_type;

/* ReplyReader(error_class=Exception): an empty reader. */
static int
native_reader_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "error_class", NULL };
	struct native_reader *self = (struct native_reader *)obj;
	PyObject *error_class = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:ReplyReader",
	    kwlist, &error_class))
		return -1;
	if (error_class == NULL)
		error_class = PyExc_Exception;
	if (!PyCallable_Check(error_class)) {
		PyErr_SetString(PyExc_TypeError,
		    "error_class must be callable");
		return -1;
	}
	Py_INCREF(error_class);
	Py_XDECREF(self->error_class);
	self->error_class = error_class;
	native_rbuf_reset(&self->rb);
	self->broken = 0;
	return 0;
}

/* Free a ReplyReader and its buffer. */
static void
native_reader_dealloc(PyObject *obj)
{
	struct native_reader *self = (struct native_reader *)obj;

	native_rbuf_free(&self->rb);
	Py_CLEAR(self->error_class);
	Py_TYPE(obj)->tp_free(obj);
}

PyDoc_STRVAR(native_reader_feed_doc,
"feed(data, length=-1)\n--\n\n"
"Append the first length bytes of data (all of it when length < 0).");

/* ReplyReader.feed(data, length=-1): append bytes. */
static PyObject *
native_reader_feed(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_reader *self = (struct native_reader *)obj;
	struct native_rbuf *rb = &self->rb;
	Py_buffer view;
	Py_ssize_t n = -1;

	if (nargs < 1 || nargs > 2) {
		PyErr_SetString(PyExc_TypeError,
		    "feed() takes data and an optional length");
		return NULL;
	}
	if (nargs == 2) {
		n = PyLong_AsSsize_t(args[1]);
		if (n == -1 && PyErr_Occurred())
			return NULL;
	}
	if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
		return NULL;
	if (n < 0 || n > view.len)
		n = view.len;
	if (n > 0) {
		native_rbuf_reserve(rb, (size_t)n);
		memcpy(rb->buf + rb->len, view.buf, (size_t)n);
		rb->len += (size_t)n;
	}
	PyBuffer_Release(&view);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_reader_gets_doc,
"gets(decode=False)\n--\n\n"
"Return the next complete reply, or False if more bytes are needed.\n"
"Replies: bulk string -> bytes (str if decode), simple string -> str,\n"
"integer -> int, nil -> None, array -> list, error -> an instance of\n"
"error_class (returned, not raised). Raises ProtocolError, for good,\n"
"if the bytes are not RESP2.");

/* ReplyReader.gets(decode=False): the next reply, or False. */
static PyObject *
native_reader_gets(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_reader *self = (struct native_reader *)obj;
	struct native_rbuf *rb = &self->rb;
	int decode = 0;
	long long n;

	if (self->broken) {
		PyErr_SetString(native_protocol_error,
		    "the reply stream is broken (invalid RESP seen earlier)");
		return NULL;
	}
	if (nargs > 0 && (decode = PyObject_IsTrue(args[0])) < 0)
		return NULL;
	if (rb->pos == rb->len)
		Py_RETURN_FALSE;
	n = resp_scan_reply(&rb->scan, rb->buf + rb->pos, rb->len - rb->pos,
	    &rb->need);
	if (n == 0)
		Py_RETURN_FALSE;
	if (n < 0) {
		self->broken = 1;
		PyErr_Format(native_protocol_error,
		    "invalid RESP reply from the server (first byte 0x%02x)",
		    (unsigned char)rb->buf[rb->pos]);
		return NULL;
	}
	return native_rbuf_build(rb, (size_t)n, self->error_class, decode);
}

/* ReplyReader.pending: bytes held that are not returned yet. */
static PyObject *
native_reader_get_pending(PyObject *obj, void *closure)
{
	struct native_reader *self = (struct native_reader *)obj;

	return PyLong_FromSize_t(self->rb.len - self->rb.pos);
}

/* ReplyReader.need: bytes the current reply surely still needs. */
static PyObject *
native_reader_get_need(PyObject *obj, void *closure)
{
	return PyLong_FromSize_t(((struct native_reader *)obj)->rb.need);
}

static PyMethodDef native_reader_methods[] = {
	{ "feed", (PyCFunction)(void (*)(void))native_reader_feed,
	    METH_FASTCALL, native_reader_feed_doc },
	{ "gets", (PyCFunction)(void (*)(void))native_reader_gets,
	    METH_FASTCALL, native_reader_gets_doc },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef native_reader_getset[] = {
	{ "pending", native_reader_get_pending, NULL,
	    "Bytes fed but not yet returned as replies.", NULL },
	{ "need", native_reader_get_need, NULL,
	    "A lower bound on the bytes the current reply still needs "
	    "(0 if unknown), after gets() returned False.", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyDoc_STRVAR(native_reader_doc,
"ReplyReader(error_class=Exception)\n--\n\n"
"Incremental RESP2 reply reader: feed() bytes, gets() replies.");

static PyTypeObject native_reader_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.ReplyReader",
	.tp_basicsize = sizeof(struct native_reader),
	.tp_dealloc = native_reader_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_reader_doc,
	.tp_methods = native_reader_methods,
	.tp_getset = native_reader_getset,
	.tp_init = native_reader_init,
	.tp_new = PyType_GenericNew,
};

/* ---- Lock: the client's command lock ---- */

/*
 * A lock like threading.Lock (acquire, release, locked, with), which
 * Connection also takes directly in C: one lock serializes the fast path
 * of commands (all in Connection.command) and the slow paths TinyCache
 * runs in Python (connecting, AUTH, retries, close). Waiting releases
 * the GIL and can be interrupted by a signal handler that raises, as
 * with threading.Lock.
 */
struct native_lock {
	PyObject_HEAD
	PyThread_type_lock lock;       /* NULL only if allocation failed */
	int locked;                    /* held (the GIL guards this flag) */
};

static PyTypeObject native_lock_type;

/* Return CLOCK_MONOTONIC in microseconds. */
static long long
native_mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Take the lock: at once if it is free, else wait with the GIL released
 * for up to timeout_us microseconds (-1: no limit; 0: do not wait),
 * running signal handlers when a wait is interrupted. Returns 1 when
 * taken, 0 when the time ran out, -1 with the exception a handler raised.
 */
static int
native_lock_take(struct native_lock *self, long long timeout_us)
{
	PyLockStatus r;
	long long deadline = 0;

	r = PyThread_acquire_lock_timed(self->lock, 0, 0);
	if (r == PY_LOCK_FAILURE && timeout_us != 0) {
		if (timeout_us > 0)
			deadline = native_mono_us() + timeout_us;
		for (;;) {
			Py_BEGIN_ALLOW_THREADS
			r = PyThread_acquire_lock_timed(self->lock, timeout_us,
			    1);
			Py_END_ALLOW_THREADS
			if (r != PY_LOCK_INTR)
				break;
			if (PyErr_CheckSignals() < 0)
				return -1;
			if (timeout_us > 0) {
				timeout_us = deadline - native_mono_us();
				if (timeout_us <= 0) {
					r = PY_LOCK_FAILURE;
					break;
				}
			}
		}
	}
	if (r != PY_LOCK_ACQUIRED)
		return 0;
	self->locked = 1;
	return 1;
}

/* Let the lock go (the caller checked it is held). */
static void
native_lock_give(struct native_lock *self)
{
	self->locked = 0;
	PyThread_release_lock(self->lock);
}

/* Lock(): a new, free lock. */
static PyObject *
native_lock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	struct native_lock *self;

	if ((PyTuple_GET_SIZE(args) != 0 ||
	    (kwds != NULL && PyDict_GET_SIZE(kwds) != 0))) {
		PyErr_SetString(PyExc_TypeError, "Lock() takes no arguments");
		return NULL;
	}
	if ((self = (struct native_lock *)type->tp_alloc(type, 0)) == NULL)
		return NULL;
	if ((self->lock = PyThread_allocate_lock()) == NULL) {
		Py_DECREF(self);
		PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
		return NULL;
	}
	return (PyObject *)self;
}

/* Free a Lock (held or not: as threading.Lock, a held one is let go). */
static void
native_lock_dealloc(PyObject *obj)
{
	struct native_lock *self = (struct native_lock *)obj;

	if (self->lock != NULL) {
		if (self->locked)
			PyThread_release_lock(self->lock);
		PyThread_free_lock(self->lock);
	}
	Py_TYPE(obj)->tp_free(obj);
}

PyDoc_STRVAR(native_lock_acquire_doc,
"acquire(blocking=True, timeout=-1) -> bool\n--\n\n"
"Take the lock, waiting if need be (not when blocking is false; at most\n"
"timeout seconds when it is >= 0). True if it was taken.");

/* Lock.acquire(blocking=True, timeout=-1), as threading.Lock's. */
static PyObject *
native_lock_acquire(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "blocking", "timeout", NULL };
	struct native_lock *self = (struct native_lock *)obj;
	int blocking = 1, r;
	double timeout = -1;
	long long us = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pd:acquire", kwlist,
	    &blocking, &timeout))
		return NULL;
	if (!blocking && timeout != -1) {
		PyErr_SetString(PyExc_ValueError,
		    "can't specify a timeout for a non-blocking call");
		return NULL;
	}
	if (timeout < 0 && timeout != -1) {
		PyErr_SetString(PyExc_ValueError,
		    "timeout value must be a non-negative number");
		return NULL;
	}
	if (!blocking)
		us = 0;
	else if (timeout >= 0) {
		if (timeout * 1e6 >= (double)PY_TIMEOUT_MAX) {
			PyErr_SetString(PyExc_OverflowError,
			    "timeout value is too large");
			return NULL;
		}
		us = (long long)(timeout * 1e6 + 0.999);
	}
	if ((r = native_lock_take(self, us)) < 0)
		return NULL;
	return PyBool_FromLong(r);
}

/* Lock.__enter__(): acquire(), waiting as long as it takes. */
static PyObject *
native_lock_enter(PyObject *obj, PyObject *unused)
{
	if (native_lock_take((struct native_lock *)obj, -1) < 0)
		return NULL;
	Py_RETURN_TRUE;
}

PyDoc_STRVAR(native_lock_release_doc,
"release()\n--\n\n"
"Let the lock go; RuntimeError if it is not held.");

/* Lock.release() and Lock.__exit__(*exc). */
static PyObject *
native_lock_release(PyObject *obj, PyObject *unused)
{
	struct native_lock *self = (struct native_lock *)obj;

	if (!self->locked) {
		PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
		return NULL;
	}
	native_lock_give(self);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_lock_locked_doc,
"locked() -> bool\n--\n\n"
"True while the lock is held.");

/* Lock.locked(). */
static PyObject *
native_lock_locked(PyObject *obj, PyObject *unused)
{
	return PyBool_FromLong(((struct native_lock *)obj)->locked);
}

static PyMethodDef native_lock_methods[] = {
	{ "acquire", (PyCFunction)(void (*)(void))native_lock_acquire,
	    METH_VARARGS | METH_KEYWORDS, native_lock_acquire_doc },
	{ "release", native_lock_release, METH_NOARGS,
	    native_lock_release_doc },
	{ "locked", native_lock_locked, METH_NOARGS, native_lock_locked_doc },
	{ "__enter__", native_lock_enter, METH_NOARGS, NULL },
	{ "__exit__", native_lock_release, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

PyDoc_STRVAR(native_lock_doc,
"Lock()\n--\n\n"
"A lock like threading.Lock that Connection.command also takes.");

static PyTypeObject native_lock_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.Lock",
	.tp_basicsize = sizeof(struct native_lock),
	.tp_dealloc = native_lock_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_lock_doc,
	.tp_methods = native_lock_methods,
	.tp_new = native_lock_new,
};

/* ---- Connection: the client's round trips ---- */

/*
 * One connection of TinyCache, with the whole fast path of a command in
 * C: check for fork(), take the lock, encode the arguments into a reused
 * buffer, send() it, recv() into the reply buffer until the reply is
 * complete, build the reply object (or raise the error reply). The GIL
 * is released once around the send and receive calls (taken back only
 * to run signal handlers), so a round trip costs two system calls and
 * no Python-level I/O. Whatever is not the fast path (connecting, AUTH,
 * retrying, mapping errors) TinyCache does in Python, holding the same
 * lock (Connection.lock) and passing CMD_LOCKED.
 *
 * The socket stays a Python socket object, which owns the descriptor:
 * attach() keeps a reference to it and reads its descriptor, which must
 * be in blocking mode (settimeout(None)); the command timeout is set on
 * the socket as SO_RCVTIMEO / SO_SNDTIMEO, so waiting for a reply costs
 * no poll() either. TinyCache calls detach() before closing the socket.
 */
struct native_conn {
	PyObject_HEAD
	int fd;                        /* -1: not connected, or broken */
	int busy;                      /* inside the round trip */
	unsigned long forks;           /* native_forks when made */
	struct native_lock *lock;      /* serializes commands */
	PyObject *sock;                /* the socket object owning fd */
	long long timeout_us;          /* each wait's limit; 0: none */
	long long last_ns;             /* native_now_ns() at the last reply */
	struct resp_buf out;           /* the request being sent */
	struct native_rbuf in;         /* bytes received */
	PyObject *error_class;         /* called with an error reply's text */
};

static PyTypeObject native_conn_type;

/* The internal exceptions of Connection (set up in PyInit__native). */
static PyObject *native_stale_error;    /* nothing sent: (re)connect */
static PyObject *native_forked_error;   /* made before a fork() */
static PyObject *native_closed_error;   /* EOF: a ConnectionError */

/* fork()s this process descends through: bumped in each child by
 * native_after_fork (registered with os.register_at_fork). The GIL
 * guards it. */
static unsigned long native_forks;

#define NATIVE_CMD_DECODE 1            /* bulk strings as str (KEYS) */
#define NATIVE_CMD_IDLE_CHECK 2        /* the idle-close check first */
#define NATIVE_CMD_MANY 4              /* name, keys: one command a key */
#define NATIVE_CMD_LOCKED 8            /* the caller holds the lock */

#define NATIVE_RECV_MIN (64 * 1024)    /* room offered to each recv() */
#define NATIVE_IDLE_NS 1000000LL       /* idle time before the idle-close
                                        * check costs a poll() (1 ms) */

#ifdef MSG_NOSIGNAL
#define NATIVE_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define NATIVE_MSG_NOSIGNAL 0
#endif

/* The clock of idle times and interrupted waits: the coarse one reads in
 * a few nanoseconds (vDSO) and its tick (1-10 ms) is fine for both. */
#ifdef CLOCK_MONOTONIC_COARSE
#define NATIVE_CLOCK CLOCK_MONOTONIC_COARSE
#else
#define NATIVE_CLOCK CLOCK_MONOTONIC
#endif

/* Return the time in nanoseconds on NATIVE_CLOCK. */
static long long
native_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(NATIVE_CLOCK, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Set the socket timeout opt (SO_RCVTIMEO or SO_SNDTIMEO) to us
 * microseconds (0: none). 0, or -1 with errno. */
static int
native_set_timeo(int fd, int opt, long long us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

/* Connection(error_class=Exception): not connected yet. */
static int
native_conn_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "error_class", NULL };
	struct native_conn *self = (struct native_conn *)obj;
	PyObject *error_class = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Connection",
	    kwlist, &error_class))
		return -1;
	if (self->error_class != NULL) {
		PyErr_SetString(PyExc_RuntimeError,
		    "Connection.__init__ called twice");
		return -1;
	}
	if (error_class == NULL)
		error_class = PyExc_Exception;
	if (!PyType_Check(error_class) ||
	    !PyType_IsSubtype((PyTypeObject *)error_class,
	    (PyTypeObject *)PyExc_BaseException)) {
		PyErr_SetString(PyExc_TypeError,
		    "error_class must be an exception class");
		return -1;
	}
	Py_INCREF(error_class);
	self->error_class = error_class;
	return 0;
}

/* Connection.__new__: not connected, with a free lock of its own. */
static PyObject *
native_conn_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	struct native_conn *self;
	PyObject *noargs;

	if ((self = (struct native_conn *)type->tp_alloc(type, 0)) == NULL)
		return NULL;
	self->fd = -1;
	self->forks = native_forks;
	if ((noargs = PyTuple_New(0)) == NULL) {
		Py_DECREF(self);
		return NULL;
	}
	self->lock = (struct native_lock *)native_lock_new(&native_lock_type,
	    noargs, NULL);
	Py_DECREF(noargs);
	if (self->lock == NULL) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

/* Free a Connection and its buffers (the socket is its owner's). */
static void
native_conn_dealloc(PyObject *obj)
{
	struct native_conn *self = (struct native_conn *)obj;

	resp_buf_free(&self->out);
	native_rbuf_free(&self->in);
	Py_CLEAR(self->sock);
	Py_CLEAR(self->error_class);
	Py_CLEAR(self->lock);
	Py_TYPE(obj)->tp_free(obj);
}

/* Raise unless no command is in progress; 0 if none is. */
static int
native_conn_check_free(struct native_conn *self)
{
	if (!self->busy)
		return 0;
	PyErr_SetString(PyExc_RuntimeError,
	    "the connection is in use by another thread");
	return -1;
}

/* Stop using the descriptor after a failure: its stream is out of step.
 * The socket stays referenced until detach(). */
static void
native_conn_break(struct native_conn *self)
{
	self->fd = -1;
	native_rbuf_reset(&self->in);
}

/* Free a send buffer a big request grew. */
static void
native_conn_trim(struct native_conn *self)
{
	if (self->out.cap > NATIVE_PACK_KEEP)
		resp_buf_free(&self->out);
}

PyDoc_STRVAR(native_conn_attach_doc,
"attach(sock, timeout)\n--\n\n"
"Use the connected socket object sock (in blocking mode: settimeout(None))\n"
"for the next commands, with a fresh reply buffer. timeout (seconds, or\n"
"None for no limit) is set on it as SO_RCVTIMEO and SO_SNDTIMEO: a wait\n"
"longer than that raises TimeoutError. Keeps a reference to sock until\n"
"detach(); never closes it.");

/* Connection.attach(sock, timeout): start using a socket. */
static PyObject *
native_conn_attach(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_conn *self = (struct native_conn *)obj;
	long long us = 0;
	double t;
	int fd;

	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError,
		    "attach() takes a socket and a timeout");
		return NULL;
	}
	if (native_conn_check_free(self) < 0)
		return NULL;
	if (args[1] != Py_None) {
		t = PyFloat_AsDouble(args[1]);
		if (t == -1.0 && PyErr_Occurred())
			return NULL;
		if (!(t > 0)) {
			PyErr_SetString(PyExc_ValueError,
			    "timeout must be None or a number > 0");
			return NULL;
		}
		/* At least 1 us (0 would mean no limit); at most ~68 years. */
		us = t >= (double)INT_MAX ? (long long)INT_MAX * 1000000 :
		    (long long)(t * 1e6 + 0.999);
		if (us < 1)
			us = 1;
	}
	if ((fd = PyObject_AsFileDescriptor(args[0])) < 0)
		return NULL;
	if (us != 0 && (native_set_timeo(fd, SO_RCVTIMEO, us) < 0 ||
	    native_set_timeo(fd, SO_SNDTIMEO, us) < 0))
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_INCREF(args[0]);
	Py_XDECREF(self->sock);
	self->sock = args[0];
	self->fd = fd;
	self->timeout_us = us;
	native_rbuf_reset(&self->in);
	self->last_ns = native_now_ns();
	Py_RETURN_NONE;
}

PyDoc_STRVAR(native_conn_detach_doc,
"detach()\n--\n\n"
"Stop using the socket (before its owner closes it) and free the\n"
"buffers. The next command raises ConnectionStale until attach().");

/* Connection.detach(): forget the socket. */
static PyObject *
native_conn_detach(PyObject *obj, PyObject *unused)
{
	struct native_conn *self = (struct native_conn *)obj;

	if (native_conn_check_free(self) < 0)
		return NULL;
	self->fd = -1;
	Py_CLEAR(self->sock);
	native_rbuf_free(&self->in);
	resp_buf_free(&self->out);
	Py_RETURN_NONE;
}

/*
 * The idle-close check, before a command that must never be sent twice
 * (pop): a connection the server closed while it sat idle (it restarted,
 * or drops idle clients) is readable (EOF) before anything is sent, and
 * then reconnecting is safe. poll() is a system call, so it is made only
 * once the connection has been idle (no reply) for NATIVE_IDLE_NS by the
 * coarse clock, i.e. for one clock tick (1-10 ms) at most; commands in a
 * tight loop skip it. A server that closes the connection within that
 * time of its last reply makes the command fail as "may or may not have
 * run", which is still correct: the caller never loses a job and never
 * gets one twice. Returns 1 if the connection must not be used.
 */
static int
native_conn_idle_closed(struct native_conn *self)
{
	struct pollfd pfd;

	if (native_now_ns() - self->last_ns < NATIVE_IDLE_NS)
		return 0;
	pfd.fd = self->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;  /* readable, hung up, error */
}

/* How a round trip ended (native_conn_io). */
enum native_io_result {
	NATIVE_IO_OK,                  /* every reply is in */
	NATIVE_IO_LATE,                /* sending failed, but an error reply
	                                * had come: it is the reply */
	NATIVE_IO_ERRNO,               /* a system call failed: see err */
	NATIVE_IO_EOF,                 /* the server closed the connection */
	NATIVE_IO_TIMEOUT,             /* a wait reached the timeout */
	NATIVE_IO_PROTOCOL,            /* the bytes are not RESP2 */
	NATIVE_IO_SIGNAL               /* a signal handler raised */
};

/* One round trip in progress. */
struct native_io {
	struct native_conn *conn;
	PyThreadState *save;           /* the released GIL's thread state */
	size_t count;                  /* replies wanted */
	size_t done;                   /* replies complete */
	size_t off;                    /* their bytes, from in.pos */
	size_t last;                   /* the last complete one's length */
	int err;                       /* errno of NATIVE_IO_ERRNO */
	int shortened;                 /* SO_RCVTIMEO (1), SO_SNDTIMEO (2)
	                                * set below the timeout */
};

/* Run Python's signal handlers (they run in the main thread only),
 * taking the GIL back meanwhile. -1 if one raised. */
static int
native_io_signals(struct native_io *io)
{
	int rc;

	PyEval_RestoreThread(io->save);
	rc = PyErr_CheckSignals();
	io->save = PyEval_SaveThread();
	return rc;
}

/* After a wait on opt (SO_RCVTIMEO or SO_SNDTIMEO) that began at start
 * was cut short: set the socket's limit to what is left of the timeout
 * for the rest of the wait. 0, or -1 when nothing is left. */
static int
native_io_left(struct native_io *io, int opt, long long start)
{
	long long us = io->conn->timeout_us, left;

	if (us == 0)
		return 0;
	left = us - (native_now_ns() - start) / 1000;
	if (left <= 0)
		return -1;
	if (native_set_timeo(io->conn->fd, opt, left) == 0)
		io->shortened |= opt == SO_RCVTIMEO ? 1 : 2;
	return 0;
}

/* Set the socket limits native_io_left shortened back to the timeout. */
static void
native_io_restore(struct native_io *io, int which)
{
	struct native_conn *c = io->conn;

	if ((io->shortened & which & 1) != 0)
		(void)native_set_timeo(c->fd, SO_RCVTIMEO, c->timeout_us);
	if ((io->shortened & which & 2) != 0)
		(void)native_set_timeo(c->fd, SO_SNDTIMEO, c->timeout_us);
	io->shortened &= ~which;
}

/* Send the whole request. Like socket.sendall, the timeout bounds the
 * whole send; a signal runs its handler and the send goes on. */
static enum native_io_result
native_io_send(struct native_io *io)
{
	struct native_conn *c = io->conn;
	const char *p = c->out.data;
	size_t left = c->out.len;
	long long start = c->timeout_us != 0 ? native_now_ns() : 0;
	ssize_t n;

	while (left > 0) {
		n = send(c->fd, p, left, NATIVE_MSG_NOSIGNAL);
		if (n >= 0 && (size_t)n == left)
			break;
		if (n >= 0) {
			p += n;
			left -= (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NATIVE_IO_TIMEOUT;
		else if (errno != EINTR) {
			io->err = errno;
			return NATIVE_IO_ERRNO;
		}
		/* Interrupted, or a partial send (a blocking send stops
		 * short only for a signal or the timeout). */
		if (native_io_signals(io) < 0)
			return NATIVE_IO_SIGNAL;
		if (native_io_left(io, SO_SNDTIMEO, start) < 0)
			return NATIVE_IO_TIMEOUT;
	}
	native_io_restore(io, 2);
	return NATIVE_IO_OK;
}

/* Receive until io->count replies are complete. As with recv_into
 * calls in a loop, the timeout bounds each wait for more bytes. */
static enum native_io_result
native_io_recv(struct native_io *io)
{
	struct native_conn *c = io->conn;
	struct native_rbuf *in = &c->in;
	long long n, start = 0;
	int waiting = 0;
	ssize_t got;

	for (;;) {
		while (io->done < io->count && in->len - in->pos > io->off) {
			n = resp_scan_reply(&in->scan, in->buf + in->pos +
			    io->off, in->len - in->pos - io->off, &in->need);
			if (n < 0)
				return NATIVE_IO_PROTOCOL;
			if (n == 0)
				break;
			io->off += (size_t)n;
			io->last = (size_t)n;
			io->done++;
			in->need = 0;
			resp_scan_init(&in->scan);
		}
		if (io->done == io->count)
			return NATIVE_IO_OK;
		native_rbuf_reserve(in, in->need > NATIVE_RECV_MIN ?
		    in->need : NATIVE_RECV_MIN);
		if (!waiting && c->timeout_us != 0) {
			start = native_now_ns();
			waiting = 1;
		}
		got = recv(c->fd, in->buf + in->len, in->cap - in->len, 0);
		if (got > 0) {
			in->len += (size_t)got;
			waiting = 0;
			native_io_restore(io, 1);
			continue;
		}
		if (got == 0)
			return NATIVE_IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NATIVE_IO_TIMEOUT;
		if (errno != EINTR) {
			io->err = errno;
			return NATIVE_IO_ERRNO;
		}
		if (native_io_signals(io) < 0)
			return NATIVE_IO_SIGNAL;
		if (native_io_left(io, SO_RCVTIMEO, start) < 0)
			return NATIVE_IO_TIMEOUT;
	}
}

/* Say whether errno e means the peer broke the connection (the errors
 * Python raises as ConnectionError). */
static int
native_errno_is_connection(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ECONNABORTED ||
	    e == ECONNREFUSED || e == ESHUTDOWN;
}

/*
 * Sending one command failed with a connection error: the server may
 * have refused it with an error reply and closed before reading it all
 * (a value over its bulk limit). Take what has already arrived, without
 * waiting: NATIVE_IO_LATE if it is a whole error reply, else the send's
 * error.
 */
static enum native_io_result
native_io_late(struct native_io *io)
{
	struct native_rbuf *in = &io->conn->in;
	ssize_t got;
	long long n;

	if (io->count != 1)
		return NATIVE_IO_ERRNO;
	native_rbuf_reserve(in, NATIVE_RECV_MIN);
	got = recv(io->conn->fd, in->buf + in->len, in->cap - in->len,
	    MSG_DONTWAIT);
	if (got <= 0)
		return NATIVE_IO_ERRNO;
	in->len += (size_t)got;
	n = resp_scan_reply(&in->scan, in->buf + in->pos, in->len - in->pos,
	    NULL);
	if (n <= 0 || in->buf[in->pos] != '-')
		return NATIVE_IO_ERRNO;
	io->off = io->last = (size_t)n;
	io->done = 1;
	return NATIVE_IO_LATE;
}

/* The round trip: send the request, receive the replies. Runs with the
 * GIL released (io->save). */
static enum native_io_result
native_conn_io(struct native_io *io)
{
	enum native_io_result rc;

	rc = native_io_send(io);
	if (rc == NATIVE_IO_ERRNO && native_errno_is_connection(io->err))
		return native_io_late(io);
	if (rc == NATIVE_IO_OK)
		rc = native_io_recv(io);
	return rc;
}

/* Raise the exception of a failed round trip. */
static void
native_conn_raise(struct native_conn *self, struct native_io *io,
    enum native_io_result rc)
{
	switch (rc) {
	case NATIVE_IO_ERRNO:
		errno = io->err;
		PyErr_SetFromErrno(PyExc_OSError);
		break;
	case NATIVE_IO_EOF:
		PyErr_SetString(native_closed_error,
		    "the server closed the connection");
		break;
	case NATIVE_IO_TIMEOUT:
		PyErr_SetString(PyExc_TimeoutError, "timed out");
		break;
	case NATIVE_IO_PROTOCOL:
		PyErr_Format(native_protocol_error,
		    "invalid RESP reply from the server (first byte 0x%02x)",
		    (unsigned char)self->in.buf[self->in.pos + io->off]);
		break;
	default:                       /* NATIVE_IO_SIGNAL: already set */
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_SystemError,
			    "round trip failed without an error");
		break;
	}
}

/*
 * Build the count complete replies at in.pos as a list, or return the
 * first error reply among them instead, for the caller to raise (all are
 * consumed either way, so the connection stays in step). New reference,
 * NULL on error.
 */
static PyObject *
native_conn_build_many(struct native_conn *self, size_t count, int decode)
{
	struct native_rbuf *in = &self->in;
	PyObject *list, *item, *first_err = NULL;
	struct resp_scan scan;
	long long n;
	size_t i;

	if (count > PY_SSIZE_T_MAX)
		return PyErr_NoMemory();
	if ((list = PyList_New((Py_ssize_t)count)) == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		resp_scan_init(&scan);
		n = resp_scan_reply(&scan, in->buf + in->pos,
		    in->len - in->pos, NULL);
		if (n <= 0) {          /* scanned whole before: cannot be */
			PyErr_SetString(native_protocol_error,
			    "could not build the reply");
			goto fail;
		}
		item = native_rbuf_build(in, (size_t)n, self->error_class,
		    decode);
		if (item == NULL)
			goto fail;
		if (first_err == NULL &&
		    (PyObject *)Py_TYPE(item) == self->error_class)
			first_err = item;
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	if (first_err == NULL)
		return list;
	Py_INCREF(first_err);
	Py_DECREF(list);
	return first_err;               /* the caller raises it */
fail:
	Py_DECREF(list);
	return NULL;
}

PyDoc_STRVAR(native_conn_command_doc,
"command(flags, *args) -> reply\n--\n\n"
"Send one command and return its reply: bulk -> bytes (str with\n"
"CMD_DECODE), status -> str, integer -> int, nil -> None, array -> list;\n"
"an error reply is raised (an error_class instance).\n"
"With CMD_MANY the arguments are (name, keys): one command 'name key'\n"
"for each key of the list, pipelined; the replies come back as a list,\n"
"or the first error reply among them is raised once all are read. With\n"
"CMD_IDLE_CHECK a connection that has been idle is first checked for\n"
"having been closed by the server. The command takes the lock unless\n"
"CMD_LOCKED says the caller holds it. Other bits of flags are ignored.\n\n"
"Raises, before anything is sent: ConnectionForked when the process\n"
"is a child forked after this Connection was made (before the lock);\n"
"TypeError, ValueError or OverflowError for an argument that cannot be\n"
"encoded (the connection is untouched); ConnectionStale when not\n"
"connected, or when the idle check found the connection closed. After\n"
"sending: TimeoutError, ConnectionClosed, OSError, ProtocolError, or a\n"
"signal handler's exception, and the connection is broken (fd -1) until\n"
"the next attach(). An error reply that arrived when sending failed is\n"
"raised, and the connection is broken after that too.");

/* Connection.command(flags, *args): one round trip. */
static PyObject *
native_conn_command(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_conn *self = (struct native_conn *)obj;
	struct native_io io;
	enum native_io_result rc;
	PyObject *res = NULL;
	size_t count = 1;
	long flags;
	int locked = 0, err;

	if (nargs < 2) {
		PyErr_SetString(PyExc_TypeError,
		    "command() takes flags and at least a command name");
		return NULL;
	}
	flags = PyLong_AsLong(args[0]);
	if (flags == -1 && PyErr_Occurred())
		return NULL;
	/* Before the lock: a thread that held it at fork() time is gone. */
	if (self->forks != native_forks) {
		PyErr_SetString(native_forked_error,
		    "the connection belongs to the parent process");
		return NULL;
	}
	if ((flags & NATIVE_CMD_LOCKED) == 0) {
		if (native_lock_take(self->lock, -1) < 0)
			return NULL;
		locked = 1;
	}
	if (native_conn_check_free(self) < 0)
		goto out;
	self->out.len = 0;
	if ((flags & NATIVE_CMD_MANY) != 0) {
		if (nargs != 3) {
			PyErr_SetString(PyExc_TypeError,
			    "command(CMD_MANY, name, keys) takes a name and "
			    "a list of keys");
			goto out;
		}
		err = native_pack_many(&self->out, args[1], args[2], &count);
	} else
		err = native_pack_into(&self->out, args + 1, nargs - 1);
	if (err < 0)
		goto out;
	if (count == 0) {
		res = PyList_New(0);
		goto out;
	}
	if (self->fd < 0) {
		PyErr_SetString(native_stale_error, "not connected");
		goto out;
	}
	if ((flags & NATIVE_CMD_IDLE_CHECK) != 0 &&
	    native_conn_idle_closed(self)) {
		native_conn_break(self);
		PyErr_SetString(native_stale_error,
		    "the server closed the connection while it was idle");
		goto out;
	}

	memset(&io, 0, sizeof io);
	io.conn = self;
	io.count = count;
	self->busy = 1;
	io.save = PyEval_SaveThread();
	rc = native_conn_io(&io);
	PyEval_RestoreThread(io.save);
	self->busy = 0;
	if (rc != NATIVE_IO_OK && rc != NATIVE_IO_LATE) {
		native_conn_raise(self, &io, rc);
		native_conn_break(self);
		goto out;
	}
	if ((flags & NATIVE_CMD_MANY) != 0)
		res = native_conn_build_many(self, count,
		    (flags & NATIVE_CMD_DECODE) != 0);
	else
		res = native_rbuf_build(&self->in, io.last, self->error_class,
		    (flags & NATIVE_CMD_DECODE) != 0);
	if (res == NULL || rc == NATIVE_IO_LATE)
		native_conn_break(self);
	else
		self->last_ns = native_now_ns();
	if (res != NULL && (PyObject *)Py_TYPE(res) == self->error_class) {
		/* An error reply is raised; the connection stays in step
		 * (unless the reply came late, after sending failed). */
		PyErr_SetObject(self->error_class, res);
		Py_CLEAR(res);
	}
out:
	native_conn_trim(self);
	if (locked)
		native_lock_give(self->lock);
	return res;
}

/* Connection.fd: the descriptor in use, -1 when not connected. */
static PyObject *
native_conn_get_fd(PyObject *obj, void *closure)
{
	return PyLong_FromLong(((struct native_conn *)obj)->fd);
}

/* Connection.timeout: SO_RCVTIMEO/SO_SNDTIMEO set by attach(), or None. */
static PyObject *
native_conn_get_timeout(PyObject *obj, void *closure)
{
	struct native_conn *self = (struct native_conn *)obj;

	if (self->timeout_us == 0)
		Py_RETURN_NONE;
	return PyFloat_FromDouble((double)self->timeout_us / 1e6);
}

/* Connection.forked: made in a parent of this process (before fork()). */
static PyObject *
native_conn_get_forked(PyObject *obj, void *closure)
{
	return PyBool_FromLong(((struct native_conn *)obj)->forks !=
	    native_forks);
}

/* Connection.lock: the Lock command() takes. */
static PyObject *
native_conn_get_lock(PyObject *obj, void *closure)
{
	PyObject *lock = (PyObject *)((struct native_conn *)obj)->lock;

	Py_INCREF(lock);
	return lock;
}

static PyMethodDef native_conn_methods[] = {
	{ "command", (PyCFunction)(void (*)(void))native_conn_command,
	    METH_FASTCALL, native_conn_command_doc },
	{ "attach", (PyCFunction)(void (*)(void))native_conn_attach,
	    METH_FASTCALL, native_conn_attach_doc },
	{ "detach", native_conn_detach, METH_NOARGS, native_conn_detach_doc },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef native_conn_getset[] = {
	{ "fd", native_conn_get_fd, NULL,
	    "The descriptor in use; -1 when not connected (or broken).",
	    NULL },
	{ "timeout", native_conn_get_timeout, NULL,
	    "The wait limit attach() set, in seconds, or None.", NULL },
	{ "forked", native_conn_get_forked, NULL,
	    "True in a child process forked after the Connection was made: "
	    "it must not be used there.", NULL },
	{ "lock", native_conn_get_lock, NULL,
	    "The Lock command() takes (unless CMD_LOCKED).", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyDoc_STRVAR(native_conn_doc,
"Connection(error_class=Exception)\n--\n\n"
"The client's connection (internal: TinyCache uses it): attach() a\n"
"connected socket, then command() does each round trip in C, under\n"
"the Connection's lock. Error replies are raised as error_class.");

static PyTypeObject native_conn_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "tiny_mp_cache._native.Connection",
	.tp_basicsize = sizeof(struct native_conn),
	.tp_dealloc = native_conn_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = native_conn_doc,
	.tp_methods = native_conn_methods,
	.tp_getset = native_conn_getset,
	.tp_init = native_conn_init,
	.tp_new = native_conn_new,
};

/* ---- Module ---- */

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
