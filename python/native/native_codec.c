/* SPDX-License-Identifier: MIT */
/*
 * The client's RESP codec, over the server's resp.c: pack_command (and
 * the encoding Connection uses), the reply buffer and the builders that
 * turn a whole reply into Python objects, and ReplyReader, which feeds
 * them incrementally (the asyncio client reads its replies with it).
 */
#include "config.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <string.h>

#include "mem.h"
#include "native.h"
#include "resp.h"

#define NATIVE_PACK_STACK_ARGS 8      /* commands this short need no heap
                                       * for their argument arrays */
#define NATIVE_READER_KEEP (1024 * 1024) /* reader buffer kept when empty */

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
int
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
int
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

const char native_pack_command_doc[] = PyDoc_STR(
"pack_command(*args) -> bytes\n--\n\n"
"Encode one command as a RESP multibulk request. Each argument is\n"
"bytes, a bytes-like object, str (sent as UTF-8) or int (in decimal).");

/* pack_command(*args): one command as RESP bytes; new reference. */
PyObject *
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

/* Forget every byte held (the buffer is kept). */
void
native_rbuf_reset(struct native_rbuf *rb)
{
	rb->pos = rb->len = 0;
	rb->need = 0;
	resp_scan_init(&rb->scan);
}

/* Free the buffer. */
void
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
void
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
PyObject *native_str_ok;

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
PyObject *
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

PyTypeObject native_reader_type = {
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
