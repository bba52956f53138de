/* SPDX-License-Identifier: MIT */
/*
 * tiny_mp_cache._native: the CPython side of the package. Server runs the
 * embedded C server (server.h) with the GIL released; pack_command and
 * ReplyReader are the client's RESP codec, over the same resp.c, and
 * Connection does the client's round trips.
 *
 * One extension module in five parts, and this header is what they share
 * (each part includes <Python.h> first, with PY_SSIZE_T_CLEAN):
 * native_server.c (Server), native_codec.c (pack_command, ReplyReader and
 * the reply builders, also used by Connection), native_lock.c (Lock),
 * native_conn.c (Connection) and native_module.c (the module: exceptions,
 * constants, settings(), the at-fork hook).
 */
#ifndef TMC_NATIVE_H
#define TMC_NATIVE_H

#include <Python.h>

#include <stddef.h>

#include "resp.h"

#define NATIVE_PACK_KEEP (64 * 1024)  /* pack buffer kept between calls;
                                       * a bigger one is freed after use */

/* ---- Module (native_module.c) ---- */

extern PyObject *native_protocol_error; /* the reply is not RESP2 */
extern PyObject *native_stale_error;    /* nothing sent: (re)connect */
extern PyObject *native_forked_error;   /* made before a fork() */
extern PyObject *native_closed_error;   /* EOF: a ConnectionError */
extern unsigned long native_forks;      /* fork()s this process descends
                                         * through (the GIL guards it) */

/* ---- Server (native_server.c) ---- */

extern PyTypeObject native_server_type;

/* parse_command_line(prog, args): the server program's options checked
 * as tiny-mp-cache-server checks them (cli.h). */
PyObject *native_parse_command_line(PyObject *module, PyObject *args);
extern const char native_parse_command_line_doc[];

/* ---- Codec (native_codec.c) ---- */

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

extern PyTypeObject native_reader_type;

extern PyObject *native_str_ok;         /* "OK", made in PyInit__native */

/* Append one command to b (0), or leave b as it was (-1, with an
 * exception). */
int native_pack_into(struct resp_buf *b, PyObject *const *args,
    Py_ssize_t nargs);
/* Append "name key" to b for each key of a list or tuple and set *count
 * to their number (0), or -1 with an exception. */
int native_pack_many(struct resp_buf *b, PyObject *name, PyObject *keys,
    size_t *count);
/* The module function pack_command(*args) and its docstring. */
PyObject *native_pack_command(PyObject *module, PyObject *const *args,
    Py_ssize_t nargs);
extern const char native_pack_command_doc[];

void native_rbuf_reset(struct native_rbuf *rb);
void native_rbuf_free(struct native_rbuf *rb);
void native_rbuf_reserve(struct native_rbuf *rb, size_t n);
/* Build and consume the whole reply of n bytes at rb->pos: a new
 * reference, or NULL with an exception. */
PyObject *native_rbuf_build(struct native_rbuf *rb, size_t n,
    PyObject *error_class, int decode);

/* ---- Lock (native_lock.c) ---- */

struct native_lock;

extern PyTypeObject native_lock_type;

PyObject *native_lock_new(PyTypeObject *type, PyObject *args,
    PyObject *kwds);
/* 1 when taken, 0 when timeout_us (-1: none, 0: no wait) ran out, -1
 * with the exception a signal handler raised. */
int native_lock_take(struct native_lock *self, long long timeout_us);
void native_lock_give(struct native_lock *self);

/* ---- Connection (native_conn.c) ---- */

#define NATIVE_CMD_DECODE 1            /* bulk strings as str (KEYS) */
#define NATIVE_CMD_IDLE_CHECK 2        /* the idle-close check first */
#define NATIVE_CMD_MANY 4              /* name, keys: one command a key */
#define NATIVE_CMD_LOCKED 8            /* the caller holds the lock */

#define NATIVE_IDLE_NS 1000000LL       /* idle time before the idle-close
                                        * check costs a poll() (1 ms) */

extern PyTypeObject native_conn_type;

#endif
