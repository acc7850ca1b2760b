/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow table: one entry per connection per network namespace, found
 * by the namespace and the canonical 4-tuple, holding the core's state.
 */
#ifndef TCPSTATE_FLOW_H
#define TCPSTATE_FLOW_H

#include <linux/types.h>
#include <linux/in6.h>
#include <linux/spinlock.h>
#include <linux/rcupdate.h>
#include "fsm.h"

/* Index of a family's chain, cache and entry type. */
enum tcpstate_fam {
	TCPSTATE_FAM_IPV4,
	TCPSTATE_FAM_IPV6,
	TCPSTATE_FAM_NR
};

/*
 * A flow's identity.  The 4-tuple is canonical: end 0 is the (address,
 * port) pair that compares lower, so both directions give the same key,
 * and a segment's tcpstate_seg.end says which of the two sent it.
 */
struct tcpstate_key {
	union {
		__be32 v4[2];
		struct in6_addr v6[2];
	} addr;
	__be16 port[2];
	u32 netns;		/* the namespace's id (netns.h), never reused */
	u32 inum;		/* its inode number (the hook's, for events) */
	u8 fam;			/* enum tcpstate_fam */
};

/*
 * The part of an entry common to both families; the addresses follow it
 * (struct tcpstate_flow4, tcpstate_flow6 in flow.c).  The family is the
 * chain the entry hangs on, so it is not stored.  Laid out to fit 96
 * bytes for IPv4 with the core's 48: see the asserts in flow.c.
 */
struct tcpstate_flow {
	struct tcpstate_flow __rcu *next;
	struct rcu_head rcu;
	u32 netns;		/* namespace id; 0 once unlinked */
	__be16 port[2];		/* canonical order, as in the key */
	u32 created;		/* jiffies of the first segment (generation) */
	u32 last;		/* jiffies of the last segment or timer move */
	struct tcpstate_fsm fsm;
};

/*
 * A bucket: one lock for the chains of both families, and the jiffies
 * before which the GC has nothing to do in it (written under the lock,
 * read by the GC without it; meaningless while the bucket is empty).
 */
struct tcpstate_bucket {
	spinlock_t lock;
	u32 due;
	struct tcpstate_flow __rcu *head[TCPSTATE_FAM_NR];
};

struct tcpstate_table {
	struct tcpstate_bucket *buckets;
	unsigned int size;	/* a power of two */
	atomic_t count;		/* entries allocated, both families */
};

extern struct tcpstate_table tcpstate_table;

/* A consistent copy of one entry, taken under its bucket's lock. */
struct tcpstate_flow_view {
	struct tcpstate_key key;
	struct tcpstate_fsm fsm;
	u32 created;
	u32 last;
};

int tcpstate_flow_init(void);
void tcpstate_flow_exit(void);

/*
 * Whether a segment's checksum is right, asked only of a segment that
 * would change a state (see tcpstate_flow_step(), tcpstate_flow_add()).
 */
struct tcpstate_csum {
	bool (*ok)(const struct tcpstate_csum *c);
};

/*
 * Feed one segment of the flow @k.  Softirq or process context.  If the
 * segment would change a state, @csum (if not NULL) is asked first, and a
 * segment with a bad checksum changes nothing.
 */
void tcpstate_flow_segment(const struct tcpstate_key *k,
			   const struct tcpstate_seg *s,
			   const struct tcpstate_csum *csum);

/*
 * Remove every flow of the namespace with id @netns (0: of every one),
 * reporting each endpoint not yet CLOSED as a transition with @reason.
 */
void tcpstate_flow_flush(u32 netns, u8 reason);

/*
 * Copy @f, found on @b's chain of family @fam under RCU, into @v.  False
 * if it has been unlinked meanwhile.
 */
bool tcpstate_flow_view(struct tcpstate_bucket *b, struct tcpstate_flow *f,
			enum tcpstate_fam fam, struct tcpstate_flow_view *v);

/* Bytes per entry of a family, as its slab cache allocates them. */
unsigned int tcpstate_flow_entry_size(enum tcpstate_fam fam);

#endif /* TCPSTATE_FLOW_H */
