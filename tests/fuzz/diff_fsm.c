// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness that runs two builds of the core side by side: the
 * tree's module/fsm.c and an older one whose functions tests/fuzz/diff
 * renamed ref_*.  Both get the same segments and ticks, decoded as
 * fuzz_fsm.c decodes its input (so its corpus serves), and must leave the
 * same machine, byte for byte, with the same results.  For changes meant
 * to change nothing: a faster step, a step restructured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"

void ref_tcpstate_fsm_init(struct tcpstate_fsm *f);
void ref_tcpstate_fsm_step(struct tcpstate_fsm *f,
			   const struct tcpstate_seg *s, u32 now_us,
			   struct tcpstate_result *r);
int ref_tcpstate_fsm_tick(struct tcpstate_fsm *f, u32 now_us,
			  u32 time_wait_us, struct tcpstate_result *r);
int ref_tcpstate_fsm_close(struct tcpstate_fsm *f, struct tcpstate_result *r);

#define diff_assert(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "the two cores differ: %s (line %d)\n", \
				#cond, __LINE__);			\
			abort();					\
		}							\
	} while (0)

static u32 near(u32 base, u8 how, u32 rnd)
{
	switch (how & 3) {
	case 0: return base;
	case 1: return rnd & 0x80000000u ? base - 1 : base + 1;
	case 2: return base + (rnd & 0xff) - 0x80;
	default: return rnd;
	}
}

static void same(const struct tcpstate_fsm *a, const struct tcpstate_fsm *b,
		 const struct tcpstate_result *ra,
		 const struct tcpstate_result *rb)
{
	int i;

	diff_assert(!memcmp(a, b, sizeof(*a)));
	diff_assert(ra->verdict == rb->verdict);
	diff_assert(ra->notes == rb->notes);
	diff_assert(ra->nr == rb->nr);
	for (i = 0; i < ra->nr && i < TCPSTATE_MAX_TRANS; i++) {
		diff_assert(ra->trans[i].side == rb->trans[i].side);
		diff_assert(ra->trans[i].old_state == rb->trans[i].old_state);
		diff_assert(ra->trans[i].new_state == rb->trans[i].new_state);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpstate_fsm f, g;
	struct tcpstate_result r, q;
	u32 now = 0;

	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	tcpstate_fsm_init(&f);
	ref_tcpstate_fsm_init(&g);
	diff_assert(!memcmp(&f, &g, sizeof(f)));
	while (size >= 12) {
		u8 op = data[0], flags = data[1], hows = data[2];
		u8 end = op & 1;
		u32 rnd, len;

		memcpy(&rnd, data + 3, 4);
		len = data[7] & 0x80 ? data[7] & 0x7f : 0;
		now += data[8] * 1000u * (data[9] & 0x0f);
		memset(&r, 0, sizeof(r));
		memset(&q, 0, sizeof(q));
		if ((op & 0x0e) == 0x0e) {
			int n = tcpstate_fsm_tick(&f, now, 5000u * data[10], &r);
			int m = ref_tcpstate_fsm_tick(&g, now, 5000u * data[10],
						      &q);

			diff_assert(n == m);
		} else {
			const struct tcpstate_end *me, *peer;
			struct tcpstate_seg s;

			me = &f.end[f.flags & TCPSTATE_F_STARTED ?
				    (end == tcpstate_fsm_client_end(&f) ?
				     TCPSTATE_CLIENT : TCPSTATE_SERVER) : 0];
			peer = &f.end[me == &f.end[0] ? 1 : 0];
			s = (struct tcpstate_seg){
				.seq = near(me->nxt, hows, rnd),
				.ack = near(peer->nxt, hows >> 2, rnd >> 8),
				.len = len,
				.sport = end ? 80 : 40000,
				.dport = end ? 40000 : 80,
				.tsval = flags & TCPSTATE_TCP_SYN ?
					 1000u + data[9] : 0,
				.tsecr = flags & TCPSTATE_TCP_SYN &&
					 hows & 0x40 ? 990u + data[10] : 0,
				.win = data[10] | (data[11] << 8),
				.flags = flags,
				.wscale = hows & 0x80 ? data[11] & 0x1f :
					  TCPSTATE_WSCALE_NONE,
				.end = end,
			};
			tcpstate_fsm_step(&f, &s, now, &r);
			ref_tcpstate_fsm_step(&g, &s, now, &q);
		}
		same(&f, &g, &r, &q);
		data += 12;
		size -= 12;
	}
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	diff_assert(tcpstate_fsm_close(&f, &r) ==
		    ref_tcpstate_fsm_close(&g, &q));
	same(&f, &g, &r, &q);
	return 0;
}
