// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate-pcap: run tcpstate's state machine (module/fsm.c) over a capture
 * file and print what the module would have printed: one line per endpoint
 * transition in the /proc/tcpstate_events format and, at the end, the flow
 * table in the /proc/tcpstate format.
 *
 * The packet path: link layer (Ethernet with VLAN tags, raw IP, Linux cooked
 * v1/v2, BSD loopback) -> IPv4/IPv6 (extension headers, fragments) -> TCP
 * header -> flow lookup by canonical 4-tuple -> tcpstate_fsm_step() -> event
 * lines.  Every header is bounds-checked against the captured length; a
 * packet that does not parse is counted by reason and skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"
#include "reader.h"

#define NSEC_PER_SEC	((u64)1000000000)
#define NSEC_PER_MSEC	((u64)1000000)
#define NSEC_PER_USEC	((u64)1000)

/* Why a packet was not fed to the core. */
enum skip_reason {
	SKIP_LINK,		/* link header short or not IP */
	SKIP_NOT_IP,		/* link payload is neither IPv4 nor IPv6 */
	SKIP_NOT_TCP,		/* IP, but not TCP (or hidden behind ESP) */
	SKIP_FRAGMENT,		/* any fragment: nothing reassembles them */
	SKIP_TRUNCATED,		/* headers cut short by the snap length */
	SKIP_BAD_IP,		/* bad IP version, header or total length */
	SKIP_BAD_TCP,		/* TCP data offset malformed */
	SKIP_CHECKSUM,		/* --verify-checksum and it is wrong */
	SKIP_NO_FLOW,		/* unknown flow, and the segment cannot open one */
	SKIP_NOMEM,		/* the flow table could not grow */
	SKIP_FULL,		/* --max-flows reached, nothing to evict */
	SKIP_NR
};

static const char *const skip_names[SKIP_NR] = {
	[SKIP_LINK]	 = "link",
	[SKIP_NOT_IP]	 = "not_ip",
	[SKIP_NOT_TCP]	 = "not_tcp",
	[SKIP_FRAGMENT]	 = "fragment",
	[SKIP_TRUNCATED] = "truncated",
	[SKIP_BAD_IP]	 = "bad_ip",
	[SKIP_BAD_TCP]	 = "bad_tcp",
	[SKIP_CHECKSUM]	 = "bad_checksum",
	[SKIP_NO_FLOW]	 = "no_flow",
	[SKIP_NOMEM]	 = "nomem",
	[SKIP_FULL]	 = "table_full",
};

/* One end of a 4-tuple; addresses in network order, IPv4 in addr[0..3]. */
struct addr_port {
	u8 addr[16];
	u16 port;
};

struct flow_key {
	u8 family;		/* 4 or 6 */
	struct addr_port end[2];	/* end[0] is the lower (addr, port) */
};

struct flow {
	struct flow *hnext;	/* hash chain */
	struct flow_key key;
	struct tcpstate_fsm fsm;
	u64 first_ns;		/* first packet of this generation */
	u64 last_ns;		/* its last segment or timer: the idle clock */
	u64 tw_fire_ns;		/* pending TIME_WAIT expiry, 0 if none */
	bool hashed;		/* still in the table (not freed by the policy) */
};

/* A parsed packet, ready for the core. */
struct packet {
	u8 family;
	u8 src[16];
	u8 dst[16];
	struct tcpstate_seg seg;	/* .end not yet set */
};

/* Min-heap of pending TIME_WAIT expiries, ordered by fire time. */
struct timer {
	u64 fire_ns;
	struct flow *flow;
};

struct options {
	const char *file;
	bool events;
	bool table;
	bool stats;
	bool flush;
	bool verify_checksum;
	bool retransmits;	/* reason=retransmit lines too */
	bool keepalives;	/* reason=keepalive, keepalive_ack too */
	bool ladder;		/* ladder diagrams (tools/ladder.c) instead */
	u64 time_wait_ms;
	bool policy;		/* the module's: idle expiry and linger */
	u64 linger_ms;		/* a finished flow's, as the module's */
	u64 max_flows;		/* 0: no limit */
};

static struct {
	struct flow **buckets;
	size_t nr_buckets;
	size_t nr_flows;
	struct flow **order;	/* every flow, in order of creation */
	size_t order_cap;
	size_t nr_hashed;	/* flows still in the table */
	u64 next_sweep_ns;
	struct timer *timers;
	size_t nr_timers;
	size_t timers_cap;
} table;

static struct {
	u64 packets;
	u64 segments[2];	/* [0] IPv4, [1] IPv6 */
	u64 flows;
	u64 generations;
	u64 events;
	u64 timer_events;
	u64 bad_tcp_options;	/* a SYN's, stepped nonetheless */
	u64 verdicts[TCPSTATE_V_NR];
	u64 skipped[SKIP_NR];
	u64 expired;		/* idled out (reason=timer) */
	u64 evicted;		/* made room (reason=evict) */
	u64 freed;		/* finished, lingered, out of the table */
	u64 first_ns;
	u64 last_ns;
	bool any;
} stats;

static struct options opt = {
	.events = true,
	.table = true,
	.time_wait_ms = 60000,
	.linger_ms = 10000,
};

static u64 event_id;

/* ---- byte access, all bounds-checked by the callers ---- */

static u16 get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static u32 get32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

/* ---- TCP ---- */

/* Ones' complement sum, folded later. */
static u32 csum_add(u32 sum, const u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	return sum;
}

static bool tcp_csum_ok(const struct packet *pk, const u8 *tcp, size_t tcplen)
{
	size_t alen = pk->family == 4 ? 4 : 16;
	u32 sum = 0;

	sum = csum_add(sum, pk->src, alen);
	sum = csum_add(sum, pk->dst, alen);
	sum += 6;
	sum += (u32)(tcplen & 0xffff) + (u32)(tcplen >> 16);
	sum = csum_add(sum, tcp, tcplen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * @p/@caplen: the TCP header onwards as captured; @seglen: the TCP header
 * plus payload according to the IP header.
 */
static int parse_tcp(struct packet *pk, const u8 *p, size_t caplen,
		     size_t seglen)
{
	struct tcpstate_seg *s = &pk->seg;
	size_t doff;

	if (seglen < 20)
		return SKIP_BAD_TCP;
	if (caplen < 20)
		return SKIP_TRUNCATED;
	doff = (size_t)(p[12] >> 4) * 4;
	if (doff < 20 || doff > seglen)
		return SKIP_BAD_TCP;
	if (caplen < doff)
		return SKIP_TRUNCATED;
	if (opt.verify_checksum && caplen >= seglen &&
	    !tcp_csum_ok(pk, p, seglen))
		return SKIP_CHECKSUM;

	s->sport = get16(p);
	s->dport = get16(p + 2);
	s->seq = get32(p + 4);
	s->ack = get32(p + 8);
	s->flags = p[13];
	s->win = get16(p + 14);
	s->len = (u32)(seglen - doff);
	s->wscale = TCPSTATE_WSCALE_NONE;
	s->tsval = 0;
	s->tsecr = 0;
	/* As the module: a malformed option list is counted, not skipped. */
	if ((s->flags & TCPSTATE_TCP_SYN) &&
	    !tcpstate_synopts_parse(p + 20, doff - 20, s))
		stats.bad_tcp_options++;
	return -1;
}

/* ---- IP ---- */

/*
 * @wirelen: bytes of the IP packet that were on the wire (may exceed
 * @caplen when the capture was cut by the snap length).
 */
static int parse_ipv4(struct packet *pk, const u8 *p, size_t caplen,
		      size_t wirelen)
{
	size_t ihl, tot;
	u16 frag;

	if (caplen < 20)
		return SKIP_TRUNCATED;
	if ((p[0] >> 4) != 4)
		return SKIP_BAD_IP;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	tot = get16(p + 2);
	if (tot == 0)		/* TSO on the capturing host: use the frame */
		tot = wirelen;
	if (ihl < 20 || tot < ihl || tot > wirelen)
		return SKIP_BAD_IP;
	if (caplen < ihl)
		return SKIP_TRUNCATED;
	frag = get16(p + 6);
	/* As the module: the first fragment (MF set) is not the segment. */
	if (frag & 0x3fff)
		return SKIP_FRAGMENT;
	if (p[9] != 6)
		return SKIP_NOT_TCP;

	pk->family = 4;
	memcpy(pk->src, p + 12, 4);
	memcpy(pk->dst, p + 16, 4);
	if (caplen > tot)	/* Ethernet padding */
		caplen = tot;
	return parse_tcp(pk, p + ihl, caplen - ihl, tot - ihl);
}

static int parse_ipv6(struct packet *pk, const u8 *p, size_t caplen,
		      size_t wirelen)
{
	size_t off = 40, end;
	u8 next;

	if (caplen < 40)
		return SKIP_TRUNCATED;
	if ((p[0] >> 4) != 6)
		return SKIP_BAD_IP;
	end = 40 + (size_t)get16(p + 4);
	if (end == 40 || end > wirelen)	/* jumbogram or short */
		return SKIP_BAD_IP;
	if (caplen > end)
		caplen = end;
	next = p[6];
	memcpy(pk->src, p + 8, 16);
	memcpy(pk->dst, p + 24, 16);
	pk->family = 6;

	for (;;) {
		size_t hlen;

		switch (next) {
		case 6:
			return parse_tcp(pk, p + off, caplen - off, end - off);
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
		case 135:	/* mobility */
		case 139:	/* HIP */
		case 140:	/* shim6 */
			if (end - off < 8)
				return SKIP_BAD_IP;
			if (caplen - off < 8)
				return SKIP_TRUNCATED;
			hlen = ((size_t)p[off + 1] + 1) * 8;
			break;
		case 51:	/* authentication header */
			if (end - off < 8)
				return SKIP_BAD_IP;
			if (caplen - off < 8)
				return SKIP_TRUNCATED;
			hlen = ((size_t)p[off + 1] + 2) * 4;
			break;
		case 44:	/* fragment */
			if (end - off < 8)
				return SKIP_BAD_IP;
			if (caplen - off < 8)
				return SKIP_TRUNCATED;
			/* offset or MF: a fragment (an atomic one is whole) */
			if (get16(p + off + 2) & 0xfff9)
				return SKIP_FRAGMENT;
			hlen = 8;
			break;
		default:	/* ESP, no next header, ICMPv6, UDP... */
			return SKIP_NOT_TCP;
		}
		if (hlen > end - off)
			return SKIP_BAD_IP;
		next = p[off];
		off += hlen;
		if (off > caplen)
			return SKIP_TRUNCATED;
	}
}

/* Dispatch on the IP version nibble: raw IP links say nothing else. */
static int parse_ip(struct packet *pk, const u8 *p, size_t caplen,
		    size_t wirelen)
{
	if (caplen < 1)
		return SKIP_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return parse_ipv4(pk, p, caplen, wirelen);
	case 6:
		return parse_ipv6(pk, p, caplen, wirelen);
	default:
		return SKIP_NOT_IP;
	}
}

static int parse_ethertype(struct packet *pk, u16 type, const u8 *p,
			   size_t caplen, size_t wirelen)
{
	switch (type) {
	case 0x0800:
		return parse_ipv4(pk, p, caplen, wirelen);
	case 0x86dd:
		return parse_ipv6(pk, p, caplen, wirelen);
	default:
		return SKIP_NOT_IP;
	}
}

/* ---- link layers ---- */

static int parse_ether(struct packet *pk, const u8 *p, size_t caplen,
		       size_t wirelen)
{
	size_t off = 12;
	u16 type;
	int tags = 0;

	for (;;) {
		if (caplen < off + 2)
			return SKIP_LINK;
		type = get16(p + off);
		off += 2;
		/* 802.1Q, 802.1ad and the old QinQ tag: 4 bytes each */
		if (type != 0x8100 && type != 0x88a8 && type != 0x9100)
			break;
		if (++tags > 8)
			return SKIP_LINK;
		off += 2;
	}
	return parse_ethertype(pk, type, p + off, caplen - off, wirelen - off);
}

/* BSD loopback: a 4-byte address family, host order (NULL) or network
 * order (LOOP); whoever wrote it, the values tell IPv4 from IPv6.
 */
static int parse_null(struct packet *pk, const u8 *p, size_t caplen,
		      size_t wirelen)
{
	u32 af;

	if (caplen < 4)
		return SKIP_LINK;
	af = get32(p);
	if (af & 0xffff0000)
		af = __builtin_bswap32(af);
	switch (af) {
	case 2:
		return parse_ipv4(pk, p + 4, caplen - 4, wirelen - 4);
	case 10: case 24: case 28: case 30:	/* AF_INET6 of each OS */
		return parse_ipv6(pk, p + 4, caplen - 4, wirelen - 4);
	default:
		return SKIP_NOT_IP;
	}
}

static int parse_link(int dlt, struct packet *pk, const u8 *p, size_t caplen,
		      size_t wirelen)
{
	if (wirelen < caplen)
		wirelen = caplen;
	switch (dlt) {
	case DLT_EN10MB:
		return parse_ether(pk, p, caplen, wirelen);
	case 12:		/* DLT_RAW (LINKTYPE_RAW 101 maps here) */
	case 14:		/* DLT_RAW as OpenBSD numbers it */
	case DLT_IPV4:
	case DLT_IPV6:
		return parse_ip(pk, p, caplen, wirelen);
	case DLT_LINUX_SLL:	/* 16 bytes, protocol last */
		if (caplen < 16)
			return SKIP_LINK;
		return parse_ethertype(pk, get16(p + 14), p + 16, caplen - 16,
				       wirelen - 16);
	case DLT_LINUX_SLL2:	/* 20 bytes, protocol first */
		if (caplen < 20)
			return SKIP_LINK;
		return parse_ethertype(pk, get16(p), p + 20, caplen - 20,
				       wirelen - 20);
	case DLT_NULL:
	case DLT_LOOP:
		return parse_null(pk, p, caplen, wirelen);
	default:
		return SKIP_LINK;
	}
}

static bool link_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case 12:
	case 14:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
		return true;
	default:
		return false;
	}
}

/* ---- flow table ---- */

static u64 key_hash(const struct flow_key *k)
{
	const u8 *p = (const u8 *)k;
	u64 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Build the canonical key; returns the tuple end that sent the packet. */
static u8 key_make(const struct packet *pk, struct flow_key *k)
{
	struct addr_port s, d;
	size_t alen = pk->family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	memcpy(s.addr, pk->src, alen);
	memcpy(d.addr, pk->dst, alen);
	s.port = pk->seg.sport;
	d.port = pk->seg.dport;
	k->family = pk->family;
	if (!tcpstate_tuple_end(pk->src, pk->dst, alen, s.port, d.port)) {
		k->end[0] = s;
		k->end[1] = d;
		return 0;
	}
	k->end[0] = d;
	k->end[1] = s;
	return 1;
}

static struct flow *flow_find(const struct flow_key *k)
{
	struct flow *f;

	if (!table.nr_buckets)
		return NULL;
	f = table.buckets[key_hash(k) & (table.nr_buckets - 1)];
	for (; f; f = f->hnext)
		if (!memcmp(&f->key, k, sizeof(*k)))
			return f;
	return NULL;
}

static bool table_grow(void)
{
	size_t n = table.nr_buckets ? table.nr_buckets * 2 : 1024;
	struct flow **b = calloc(n, sizeof(*b));
	size_t i;

	if (!b)
		return false;
	for (i = 0; i < table.nr_flows; i++) {
		struct flow *f = table.order[i];
		size_t h = key_hash(&f->key) & (n - 1);

		if (!f->hashed)
			continue;
		f->hnext = b[h];
		b[h] = f;
	}
	free(table.buckets);
	table.buckets = b;
	table.nr_buckets = n;
	return true;
}

static struct flow *flow_add(const struct flow_key *k, u64 now_ns)
{
	struct flow *f;
	size_t h;

	if (table.nr_flows == table.order_cap) {
		size_t cap = table.order_cap ? table.order_cap * 2 : 1024;
		struct flow **o = realloc(table.order, cap * sizeof(*o));

		if (!o)
			return NULL;
		table.order = o;
		table.order_cap = cap;
	}
	if (table.nr_flows >= table.nr_buckets && !table_grow())
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->key = *k;
	f->first_ns = now_ns;
	f->last_ns = now_ns;
	tcpstate_fsm_init(&f->fsm);
	h = key_hash(k) & (table.nr_buckets - 1);
	f->hnext = table.buckets[h];
	table.buckets[h] = f;
	f->hashed = true;
	table.nr_hashed++;
	table.order[table.nr_flows++] = f;
	return f;
}

/*
 * The policy takes @f out of the table: a later segment of its 4-tuple
 * starts a new flow, as in the module.  It stays listed in the final table.
 */
static void flow_unhash(struct flow *f)
{
	struct flow **pp = &table.buckets[key_hash(&f->key) &
					  (table.nr_buckets - 1)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	f->hnext = NULL;
	f->hashed = false;
	f->tw_fire_ns = 0;
	table.nr_hashed--;
}

/* ---- TIME_WAIT timers ---- */

static void timer_swap(size_t a, size_t b)
{
	struct timer t = table.timers[a];

	table.timers[a] = table.timers[b];
	table.timers[b] = t;
}

static bool timer_push(u64 fire_ns, struct flow *f)
{
	size_t i;

	if (table.nr_timers == table.timers_cap) {
		size_t cap = table.timers_cap ? table.timers_cap * 2 : 256;
		struct timer *t = realloc(table.timers, cap * sizeof(*t));

		if (!t)
			return false;
		table.timers = t;
		table.timers_cap = cap;
	}
	i = table.nr_timers++;
	table.timers[i] = (struct timer){ fire_ns, f };
	while (i && table.timers[(i - 1) / 2].fire_ns > fire_ns) {
		timer_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return true;
}

static struct timer timer_pop(void)
{
	struct timer top = table.timers[0];
	size_t i = 0;

	table.timers[0] = table.timers[--table.nr_timers];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < table.nr_timers &&
		    table.timers[l].fire_ns < table.timers[m].fire_ns)
			m = l;
		if (r < table.nr_timers &&
		    table.timers[r].fire_ns < table.timers[m].fire_ns)
			m = r;
		if (m == i)
			break;
		timer_swap(i, m);
		i = m;
	}
	return top;
}

static bool fsm_in_time_wait(const struct tcpstate_fsm *f)
{
	return f->end[TCPSTATE_CLIENT].state == TCPSTATE_TIME_WAIT ||
	       f->end[TCPSTATE_SERVER].state == TCPSTATE_TIME_WAIT;
}

static u32 time_wait_us(void)
{
	return (u32)(opt.time_wait_ms * 1000);
}

/*
 * After a step at @now_ns (core clock @now_us): if an end is in TIME_WAIT,
 * make sure a timer is pending for the time the core will let it go, which
 * counts from the core's own mark.
 */
static void flow_arm_timer(struct flow *f, u64 now_ns, u32 now_us)
{
	u64 since, fire;

	if (!fsm_in_time_wait(&f->fsm)) {
		f->tw_fire_ns = 0;
		return;
	}
	since = (u64)(u32)(now_us - f->fsm.mark_us) * NSEC_PER_USEC;
	fire = (now_ns > since ? now_ns - since : 0) +
	       opt.time_wait_ms * NSEC_PER_MSEC;
	if (fire <= now_ns)
		fire = now_ns + 1;
	if (f->tw_fire_ns == fire)
		return;
	f->tw_fire_ns = fire;
	timer_push(fire, f);
}

/* ---- output ---- */

#define AP_LEN	TCPSTATE_ENDPOINT_LEN

/* The client's and the server's endpoint, as the module writes them. */
static void flow_names(const struct flow *f, char *client, char *server)
{
	u8 c = tcpstate_fsm_client_end(&f->fsm);
	unsigned int alen = f->key.family == 4 ? 4 : 16;

	tcpstate_endpoint_format(f->key.end[c].addr, alen, f->key.end[c].port,
				 client);
	tcpstate_endpoint_format(f->key.end[!c].addr, alen,
				 f->key.end[!c].port, server);
}

/*
 * One event line: printed, or with --ladder read back by the reader's
 * parser (the same grammar, round trip) and handed to its ladder.
 */
static void emit_line(const struct flow *f, const struct tcpstate_trans *t,
		      u64 ts_ns, const struct tcpstate_seg *seg, u8 reason,
		      u8 ka_end)
{
	u8 c = tcpstate_fsm_client_end(&f->fsm);
	struct tcpstate_line l = {
		.id = ++event_id,
		.ts_ns = ts_ns,
		.client = f->key.end[c].addr,
		.server = f->key.end[!c].addr,
		.netns = 0,
		.seq = seg ? seg->seq : 0,
		.ack = seg ? seg->ack : 0,
		.cport = f->key.end[c].port,
		.sport = f->key.end[!c].port,
		.alen = f->key.family == 4 ? 4 : 16,
		.side = t->side,
		.old_state = t->old_state,
		.new_state = t->new_state,
		.tcpflags = seg ? seg->flags : 0,
		.reason = reason,
		.ka_end = ka_end,
	};
	char line[TCPSTATE_EVENT_LINE_MAX];
	static struct ts_event ev;
	unsigned int n;

	n = tcpstate_event_line(&l, line);
	if (!opt.ladder) {
		fputs(line, stdout);
		return;
	}
	if (ts_event_parse(line, n, &ev) != TS_OK) {
		fprintf(stderr, "tcpstate-pcap: cannot read back my own line: %s",
			line);
		exit(1);
	}
	ladder_event(&ev, true);
}

/* @seg is NULL for a timer. */
static void print_events(const struct flow *f, const struct tcpstate_result *r,
			 u64 ts_ns, const struct tcpstate_seg *seg)
{
	u8 ka = tcpstate_ka_end_of(r->notes);
	u8 quiet = tcpstate_result_quiet_reason(r, opt.retransmits,
						opt.keepalives);
	unsigned int i;

	/* It moved nothing: a line of the sender's own state (as flow.c). */
	if (seg && opt.events && quiet != TCPSTATE_REASON_NR) {
		u8 side = tcpstate_fsm_side(&f->fsm, seg->end);
		u8 st = f->fsm.end[side].state;
		struct tcpstate_trans t = { side, st, st };

		emit_line(f, &t, ts_ns, seg, quiet, TCPSTATE_KA_END_NONE);
	}
	for (i = 0; i < r->nr && i < TCPSTATE_MAX_TRANS; i++) {
		stats.events++;
		if (!seg)
			stats.timer_events++;
		if (opt.events)
			emit_line(f, &r->trans[i], ts_ns, seg,
				  seg ? TCPSTATE_REASON_SEGMENT :
					TCPSTATE_REASON_TIMER, ka);
	}
}

/* Fire every pending TIME_WAIT timer due at or before @until_ns. */
static void timers_run(u64 until_ns)
{
	while (table.nr_timers && table.timers[0].fire_ns <= until_ns) {
		struct timer t = timer_pop();
		struct flow *f = t.flow;
		struct tcpstate_result r;
		u32 now_us;

		if (f->tw_fire_ns != t.fire_ns)
			continue;	/* superseded */
		f->tw_fire_ns = 0;
		now_us = (u32)(t.fire_ns / NSEC_PER_USEC);
		memset(&r, 0, sizeof(r));
		if (tcpstate_fsm_tick(&f->fsm, now_us, time_wait_us(), &r))
			f->last_ns = t.fire_ns;
		print_events(f, &r, t.fire_ns, NULL);
		flow_arm_timer(f, t.fire_ns, now_us);
	}
}

/* ---- the module's flow policy (fsm.h), in capture time ---- */

/* The policy ends @f at @ts_ns: each end not CLOSED goes CLOSED. */
static void flow_close(struct flow *f, u64 ts_ns, u8 reason)
{
	struct tcpstate_result r;
	int i, nr;

	nr = tcpstate_fsm_close(&f->fsm, &r);
	for (i = 0; i < nr; i++) {
		stats.events++;
		if (opt.events)
			emit_line(f, &r.trans[i], ts_ns, NULL, reason,
				  TCPSTATE_KA_END_NONE);
	}
	flow_unhash(f);
}

static u32 idle_ms(const struct flow *f, u64 now_ns)
{
	u64 ms = now_ns > f->last_ns ? (now_ns - f->last_ns) / NSEC_PER_MSEC : 0;

	return ms > UINT32_MAX ? UINT32_MAX : (u32)ms;
}

/*
 * The module's GC, once a second of capture time: a finished flow leaves
 * the table linger_ms after its last change, one idle past its states'
 * timeout is expired (reason=timer).
 */
static void flows_sweep(u64 now_ns)
{
	static const u32 timeout_s[TCPSTATE_IDLE_NR] = TCPSTATE_IDLE_DEFAULT_S;
	u32 timeouts[TCPSTATE_IDLE_NR];
	size_t i;

	if (!opt.policy || now_ns < table.next_sweep_ns)
		return;
	table.next_sweep_ns = now_ns + NSEC_PER_SEC;
	for (i = 0; i < TCPSTATE_IDLE_NR; i++)
		timeouts[i] = timeout_s[i] * 1000;
	for (i = 0; i < table.nr_buckets; i++) {
		struct flow *f = table.buckets[i], *next;

		for (; f; f = next) {
			u32 idle = idle_ms(f, now_ns);

			next = f->hnext;
			if (tcpstate_fsm_finished(&f->fsm)) {
				if (idle >= opt.linger_ms) {
					flow_unhash(f);
					stats.freed++;
				}
			} else if (tcpstate_fsm_idle_expired(&f->fsm, idle,
							     timeouts)) {
				flow_close(f, now_ns, TCPSTATE_REASON_TIMER);
				stats.expired++;
			}
		}
	}
}

/*
 * --max-flows reached: evict the flow that gives way most readily, the
 * one idle longest among those (the module scans a few buckets; this
 * scans all).  False if every flow is one never evicted.
 */
static bool flows_evict(u64 now_ns)
{
	unsigned int best_class = TCPSTATE_EVICT_NEVER;
	struct flow *best = NULL;
	u32 best_idle = 0;
	size_t i;

	for (i = 0; i < table.nr_buckets; i++) {
		struct flow *f;

		for (f = table.buckets[i]; f; f = f->hnext) {
			unsigned int class = tcpstate_fsm_evict_class(&f->fsm);
			u32 idle = idle_ms(f, now_ns);

			if (class >= TCPSTATE_EVICT_NEVER || class > best_class ||
			    (class == best_class && idle <= best_idle))
				continue;
			best = f;
			best_class = class;
			best_idle = idle;
		}
	}
	if (!best)
		return false;
	flow_close(best, now_ns, TCPSTATE_REASON_EVICT);
	stats.evicted++;
	return true;
}

static void print_table(void)
{
	size_t i;

	printf(TCPSTATE_TABLE_LINE, "netns", "family", "client", "server",
	       "client_state", "server_state", "age_ms", "rtt_us", "history",
	       "flags", "keepalives");
	for (i = 0; i < table.nr_flows; i++) {
		const struct flow *f = table.order[i];
		const struct tcpstate_fsm *m = &f->fsm;
		char client[AP_LEN], server[AP_LEN];
		char hist[TCPSTATE_HISTORY_LEN], fl[TCPSTATE_FLOWFLAGS_LEN];
		char fam[8], age[24], rtt[24], ka[TCPSTATE_KEEPALIVES_LEN];

		flow_names(f, client, server);
		tcpstate_fsm_history_format(m, hist);
		tcpstate_fsm_flags_format(m, fl);
		tcpstate_fsm_keepalives_format(m, ka);
		snprintf(fam, sizeof(fam), "ipv%u", f->key.family);
		snprintf(age, sizeof(age), "%" PRIu64,
			 (stats.last_ns - f->first_ns) / NSEC_PER_MSEC);
		if (m->rtt_syn_us || m->rtt_ack_us)
			snprintf(rtt, sizeof(rtt), "%" PRIu64,
				 (u64)m->rtt_syn_us + m->rtt_ack_us);
		else
			snprintf(rtt, sizeof(rtt), "-");
		printf(TCPSTATE_TABLE_LINE, "0", fam, client, server,
		       tcpstate_state_name(m->end[TCPSTATE_CLIENT].state),
		       tcpstate_state_name(m->end[TCPSTATE_SERVER].state),
		       age, rtt, hist[0] ? hist : "-", fl, ka);
	}
}

static void print_stats(void)
{
	unsigned int i;

	fprintf(stderr, "packets %" PRIu64 "\n", stats.packets);
	fprintf(stderr, "segments_v4 %" PRIu64 "\n", stats.segments[0]);
	fprintf(stderr, "segments_v6 %" PRIu64 "\n", stats.segments[1]);
	fprintf(stderr, "flows %" PRIu64 "\n", stats.flows);
	fprintf(stderr, "generations %" PRIu64 "\n", stats.generations);
	fprintf(stderr, "events %" PRIu64 "\n", stats.events);
	fprintf(stderr, "timer_events %" PRIu64 "\n", stats.timer_events);
	fprintf(stderr, "flows_expired %" PRIu64 "\n", stats.expired);
	fprintf(stderr, "flows_evicted %" PRIu64 "\n", stats.evicted);
	fprintf(stderr, "flows_freed %" PRIu64 "\n", stats.freed);
	fprintf(stderr, "invalid_tcp_options %" PRIu64 "\n",
		stats.bad_tcp_options);
	for (i = 0; i < TCPSTATE_V_NR; i++)
		fprintf(stderr, "verdict_%s %" PRIu64 "\n",
			tcpstate_verdict_name(i), stats.verdicts[i]);
	for (i = 0; i < SKIP_NR; i++)
		fprintf(stderr, "skipped_%s %" PRIu64 "\n", skip_names[i],
			stats.skipped[i]);
}

/* ---- the packet loop ---- */

static u64 pkt_ns(const struct pcap_pkthdr *h)
{
	/* opened with nanosecond precision: tv_usec holds nanoseconds */
	return (u64)h->ts.tv_sec * NSEC_PER_SEC + (u64)h->ts.tv_usec;
}

static void handle(int dlt, const struct pcap_pkthdr *h, const u8 *bytes)
{
	struct tcpstate_result r;
	struct packet pk;
	struct flow_key k;
	struct flow *f;
	u64 now_ns = pkt_ns(h);
	u32 now_us = (u32)(now_ns / NSEC_PER_USEC);
	int skip;

	stats.packets++;
	if (!stats.any) {
		stats.first_ns = now_ns;
		stats.any = true;
	}
	if (now_ns > stats.last_ns)
		stats.last_ns = now_ns;

	timers_run(now_ns);
	flows_sweep(now_ns);

	memset(&pk, 0, sizeof(pk));
	skip = parse_link(dlt, &pk, bytes, h->caplen, h->len);
	if (skip >= 0) {
		stats.skipped[skip]++;
		return;
	}
	stats.segments[pk.family == 6]++;

	pk.seg.end = key_make(&pk, &k);
	f = flow_find(&k);
	if (!f) {
		if (!tcpstate_fsm_opens(&pk.seg)) {
			stats.skipped[SKIP_NO_FLOW]++;
			return;
		}
		if (opt.max_flows && table.nr_hashed >= opt.max_flows &&
		    !flows_evict(now_ns)) {
			stats.skipped[SKIP_FULL]++;
			return;
		}
		f = flow_add(&k, now_ns);
		if (!f) {
			stats.skipped[SKIP_NOMEM]++;
			return;
		}
		stats.flows++;
	}

	memset(&r, 0, sizeof(r));
	tcpstate_fsm_step(&f->fsm, &pk.seg, now_us, &r);
	f->last_ns = now_ns;
	if (r.verdict < TCPSTATE_V_NR)
		stats.verdicts[r.verdict]++;
	if (r.notes & TCPSTATE_N_NEWGEN) {
		f->first_ns = now_ns;
		stats.generations++;
	}
	print_events(f, &r, now_ns, &pk.seg);
	flow_arm_timer(f, now_ns, now_us);
}

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    tcpstate-pcap - replay a capture through tcpstate's TCP state machine\n"
"\n"
"SYNOPSIS\n"
"    tcpstate-pcap [OPTIONS] [-r] FILE\n"
"\n"
"DESCRIPTION\n"
"    Reads FILE (pcap or pcapng; Ethernet with 802.1Q/802.1ad tags, raw\n"
"    IPv4/IPv6, Linux cooked v1 and v2, BSD loopback), feeds every TCP\n"
"    segment to the same state machine the tcpstate module runs, and prints\n"
"    one line per endpoint transition in the /proc/tcpstate_events format:\n"
"\n"
"      id=N ts=NS netns=0 family=ipv4 client=A:P server=B:P side=client\n"
"      old=SYN_SENT new=ESTABLISHED flags=S. seq=S ack=A reason=segment\n"
"\n"
"    (one line each), then the flow table in the /proc/tcpstate format.\n"
"    ts is the capture timestamp in nanoseconds; netns is always 0.\n"
"    Flows are listed in the order they were first seen; age_ms counts\n"
"    from a flow's first packet (of its latest generation) to the last\n"
"    packet of the capture.\n"
"\n"
"    TIME_WAIT ends after --time-wait-ms of capture time: the reason=timer\n"
"    line is printed, stamped with the time the timer fired, before the\n"
"    first packet at or after that time.  Timers still pending when the\n"
"    capture ends fire only with --flush.\n"
"\n"
"OPTIONS\n"
"    -r FILE              the capture to read (or give it as the argument)\n"
"    -e, --events-only    print the transitions, not the table\n"
"    -t, --table-only     print the table, not the transitions\n"
"    -s, --stats          counters on stderr at the end: segments, flows,\n"
"                         segments per core verdict, packets skipped by\n"
"                         reason (link, not_ip, not_tcp, fragment,\n"
"                         truncated, bad_ip, bad_tcp, bad_checksum,\n"
"                         no_flow, nomem)\n"
"    -w, --time-wait-ms N 2MSL in milliseconds (default 60000)\n"
"    -P, --policy         the module's flow policy, in capture time: a\n"
"                         flow idle past its states' timeout (the module's\n"
"                         timeout_* defaults) is expired (reason=timer),\n"
"                         and a finished one leaves the table after\n"
"                         --linger-ms, so that a later SYN on its 4-tuple\n"
"                         starts a new flow, not a reuse.  Without it every\n"
"                         flow is kept to the end of the capture.  Either\n"
"                         way the final table lists every flow seen\n"
"    -L, --linger-ms N    with --policy (default 10000)\n"
"    -M, --max-flows N    at most N flows at once; when full, one is\n"
"                         evicted (reason=evict) as the module does\n"
"                         (default: no limit)\n"
"    -f, --flush          at the end, fire the pending TIME_WAIT timers\n"
"    -c, --verify-checksum  skip segments whose TCP checksum is wrong\n"
"                         (as a receiving host would drop them)\n"
"    -R, --retransmits    also a line for each SYN, SYN/ACK, FIN or final\n"
"                         ACK sent again, which moves no state:\n"
"                         reason=retransmit, old and new the sender's state\n"
"    -K, --keepalives     also a line for each keep-alive probe and answer:\n"
"                         reason=keepalive and keepalive_ack\n"
"    -l, --ladder         instead of the lines and the table, each flow's\n"
"                         ladder diagram, as tcpstate --ladder draws it,\n"
"                         with the retransmissions and keep-alives\n"
"                         (implies --retransmits, --keepalives, --flush)\n"
"    -V, --version        the version\n"
"    -h, --help           this text\n"
"\n"
"EXIT STATUS\n"
"    0 when the capture was read to its end, 1 on a read error, 2 on a\n"
"    bad command line or an unsupported link type.\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "events-only",     no_argument,       NULL, 'e' },
		{ "table-only",      no_argument,       NULL, 't' },
		{ "stats",           no_argument,       NULL, 's' },
		{ "time-wait-ms",    required_argument, NULL, 'w' },
		{ "policy",          no_argument,       NULL, 'P' },
		{ "linger-ms",       required_argument, NULL, 'L' },
		{ "max-flows",       required_argument, NULL, 'M' },
		{ "flush",           no_argument,       NULL, 'f' },
		{ "verify-checksum", no_argument,       NULL, 'c' },
		{ "retransmits",     no_argument,       NULL, 'R' },
		{ "keepalives",      no_argument,       NULL, 'K' },
		{ "ladder",          no_argument,       NULL, 'l' },
		{ "version",         no_argument,       NULL, 'V' },
		{ "help",            no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long v;
	char *endp;
	int c;

	while ((c = getopt_long(argc, argv, "r:etsw:PL:M:fcRKlVh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'r':
			opt.file = optarg;
			break;
		case 'e':
			opt.table = false;
			break;
		case 't':
			opt.events = false;
			break;
		case 's':
			opt.stats = true;
			break;
		case 'w':
			errno = 0;
			v = strtoull(optarg, &endp, 10);
			if (errno || endp == optarg || *endp || !v ||
			    v > UINT32_MAX / 1000 || optarg[0] == '-') {
				fprintf(stderr, "tcpstate-pcap: bad --time-wait-ms '%s' (1..%u)\n",
					optarg, UINT32_MAX / 1000);
				return -1;
			}
			opt.time_wait_ms = v;
			break;
		case 'P':
			opt.policy = true;
			break;
		case 'L':
		case 'M':
			errno = 0;
			v = strtoull(optarg, &endp, 10);
			if (errno || endp == optarg || *endp || !v ||
			    v > UINT32_MAX || optarg[0] == '-') {
				fprintf(stderr, "tcpstate-pcap: bad --%s '%s' (1..%u)\n",
					c == 'L' ? "linger-ms" : "max-flows",
					optarg, UINT32_MAX);
				return -1;
			}
			if (c == 'L')
				opt.linger_ms = v;
			else
				opt.max_flows = v;
			break;
		case 'f':
			opt.flush = true;
			break;
		case 'c':
			opt.verify_checksum = true;
			break;
		case 'R':
			opt.retransmits = true;
			break;
		case 'K':
			opt.keepalives = true;
			break;
		case 'l':
			opt.ladder = true;
			break;
		case 'V':
			printf("tcpstate-pcap " TCPSTATE_VERSION "\n");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!opt.events && !opt.table) {
		fprintf(stderr, "tcpstate-pcap: --events-only and --table-only exclude each other\n");
		return -1;
	}
	if (opt.ladder && !(opt.events && opt.table)) {
		fprintf(stderr, "tcpstate-pcap: --ladder draws instead of the lines and the table\n");
		return -1;
	}
	if (opt.ladder) {
		/* tools/ladder.c reads the reader's settings: all, no colour */
		ts_filter_init(&cfg.filter);
		cfg.count = -1;
		cfg.proc = NULL;
		cfg.ladder = true;
		opt.table = false;
		opt.flush = true;
		opt.retransmits = true;
		opt.keepalives = true;
	}
	if (optind < argc && !opt.file)
		opt.file = argv[optind++];
	if (optind < argc || !opt.file) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	pcap_t *pc;
	int dlt, rc;

	if (parse_args(argc, argv))
		return 2;

	pc = pcap_open_offline_with_tstamp_precision(opt.file,
			PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "tcpstate-pcap: %s\n", err);
		return 1;
	}
	dlt = pcap_datalink(pc);
	if (!link_supported(dlt)) {
		fprintf(stderr, "tcpstate-pcap: %s: unsupported link type %d (%s)\n",
			opt.file, dlt, pcap_datalink_val_to_name(dlt) ?
			pcap_datalink_val_to_name(dlt) : "?");
		pcap_close(pc);
		return 2;
	}

	while ((rc = pcap_next_ex(pc, &h, &bytes)) == 1)
		handle(dlt, h, bytes);
	if (rc == PCAP_ERROR)
		fprintf(stderr, "tcpstate-pcap: %s: %s\n", opt.file,
			pcap_geterr(pc));
	pcap_close(pc);

	if (opt.flush)
		timers_run(UINT64_MAX);
	if (opt.ladder)
		ladder_flush();
	if (opt.table)
		print_table();
	fflush(stdout);
	if (opt.stats)
		print_stats();
	return rc == PCAP_ERROR ? 1 : 0;
}
