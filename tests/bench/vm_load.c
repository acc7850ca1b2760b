// SPDX-License-Identifier: GPL-2.0
/*
 * Load generators for tests/bench/vm, run inside the benchmark VM between
 * two network namespaces (/run/netns/NAME).  Each prints one line,
 * "count=N seconds=S rate=R", timed with CLOCK_MONOTONIC (under
 * scripts/vm --icount that is the guest's instruction-driven clock).
 *
 *   vm_load conn NS_CLIENT NS_SERVER SERVER_IP PORT N
 *	N full connections, one after another, in this one process: connect
 *	(ephemeral port), 64 bytes each way, the client closes first (so
 *	every client port ends in TIME_WAIT), the server reads end of file
 *	and closes.  SERVER_IP may be IPv4 or IPv6.
 *
 *   vm_load syn NS IFNAME SRC_MAC DST_MAC SRC_IP DST_IP N
 *	N distinct TCP SYNs (source port and sequence vary) as raw Ethernet
 *	frames on IFNAME in NS.  DST_IP should be an address the receiving
 *	namespace does not own, so that nothing answers: the receiver's
 *	PRE_ROUTING hook sees each SYN, then routing drops it.  The clock
 *	stops when the kernel has processed every frame
 *	(/proc/net/softnet_stat), not merely when they were queued.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "vm_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void enter_netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	if (setns(fd, CLONE_NEWNET) < 0)
		die("setns");
	close(fd);
}

static long number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "vm_load: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void report(long count, double secs)
{
	printf("count=%ld seconds=%.6f rate=%.1f\n", count, secs, count / secs);
}

static void xfer(int fd, char *buf, size_t len, int out)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = out ? send(fd, buf + done, len - done, 0) :
			  recv(fd, buf + done, len - done, 0);
		if (n <= 0)
			die(out ? "send" : "recv (short)");
		done += n;
	}
}

static int conn_main(char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int port = number(argv[3]), one = 1, lfd, cfd, sfd;
	long i, n = number(argv[4]);
	socklen_t len;
	char buf[64];
	double t0;

	memset(buf, 'x', sizeof(buf));
	if (inet_pton(AF_INET, argv[2], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[2], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "vm_load: bad address '%s'\n", argv[2]);
		return 2;
	}

	enter_netns(argv[1]);
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	if (listen(lfd, 128) < 0)
		die("listen");
	enter_netns(argv[0]);

	t0 = now();
	for (i = 0; i < n; i++) {
		cfd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (cfd < 0)
			die("socket");
		if (connect(cfd, (struct sockaddr *)&ss, len) < 0)
			die("connect");
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0)
			die("accept");
		xfer(cfd, buf, sizeof(buf), 1);
		xfer(sfd, buf, sizeof(buf), 0);
		xfer(sfd, buf, sizeof(buf), 1);
		xfer(cfd, buf, sizeof(buf), 0);
		close(cfd);
		if (recv(sfd, buf, sizeof(buf), 0) != 0)
			die("recv (expected end of file)");
		close(sfd);
	}
	report(n, now() - t0);
	close(lfd);
	return 0;
}

/*
 * Packets the receive path has processed or dropped (backlog full),
 * summed over CPUs; *dropped gets the drops alone.
 */
static unsigned long long softnet_done(unsigned long long *dropped)
{
	unsigned long long sum = 0, drop = 0;
	unsigned int v, d;
	char line[512];
	FILE *f = fopen("/proc/net/softnet_stat", "r");

	if (!f)
		die("/proc/net/softnet_stat");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &v, &d) == 2) {
			sum += v + d;
			drop += d;
		}
	fclose(f);
	if (dropped)
		*dropped = drop;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static void parse_mac(const char *s, uint8_t *mac)
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
		   &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "vm_load: bad MAC '%s'\n", s);
		exit(2);
	}
}

static int syn_main(char **argv)
{
	uint8_t frame[14 + 20 + 20] = { 0 }, *ip = frame + 14, *tcp = ip + 20;
	struct sockaddr_ll sll = { 0 };
	unsigned long long base, drop0, drop;
	long i, n = number(argv[6]);
	uint32_t sum, seq;
	uint16_t c;
	int fd;
	double t0;

	enter_netns(argv[0]);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("socket(AF_PACKET)");
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = if_nametoindex(argv[1]);
	if (!sll.sll_ifindex)
		die(argv[1]);
	sll.sll_halen = ETH_ALEN;
	parse_mac(argv[3], sll.sll_addr);

	parse_mac(argv[3], frame);
	parse_mac(argv[2], frame + 6);
	frame[12] = 0x08;			/* ETH_P_IP */
	ip[0] = 0x45;
	ip[3] = 40;				/* total length */
	ip[6] = 0x40;				/* DF */
	ip[8] = 64;				/* TTL */
	ip[9] = IPPROTO_TCP;
	if (inet_pton(AF_INET, argv[4], ip + 12) != 1 ||
	    inet_pton(AF_INET, argv[5], ip + 16) != 1) {
		fprintf(stderr, "vm_load: bad IPv4 address\n");
		return 2;
	}
	c = csum_fold(csum_add(0, ip, 20));
	ip[10] = c >> 8;
	ip[11] = c;
	tcp[12] = 5 << 4;			/* data offset */
	tcp[13] = 0x02;				/* SYN */
	tcp[14] = 0xfa;				/* window 64240 */
	tcp[15] = 0xf0;

	base = softnet_done(&drop0);
	t0 = now();
	for (i = 0; i < n; i++) {
		uint16_t sport = 1024 + i % 64000, dport = 80 + i / 64000;

		seq = 0x9e3779b9u * (uint32_t)(i + 1);
		tcp[0] = sport >> 8;
		tcp[1] = sport;
		tcp[2] = dport >> 8;
		tcp[3] = dport;
		tcp[4] = seq >> 24;
		tcp[5] = seq >> 16;
		tcp[6] = seq >> 8;
		tcp[7] = seq;
		tcp[16] = tcp[17] = 0;
		sum = csum_add(0, ip + 12, 8) + IPPROTO_TCP + 20;
		c = csum_fold(csum_add(sum, tcp, 20));
		tcp[16] = c >> 8;
		tcp[17] = c;
		if (sendto(fd, frame, sizeof(frame), 0,
			   (struct sockaddr *)&sll, sizeof(sll)) < 0)
			die("sendto");
	}
	/* Frames still queued for the receiver are not done yet. */
	while (softnet_done(&drop) - base < (unsigned long long)n) {
		if (now() - t0 > 600) {
			fprintf(stderr, "vm_load: frames never processed\n");
			return 1;
		}
		sched_yield();
	}
	report(n, now() - t0);
	if (drop != drop0)
		printf("dropped=%llu\n", drop - drop0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "conn"))
		return conn_main(argv + 2);
	if (argc == 9 && !strcmp(argv[1], "syn"))
		return syn_main(argv + 2);
	fprintf(stderr,
		"usage: vm_load conn NS_CLIENT NS_SERVER SERVER_IP PORT N\n"
		"       vm_load syn NS IFNAME SRC_MAC DST_MAC SRC_IP DST_IP N\n");
	return 2;
}
