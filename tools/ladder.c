// SPDX-License-Identifier: GPL-2.0
/*
 * watch --ladder: the events of each flow kept until it finishes, then
 * drawn as a ladder diagram, with the segments that moved nothing when
 * the stream has them (retransmits=1, keepalives=1).  tcpstate-pcap
 * --ladder draws with it too.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define LADDER_MAX_FLOWS	4096
#define LADDER_MAX_STEPS	64
/* Rows kept for state changes: keep-alives of a long flow cannot fill them. */
#define LADDER_MOVES_KEPT	16
#define LADDER_BUCKETS		1024

struct flow_key {
	uint64_t netns;
	struct ts_endpoint client, server;
};

struct step {
	uint64_t ts;
	uint32_t seq, ack;
	uint8_t side, old_state, new_state, reason;
	uint8_t ka_end;			/* enum tcpstate_ka_end */
	char flags[TS_FLAGS_LEN];
};

struct flow {
	struct flow_key key;
	struct flow *hnext;		/* hash chain */
	struct flow *older, *newer;	/* age list */
	int state[2];			/* last known, -1 if none seen */
	bool reset;			/* a RST, an eviction or an unload */
	bool selected;			/* an event matched every filter */
	unsigned int nsteps;
	unsigned int dropped;		/* steps beyond LADDER_MAX_STEPS */
	unsigned int quiet_dropped;	/* no-move steps beyond their share */
	struct step steps[LADDER_MAX_STEPS];
};

static struct flow *buckets[LADDER_BUCKETS];
static struct flow *oldest, *newest;
static unsigned int nflows;

static unsigned int key_hash(const struct flow_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % LADDER_BUCKETS;
}

static void flow_unlink(struct flow *f)
{
	struct flow **pp = &buckets[key_hash(&f->key)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	if (f->older)
		f->older->newer = f->newer;
	else
		oldest = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		newest = f->older;
	nflows--;
	free(f);
}

static struct flow *flow_get(const struct ts_event *ev)
{
	struct flow_key k;
	struct flow *f;
	unsigned int h;

	memset(&k, 0, sizeof(k));
	k.netns = ev->netns;
	k.client = ev->client;
	k.server = ev->server;
	h = key_hash(&k);
	for (f = buckets[h]; f; f = f->hnext)
		if (!memcmp(&f->key, &k, sizeof(k)))
			return f;
	if (nflows >= LADDER_MAX_FLOWS)
		flow_unlink(oldest);
	f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, PROGRAM ": out of memory\n");
		exit(1);
	}
	f->key = k;
	f->state[0] = f->state[1] = -1;
	f->hnext = buckets[h];
	buckets[h] = f;
	f->older = newest;
	if (newest)
		newest->newer = f;
	else
		oldest = f;
	newest = f;
	nflows++;
	return f;
}

/* Closed, or a listener that never left LISTEN. */
static bool side_done(int st)
{
	return st < 0 || st == TCPSTATE_CLOSED || st == TCPSTATE_LISTEN;
}

static bool flow_finished(const struct flow *f)
{
	if (f->state[0] == TCPSTATE_CLOSED && f->state[1] == TCPSTATE_CLOSED)
		return true;
	return f->reset && side_done(f->state[0]) && side_done(f->state[1]);
}

/*
 * Steps of one row: from one segment (same flags, seq and ack), or the two
 * ends moved at once by a timer, an eviction or an unload.
 */
static bool same_segment(const struct step *a, const struct step *b)
{
	if (a->reason != b->reason || !tcpstate_reason_moves(a->reason))
		return false;
	if (a->reason != TCPSTATE_REASON_SEGMENT)
		return a->side != b->side;
	return a->seq == b->seq && a->ack == b->ack &&
	       !strcmp(a->flags, b->flags);
}

/* Transitions an endpoint makes by sending, not by receiving. */
static bool sender_move(const struct step *s)
{
	switch (s->new_state) {
	case TCPSTATE_SYN_SENT:
	case TCPSTATE_FIN_WAIT_1:
	case TCPSTATE_LAST_ACK:
		return true;
	case TCPSTATE_SYN_RCVD:
		return flags_have(s->flags, '.');	/* it sent the S. */
	case TCPSTATE_CLOSING:
		return s->old_state == TCPSTATE_CLOSE_WAIT;
	case TCPSTATE_ESTABLISHED:
		/* The split handshake: its own ACK moved it. */
		return s->old_state == TCPSTATE_SYN_SENT && !flags_have(s->flags, 'S');
	default:
		return false;
	}
}

static uint32_t seq_dist(uint32_t a, uint32_t b)
{
	return a - b;
}

/* Who sent the segment behind steps[i..j): the client or the server. */
static int segment_sender(const struct step *s, unsigned int n,
			  const bool isn_known[2], const uint32_t isn[2])
{
	unsigned int i;

	if (flags_have(s->flags, 'S')) {
		/* In a simultaneous open the server sends a SYN, the client a SYN/ACK. */
		for (i = 0; i < n; i++)
			if (sender_move(&s[i]))
				return s[i].side;
		return flags_have(s->flags, '.') ? TCPSTATE_SERVER : TCPSTATE_CLIENT;
	}
	if (isn_known[0] && isn_known[1]) {
		uint64_t as_client = seq_dist(s->seq, isn[TCPSTATE_CLIENT]);
		uint64_t as_server = seq_dist(s->seq, isn[TCPSTATE_SERVER]);

		if (flags_have(s->flags, '.')) {
			as_client += seq_dist(s->ack, isn[TCPSTATE_SERVER]);
			as_server += seq_dist(s->ack, isn[TCPSTATE_CLIENT]);
		}
		return as_client <= as_server ? TCPSTATE_CLIENT : TCPSTATE_SERVER;
	}
	for (i = 0; i < n; i++)
		if (sender_move(&s[i]))
			return s[i].side;
	/* Only receivers moved: the other end sent it. */
	return s[0].side == TCPSTATE_CLIENT ? TCPSTATE_SERVER : TCPSTATE_CLIENT;
}

#define LADDER_STATE_W	12
#define LADDER_ARROW_W	44

/* One row: the client's new state, the middle, the server's new state. */
static void ladder_row(const char *offset, int cst, const char *middle,
		       int sst)
{
	printf("%s%10s%s  ", col(C_DIM), offset, col(C_RESET));
	if (cst >= 0)
		print_colored(state_color(cst),
			      sst >= 0 || *middle ? LADDER_STATE_W : 0,
			      tcpstate_state_name(cst));
	else
		printf("%-*s", LADDER_STATE_W, "");
	if (sst >= 0) {
		printf(" %-*s ", LADDER_ARROW_W, middle);
		print_colored(state_color(sst), 0, tcpstate_state_name(sst));
	} else if (*middle) {
		printf(" %s", middle);
	}
	printf("\n");
}

static void ladder_arrow(char *buf, size_t n, bool to_server,
			 const struct step *s)
{
	char label[64];
	int len, i, pos = 0;

	if (flags_have(s->flags, '.'))
		snprintf(label, sizeof(label), " %s seq=%u ack=%u ", s->flags,
			 s->seq, s->ack);
	else
		snprintf(label, sizeof(label), " %s seq=%u ", s->flags,
			 s->seq);
	len = strlen(label);
	if (n < LADDER_ARROW_W + 1)
		return;
	buf[pos++] = to_server ? '-' : '<';
	buf[pos++] = '-';
	buf[pos++] = '-';
	for (i = 0; i < len && pos < LADDER_ARROW_W - 2; i++)
		buf[pos++] = label[i];
	while (pos < LADDER_ARROW_W - (to_server ? 1 : 0))
		buf[pos++] = '-';
	if (to_server)
		buf[pos++] = '>';
	buf[pos] = '\0';
}

static void format_offset(uint64_t ts, uint64_t t0, char *buf, size_t n)
{
	uint64_t d = ts >= t0 ? ts - t0 : 0;

	snprintf(buf, n, "+%" PRIu64 ".%03u", d / 1000000,
		 (unsigned int)(d / 1000 % 1000));
}

static void format_us(uint64_t ns, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64 ".%03u ms", ns / 1000000,
		 (unsigned int)(ns / 1000 % 1000));
}

/* The table's rtt_us for a flow, or -1. */
static long long table_rtt(const struct flow_key *k)
{
	char path[PATH_MAX], line[TS_LINE_MAX + 2];
	static struct ts_row row;
	long long rtt = -1;
	FILE *fp;

	if (!cfg.proc)		/* tcpstate-pcap: no table to ask */
		return -1;
	proc_path("tcpstate", path, sizeof(path));
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (ts_row_parse(line, strlen(line), &row) != TS_OK)
			continue;
		if (row.netns == k->netns &&
		    !memcmp(&row.client, &k->client, sizeof(row.client)) &&
		    !memcmp(&row.server, &k->server, sizeof(row.server)) &&
		    row.has_rtt)
			rtt = row.rtt_us;
	}
	fclose(fp);
	return rtt;
}

static void ladder_print(const struct flow *f, bool finished)
{
	const struct step *s = f->steps;
	char client[64], server[64], middle[128], offset[32], a[32], b[32];
	uint64_t t0 = f->nsteps ? s[0].ts : 0;
	uint64_t t_syn = 0, t_synack = 0, t_ack = 0;
	bool isn_known[2] = { false, false }, simopen = false;
	uint32_t isn[2] = { 0, 0 };
	int first[2] = { -1, -1 };
	unsigned int i, j, k;
	long long rtt;

	ts_endpoint_format(&f->key.client, client, sizeof(client));
	ts_endpoint_format(&f->key.server, server, sizeof(server));
	for (i = 0; i < f->nsteps; i++)
		if (first[s[i].side] < 0)
			first[s[i].side] = s[i].old_state;

	printf("%s%s -> %s%s  ipv%u netns %" PRIu64 "%s\n", col(C_BOLD),
	       client, server, col(C_RESET), f->key.client.family,
	       f->key.netns, finished ? "" : "  (unfinished)");
	printf("%10s  %-*s %-*s %s\n", "ms", LADDER_STATE_W, "client",
	       LADDER_ARROW_W, "", "server");
	ladder_row("", first[TCPSTATE_CLIENT], "", first[TCPSTATE_SERVER]);

	for (i = 0; i < f->nsteps; i = j) {
		int moved[2] = { -1, -1 }, sender;

		for (j = i + 1; j < f->nsteps && same_segment(&s[i], &s[j]); j++)
			;
		for (k = i; k < j; k++)
			moved[s[k].side] = s[k].new_state;
		format_offset(s[i].ts, t0, offset, sizeof(offset));

		/* Sent again, a probe: an arrow from its sender, no move. */
		if (!tcpstate_reason_moves(s[i].reason)) {
			sender = s[i].side;
			/* The handshake's RTT counts from the last SYN. */
			if (sender == TCPSTATE_CLIENT && !t_synack &&
			    flags_have(s[i].flags, 'S') &&
			    !flags_have(s[i].flags, '.'))
				t_syn = s[i].ts;
			ladder_arrow(middle, sizeof(middle),
				     sender == TCPSTATE_CLIENT, &s[i]);
			snprintf(middle + strlen(middle),
				 sizeof(middle) - strlen(middle), " (%s)",
				 ladder_note(s[i].reason));
			ladder_row(offset, -1, middle, -1);
			continue;
		}
		if (s[i].reason != TCPSTATE_REASON_SEGMENT) {
			snprintf(middle, sizeof(middle), "(%s)",
				 tcpstate_reason_name(s[i].reason));
			ladder_row(offset, moved[TCPSTATE_CLIENT], middle,
				   moved[TCPSTATE_SERVER]);
			continue;
		}
		sender = segment_sender(&s[i], j - i, isn_known, isn);
		if (flags_have(s[i].flags, 'S')) {
			isn[sender] = s[i].seq;
			isn_known[sender] = true;
			if (sender == TCPSTATE_SERVER &&
			    !flags_have(s[i].flags, '.'))
				simopen = true;
			else if (sender == TCPSTATE_CLIENT && !t_syn)
				t_syn = s[i].ts;
			else if (sender == TCPSTATE_SERVER && !t_synack)
				t_synack = s[i].ts;
		}
		for (k = i; k < j; k++)
			if (s[k].side == TCPSTATE_SERVER &&
			    s[k].old_state == TCPSTATE_SYN_RCVD &&
			    s[k].new_state == TCPSTATE_ESTABLISHED && !t_ack)
				t_ack = s[k].ts;
		ladder_arrow(middle, sizeof(middle), sender == TCPSTATE_CLIENT,
			     &s[i]);
		/* The sender's change on the arrow's row, the receiver's too. */
		ladder_row(offset, moved[TCPSTATE_CLIENT], middle, moved[TCPSTATE_SERVER]);
		/* A reset after keep-alive probes says why, under its arrow. */
		if (s[i].ka_end != TCPSTATE_KA_END_NONE)
			printf("%10s  %*s (%s)\n", "", LADDER_STATE_W, "",
			       keepalive_words(tcpstate_ka_end_name(s[i].ka_end)));
	}
	if (f->dropped)
		printf("%10s  (%u more transitions not drawn)\n", "",
		       f->dropped);
	if (f->quiet_dropped)
		printf("%10s  (%u more retransmissions or keep-alives not drawn)\n",
		       "", f->quiet_dropped);

	/* Crossed SYNs: neither end answered the other's, no RTT to tell. */
	if (!simopen && t_syn && t_synack && t_synack >= t_syn) {
		format_us(t_synack - t_syn, a, sizeof(a));
		if (t_ack && t_ack >= t_synack)
			format_us(t_ack - t_synack, b, sizeof(b));
		else
			snprintf(b, sizeof(b), "?");
		printf("%10s  handshake RTT: SYN -> SYN/ACK %s, SYN/ACK -> ACK %s\n",
		       "", a, b);
	} else if (!simopen) {
		rtt = table_rtt(&f->key);
		if (rtt >= 0)
			printf("%10s  handshake RTT: %lld.%03lld ms (from /proc/tcpstate)\n",
			       "", rtt / 1000, rtt % 1000);
	}
	printf("\n");
	out_check();
}

static uint8_t ka_end_of(const char *ka)
{
	unsigned int i;

	for (i = 0; ka && i < TCPSTATE_KA_END_NR; i++)
		if (tcpstate_ka_end_name(i) && !strcmp(ka, tcpstate_ka_end_name(i)))
			return i;
	return TCPSTATE_KA_END_NONE;
}

const char *ladder_note(unsigned int reason)
{
	switch (reason) {
	case TCPSTATE_REASON_RETRANSMIT:
		return "retransmitted";
	case TCPSTATE_REASON_KEEPALIVE:
		return "keep-alive";
	case TCPSTATE_REASON_KEEPALIVE_ACK:
		return "keep-alive ACK";
	default:
		return NULL;
	}
}

void ladder_event(const struct ts_event *ev, bool selected)
{
	struct flow *f;
	struct step *s;

	if (ev->lost) {
		print_lost(ev);
		return;
	}
	if (!ts_filter_flow(&cfg.filter, ev->netns, &ev->client, &ev->server))
		return;
	f = flow_get(ev);
	if (!tcpstate_reason_moves(ev->reason) &&
	    f->nsteps >= LADDER_MAX_STEPS - LADDER_MOVES_KEPT) {
		f->quiet_dropped++;
	} else if (f->nsteps < LADDER_MAX_STEPS) {
		s = &f->steps[f->nsteps++];
		s->ts = ev->ts;
		s->seq = ev->seq;
		s->ack = ev->ack;
		s->side = ev->side;
		s->old_state = ev->old_state;
		s->new_state = ev->new_state;
		s->reason = ev->reason;
		s->ka_end = ka_end_of(ts_event_extra(ev, "keepalive"));
		memcpy(s->flags, ev->flags, sizeof(s->flags));
	} else {
		f->dropped++;
	}
	f->state[ev->side] = ev->new_state;
	if (flags_have(ev->flags, 'R') || ev->reason == TCPSTATE_REASON_EVICT ||
	    ev->reason == TCPSTATE_REASON_UNLOAD)
		f->reset = true;
	if (selected)
		f->selected = true;
	if (flow_finished(f)) {
		if (f->selected)
			ladder_print(f, true);
		flow_unlink(f);
	}
}

/* On the way out: what is still open, marked unfinished. */
void ladder_flush(void)
{
	while (oldest) {
		if (oldest->selected)
			ladder_print(oldest, false);
		flow_unlink(oldest);
	}
}
