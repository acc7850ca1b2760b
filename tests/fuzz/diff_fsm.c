// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness that runs two builds of the core side by side: the
 * tree's module/fsm.c and an older one whose functions tests/fuzz/diff
 * renamed ref_*.  Both get the same segments and ticks, decoded by
 * fsm_input.h as fuzz_fsm.c's are (so its corpus serves), and must leave
 * the same machine, byte for byte, with the same results.  For changes meant
 * to change nothing: a faster step, a step restructured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"
#include "fsm_input.h"

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
	while (size >= FSM_INPUT_STEP) {
		struct fsm_input in;

		fsm_input_decode(&f, data, &now, &in);
		memset(&r, 0, sizeof(r));
		memset(&q, 0, sizeof(q));
		if (in.tick) {
			int n = tcpstate_fsm_tick(&f, now, in.time_wait_us, &r);
			int m = ref_tcpstate_fsm_tick(&g, now, in.time_wait_us,
						      &q);

			diff_assert(n == m);
		} else {
			tcpstate_fsm_step(&f, &in.seg, now, &r);
			ref_tcpstate_fsm_step(&g, &in.seg, now, &q);
		}
		same(&f, &g, &r, &q);
		data += FSM_INPUT_STEP;
		size -= FSM_INPUT_STEP;
	}
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	diff_assert(tcpstate_fsm_close(&f, &r) ==
		    ref_tcpstate_fsm_close(&g, &q));
	same(&f, &g, &r, &q);
	return 0;
}
