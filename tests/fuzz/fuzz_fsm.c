// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the state machine: arbitrary bytes become a
 * sequence of segments (and timer ticks) on one flow, with seq and ack
 * drawn near what each end has sent so that the fuzzer reaches deep
 * states; after every step the machine's invariants are checked.
 */
#include <stdlib.h>
#include <string.h>

#include "fsm.c"
#include "fsm_input.h"

#define fuzz_assert(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);			\
			abort();					\
		}							\
	} while (0)

#include <stdio.h>

static void check_result(const struct tcpstate_fsm *before,
			 const struct tcpstate_fsm *f,
			 const struct tcpstate_result *r, bool newgen_ok)
{
	u8 cur[2] = { before->end[0].state, before->end[1].state };
	char h[TCPSTATE_HISTORY_LEN], b[TCPSTATE_FLOWFLAGS_LEN];
	int i;

	fuzz_assert(r->verdict < TCPSTATE_V_NR);
	fuzz_assert(r->nr <= TCPSTATE_MAX_TRANS);
	fuzz_assert(f->end[0].state < TCPSTATE_NR_STATES);
	fuzz_assert(f->end[1].state < TCPSTATE_NR_STATES);
	if (r->verdict != TCPSTATE_V_OK && r->verdict != TCPSTATE_V_RETRANS &&
	    (before->flags & TCPSTATE_F_STARTED)) {
		fuzz_assert(r->nr == 0);
		fuzz_assert(f->end[0].state == before->end[0].state);
		fuzz_assert(f->end[1].state == before->end[1].state);
	}
	if (r->verdict == TCPSTATE_V_RETRANS)
		fuzz_assert(r->nr == 0);
	/* the reported moves chain from the old states to the new ones */
	for (i = 0; i < r->nr; i++) {
		const struct tcpstate_trans *t = &r->trans[i];

		fuzz_assert(t->side < 2);
		fuzz_assert(t->old_state != t->new_state);
		fuzz_assert(t->new_state < TCPSTATE_NR_STATES);
		if (t->old_state != cur[t->side]) {
			/* only a new generation may reset states silently */
			fuzz_assert(newgen_ok && (r->notes & TCPSTATE_N_NEWGEN));
		}
		cur[t->side] = t->new_state;
	}
	if (!(r->notes & TCPSTATE_N_NEWGEN)) {
		/* quiet moves: only a refused server going to CLOSED */
		for (i = 0; i < 2; i++)
			fuzz_assert(cur[i] == f->end[i].state ||
				    (f->end[i].state == TCPSTATE_CLOSED &&
				     cur[i] == TCPSTATE_LISTEN));
		if (before->flags & TCPSTATE_F_STARTED)
			fuzz_assert(tcpstate_fsm_client_end(f) ==
				    tcpstate_fsm_client_end(before));
	}
	/* keep-alive: notes that exclude each other, one probe waiting */
	if (r->notes & (TCPSTATE_N_KA_RESET | TCPSTATE_N_KA_GAVEUP))
		fuzz_assert(r->notes & TCPSTATE_N_RESET);
	fuzz_assert(!((r->notes & TCPSTATE_N_KA_RESET) &&
		      (r->notes & TCPSTATE_N_KA_GAVEUP)));
	fuzz_assert(!((r->notes & TCPSTATE_N_KA_PROBE) &&
		      (r->notes & TCPSTATE_N_KA_ACK)));
	if (r->notes & (TCPSTATE_N_KA_PROBE | TCPSTATE_N_KA_ACK))
		fuzz_assert(r->verdict == TCPSTATE_V_OK);
	fuzz_assert((f->pending & (TCPSTATE_P_PROBE(0) | TCPSTATE_P_PROBE(1))) !=
		    (TCPSTATE_P_PROBE(0) | TCPSTATE_P_PROBE(1)));
	if (r->notes & TCPSTATE_N_KA_PROBE)
		for (i = 0; i < 2; i++)
			fuzz_assert(f->end[i].nxt == before->end[i].nxt);
	if (tcpstate_fsm_finished(f)) {
		fuzz_assert(f->end[0].state <= TCPSTATE_LISTEN);
		fuzz_assert(f->end[1].state <= TCPSTATE_LISTEN);
	}
	tcpstate_fsm_history_format(f, h);
	fuzz_assert(strlen(h) >= 1 && strlen(h) <= 16);
	tcpstate_fsm_flags_format(f, b);
	fuzz_assert(strlen(b) < TCPSTATE_FLOWFLAGS_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpstate_fsm f, before;
	struct tcpstate_result r, rs;
	u32 now = 0;

	/* The whole input as a SYN's option list (up to the 40 bytes a
	 * header can hold): ASan sees every byte it reads.
	 */
	{
		struct tcpstate_seg s = { .wscale = TCPSTATE_WSCALE_NONE };
		unsigned int n = size < TCPSTATE_OPTLEN_MAX ? size :
				 TCPSTATE_OPTLEN_MAX;
		u8 *opts = malloc(n ? n : 1);

		fuzz_assert(opts);
		memcpy(opts, data, n);
		tcpstate_synopts_parse(opts, n, &s);
		fuzz_assert(s.wscale <= TCPSTATE_WSCALE_MAX ||
			    s.wscale == TCPSTATE_WSCALE_NONE);
		free(opts);
	}

	tcpstate_fsm_init(&f);
	while (size >= FSM_INPUT_STEP) {
		struct fsm_input in;

		fsm_input_decode(&f, data, &now, &in);
		before = f;
		if (in.tick) {
			/* a timer tick with a small 2MSL */
			u32 left = tcpstate_fsm_time_wait_left(&f, now,
							       in.time_wait_us);
			int n = tcpstate_fsm_tick(&f, now, in.time_wait_us, &r);

			fuzz_assert(n == r.nr);
			/* the GC's plan: a tick moves exactly when none is left */
			fuzz_assert((left == 0) == (n > 0));
			check_result(&before, &f, &r, false);
			for (n = 0; n < 2; n++)
				if (f.end[n].state == TCPSTATE_TIME_WAIT)
					fuzz_assert(now - f.mark_us <
						    in.time_wait_us);
		} else {
			const struct tcpstate_seg s = in.seg;
			struct tcpstate_fsm quiet;
			bool took;

			/*
			 * The quiet step alone: untouched when it declines,
			 * else what the whole step does, saying nothing.
			 */
			quiet = f;
			took = tcpstate_fsm_step_quiet(&quiet, &s);
			if (!took)
				fuzz_assert(!memcmp(&quiet, &f, sizeof(f)));
			tcpstate_fsm_step(&f, &s, now, &r);
			check_result(&before, &f, &r, true);
			/* after a decline, the rest alone ends the same */
			if (!took) {
				tcpstate_fsm_step_full(&quiet, &s, now, &rs);
				fuzz_assert(!memcmp(&quiet, &f, sizeof(f)) &&
					    rs.verdict == r.verdict &&
					    rs.notes == r.notes &&
					    rs.nr == r.nr);
			}
			if (took)
				fuzz_assert(!memcmp(&quiet, &f, sizeof(f)) &&
					    r.verdict == TCPSTATE_V_OK &&
					    !r.notes && !r.nr);
			/* the full path alone ends the same (no fast path) */
			rs = (struct tcpstate_result){ 0 };
			fsm_step(&before, &s, now, &rs);
			fuzz_assert(!memcmp(&before, &f, sizeof(f)));
			fuzz_assert(rs.verdict == r.verdict &&
				    rs.notes == r.notes && rs.nr == r.nr);
			fuzz_assert(!memcmp(rs.trans, r.trans,
					    r.nr * sizeof(r.trans[0])));
		}
		data += FSM_INPUT_STEP;
		size -= FSM_INPUT_STEP;
	}
	return 0;
}
