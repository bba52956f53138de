/* SPDX-License-Identifier: MIT */
/*
 * Sockets made a little less tedious: TCP and Unix-socket listeners,
 * accept, and the fd flags the server wants (see net.h).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

/* Format an error message into err (NET_ERR_LEN), if err is not NULL. */
static void net_set_error(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
net_set_error(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, NET_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Close fd keeping errno, so the caller can still report the failure. */
static void
net_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* ---- fd flags ---- */

/* Set flag in fd's F_GETFL (getcmd) / F_SETFL (setcmd) flags, retrying
 * on EINTR. Returns 0 or -1 with err filled. */
static int
net_fcntl_set(char *err, int fd, int getcmd, int setcmd, int flag,
    const char *what)
{
	int flags, rc;

	do
		flags = fcntl(fd, getcmd);
	while (flags == -1 && errno == EINTR);
	if (flags == -1) {
		net_set_error(err, "fcntl(F_GET%s): %s", what, strerror(errno));
		return -1;
	}
	if (flags & flag)
		return 0;
	do
		rc = fcntl(fd, setcmd, flags | flag);
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		net_set_error(err, "fcntl(F_SET%s): %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/* Make fd non-blocking. 0 or -1 with err filled. */
int
net_set_nonblock(char *err, int fd)
{
	return net_fcntl_set(err, fd, F_GETFL, F_SETFL, O_NONBLOCK, "FL");
}

/* Make fd close-on-exec. 0 or -1 with err filled. */
int
net_set_cloexec(char *err, int fd)
{
	return net_fcntl_set(err, fd, F_GETFD, F_SETFD, FD_CLOEXEC, "FD");
}

/* Turn off Nagle's algorithm on a TCP socket. 0 or -1 with err filled. */
int
net_set_nodelay(char *err, int fd)
{
	int yes = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes) == -1) {
		net_set_error(err, "setsockopt(TCP_NODELAY): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Turn on TCP keepalive probes: the first after interval seconds idle,
 * then every interval / 3, giving up after 3 (as Redis's anetKeepAlive).
 * 0 or -1 with err filled.
 */
int
net_set_keepalive(char *err, int fd, int interval)
{
	int yes = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes) == -1) {
		net_set_error(err, "setsockopt(SO_KEEPALIVE): %s",
		    strerror(errno));
		return -1;
	}
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
	{
		int idle = interval, intvl = interval / 3, cnt = 3;

		if (intvl < 1)
			intvl = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
		    sizeof idle) == -1 ||
		    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
		    sizeof intvl) == -1 ||
		    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt,
		    sizeof cnt) == -1) {
			net_set_error(err, "setsockopt(TCP_KEEP*): %s",
			    strerror(errno));
			return -1;
		}
	}
#endif
	return 0;
}

/* ---- Addresses ---- */

/*
 * 1 if the peer of a TCP socket is 127.0.0.1 or ::1 exactly (Redis's
 * test for protected mode: other loopback addresses such as 127.0.0.2
 * count as remote), 0 if not, -1 if unknown.
 */
int
net_peer_is_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		return ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)&ss;

		return memcmp(&in6->sin6_addr, &in6addr_loopback,
		    sizeof(in6addr_loopback)) == 0;
	}
	return 1;                    /* a Unix socket */
}

/*
 * Format sa into addr (NET_ADDR_LEN) as Redis's CLIENT LIST does:
 * "1.2.3.4:port", "[::1]:port", or a Unix socket's path (empty for an
 * unnamed one). Returns 0 or -1 with err filled.
 */
static int
net_format_addr(char *err, const struct sockaddr_storage *ss,
    socklen_t len, char *addr)
{
	const struct sockaddr_un *sun;
	char ip[INET6_ADDRSTRLEN];
	size_t plen;

	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
		snprintf(addr, NET_ADDR_LEN, "%s:%u", ip,
		    (unsigned int)ntohs(sin->sin_port));
		return 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
		snprintf(addr, NET_ADDR_LEN, "[%s]:%u", ip,
		    (unsigned int)ntohs(sin6->sin6_port));
		return 0;
	}
	case AF_UNIX:
		sun = (const void *)ss;
		plen = 0;
		if ((size_t)len > offsetof(struct sockaddr_un, sun_path))
			plen = (size_t)len -
			    offsetof(struct sockaddr_un, sun_path);
		/* sun_path need not be NUL-terminated; stop at the first NUL. */
		plen = strnlen(sun->sun_path, plen);
		snprintf(addr, NET_ADDR_LEN, "%.*s", (int)plen, sun->sun_path);
		return 0;
	default:
		net_set_error(err, "unknown address family %d",
		    (int)ss->ss_family);
		return -1;
	}
}

/* Write "ip:port" (or the path) of fd's local end into addr. 0 or -1. */
int
net_local_addr(char *err, int fd, char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		net_set_error(err, "getsockname: %s", strerror(errno));
		return -1;
	}
	return net_format_addr(err, &ss, len, addr);
}

/* ---- TCP ---- */

/*
 * Open, bind and listen one socket for address ai. Returns the fd, or -1
 * with err filled ("Could not bind HOST:PORT: reason").
 */
static int
net_tcp_listen_one(char *err, const struct addrinfo *ai, const char *shown,
    int port, int backlog)
{
	int fd, yes = 1, type = ai->ai_socktype;

#ifdef SOCK_CLOEXEC
	type |= SOCK_CLOEXEC | SOCK_NONBLOCK;
#endif
	fd = socket(ai->ai_family, type, ai->ai_protocol);
	if (fd == -1) {
		net_set_error(err, "Could not create socket for %s:%d: %s",
		    shown, port, strerror(errno));
		return -1;
	}
	if (net_set_nonblock(err, fd) == -1 || net_set_cloexec(err, fd) == -1)
		goto fail;
	/* An IPv6 socket takes only IPv6, as in Redis: "::" and "0.0.0.0"
	 * are separate listeners, and binding one never blocks the other. */
	if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &yes, sizeof yes) == -1) {
		net_set_error(err, "setsockopt(IPV6_V6ONLY): %s",
		    strerror(errno));
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == -1) {
		net_set_error(err, "setsockopt(SO_REUSEADDR): %s",
		    strerror(errno));
		goto fail;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		net_set_error(err, "Could not bind %s:%d: %s", shown, port,
		    strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		net_set_error(err, "Could not listen on %s:%d: %s", shown,
		    port, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	net_close_keep_errno(fd);
	return -1;
}

/*
 * Listen on host:port. host is an IPv4 or IPv6 literal or a name (tried
 * address by address until one binds; the first failure is reported);
 * NULL or "*" means every IPv4 interface. port 0 picks a free port, and
 * *bound_port (if not NULL) gets the one bound. Returns the listening
 * fd (non-blocking, close-on-exec) or -1 with err filled, e.g.
 * "Could not bind 127.0.0.1:5002: Address already in use".
 */
int
net_tcp_listen(char *err, const char *host, int port, int backlog,
    int *bound_port)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t len;
	char portstr[16], shown[NI_MAXHOST + 3], first[NET_ERR_LEN];
	int fd = -1, rc, saved = 0;

	if (port < 0 || port > 65535) {
		net_set_error(err, "invalid TCP port %d", port);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (host != NULL && strcmp(host, "*") == 0)
		host = NULL;
	if (host == NULL)
		hints.ai_family = AF_INET;
	snprintf(portstr, sizeof portstr, "%d", port);
	/* Show IPv6 literals bracketed so the port stays readable. */
	if (host == NULL)
		snprintf(shown, sizeof shown, "*");
	else if (strchr(host, ':') != NULL)
		snprintf(shown, sizeof shown, "[%.*s]", NI_MAXHOST, host);
	else
		snprintf(shown, sizeof shown, "%.*s", NI_MAXHOST, host);

	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		net_set_error(err, "Could not resolve %s: %s", shown,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	first[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = net_tcp_listen_one(first[0] == '\0' ? first : NULL, ai,
		    shown, port, backlog);
		if (fd != -1)
			break;
		if (saved == 0)
			saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		net_set_error(err, "%s", first[0] != '\0' ? first :
		    "no usable address");
		errno = saved;
		return -1;
	}

	if (bound_port != NULL) {
		memset(&ss, 0, sizeof ss);
		len = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
			net_set_error(err, "getsockname: %s", strerror(errno));
			net_close_keep_errno(fd);
			return -1;
		}
		if (ss.ss_family == AF_INET6)
			*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

/* ---- Unix sockets ---- */

/*
 * Check what is at path before binding there. Returns 1 if nothing is
 * (any stale socket has been removed), 0 if path is in use (err says
 * why), -1 on another error (err filled). A socket file is stale when
 * connecting to it is refused: nobody listens. A live server's socket or
 * a file that is not a socket is never removed.
 */
static int
net_unix_clear(char *err, const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 1;
		net_set_error(err, "Could not stat %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		net_set_error(err, "%s exists and is not a socket; not "
		    "removing it", path);
		errno = EEXIST;
		return 0;
	}

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1) {
		net_set_error(err, "socket: %s", strerror(errno));
		return -1;
	}
	/* Non-blocking, so a listener with a full backlog answers EAGAIN
	 * instead of holding us up; a Unix connect() never needs to wait
	 * otherwise: it is accepted into the backlog or refused at once. */
	if (net_set_nonblock(err, fd) == -1) {
		net_close_keep_errno(fd);
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		net_set_error(err, "a server is already listening on %s",
		    path);
		errno = EADDRINUSE;
		return 0;
	}
	if (errno != ECONNREFUSED) {
		net_set_error(err, "Could not check the existing socket %s: "
		    "%s", path, strerror(errno));
		net_close_keep_errno(fd);
		return -1;
	}
	close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		net_set_error(err, "Could not remove the stale socket %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 1;
}

/*
 * Listen on a Unix socket at path with permissions perm, removing a stale
 * socket file first (see net_unix_clear). The file is created by bind()
 * and chmod()ed before listen(): until listen() every connect() to it is
 * refused, so nobody can connect while the mode is still the umask's.
 * This needs no process-wide umask change (the Python extension may
 * have other threads creating files). Returns the fd (non-blocking,
 * close-on-exec) or -1 with err filled; on failure after bind the file
 * is removed again.
 */
int
net_unix_listen(char *err, const char *path, mode_t perm, int backlog)
{
	struct sockaddr_un sa;
	size_t len;
	int fd, type = SOCK_STREAM, rc;

	len = strlen(path);
	if (len == 0 || len >= sizeof sa.sun_path) {
		net_set_error(err, "Unix socket path %s (%zu bytes): the limit "
		    "is %zu bytes", len == 0 ? "is empty" : "is too long",
		    len, sizeof sa.sun_path - 1);
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len + 1);

	rc = net_unix_clear(err, path, &sa);
	if (rc != 1)
		return -1;

#ifdef SOCK_CLOEXEC
	type |= SOCK_CLOEXEC | SOCK_NONBLOCK;
#endif
	fd = socket(AF_UNIX, type, 0);
	if (fd == -1) {
		net_set_error(err, "Could not create a Unix socket: %s",
		    strerror(errno));
		return -1;
	}
	if (net_set_nonblock(err, fd) == -1 || net_set_cloexec(err, fd) == -1) {
		net_close_keep_errno(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		net_set_error(err, "Could not bind %s: %s", path,
		    strerror(errno));
		net_close_keep_errno(fd);
		return -1;
	}
	if (chmod(path, perm) == -1) {
		net_set_error(err, "Could not chmod %s to %04o: %s", path,
		    (unsigned int)perm, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		net_set_error(err, "Could not listen on %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	return fd;

fail:
	net_close_keep_errno(fd);
	rc = errno;
	unlink(path);
	errno = rc;
	return -1;
}

/* ---- Accept ---- */

/*
 * Accept one connection on lfd, made non-blocking and close-on-exec, with
 * TCP_NODELAY on TCP. Returns the fd, or -1: errno EAGAIN/EWOULDBLOCK
 * when nothing is pending, otherwise err says why (errno kept). addr (if
 * not NULL, NET_ADDR_LEN) gets the peer's "ip:port" or, for a Unix
 * socket, the listener's path.
 */
int
net_accept(char *err, int lfd, char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (;;) {
		memset(&ss, 0, sizeof ss);
		len = sizeof ss;
#ifdef HAVE_ACCEPT4
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
		fd = accept(lfd, (struct sockaddr *)&ss, &len);
#endif
		if (fd != -1)
			break;
		if (errno == EINTR)
			continue;
		net_set_error(err, "accept: %s", strerror(errno));
		return -1;
	}
#ifndef HAVE_ACCEPT4
	if (net_set_nonblock(err, fd) == -1 || net_set_cloexec(err, fd) == -1) {
		net_close_keep_errno(fd);
		return -1;
	}
#endif
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		/* Best effort, as Redis: a failure only costs latency. */
		(void)net_set_nodelay(NULL, fd);
	}
	if (addr != NULL) {
		addr[0] = '\0';
		if (ss.ss_family == AF_UNIX) {
			/* The peer is unnamed; name the socket it came in on. */
			if (net_local_addr(NULL, lfd, addr) == -1)
				addr[0] = '\0';
		} else if (net_format_addr(NULL, &ss, len, addr) == -1)
			addr[0] = '\0';
	}
	return fd;
}
