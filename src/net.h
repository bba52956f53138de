/* SPDX-License-Identifier: MIT */
/*
 * Sockets made a little less tedious: TCP and Unix-socket listeners,
 * accept, and the fd flags the server wants. Every call that can fail
 * takes err[NET_ERR_LEN] first, fills it on failure and returns -1.
 */
#ifndef TMC_NET_H
#define TMC_NET_H

#include <stddef.h>
#include <sys/types.h>

#define NET_ERR_LEN 256         /* room for an error message */
#define NET_ADDR_LEN 64         /* room for "ip:port" or "[ip6]:port" */

/* Listen on host:port (IPv4 or IPv6 literal or name; SO_REUSEADDR,
 * non-blocking, close-on-exec). port 0 picks a free port; *bound_port, if
 * not NULL, gets the port actually bound. Returns the fd or -1. */
int net_tcp_listen(char *err, const char *host, int port, int backlog,
    int *bound_port);

/* Listen on a Unix socket at path with the given permissions (applied
 * before the socket is reachable), removing a stale socket file first
 * but never a file that is not a socket or one a live server answers
 * on. Returns the fd or -1. */
int net_unix_listen(char *err, const char *path, mode_t perm, int backlog);

/* Accept one connection (non-blocking, close-on-exec; TCP_NODELAY on TCP).
 * Returns the fd, or -1: errno EAGAIN/EWOULDBLOCK when none is pending,
 * otherwise err says why. addr (NET_ADDR_LEN) gets "ip:port" for TCP,
 * or the socket path for Unix sockets; it may be NULL. */
int net_accept(char *err, int lfd, char *addr);

int net_set_nonblock(char *err, int fd);
int net_set_cloexec(char *err, int fd);
int net_set_nodelay(char *err, int fd);
int net_set_keepalive(char *err, int fd, int interval);
/* 1 if a TCP peer is 127.0.0.1 or ::1 exactly, 0 if not, -1 unknown. */
int net_peer_is_local(int fd);

/* "ip:port" of the local end of a socket into addr (NET_ADDR_LEN). */
int net_local_addr(char *err, int fd, char *addr);

#endif
