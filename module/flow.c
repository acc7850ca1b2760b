// SPDX-License-Identifier: GPL-2.0
/*
 * The flow table.
 *
 * A power-of-two array of buckets, each with a spinlock and one singly
 * linked chain per family.  Readers (the packet path's lookup, /proc) walk
 * the chains under RCU; every change to a chain or to an entry's state
 * machine happens under the bucket's lock, so the two directions of one
 * flow, handled on two CPUs at once, are serialised by that lock alone.
 * There is no global lock; the entry count is one atomic.
 *
 * Time: the core's clock is a u32 microsecond count (tcpstate_now_us(),
 * used for both tcpstate_fsm_step() and tcpstate_fsm_tick()); ages and idle
 * times are u32 jiffies.  Both clocks are read with the bucket's lock held,
 * by the packet path and the GC alike, so that the times an entry sees
 * never go backwards: a clock read before the lock may be older than the
 * entry's last segment by however long the reader was preempted (on
 * PREEMPT_RT, a long time).  Differences are signed (tcpstate_idle()).
 * The events a segment causes carry that same read, moved to
 * CLOCK_REALTIME: one clock read a segment.
 *
 * No entry has a timer.  One delayed work (the GC) runs every
 * TCPSTATE_GC_INTERVAL while the table is not empty and visits a slice of
 * the buckets each time, sized so that the whole table is swept every
 * time_wait_ms / 4 (at least 100 ms, at most 2 s apart).  On each entry
 * it runs the TIME_WAIT timer, expires idle flows and frees finished flows
 * whose linger time is over.  Entries are freed after a grace period
 * (call_rcu) into their family's kmem_cache.  The work is unbound: the
 * table is no CPU's own, and a per-CPU work waits for whatever holds the
 * CPU that queued it (softirq under a flood steered to that CPU, or a
 * hook that is not preempted), while the table fills.
 *
 * A bucket's due (flow.h) is the earliest jiffies at which the GC has
 * anything to do with one of its entries; the sweep passes over a bucket
 * until then without taking its lock, so a table of established flows
 * costs a look per bucket, not a walk of every entry every 2 s.  The GC
 * sets it from the entries it leaves; a new entry or a transition sets
 * it to "now", since only a state change can bring an entry's time
 * nearer (a segment that moves nothing only postpones its idle expiry).
 * A change of a timeout parameter makes the next sweep visit everything.
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/jhash.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/workqueue.h>

#include "event.h"
#include "flow.h"
#include "netns.h"
#include "tcpstate.h"

struct tcpstate_flow4 {
	struct tcpstate_flow f;
	__be32 addr[2];
};

struct tcpstate_flow6 {
	struct tcpstate_flow f;
	struct in6_addr addr[2];
};

/* The budget of issue 4, on 64-bit: half of nf_conntrack's entry. */
#ifdef CONFIG_64BIT
static_assert(sizeof(struct tcpstate_flow4) <= 96,
	      "an IPv4 flow entry must fit in 96 bytes");
static_assert(sizeof(struct tcpstate_flow6) <= 128,
	      "an IPv6 flow entry must fit in 128 bytes");
#endif

#define TCPSTATE_GC_INTERVAL	(HZ / 10)
#define TCPSTATE_GC_INTERVAL_MS	100
/* Buckets an eviction looks at, starting at the new flow's own. */
#define TCPSTATE_EVICT_SCAN	16

struct tcpstate_table tcpstate_table;

static struct kmem_cache *tcpstate_cache[TCPSTATE_FAM_NR];
static u32 tcpstate_hash_seed __read_mostly;
static struct delayed_work tcpstate_gc;
static unsigned int tcpstate_gc_cursor;
/*
 * Set once tcpstate_flow_exit() starts.  Tested under a bucket's lock
 * before adding an entry or queueing the GC, and the flush that follows
 * takes every bucket's lock, so once the flush is done no entry can be
 * added and the GC cannot be queued again.
 */
static bool tcpstate_flow_stopping;

#ifdef TCPSTATE_FAULT_INJECTION
/*
 * Fault injection, for the tests that force a race (only in the build
 * scripts/build-module makes with TCPSTATE_FAULT=1; the shipped module has
 * none of this).  Every knob is 0, off, by default.
 *
 * fault_gc_stall_ms: each GC run sleeps this long after it starts (where
 *	it once read its clock for the whole walk), as a preempted worker
 *	would on PREEMPT_RT.
 * fault_syn_stall_port, fault_syn_stall_ms: a SYN to or from this port
 *	spins this long in the hook just after its lookup in the table (a
 *	hook in flight, between reading its clock and taking the lock).
 */
static unsigned int fault_gc_stall_ms;
module_param(fault_gc_stall_ms, uint, 0644);
MODULE_PARM_DESC(fault_gc_stall_ms, "fault injection: GC stall (ms)");
static unsigned int fault_syn_stall_port;
module_param(fault_syn_stall_port, uint, 0644);
MODULE_PARM_DESC(fault_syn_stall_port, "fault injection: port whose SYNs stall");
static unsigned int fault_syn_stall_ms;
module_param(fault_syn_stall_ms, uint, 0644);
MODULE_PARM_DESC(fault_syn_stall_ms, "fault injection: SYN stall (ms)");

static void tcpstate_fault_gc_stall(void)
{
	unsigned int ms = READ_ONCE(fault_gc_stall_ms);

	if (ms)
		msleep(ms);
}

static void tcpstate_fault_syn_stall(const struct tcpstate_seg *s)
{
	unsigned int port = READ_ONCE(fault_syn_stall_port);
	unsigned int ms = READ_ONCE(fault_syn_stall_ms);

	if (port && ms && (s->sport == port || s->dport == port) &&
	    (s->flags & (TCPSTATE_TCP_SYN | TCPSTATE_TCP_ACK)) ==
	    TCPSTATE_TCP_SYN)
		mdelay(ms);
}
#else
static inline void tcpstate_fault_gc_stall(void) {}
static inline void tcpstate_fault_syn_stall(const struct tcpstate_seg *s) {}
#endif

static const u8 tcpstate_family[TCPSTATE_FAM_NR] = {
	[TCPSTATE_FAM_IPV4] = AF_INET,
	[TCPSTATE_FAM_IPV6] = AF_INET6,
};

/* The core's clock from a CLOCK_MONOTONIC time @ns. */
static u32 tcpstate_ns_to_us(u64 ns)
{
	return (u32)div_u64(ns, NSEC_PER_USEC);
}

static u32 tcpstate_now_us(void)
{
	return tcpstate_ns_to_us(ktime_get_ns());
}

/* Jiffies from @last to @now; 0 if @last is the later (a racing clock). */
static u32 tcpstate_idle(u32 now, u32 last)
{
	s32 d = (s32)(now - last);

	return d > 0 ? d : 0;
}

/* Whether jiffies @a come before @b, on a clock that wraps. */
static bool tcpstate_before(u32 a, u32 b)
{
	return (s32)(a - b) < 0;
}

static __be32 *tcpstate_flow_addr4(struct tcpstate_flow *f)
{
	return container_of(f, struct tcpstate_flow4, f)->addr;
}

static struct in6_addr *tcpstate_flow_addr6(struct tcpstate_flow *f)
{
	return container_of(f, struct tcpstate_flow6, f)->addr;
}

static u32 tcpstate_key_hash(const struct tcpstate_key *k)
{
	u32 ports = ((u32)ntohs(k->port[0]) << 16) | ntohs(k->port[1]);

	if (k->fam == TCPSTATE_FAM_IPV4)
		return jhash_3words((__force u32)k->addr.v4[0],
				    (__force u32)k->addr.v4[1], ports,
				    tcpstate_hash_seed ^ k->netns);
	return jhash2((const u32 *)k->addr.v6, 8,
		      tcpstate_hash_seed ^ k->netns ^ ports);
}

static struct tcpstate_bucket *tcpstate_key_bucket(const struct tcpstate_key *k)
{
	u32 h = tcpstate_key_hash(k);

	return &tcpstate_table.buckets[h & (tcpstate_table.size - 1)];
}

static bool tcpstate_flow_match(struct tcpstate_flow *f,
				const struct tcpstate_key *k)
{
	if (READ_ONCE(f->netns) != k->netns ||
	    f->port[0] != k->port[0] || f->port[1] != k->port[1])
		return false;
	if (k->fam == TCPSTATE_FAM_IPV4) {
		const __be32 *a = tcpstate_flow_addr4(f);

		return a[0] == k->addr.v4[0] && a[1] == k->addr.v4[1];
	}
	return !memcmp(tcpstate_flow_addr6(f), k->addr.v6,
		       sizeof(k->addr.v6));
}

/* A chain's next entry: the walker holds RCU or the bucket's lock. */
#define tcpstate_chain_next(b, p) \
	rcu_dereference_check(p, lockdep_is_held(&(b)->lock))

/* Under RCU, or under the bucket's lock. */
static struct tcpstate_flow *tcpstate_flow_lookup(struct tcpstate_bucket *b,
						  const struct tcpstate_key *k)
{
	struct tcpstate_flow *f;

	for (f = tcpstate_chain_next(b, b->head[k->fam]); f;
	     f = tcpstate_chain_next(b, f->next))
		if (tcpstate_flow_match(f, k))
			return f;
	return NULL;
}

static void tcpstate_flow_key(struct tcpstate_flow *f, enum tcpstate_fam fam,
			      struct tcpstate_key *k)
{
	memset(k, 0, sizeof(*k));
	k->fam = fam;
	k->netns = f->netns;
	k->port[0] = f->port[0];
	k->port[1] = f->port[1];
	if (fam == TCPSTATE_FAM_IPV4)
		memcpy(k->addr.v4, tcpstate_flow_addr4(f), sizeof(k->addr.v4));
	else
		memcpy(k->addr.v6, tcpstate_flow_addr6(f), sizeof(k->addr.v6));
}

/*
 * Report one transition of @f, on @b.  @s is the causing segment, NULL for
 * a timer, an eviction or an unload.  @inum is the namespace's inode
 * number: the hook has it at hand, the rest look it up.  @ts is the time
 * (CLOCK_REALTIME ns) from the clock the packet path read already, or 0
 * to read it here.  Called with the bucket's lock held (the events of one
 * flow are in the ring in the order they happened), after the core has
 * settled which end is the client.
 */
static void tcpstate_flow_emit(struct tcpstate_bucket *b,
			       struct tcpstate_flow *f, enum tcpstate_fam fam,
			       u32 inum, u64 ts, const struct tcpstate_trans *t,
			       const struct tcpstate_seg *s, u8 reason,
			       u8 ka_end)
{
	u8 c = tcpstate_fsm_client_end(&f->fsm);
	struct tcpstate_event_claim claim;
	struct tcpstate_event *ev;

	lockdep_assert_held(&b->lock);

	/*
	 * Written in place, every field, as the slot holds an older record;
	 * only the 12 bytes after an IPv4 address in caddr and saddr keep
	 * what was there, and nothing reads them for family AF_INET.
	 */
	ev = tcpstate_event_claim(&claim, ts);
	if (!ev)
		return;
	ev->netns_id = f->netns;
	ev->netns = inum;
	ev->family = tcpstate_family[fam];
	if (fam == TCPSTATE_FAM_IPV4) {
		ev->caddr.v4 = tcpstate_flow_addr4(f)[c];
		ev->saddr.v4 = tcpstate_flow_addr4(f)[!c];
	} else {
		ev->caddr.v6 = tcpstate_flow_addr6(f)[c];
		ev->saddr.v6 = tcpstate_flow_addr6(f)[!c];
	}
	ev->cport = f->port[c];
	ev->sport = f->port[!c];
	ev->side = t->side;
	ev->old_state = t->old_state;
	ev->new_state = t->new_state;
	/* Timer, eviction and unload events have no segment: 0. */
	ev->seq = s ? s->seq : 0;
	ev->ack = s ? s->ack : 0;
	ev->tcpflags = s ? s->flags : 0;
	ev->reason = reason;
	ev->ka_end = ka_end;
	tcpstate_event_publish(&claim);
}

/* Report every endpoint of @f not yet CLOSED as going CLOSED. */
static void tcpstate_flow_emit_close(struct tcpstate_bucket *b,
				     struct tcpstate_flow *f,
				     enum tcpstate_fam fam, u8 reason)
{
	u32 inum = tcpstate_netns_inum(f->netns);
	struct tcpstate_result r;
	int i, nr;

	nr = tcpstate_fsm_close(&f->fsm, &r);
	for (i = 0; i < nr; i++)
		tcpstate_flow_emit(b, f, fam, inum, 0, &r.trans[i], NULL,
				   reason, TCPSTATE_KA_END_NONE);
}

/* The slab object that holds @f, for kmem_cache_free(). */
static void *tcpstate_flow_obj(struct tcpstate_flow *f, enum tcpstate_fam fam)
{
	if (fam == TCPSTATE_FAM_IPV4)
		return container_of(f, struct tcpstate_flow4, f);
	return container_of(f, struct tcpstate_flow6, f);
}

static void tcpstate_flow_free4(struct rcu_head *head)
{
	struct tcpstate_flow *f = container_of(head, struct tcpstate_flow, rcu);

	kmem_cache_free(tcpstate_cache[TCPSTATE_FAM_IPV4],
			tcpstate_flow_obj(f, TCPSTATE_FAM_IPV4));
}

static void tcpstate_flow_free6(struct rcu_head *head)
{
	struct tcpstate_flow *f = container_of(head, struct tcpstate_flow, rcu);

	kmem_cache_free(tcpstate_cache[TCPSTATE_FAM_IPV6],
			tcpstate_flow_obj(f, TCPSTATE_FAM_IPV6));
}

/*
 * Take @f off its chain in @b, where @prev points at it, and free it after
 * a grace period.  Bucket lock held.  Readers that still hold @f see its
 * netns turn 0 and treat it as gone.
 */
static void tcpstate_flow_unlink(struct tcpstate_bucket *b,
				 struct tcpstate_flow __rcu **prev,
				 struct tcpstate_flow *f,
				 enum tcpstate_fam fam)
{
	lockdep_assert_held(&b->lock);
	rcu_assign_pointer(*prev, rcu_access_pointer(f->next));
	WRITE_ONCE(f->netns, 0);
	call_rcu(&f->rcu, fam == TCPSTATE_FAM_IPV4 ? tcpstate_flow_free4 :
						      tcpstate_flow_free6);
	atomic_dec(&tcpstate_table.count);
}

/*
 * Walk both chains of @b and unlink every entry @doomed says must go
 * (having emitted and counted what it should).  Bucket lock held.  The
 * eviction, the GC and the flushes all remove entries this way.
 */
static void tcpstate_bucket_reap(struct tcpstate_bucket *b,
				 bool (*doomed)(struct tcpstate_bucket *b,
						struct tcpstate_flow *f,
						enum tcpstate_fam fam,
						const void *arg),
				 const void *arg)
{
	int fam;

	lockdep_assert_held(&b->lock);
	for (fam = 0; fam < TCPSTATE_FAM_NR; fam++) {
		struct tcpstate_flow __rcu **prev = &b->head[fam];
		struct tcpstate_flow *f;

		while ((f = rcu_dereference_protected(*prev,
				lockdep_is_held(&b->lock)))) {
			if (doomed(b, f, fam, arg))
				tcpstate_flow_unlink(b, prev, f, fam);
			else
				prev = &f->next;
		}
	}
}

/* tcpstate_bucket_reap()'s test for the entry chosen for eviction. */
static bool tcpstate_flow_evict_one(struct tcpstate_bucket *b,
				    struct tcpstate_flow *f,
				    enum tcpstate_fam fam, const void *chosen)
{
	if (f != chosen)
		return false;
	tcpstate_flow_emit_close(b, f, fam, TCPSTATE_REASON_EVICT);
	tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_EVICTED);
	return true;
}

/*
 * The table is full: evict one flow near @home, the lowest class first
 * and among those the one idle longest.  Like conntrack's early drop, the
 * search is bounded to TCPSTATE_EVICT_SCAN buckets.  Caller holds RCU and
 * no bucket lock.
 */
static bool tcpstate_flow_evict(struct tcpstate_bucket *home)
{
	unsigned int i, start = home - tcpstate_table.buckets;
	struct tcpstate_bucket *best_b = NULL;
	struct tcpstate_flow *best = NULL;
	u32 now, best_idle = 0;
	unsigned int best_class = TCPSTATE_EVICT_NEVER;
	int fam;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(),
			 "an eviction walks the chains under RCU");

	for (i = 0; i < TCPSTATE_EVICT_SCAN && best_class; i++) {
		unsigned int n = (start + i) & (tcpstate_table.size - 1);
		struct tcpstate_bucket *b = &tcpstate_table.buckets[n];
		struct tcpstate_flow *f;

		spin_lock_bh(&b->lock);
		/* Under the lock that orders every write of f->last. */
		now = jiffies;
		for (fam = 0; fam < TCPSTATE_FAM_NR; fam++) {
			for (f = tcpstate_chain_next(b, b->head[fam]); f;
			     f = tcpstate_chain_next(b, f->next)) {
				unsigned int class =
					tcpstate_fsm_evict_class(&f->fsm);
				u32 idle = tcpstate_idle(now, f->last);

				if (class >= TCPSTATE_EVICT_NEVER ||
				    class > best_class ||
				    (class == best_class && idle <= best_idle))
					continue;
				best = f;
				best_b = b;
				best_class = class;
				best_idle = idle;
			}
		}
		spin_unlock_bh(&b->lock);
	}
	if (!best)
		return false;

	/*
	 * If it is gone meanwhile, someone else made room.  Under RCU (see
	 * above) its memory cannot have been reused for another entry.
	 */
	spin_lock_bh(&best_b->lock);
	tcpstate_bucket_reap(best_b, tcpstate_flow_evict_one, best);
	spin_unlock_bh(&best_b->lock);
	return true;
}

/* Count a new entry against max_flows, evicting one if the table is full. */
static bool tcpstate_flow_reserve(struct tcpstate_bucket *home)
{
	unsigned int max = tcpstate_param(&tcpstate_max_flows);

	if (atomic_inc_return(&tcpstate_table.count) <= max)
		return true;
	atomic_dec(&tcpstate_table.count);
	if (!tcpstate_flow_evict(home))
		return false;
	if (atomic_inc_return(&tcpstate_table.count) <= max)
		return true;
	atomic_dec(&tcpstate_table.count);
	return false;
}

/*
 * A new entry for the flow @k of bucket @b, counted against max_flows but
 * not yet in the table; NULL (counted) if there is no room or memory.
 */
static struct tcpstate_flow *tcpstate_flow_alloc(struct tcpstate_bucket *b,
						 const struct tcpstate_key *k)
{
	struct tcpstate_flow *f;
	void *obj;

	if (!tcpstate_flow_reserve(b)) {
		tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_DROPPED);
		return NULL;
	}
	obj = kmem_cache_alloc(tcpstate_cache[k->fam], GFP_ATOMIC);
	if (!obj) {
		atomic_dec(&tcpstate_table.count);
		tcpstate_stat_inc(TCPSTATE_STAT_ALLOC_FAILURES);
		return NULL;
	}
	if (k->fam == TCPSTATE_FAM_IPV4) {
		struct tcpstate_flow4 *f4 = obj;

		f = &f4->f;
		memcpy(f4->addr, k->addr.v4, sizeof(f4->addr));
	} else {
		struct tcpstate_flow6 *f6 = obj;

		f = &f6->f;
		memcpy(f6->addr, k->addr.v6, sizeof(f6->addr));
	}
	f->netns = k->netns;
	f->port[0] = k->port[0];
	f->port[1] = k->port[1];
	f->created = jiffies;
	f->last = f->created;
	tcpstate_fsm_init(&f->fsm);
	return f;
}

/*
 * Put @f, from tcpstate_flow_alloc(), into @b, unless another CPU added
 * the flow first (that one is returned) or the table is going away
 * (NULL); either way @f is freed, never having been visible.
 */
static struct tcpstate_flow *tcpstate_flow_insert(struct tcpstate_bucket *b,
						  const struct tcpstate_key *k,
						  struct tcpstate_flow *f)
{
	struct tcpstate_flow *old;

	lockdep_assert_held(&b->lock);
	old = tcpstate_flow_lookup(b, k);
	if (old || READ_ONCE(tcpstate_flow_stopping)) {
		kmem_cache_free(tcpstate_cache[k->fam],
				tcpstate_flow_obj(f, k->fam));
		atomic_dec(&tcpstate_table.count);
		return old;
	}
	RCU_INIT_POINTER(f->next, rcu_dereference_protected(b->head[k->fam],
					lockdep_is_held(&b->lock)));
	rcu_assign_pointer(b->head[k->fam], f);
	WRITE_ONCE(b->due, jiffies);
	tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_CREATED);
	/*
	 * Start the GC if it is idle.  The plain test keeps a SYN flood
	 * from doing an atomic read-modify-write on the work's shared flags
	 * for every new flow; a GC that is running rather than pending
	 * requeues itself while the table is not empty.
	 */
	if (!delayed_work_pending(&tcpstate_gc))
		queue_delayed_work(system_unbound_wq, &tcpstate_gc,
				   TCPSTATE_GC_INTERVAL);
	return f;
}

/* The counter of each note (fsm.h, TCPSTATE_N_*), by the note's bit. */
static const u8 tcpstate_note_stat[] = {
	[ilog2(TCPSTATE_N_HANDSHAKE)] = TCPSTATE_STAT_HANDSHAKES,
	[ilog2(TCPSTATE_N_REFUSED)] = TCPSTATE_STAT_REFUSED,
	[ilog2(TCPSTATE_N_RESET)] = TCPSTATE_STAT_RESETS,
	[ilog2(TCPSTATE_N_SIMOPEN)] = TCPSTATE_STAT_SIMOPENS,
	[ilog2(TCPSTATE_N_SIMCLOSE)] = TCPSTATE_STAT_SIMCLOSES,
	[ilog2(TCPSTATE_N_PICKUP)] = TCPSTATE_STAT_PICKUPS,
	[ilog2(TCPSTATE_N_NEWGEN)] = TCPSTATE_STAT_NEW_GENERATIONS,
	[ilog2(TCPSTATE_N_FINISHED)] = TCPSTATE_STAT_FINISHED,
	[ilog2(TCPSTATE_N_KA_PROBE)] = TCPSTATE_STAT_KA_PROBES,
	[ilog2(TCPSTATE_N_KA_ACK)] = TCPSTATE_STAT_KA_ACKS,
	[ilog2(TCPSTATE_N_KA_RESET)] = TCPSTATE_STAT_KA_RESETS,
	[ilog2(TCPSTATE_N_KA_GAVEUP)] = TCPSTATE_STAT_KA_TIMEOUTS,
};
/* KA_GAVEUP is the highest note: a new one needs its counter here. */
static_assert(ARRAY_SIZE(tcpstate_note_stat) ==
	      ilog2(TCPSTATE_N_KA_GAVEUP) + 1);

static void tcpstate_flow_count(const struct tcpstate_result *r)
{
	static const u8 by_verdict[TCPSTATE_V_NR] = {
		[TCPSTATE_V_RETRANS] = TCPSTATE_STAT_RETRANSMISSIONS,
		[TCPSTATE_V_BAD_FLAGS] = TCPSTATE_STAT_INVALID_FLAGS,
		[TCPSTATE_V_BAD_ACK] = TCPSTATE_STAT_INVALID_ACK,
		[TCPSTATE_V_BAD_RST] = TCPSTATE_STAT_INVALID_RST,
		[TCPSTATE_V_BAD_SEQ] = TCPSTATE_STAT_INVALID_SEQ,
		[TCPSTATE_V_UNEXPECTED] = TCPSTATE_STAT_INVALID_UNEXPECTED,
	};
	unsigned long notes = r->notes;
	unsigned int bit;

	if (r->verdict != TCPSTATE_V_OK && r->verdict < TCPSTATE_V_NR)
		tcpstate_stat_inc(by_verdict[r->verdict]);
	/* Most segments note nothing; the rest one or two things. */
	for_each_set_bit(bit, &notes, ARRAY_SIZE(tcpstate_note_stat))
		tcpstate_stat_inc(tcpstate_note_stat[bit]);
}

/* A segment that would change a state: is its checksum right?  Counted. */
static bool tcpstate_flow_csum_ok(const struct tcpstate_csum *csum)
{
	if (!csum || csum->ok(csum))
		return true;
	tcpstate_stat_inc(TCPSTATE_STAT_BAD_CHECKSUM);
	return false;
}

/* What a segment that moved nothing says, as the parameters ask. */
static u8 tcpstate_flow_quiet_reason(const struct tcpstate_result *r)
{
	return tcpstate_result_quiet_reason(r, READ_ONCE(tcpstate_retransmits),
					    READ_ONCE(tcpstate_keepalives));
}

/*
 * The segment @s on @f, in @b, that the quiet step declined: the full
 * step, its events and its counters.  Called with the bucket's lock held.
 * Out of line, so that its frame (a copy of the machine, a result) is set
 * up only for the segments that need it.  Every lock is released in the
 * function that took it, so that sparse can follow it on every kernel.
 */
static noinline void tcpstate_flow_step(struct tcpstate_bucket *b,
					struct tcpstate_flow *f,
					const struct tcpstate_key *k,
					const struct tcpstate_seg *s,
					const struct tcpstate_csum *csum)
{
	struct tcpstate_result r;
	struct tcpstate_fsm next;
	u64 now_ns, ts;
	u32 now_us;
	u8 quiet;
	int i;

	lockdep_assert_held(&b->lock);
	/* The clocks under the lock: see "Time" above. */
	now_ns = ktime_get_ns();
	now_us = tcpstate_ns_to_us(now_ns);
	/*
	 * A segment whose checksum is not known to be right is stepped on a
	 * copy: if it would move a state it is taken only when its checksum
	 * is right, as the receiver would drop it otherwise.  Checksums are
	 * verified for these segments only; the rest (local, offloaded,
	 * already verified: csum NULL) step in place.
	 */
	if (csum) {
		next = f->fsm;
		tcpstate_fsm_step_full(&next, s, now_us, &r);
		quiet = tcpstate_flow_quiet_reason(&r);
		if ((r.nr || quiet != TCPSTATE_REASON_NR) &&
		    !tcpstate_flow_csum_ok(csum))
			return;
		f->fsm = next;
	} else {
		tcpstate_fsm_step_full(&f->fsm, s, now_us, &r);
		quiet = tcpstate_flow_quiet_reason(&r);
	}
	f->last = jiffies;
	if (r.notes & TCPSTATE_N_NEWGEN)
		f->created = f->last;
	/* A new state may have a nearer timer: the GC is to look again. */
	if (r.nr)
		WRITE_ONCE(b->due, f->last);
	/* The events' time, from the clock read above (one read a segment). */
	ts = 0;
	if (r.nr || quiet != TCPSTATE_REASON_NR)
		ts = ktime_to_ns(ktime_mono_to_real(ns_to_ktime(now_ns)));
	/* It moved nothing: a line of its sender's own state. */
	if (quiet != TCPSTATE_REASON_NR) {
		u8 side = tcpstate_fsm_side(&f->fsm, s->end);
		u8 st = f->fsm.end[side].state;
		struct tcpstate_trans t = { side, st, st };

		tcpstate_flow_emit(b, f, k->fam, k->inum, ts, &t, s, quiet,
				   TCPSTATE_KA_END_NONE);
	}
	for (i = 0; i < r.nr && i < TCPSTATE_MAX_TRANS; i++)
		tcpstate_flow_emit(b, f, k->fam, k->inum, ts, &r.trans[i], s,
				   TCPSTATE_REASON_SEGMENT,
				   tcpstate_ka_end_of(r.notes));
	tcpstate_flow_count(&r);
}

/*
 * @s on @f, found in @b with the bucket's lock held: the quiet step, or
 * else the full one.
 */
static void tcpstate_flow_apply(struct tcpstate_bucket *b,
				struct tcpstate_flow *f,
				const struct tcpstate_key *k,
				const struct tcpstate_seg *s,
				const struct tcpstate_csum *csum)
{
	lockdep_assert_held(&b->lock);
	if (tcpstate_fsm_step_quiet(&f->fsm, s))
		f->last = jiffies;
	else
		tcpstate_flow_step(b, f, k, s, csum);
}

/*
 * The flow @k of @b was not found (@restart false), or went between its
 * lookup and the lock (true): then look again, twice at most.  If it is
 * not there, add it if @s may open one (its checksum verified first);
 * then step it.  Under RCU.
 */
static noinline void tcpstate_flow_add(struct tcpstate_bucket *b,
				       const struct tcpstate_key *k,
				       const struct tcpstate_seg *s,
				       const struct tcpstate_csum *csum,
				       bool restart)
{
	struct tcpstate_flow *f = NULL;
	int tries;

	for (tries = 0; restart && tries < 2; tries++) {
		f = tcpstate_flow_lookup(b, k);
		if (!f)
			break;
		spin_lock_bh(&b->lock);
		if (READ_ONCE(f->netns) == k->netns) {
			tcpstate_flow_apply(b, f, k, s, csum);
			spin_unlock_bh(&b->lock);
			return;
		}
		/* Unlinked between the lookup and the lock, again. */
		spin_unlock_bh(&b->lock);
		tcpstate_stat_inc(TCPSTATE_STAT_LOOKUP_RESTARTS);
	}
	if (f)
		return;
	if (!tcpstate_fsm_opens(s)) {
		tcpstate_stat_inc(TCPSTATE_STAT_NO_FLOW);
		return;
	}
	if (!tcpstate_flow_csum_ok(csum))
		return;
	f = tcpstate_flow_alloc(b, k);
	if (!f)
		return;
	spin_lock_bh(&b->lock);
	f = tcpstate_flow_insert(b, k, f);
	/* Its checksum is right: verified above. */
	if (f)
		tcpstate_flow_apply(b, f, k, s, NULL);
	spin_unlock_bh(&b->lock);
}

/*
 * Most segments are data between two ESTABLISHED ends: no state moves,
 * nothing is said, so neither the clock nor the checksum is wanted (a bad
 * one would be taken here as in tcpstate_flow_step()).  The path of such
 * a segment is a lookup, the bucket's lock and the core's quiet step; the
 * rest is out of line.
 */
void tcpstate_flow_segment(const struct tcpstate_key *k,
			   const struct tcpstate_seg *s,
			   const struct tcpstate_csum *csum)
{
	struct tcpstate_bucket *b = tcpstate_key_bucket(k);
	bool restart = false;
	struct tcpstate_flow *f;

	rcu_read_lock();
	f = tcpstate_flow_lookup(b, k);
	tcpstate_fault_syn_stall(s);
	if (f) {
		spin_lock_bh(&b->lock);
		if (likely(READ_ONCE(f->netns) == k->netns)) {
			tcpstate_flow_apply(b, f, k, s, csum);
			spin_unlock_bh(&b->lock);
			rcu_read_unlock();
			return;
		}
		/* Unlinked between the lookup and the lock. */
		spin_unlock_bh(&b->lock);
		tcpstate_stat_inc(TCPSTATE_STAT_LOOKUP_RESTARTS);
		restart = true;
	}
	tcpstate_flow_add(b, k, s, csum, restart);
	rcu_read_unlock();
}

/* The idle timeouts (fsm.h, enum tcpstate_idle) in jiffies, from the parameters. */
static void tcpstate_flow_timeouts(u32 timeouts[TCPSTATE_IDLE_NR])
{
	static const struct tcpstate_uparam *const params[TCPSTATE_IDLE_NR] = {
		[TCPSTATE_IDLE_SYN] = &tcpstate_timeout_syn,
		[TCPSTATE_IDLE_ESTABLISHED] = &tcpstate_timeout_established,
		[TCPSTATE_IDLE_FIN_WAIT] = &tcpstate_timeout_fin_wait,
		[TCPSTATE_IDLE_CLOSE_WAIT] = &tcpstate_timeout_close_wait,
		[TCPSTATE_IDLE_LAST_ACK] = &tcpstate_timeout_last_ack,
		[TCPSTATE_IDLE_CLOSE] = &tcpstate_timeout_close,
	};
	int i;

	timeouts[TCPSTATE_IDLE_NEVER] = U32_MAX;
	for (i = TCPSTATE_IDLE_NEVER + 1; i < TCPSTATE_IDLE_NR; i++)
		timeouts[i] = (u32)min_t(u64, (u64)tcpstate_param(params[i]) *
					 HZ, U32_MAX);
}

/* What one GC run reads of the parameters, once. */
struct tcpstate_gc_params {
	u32 timeouts[TCPSTATE_IDLE_NR];	/* tcpstate_flow_timeouts() */
	u32 time_wait_us;
	u32 linger;			/* jiffies */
};

/* The farthest ahead a bucket's due is set: well inside time_after()'s reach. */
#define TCPSTATE_DUE_MAX	(1U << 30)

/* The GC's clocks, read under the bucket lock (see the caller). */
struct tcpstate_gc_clock {
	u32 now;	/* jiffies */
	u32 now_us;
	const struct tcpstate_gc_params *p;
	u32 *due;	/* the earliest due of the entries kept */
};

/* @span jiffies after @from, as a due no farther than TCPSTATE_DUE_MAX. */
static u32 tcpstate_gc_due(u32 from, u32 span)
{
	return from + min(span, TCPSTATE_DUE_MAX);
}

/* When the GC has next to do something with @f, which it keeps. */
static u32 tcpstate_flow_due(const struct tcpstate_flow *f,
			     const struct tcpstate_gc_clock *clk)
{
	u32 left;

	if (tcpstate_fsm_finished(&f->fsm))
		return tcpstate_gc_due(f->last, clk->p->linger);
	left = tcpstate_fsm_time_wait_left(&f->fsm, clk->now_us,
					   clk->p->time_wait_us);
	if (left != TCPSTATE_FOREVER)
		/*
		 * Rounded up, and a jiffy more: once that many jiffies have
		 * passed, so have @left microseconds on the other clock.
		 */
		return tcpstate_gc_due(clk->now, usecs_to_jiffies(left) + 1);
	return tcpstate_gc_due(f->last,
			       tcpstate_fsm_idle_limit(&f->fsm,
						       clk->p->timeouts));
}

/*
 * The GC's work on one entry of @b: run its TIME_WAIT timer, expire it if
 * it has been idle too long, free it once finished and lingered.  True if
 * it is to be unlinked (tcpstate_bucket_reap()); else its due is folded
 * into the bucket's.
 */
static bool tcpstate_flow_gc_one(struct tcpstate_bucket *b,
				 struct tcpstate_flow *f,
				 enum tcpstate_fam fam, const void *arg)
{
	const struct tcpstate_gc_clock *clk = arg;
	u32 now = clk->now, now_us = clk->now_us;
	u32 idle, due;
	int i, nr;

	lockdep_assert_held(&b->lock);

	if (!tcpstate_fsm_finished(&f->fsm)) {
		struct tcpstate_result r;

		nr = tcpstate_fsm_tick(&f->fsm, now_us, clk->p->time_wait_us,
				       &r);
		for (i = 0; i < nr && i < TCPSTATE_MAX_TRANS; i++) {
			tcpstate_flow_emit(b, f, fam,
					   tcpstate_netns_inum(f->netns), 0,
					   &r.trans[i], NULL,
					   TCPSTATE_REASON_TIMER,
					   TCPSTATE_KA_END_NONE);
			tcpstate_stat_inc(TCPSTATE_STAT_TIME_WAIT_TIMERS);
		}
		if (nr > 0) {
			f->last = now;
			if (tcpstate_fsm_finished(&f->fsm))
				tcpstate_stat_inc(TCPSTATE_STAT_FINISHED);
		}
	}

	idle = tcpstate_idle(now, f->last);
	if (tcpstate_fsm_finished(&f->fsm)) {
		if (idle >= clk->p->linger) {
			tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_FREED);
			return true;
		}
	} else if (tcpstate_fsm_idle_expired(&f->fsm, idle,
					     clk->p->timeouts)) {
		tcpstate_flow_emit_close(b, f, fam, TCPSTATE_REASON_TIMER);
		tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_EXPIRED);
		return true;
	}
	due = tcpstate_flow_due(f, clk);
	if (tcpstate_before(due, *clk->due))
		*clk->due = due;
	return false;
}

static void tcpstate_flow_gc_bucket(struct tcpstate_bucket *b,
				    const struct tcpstate_gc_params *p,
				    bool all)
{
	struct tcpstate_gc_clock clk = { .p = p };
	u32 due;

	/*
	 * Most buckets of a table sized for max_flows are empty, and most
	 * of the rest hold nothing due: neither is worth a lock and a
	 * clock.  An entry linked, or a due brought nearer, just after this
	 * look waits for the next sweep, as it would just after the lock.
	 */
	if (!rcu_access_pointer(b->head[TCPSTATE_FAM_IPV4]) &&
	    !rcu_access_pointer(b->head[TCPSTATE_FAM_IPV6]))
		return;
	if (!all && tcpstate_before(jiffies, READ_ONCE(b->due)))
		return;
	spin_lock_bh(&b->lock);
	/*
	 * The clocks under the lock every segment takes to stamp f->last:
	 * read before it, they could be older than an entry's last segment,
	 * and a negative idle time would expire a live flow.
	 */
	clk.now = jiffies;
	clk.now_us = tcpstate_now_us();
	due = tcpstate_gc_due(clk.now, TCPSTATE_DUE_MAX);
	clk.due = &due;
	tcpstate_bucket_reap(b, tcpstate_flow_gc_one, &clk);
	WRITE_ONCE(b->due, due);
	spin_unlock_bh(&b->lock);
}

/*
 * The parameters the dues were last set with, and how many buckets the
 * sweep is still to visit whatever their due since they changed.
 */
static struct tcpstate_gc_params tcpstate_gc_last;
static unsigned int tcpstate_gc_visit_all;

static void tcpstate_flow_gc_work(struct work_struct *work)
{
	struct tcpstate_gc_params p = { };
	unsigned int sweep_ms, slice, i;

	sweep_ms = clamp(tcpstate_param(&tcpstate_time_wait_ms) / 4, 100U,
			 2000U);
	slice = DIV_ROUND_UP(tcpstate_table.size * TCPSTATE_GC_INTERVAL_MS,
			     sweep_ms);
	slice = min(slice, tcpstate_table.size);
	tcpstate_flow_timeouts(p.timeouts);
	p.time_wait_us = tcpstate_param(&tcpstate_time_wait_ms) *
			 USEC_PER_MSEC;
	p.linger = msecs_to_jiffies(tcpstate_param(&tcpstate_linger_ms));
	/* The dues were set with other timeouts: a sweep that visits all. */
	if (memcmp(&p, &tcpstate_gc_last, sizeof(p))) {
		tcpstate_gc_last = p;
		tcpstate_gc_visit_all = tcpstate_table.size;
	}
	tcpstate_fault_gc_stall();

	for (i = 0; i < slice; i++) {
		tcpstate_flow_gc_bucket(&tcpstate_table.buckets[tcpstate_gc_cursor],
					&p, tcpstate_gc_visit_all);
		if (tcpstate_gc_visit_all)
			tcpstate_gc_visit_all--;
		tcpstate_gc_cursor = (tcpstate_gc_cursor + 1) &
				     (tcpstate_table.size - 1);
		if ((i & 255) == 255)
			cond_resched();
	}
	if (atomic_read(&tcpstate_table.count) &&
	    !READ_ONCE(tcpstate_flow_stopping))
		queue_delayed_work(system_unbound_wq, &tcpstate_gc,
				   TCPSTATE_GC_INTERVAL);
}

/* What a flush removes: one namespace's entries (all if netns is 0). */
struct tcpstate_flush {
	u32 netns;
	u8 reason;
};

static bool tcpstate_flow_flush_one(struct tcpstate_bucket *b,
				    struct tcpstate_flow *f,
				    enum tcpstate_fam fam, const void *arg)
{
	const struct tcpstate_flush *fl = arg;

	if (fl->netns && f->netns != fl->netns)
		return false;
	tcpstate_flow_emit_close(b, f, fam, fl->reason);
	tcpstate_stat_inc(TCPSTATE_STAT_FLOWS_FLUSHED);
	return true;
}

void tcpstate_flow_flush(u32 netns, u8 reason)
{
	const struct tcpstate_flush fl = { .netns = netns, .reason = reason };
	unsigned int n;

	for (n = 0; n < tcpstate_table.size; n++) {
		struct tcpstate_bucket *b = &tcpstate_table.buckets[n];

		spin_lock_bh(&b->lock);
		tcpstate_bucket_reap(b, tcpstate_flow_flush_one, &fl);
		spin_unlock_bh(&b->lock);
		if ((n & 1023) == 1023)
			cond_resched();
	}
}

bool tcpstate_flow_view(struct tcpstate_bucket *b, struct tcpstate_flow *f,
			enum tcpstate_fam fam, struct tcpstate_flow_view *v)
{
	bool alive;

	spin_lock_bh(&b->lock);
	alive = READ_ONCE(f->netns) != 0;
	if (alive) {
		tcpstate_flow_key(f, fam, &v->key);
		v->fsm = f->fsm;
		v->created = f->created;
		v->last = f->last;
	}
	spin_unlock_bh(&b->lock);
	return alive;
}

unsigned int tcpstate_flow_entry_size(enum tcpstate_fam fam)
{
	return kmem_cache_size(tcpstate_cache[fam]);
}

/*
 * Buckets for the max_flows given at load: two flows a chain, at least
 * 16 (so a tiny table is within one eviction scan), at most 2^20.  Raising
 * max_flows later makes the chains longer, not the table wider.
 */
static unsigned int tcpstate_flow_buckets(unsigned int max)
{
	return roundup_pow_of_two(clamp(max / 2, 16U, 1U << 20));
}

int tcpstate_flow_init(void)
{
	unsigned int n;

	/* No SLAB_HWCACHE_ALIGN: it would round 96 bytes up to 128. */
	tcpstate_cache[TCPSTATE_FAM_IPV4] =
		kmem_cache_create("tcpstate_flow4",
				  sizeof(struct tcpstate_flow4), 0, 0, NULL);
	if (!tcpstate_cache[TCPSTATE_FAM_IPV4])
		goto err_cache4;
	tcpstate_cache[TCPSTATE_FAM_IPV6] =
		kmem_cache_create("tcpstate_flow6",
				  sizeof(struct tcpstate_flow6), 0, 0, NULL);
	if (!tcpstate_cache[TCPSTATE_FAM_IPV6])
		goto err_cache6;

	tcpstate_table.size =
		tcpstate_flow_buckets(tcpstate_param(&tcpstate_max_flows));
	tcpstate_table.buckets = kvcalloc(tcpstate_table.size,
					  sizeof(*tcpstate_table.buckets),
					  GFP_KERNEL);
	if (!tcpstate_table.buckets)
		goto err_buckets;
	for (n = 0; n < tcpstate_table.size; n++)
		spin_lock_init(&tcpstate_table.buckets[n].lock);
	atomic_set(&tcpstate_table.count, 0);
	tcpstate_hash_seed = get_random_u32();
	tcpstate_gc_cursor = 0;
	memset(&tcpstate_gc_last, 0, sizeof(tcpstate_gc_last));
	tcpstate_gc_visit_all = 0;
	tcpstate_flow_stopping = false;
	INIT_DELAYED_WORK(&tcpstate_gc, tcpstate_flow_gc_work);
	return 0;

err_buckets:
	kmem_cache_destroy(tcpstate_cache[TCPSTATE_FAM_IPV6]);
err_cache6:
	kmem_cache_destroy(tcpstate_cache[TCPSTATE_FAM_IPV4]);
err_cache4:
	pr_err("cannot allocate the flow table\n");
	return -ENOMEM;
}

/*
 * After the hooks are gone and a grace period has passed (the pernet
 * .pre_exit), so no segment is in the table's code.  Even so, nothing can
 * add an entry or queue the GC once the flush has passed every bucket's
 * lock (see tcpstate_flow_stopping), and the GC does not requeue itself.
 */
void tcpstate_flow_exit(void)
{
	WRITE_ONCE(tcpstate_flow_stopping, true);
	tcpstate_flow_flush(0, TCPSTATE_REASON_UNLOAD);
	cancel_delayed_work_sync(&tcpstate_gc);
	/* The GC may have run once more meanwhile, with nothing to do. */
	WARN_ON_ONCE(atomic_read(&tcpstate_table.count));
	/* Wait for every call_rcu() free before the caches go. */
	rcu_barrier();
	kvfree(tcpstate_table.buckets);
	tcpstate_table.buckets = NULL;
	kmem_cache_destroy(tcpstate_cache[TCPSTATE_FAM_IPV6]);
	kmem_cache_destroy(tcpstate_cache[TCPSTATE_FAM_IPV4]);
}
