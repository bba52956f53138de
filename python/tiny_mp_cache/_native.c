/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native: the CPython side of the package. Server runs the
 * embedded C server (server.h) with the GIL released; pack_command and
 * ReplyReader are the client's RESP codec, over the same resp.c.
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "resp.h"
#include "server.h"

PyMODINIT_FUNC PyInit__native(void);

#define NATIVE_TICK_MS 100            /* how often a server run in the main
                                       * thread looks for signals (bjoern's
                                       * SIGNAL_CHECK_INTERVAL) */
#define NATIVE_PACK_STACK_ARGS 8      /* commands this short need no heap
                                       * for their argument arrays */
#define NATIVE_PACK_KEEP (64 * 1024)  /* pack buffer kept between calls;
                                       * a bigger one is freed after use */
#define NATIVE_READER_KEEP (1024 * 1024) /* reader buffer kept when empty */
#define NATIVE_BULK_MIN (1024 * 1024)    /* smallest proto_max_bulk_len, as
                                          * Redis's proto-max-bulk-len */

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
};

static PyTypeObject native_server_type;

/* The exception types of the module (see __init__.py for the public
 * names): set up once in PyInit__native. */
static PyObject *native_protocol_error;

/* Convert a str/bytes/os.PathLike or None to a bytes path or NULL. */
static int
native_path_or_none(PyObject *obj, void *out)
{
	PyObject **res = out;

	if (obj == Py_None) {
		*res = NULL;
		return 1;
	}
	return PyUnicode_FSConverter(obj, res);
}

/* Map a log level name to the server's enum; -1 if unknown. */
static int
native_loglevel(const char *name)
{
	static const struct {
		const char *name;
		enum server_loglevel level;
	} levels[] = {
		{ "debug", SERVER_LOG_DEBUG },
		{ "verbose", SERVER_LOG_VERBOSE },
		{ "notice", SERVER_LOG_NOTICE },
		{ "warning", SERVER_LOG_WARNING },
		{ "nothing", SERVER_LOG_NOTHING },
	};
	size_t i;

	for (i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		if (strcmp(levels[i].name, name) == 0)
			return (int)levels[i].level;
	}
	return -1;
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

/* Server(port=5002, *, host=..., ...): check the options and bind. */
static int
native_server_init(PyObject *obj, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "port", "host", "unixsocket",
	    "unixsocketperm", "maxclients", "loglevel", "logfile",
	    "event_backend", "proto_max_bulk_len", "tcp_backlog",
	    "requirepass", "client_output_buffer_limit", NULL };
	struct native_server *self = (struct native_server *)obj;
	struct server_config cfg;
	int port = SERVER_PORT_DEFAULT, perm = SERVER_UNIXPERM_DEFAULT;
	int maxclients = SERVER_MAXCLIENTS_DEFAULT, backlog = -1, level;
	long long bulk_max = 0;
	const char *host = SERVER_BIND_DEFAULT, *loglevel = "notice";
	const char *backend = NULL, *requirepass = NULL;
	PyObject *unixsocket = NULL, *logfile = NULL, *obuf = Py_None;
	long long obuf_limit = -1;
	struct server *srv;
	char err[SERVER_ERR_LEN];
	int rc = -1;

	if (self->srv != NULL || self->ran) {
		PyErr_SetString(PyExc_RuntimeError,
		    "Server.__init__ called twice");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kwds,
	    "|i$sO&iisO&zLizO:Server", kwlist, &port, &host,
	    native_path_or_none, &unixsocket, &perm, &maxclients, &loglevel,
	    native_path_or_none, &logfile, &backend, &bulk_max, &backlog,
	    &requirepass, &obuf))
		return -1;

	if (port < -1 || port > 65535) {
		PyErr_Format(PyExc_ValueError,
		    "port must be 0..65535 (or -1 for no TCP), not %d", port);
		goto out;
	}
	if (port == -1 && unixsocket == NULL) {
		PyErr_SetString(PyExc_ValueError,
		    "port=-1 needs a unixsocket: nothing to listen on");
		goto out;
	}
	if (perm < 0 || perm > 07777) {
		PyErr_Format(PyExc_ValueError,
		    "unixsocketperm must be 0..0o7777, not %#o", perm);
		goto out;
	}
	if (maxclients < 1) {
		PyErr_Format(PyExc_ValueError,
		    "maxclients must be at least 1, not %d", maxclients);
		goto out;
	}
	if ((level = native_loglevel(loglevel)) < 0) {
		PyErr_Format(PyExc_ValueError, "loglevel must be one of "
		    "debug, verbose, notice, warning, nothing, not '%s'",
		    loglevel);
		goto out;
	}
	if (backend != NULL && strcmp(backend, "auto") != 0 &&
	    strcmp(backend, "epoll") != 0 && strcmp(backend, "select") != 0) {
		PyErr_Format(PyExc_ValueError, "event_backend must be "
		    "'epoll', 'select' or None, not '%s'", backend);
		goto out;
	}
	if (bulk_max != 0 && bulk_max < NATIVE_BULK_MIN) {
		PyErr_Format(PyExc_ValueError, "proto_max_bulk_len must be 0 "
		    "(the default, 512 MB) or at least %d, not %lld",
		    NATIVE_BULK_MIN, bulk_max);
		goto out;
	}

	if (obuf != Py_None) {
		if (!PyLong_Check(obuf)) {
			PyErr_Format(PyExc_TypeError, "client_output_buffer_limit "
			    "must be an int or None, not %.100s",
			    Py_TYPE(obuf)->tp_name);
			goto out;
		}
		obuf_limit = PyLong_AsLongLong(obuf);
		if (obuf_limit == -1 && PyErr_Occurred())
			goto out;
		if (obuf_limit < 0) {
			PyErr_Format(PyExc_ValueError, "client_output_buffer_limit "
			    "must be 0 (no limit), a byte count or None (the "
			    "default, 1 GB), not %lld", obuf_limit);
			goto out;
		}
	}

	server_config_init(&cfg);
	cfg.bind = host;
	cfg.port = port;
	cfg.unixsocket = unixsocket != NULL ?
	    PyBytes_AS_STRING(unixsocket) : NULL;
	cfg.unixsocketperm = (mode_t)perm;
	cfg.maxclients = maxclients;
	if (bulk_max > 0)
		cfg.proto_max_bulk_len = bulk_max;
	if (backlog >= 0)
		cfg.tcp_backlog = backlog;
	if (obuf_limit >= 0)
		cfg.client_obuf_limit = obuf_limit;
	cfg.requirepass = requirepass;    /* NULL or "": no password */
	cfg.loglevel = (enum server_loglevel)level;
	cfg.logfile = logfile != NULL ? PyBytes_AS_STRING(logfile) : NULL;
	cfg.event_backend = backend;
	cfg.tick = native_server_tick;
	cfg.tick_arg = self;
	cfg.tick_ms = NATIVE_TICK_MS;

	/* Binding may resolve a host name: let other threads run. The
	 * strings stay alive: we hold their owners. */
	Py_BEGIN_ALLOW_THREADS
	srv = server_create(&cfg, err);
	Py_END_ALLOW_THREADS
	if (srv == NULL) {
		PyErr_SetString(PyExc_OSError, err);
		goto out;
	}
	self->srv = srv;
	rc = 0;
out:
	Py_XDECREF(unixsocket);
	Py_XDECREF(logfile);
	return rc;
}

/* Close the server if still open (dealloc and close()). */
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
"Server(port=5002, *, host='127.0.0.1', unixsocket=None,\n"
"       unixsocketperm=0o700, maxclients=10000, loglevel='notice',\n"
"       logfile=None, event_backend=None, proto_max_bulk_len=0,\n"
"       tcp_backlog=511, requirepass=None,\n"
"       client_output_buffer_limit=None)\n"
"--\n\n"
"The embedded tiny-mp-cache server. Making one binds its sockets (a\n"
"taken port raises OSError at once); run() serves, stop() stops it from\n"
"any thread, close() frees it. port=0 picks a free port (see .port);\n"
"port=-1 listens on the Unix socket only. requirepass: clients must\n"
"AUTH with it first (None or '': no password). client_output_buffer_limit:\n"
"a client with more unsent reply bytes is disconnected (0: no limit;\n"
"None: 1 GB).");

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
 * release (view->obj != NULL). Returns 0, or -1 with TypeError.
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

PyDoc_STRVAR(native_pack_command_doc,
"pack_command(*args) -> bytes\n--\n\n"
"Encode one command as a RESP multibulk request. Each argument is\n"
"bytes, a bytes-like object, str (sent as UTF-8) or int (in decimal).");

/* pack_command(*args): one command as RESP bytes; new reference. */
static PyObject *
native_pack_command(PyObject *module, PyObject *const *args,
    Py_ssize_t nargs)
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
	PyObject *res = NULL;
	Py_ssize_t i, done = 0;

	if (nargs == 0) {
		PyErr_SetString(PyExc_TypeError,
		    "pack_command() needs at least a command name");
		return NULL;
	}
	if (nargs > INT_MAX) {
		PyErr_SetString(PyExc_OverflowError, "too many arguments");
		return NULL;
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

	native_pack_buf.len = 0;
	resp_add_command(&native_pack_buf, (int)nargs, ptrs, lens);
	res = PyBytes_FromStringAndSize(native_pack_buf.data,
	    (Py_ssize_t)native_pack_buf.len);
	if (native_pack_buf.cap > NATIVE_PACK_KEEP)
		resp_buf_free(&native_pack_buf);
out:
	for (i = 0; i < done; i++) {
		Py_XDECREF(keep[i]);
		if (views[i].obj != NULL)
			PyBuffer_Release(&views[i]);
	}
	if (ptrs != ptr_stack) {
		PyMem_Free(ptrs);
		PyMem_Free(lens);
		PyMem_Free(keep);
		PyMem_Free(views);
		PyMem_Free(nums);
	}
	return res;
}

/* ---- Reading replies ---- */

/*
 * Incremental reply reader: feed() appends received bytes, gets() returns
 * the next complete reply or False. Bytes are scanned once
 * (resp_scan_reply resumes) and objects built once the whole reply is in.
 */
struct native_reader {
	PyObject_HEAD
	char *buf;                     /* received bytes */
	size_t pos;                    /* start of the next reply */
	size_t len;                    /* bytes held */
	size_t cap;                    /* bytes allocated */
	struct resp_scan scan;         /* progress on the reply at pos */
	size_t need;                   /* bytes the reply surely still needs */
	int broken;                    /* invalid input seen: sticky */
	PyObject *error_class;         /* called with an error reply's text */
};

static PyTypeObject native_reader_type;

/* What the builders need while one reply is being built. */
struct native_build {
	struct native_reader *reader;
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
		return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len,
		    "surrogateescape");
	default: {                     /* '-': an error object, not raised */
		PyObject *msg, *err;

		msg = PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "replace");
		if (msg == NULL)
			return NULL;
		err = PyObject_CallFunctionObjArgs(b->reader->error_class, msg,
		    NULL);
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
	self->pos = self->len = 0;
	self->need = 0;
	self->broken = 0;
	resp_scan_init(&self->scan);
	return 0;
}

/* Free a ReplyReader and its buffer. */
static void
native_reader_dealloc(PyObject *obj)
{
	struct native_reader *self = (struct native_reader *)obj;

	mem_free(self->buf);
	Py_CLEAR(self->error_class);
	Py_TYPE(obj)->tp_free(obj);
}

/* Make room for n more bytes after the held ones, moving the unread
 * bytes to the front first. The scan state counts from the reply's
 * start, so moving the reply does not disturb it. */
static void
native_reader_reserve(struct native_reader *self, size_t n)
{
	size_t held = self->len - self->pos;
	size_t cap;

	if (self->pos > 0 && (held == 0 || self->cap - self->len < n)) {
		memmove(self->buf, self->buf + self->pos, held);
		self->pos = 0;
		self->len = held;
	}
	if (self->cap - self->len >= n)
		return;
	cap = self->cap != 0 ? self->cap : 16 * 1024;
	while (cap - self->len < n)
		cap *= 2;
	/* A reply announced long enough is allocated for in one go. */
	if (self->need > n && self->len + self->need > cap)
		cap = self->len + self->need;
	self->buf = mem_realloc(self->buf, cap);
	self->cap = cap;
}

PyDoc_STRVAR(native_reader_feed_doc,
"feed(data, length=-1)\n--\n\n"
"Append the first length bytes of data (all of it when length < 0).");

/* ReplyReader.feed(data, length=-1): append bytes. */
static PyObject *
native_reader_feed(PyObject *obj, PyObject *const *args, Py_ssize_t nargs)
{
	struct native_reader *self = (struct native_reader *)obj;
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
		native_reader_reserve(self, (size_t)n);
		memcpy(self->buf + self->len, view.buf, (size_t)n);
		self->len += (size_t)n;
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
	struct native_build ctx;
	long long n;
	PyObject *reply;

	if (self->broken) {
		PyErr_SetString(native_protocol_error,
		    "the reply stream is broken (invalid RESP seen earlier)");
		return NULL;
	}
	ctx.reader = self;
	ctx.decode = nargs > 0 && PyObject_IsTrue(args[0]) > 0;
	if (self->pos == self->len)
		Py_RETURN_FALSE;
	n = resp_scan_reply(&self->scan, self->buf + self->pos,
	    self->len - self->pos, &self->need);
	if (n == 0)
		Py_RETURN_FALSE;
	if (n < 0) {
		self->broken = 1;
		PyErr_Format(native_protocol_error,
		    "invalid RESP reply from the server (first byte 0x%02x)",
		    (unsigned char)self->buf[self->pos]);
		return NULL;
	}
	reply = resp_read_reply(&native_builder, &ctx,
	    self->buf + self->pos, (size_t)n);
	self->pos += (size_t)n;
	self->need = 0;
	resp_scan_init(&self->scan);
	if (self->pos == self->len) {
		self->pos = self->len = 0;
		if (self->cap > NATIVE_READER_KEEP) {
			mem_free(self->buf);
			self->buf = NULL;
			self->cap = 0;
		}
	}
	if (reply == NULL && !PyErr_Occurred())
		PyErr_SetString(native_protocol_error,
		    "could not build the reply");
	return reply;
}

/* ReplyReader.pending: bytes held that are not returned yet. */
static PyObject *
native_reader_get_pending(PyObject *obj, void *closure)
{
	struct native_reader *self = (struct native_reader *)obj;

	return PyLong_FromSize_t(self->len - self->pos);
}

/* ReplyReader.need: bytes the current reply surely still needs. */
static PyObject *
native_reader_get_need(PyObject *obj, void *closure)
{
	return PyLong_FromSize_t(((struct native_reader *)obj)->need);
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

/* ---- Module ---- */

static PyMethodDef native_methods[] = {
	{ "pack_command", (PyCFunction)(void (*)(void))native_pack_command,
	    METH_FASTCALL, native_pack_command_doc },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef native_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "tiny_mp_cache._native",
	.m_doc = "The embedded tiny-mp-cache server and the client's RESP "
	    "codec (internal: use the tiny_mp_cache package).",
	.m_size = -1,
	.m_methods = native_methods,
};

/* Make the module: its types, exception and constants. */
PyMODINIT_FUNC
PyInit__native(void)
{
	PyObject *m;

	if (PyType_Ready(&native_server_type) < 0 ||
	    PyType_Ready(&native_reader_type) < 0)
		return NULL;
	if ((m = PyModule_Create(&native_module)) == NULL)
		return NULL;
	if (native_protocol_error == NULL) {
		native_protocol_error = PyErr_NewExceptionWithDoc(
		    "tiny_mp_cache._native.ProtocolError",
		    "The server's reply is not valid RESP2.", NULL, NULL);
		if (native_protocol_error == NULL)
			goto fail;
	}
	Py_INCREF(native_protocol_error);
	if (PyModule_AddObject(m, "ProtocolError", native_protocol_error) < 0) {
		Py_DECREF(native_protocol_error);
		goto fail;
	}
	Py_INCREF(&native_server_type);
	if (PyModule_AddObject(m, "Server",
	    (PyObject *)&native_server_type) < 0) {
		Py_DECREF(&native_server_type);
		goto fail;
	}
	Py_INCREF(&native_reader_type);
	if (PyModule_AddObject(m, "ReplyReader",
	    (PyObject *)&native_reader_type) < 0) {
		Py_DECREF(&native_reader_type);
		goto fail;
	}
	if (PyModule_AddStringConstant(m, "SERVER_VERSION",
	    server_version()) < 0 ||
	    PyModule_AddIntConstant(m, "DEFAULT_PORT",
	    SERVER_PORT_DEFAULT) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
